import FileSupport
import Foundation
import Text

/// The token streams of a language-model run: training and held-out validation, each the
/// concatenation of its documents with `<eos>` (when the vocabulary has it) between them.
///
/// The validation split never leaks into training: with a fraction f, each file's last
/// lines (about f of its bytes, cut at a line break) are held out and the rest is trained on;
/// with validation files, those are held out whole and the training files are used whole.
public struct TokenCorpus: Sendable {
    public var train: [Int32]
    public var validation: [Int32]
    /// Characters (Unicode scalars) the predicted tokens of each stream stand for, so that a
    /// loss in nats per token converts to nats per character.
    public var trainCharacters: Int
    public var validationCharacters: Int

    /// One text and the part of it that is held out.
    public struct Source: Codable, Equatable, Sendable {
        public var path: String
        /// Byte limit: only the first `limit` bytes (cut at a line break) are read.
        public var limit: Int?
        public init(path: String, limit: Int? = nil) {
            self.path = path
            self.limit = limit
        }
    }

    /// Reads the texts as valid UTF-8 (an error names the file and offset), splits them and
    /// encodes both parts on `threads` threads.
    public static func load(train: [Source], validationFiles: [Source], validationFraction: Double,
                            tokenizer: Tokenizer, threads: Int) throws -> TokenCorpus {
        guard !train.isEmpty else { throw TrainingError.data("no training text") }
        guard validationFiles.isEmpty ? (validationFraction > 0 && validationFraction < 1) : true else {
            throw TrainingError.data("the validation fraction must be in (0, 1), got \(validationFraction)")
        }
        var trainTexts: [[UInt8]] = [], validationTexts: [[UInt8]] = []
        for source in train {
            let text = try read(source)
            if validationFiles.isEmpty {
                let cut = heldOutStart(text, fraction: validationFraction)
                trainTexts.append(Array(text[..<cut]))
                validationTexts.append(Array(text[cut...]))
            } else {
                trainTexts.append(text)
            }
        }
        for source in validationFiles { validationTexts.append(try read(source)) }
        let separator = tokenizer.vocabulary.specialID("<eos>")
        let (trainIDs, trainChars) = try encode(trainTexts, tokenizer: tokenizer, separator: separator, threads: threads)
        let (validIDs, validChars) = try encode(validationTexts, tokenizer: tokenizer, separator: separator, threads: threads)
        guard validIDs.count >= 2 else { throw TrainingError.data("the validation text is empty") }
        return TokenCorpus(train: trainIDs, validation: validIDs, trainCharacters: trainChars,
                           validationCharacters: validChars)
    }

    /// The tokens of one whole text (read and checked as `load` does).
    public static func tokens(of source: Source, tokenizer: Tokenizer, threads: Int) throws -> [Int32] {
        try encode([read(source)], tokenizer: tokenizer, separator: nil, threads: threads).0
    }

    /// The training texts only (for building a character vocabulary from them, before
    /// `load`), split exactly as `load` splits them.
    public static func trainingTexts(_ train: [Source], validationFiles: [Source],
                                     validationFraction: Double) throws -> [[UInt8]] {
        try train.map { source in
            let text = try read(source)
            return validationFiles.isEmpty ? Array(text[..<heldOutStart(text, fraction: validationFraction)]) : text
        }
    }

    /// Where the held-out tail of `text` starts: after the line break nearest to (1 - f) of
    /// its bytes, so a line is never split between training and validation.
    static func heldOutStart(_ text: [UInt8], fraction: Double) -> Int {
        let target = Int(Double(text.count) * (1 - fraction))
        var cut = lineStart(text, atOrBefore: target)
        if cut > 0 { return cut }
        // No line break before the target (one long line): cut at a character boundary.
        cut = max(1, target)
        while cut < text.count && text[cut] & 0xC0 == 0x80 { cut += 1 }
        return cut
    }

    /// The start of the line holding `index` (just after the last line break before it), or
    /// 0 when there is none.
    static func lineStart(_ text: [UInt8], atOrBefore index: Int) -> Int {
        var cut = index
        while cut > 0 && text[cut - 1] != 0x0A { cut -= 1 }
        return cut
    }

    static func read(_ source: Source) throws -> [UInt8] {
        var bytes = try readWholeFile(path: source.path)
        if let limit = source.limit, bytes.count > limit {
            let cut = lineStart(bytes, atOrBefore: limit)
            bytes.removeSubrange((cut > 0 ? cut : limit)...)
        }
        guard !bytes.isEmpty else { throw TrainingError.data("'\(source.path)' is empty") }
        if let nul = bytes.firstIndex(of: 0) {
            throw TrainingError.data("'\(source.path)' looks binary (a NUL byte at offset \(nul))")
        }
        if let offset = UTF8Bytes.firstInvalidOffset(bytes) {
            throw TrainingError.data("'\(source.path)' is not valid UTF-8 (at byte offset \(offset))")
        }
        return bytes
    }

    static func encode(_ texts: [[UInt8]], tokenizer: Tokenizer, separator: Int32?,
                       threads: Int) throws -> ([Int32], Int) {
        var ids: [Int32] = []
        var characters = 0
        for (k, text) in texts.enumerated() where !text.isEmpty {
            if k > 0, let separator, !ids.isEmpty { ids.append(separator) }
            let encoding = try text.withUnsafeBufferPointer {
                try tokenizer.encodeParallel($0, threads: threads)
            }
            ids.append(contentsOf: encoding.ids)
            characters += text.reduce(0) { $0 + ($1 & 0xC0 != 0x80 ? 1 : 0) }
        }
        return (ids, characters)
    }
}
