/// The two kinds of text whose TF-IDF mixture weights are chosen apart (`ClassifierSpec`):
/// text written mostly in Han characters, and the rest.
///
/// Why apart: on the default sentiment data the character n-gram model is strong on the
/// Chinese reviews and the network on the English tweets, so one weight for both trades one
/// language's accuracy for the other's.
public enum ScriptGroup: String, CaseIterable, Sendable {
    case han, other

    /// Han when the text has at least as many Han characters as other letters (and at least one).
    public static func of(_ text: some Sequence<Unicode.Scalar>) -> ScriptGroup {
        var han = 0, letters = 0
        for scalar in text {
            let v = scalar.value
            if v < 0x80 {
                // ASCII letters without the property lookup: most English text stays here.
                if (v | 0x20) >= 0x61 && (v | 0x20) <= 0x7A { letters += 1 }
            } else if TokenNgrams.isHan(scalar) {
                han += 1
            } else if scalar.properties.isAlphabetic {
                letters += 1
            }
        }
        return han > 0 && han >= letters ? .han : .other
    }

    /// The group of the text token ids spell, `pieces[id]` being the bytes of token `id`.
    public static func of(ids: [Int32], pieces: [[UInt8]]) -> ScriptGroup {
        of(TokenNgrams.text(of: ids, pieces: pieces).unicodeScalars)
    }
}
