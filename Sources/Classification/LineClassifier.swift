import Dispatch
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
    /// Lines are checked and tokenized on the classifier's threads, in contiguous shares.
    public func classify(_ lines: [[UInt8]]) throws -> [Verdict] {
        var verdicts = [Verdict](repeating: .noText, count: lines.count)
        var sequences = [[Int32]?](repeating: nil, count: lines.count)
        let parts = min(classifier.threads, max(1, lines.count / 64))
        verdicts.withUnsafeMutableBufferPointer { v in
            sequences.withUnsafeMutableBufferPointer { s in
                // Each share writes only its own lines' slots; concurrentPerform returns when all are done.
                let shared = UncheckedSendable(value: (self, v, s))
                DispatchQueue.concurrentPerform(iterations: parts) { part in
                    let (this, verdicts, sequences) = shared.value
                    var encoder = Encoder(this.classifier.tokenizer)
                    for i in lines.count * part / parts..<lines.count * (part + 1) / parts {
                        switch this.check(lines[i], encoder: &encoder) {
                        case let .tokens(ids): sequences[i] = ids
                        case let .verdict(verdict): verdicts[i] = verdict
                        }
                    }
                }
            }
        }
        let rows = sequences.indices.filter { sequences[$0] != nil }
        let probabilities = try classifier.probabilities(rows.map { sequences[$0]! })
        for (row, p) in zip(rows, probabilities) { verdicts[row] = .probabilities(p) }
        return verdicts
    }

    private enum Checked {
        case tokens([Int32])
        case verdict(Verdict)
    }

    /// A line's tokens, or the verdict it gets without the model.
    private func check(_ raw: [UInt8], encoder: inout Encoder) -> Checked {
        let line = raw.last == 0x0D ? raw.dropLast() : raw[...]
        if line.count > maxLineBytes {
            return .verdict(.error("line of \(line.count) bytes exceeds the limit of \(maxLineBytes)"))
        }
        if let nul = line.firstIndex(of: 0) {
            return .verdict(.error("NUL byte at offset \(nul - line.startIndex): binary data"))
        }
        if let offset = line.withUnsafeBufferPointer({ UTF8Bytes.firstInvalidOffset($0) }) {
            return .verdict(.error("invalid UTF-8 at byte \(offset)"))
        }
        let text = String(decoding: line, as: UTF8.self)
        if text.allSatisfy(\.isWhitespace) { return .verdict(.noText) }
        do { return .tokens(try classifier.tokens(text, encoder: &encoder)) } catch {
            return .verdict(.error("\(error)"))
        }
    }
}
