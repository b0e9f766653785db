/// The clauses of a text, for training on parts of labelled texts (`ClassifierTrainingOptions
/// .clauseWeight`).
///
/// Why: most review and tweet corpora label whole texts, and their short texts lean to one
/// class (in the default sentiment data, short book reviews are mostly complaints), so a model
/// trained on whole texts alone reads the shortness of "写得太好了" as negative. A clause of a
/// labelled text carries the text's label most of the time; training on clauses too, at a
/// lower weight, shows the model short texts of both classes.
public enum Clauses {
    /// Characters that end a clause: commas, full stops, semicolons, question and exclamation
    /// marks in their ASCII, full-width and ideographic forms, the ellipsis, tildes (common in
    /// Chinese reviews) and line breaks. The enumeration comma 、 and the colon do not.
    static let enders: Set<Character> = [
        ",", ".", ";", "!", "?", "，", "。", "；", "！", "？", "．", "｡", "…", "~", "～", "\n", "\r", "\r\n",
    ]

    /// The clauses of `text` in order, each with the punctuation that ends it and without the
    /// white space around it; a clause with fewer than `minimumLetters` letters or digits is
    /// joined to the next one (or, at the end, to the previous one), so "3.5" or "OK." does
    /// not stand alone.
    public static func split(_ text: String, minimumLetters: Int = 2) -> [Substring] {
        var clauses: [Substring] = []
        var start = text.startIndex, letters = 0, index = text.startIndex
        var inEnders = false
        while index < text.endIndex {
            let character = text[index]
            let isEnder = enders.contains(character)
            if inEnders && !isEnder && letters >= minimumLetters {
                clauses.append(trimmed(text[start..<index]))
                start = index
                letters = 0
            }
            if character.isLetter || character.isNumber { letters += 1 }
            inEnders = isEnder
            index = text.index(after: index)
        }
        let tail = trimmed(text[start...])
        if letters >= minimumLetters || clauses.isEmpty {
            if !tail.isEmpty { clauses.append(tail) }
        } else if let last = clauses.popLast() {
            clauses.append(trimmed(text[last.startIndex...]))
        }
        return clauses
    }

    private static func trimmed(_ s: Substring) -> Substring {
        guard let first = s.firstIndex(where: { !$0.isWhitespace }),
              let last = s.lastIndex(where: { !$0.isWhitespace }) else { return s[s.startIndex..<s.startIndex] }
        return s[first...last]
    }
}
