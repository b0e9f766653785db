import Text

/// What `classify` says about one input line.
public enum Verdict: Equatable, Sendable {
    /// The probability of every class, in the classifier's label order.
    case probabilities([Float])
    /// The line is empty or only white space: no label is given.
    case noText
    /// The line cannot be classified (invalid UTF-8, a NUL byte, too long); the reason.
    case error(String)
}

/// Classifies raw input lines, one verdict per line and never a throw for a bad line: the
/// decision `classify` makes for each line of its input, callable on its own.
public struct LineClassifier {
    public let classifier: Classifier
    /// Lines longer than this many bytes get an error verdict.
    public var maxLineBytes: Int

    public init(classifier: Classifier, maxLineBytes: Int = 1 << 20) {
        self.classifier = classifier
        self.maxLineBytes = maxLineBytes
    }

    /// One verdict per line, in order. `lines` are the bytes of each line without its line
    /// break (a trailing carriage return is ignored). Throws only if the model itself fails.
    public func classify(_ lines: [[UInt8]]) throws -> [Verdict] {
        var verdicts = [Verdict](repeating: .noText, count: lines.count)
        var sequences: [[Int32]] = [], rows: [Int] = []
        for (i, raw) in lines.enumerated() {
            let line = raw.last == 0x0D ? raw.dropLast() : raw[...]
            if line.count > maxLineBytes {
                verdicts[i] = .error("line of \(line.count) bytes exceeds the limit of \(maxLineBytes)")
                continue
            }
            if let nul = line.firstIndex(of: 0) {
                verdicts[i] = .error("NUL byte at offset \(nul - line.startIndex): binary data")
                continue
            }
            if let offset = UTF8Bytes.firstInvalidOffset(Array(line)) {
                verdicts[i] = .error("invalid UTF-8 at byte \(offset)")
                continue
            }
            let text = String(decoding: line, as: UTF8.self)
            if text.allSatisfy(\.isWhitespace) { continue }
            do {
                sequences.append(try classifier.tokens(text))
                rows.append(i)
            } catch {
                verdicts[i] = .error("\(error)")
            }
        }
        let probabilities = try classifier.probabilities(sequences)
        for (row, p) in zip(rows, probabilities) { verdicts[row] = .probabilities(p) }
        return verdicts
    }
}
