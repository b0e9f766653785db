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
        /// Bytes skipped before that (moved back to the start of the line that holds the
        /// offset); nil reads from the start.
        public var offset: Int?
        public init(path: String, offset: Int? = nil, limit: Int? = nil) {
            self.path = path
            self.offset = offset
            self.limit = limit
        }
    }

    /// Reads the texts as valid UTF-8 (an error names the file and offset), splits them and
    /// encodes both parts on `threads` threads.
    /// With `interleaveBytes`, the training parts of several sources become one text that
    /// alternates between them in blocks of about that many bytes (`interleaved`).
    public static func load(train: [Source], validationFiles: [Source], validationFraction: Double,
                            interleaveBytes: Int? = nil,
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
        if let interleaveBytes, interleaveBytes > 0, trainTexts.count > 1 {
            trainTexts = [interleaved(trainTexts, blockBytes: interleaveBytes)]
        }
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

    /// One text made of blocks taken from each of `texts` in turn until all are used up, each
    /// block the lines from where that text's last block ended to the first line break at or
    /// after `blockBytes` bytes (a text that does not end with a line break gets one).
    ///
    /// Why: texts read one after the other (a Chinese file, then an English one) put one
    /// change of language in each training stream, so a recurrent model never learns to tell
    /// the language from the first tokens of a line; from a short prompt it then continues in
    /// whichever language its empty state leans to. Alternating blocks teach that switch.
    static func interleaved(_ texts: [[UInt8]], blockBytes: Int) -> [UInt8] {
        precondition(blockBytes > 0, "interleaved: blockBytes \(blockBytes)")
        var positions = [Int](repeating: 0, count: texts.count)
        var out: [UInt8] = []
        out.reserveCapacity(texts.reduce(texts.count) { $0 + $1.count })
        var remaining = true
        while remaining {
            remaining = false
            for (i, text) in texts.enumerated() where positions[i] < text.count {
                let start = positions[i]
                let reach = min(text.count, start + blockBytes) - 1
                let end = text[reach...].firstIndex(of: 0x0A).map { $0 + 1 } ?? text.count
                out += text[start..<end]
                if out.last != 0x0A { out.append(0x0A) }
                positions[i] = end
                remaining = remaining || end < text.count
            }
        }
        return out
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
        var start = 0
        if let offset = source.offset, offset > 0 {
            start = lineStart(bytes, atOrBefore: min(offset, bytes.count))
            bytes.removeSubrange(..<start)
        }
        if let limit = source.limit, bytes.count > limit {
            let cut = lineStart(bytes, atOrBefore: limit)
            bytes.removeSubrange((cut > 0 ? cut : limit)...)
        }
        guard !bytes.isEmpty else {
            throw TrainingError.data(start > 0 ? "'\(source.path)' has no text after byte \(start)" : "'\(source.path)' is empty")
        }
        if let nul = bytes.firstIndex(of: 0) {
            throw TrainingError.data("'\(source.path)' looks binary (a NUL byte at offset \(start + nul))")
        }
        if let offset = UTF8Bytes.firstInvalidOffset(bytes) {
            throw TrainingError.data("'\(source.path)' is not valid UTF-8 (at byte offset \(start + offset))")
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
