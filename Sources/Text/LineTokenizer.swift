import Foundation

/// What `tokenize` does with a stream: encode (or decode) it line by line, in order,
/// with the lines of each batch spread over the threads, and count what it did.
public struct LineTokenizer {
    public enum Format: Sendable {
        case pieces, ids, json, decode
        /// ICU dictionary word segmentation instead of tokens: words separated by spaces.
        case words
        /// Encode and count, print nothing per line (statistics only).
        case count
    }

    public struct Statistics: Sendable {
        public var lines = 0
        public var bytes = 0
        public var characters = 0
        public var tokens = 0
        public var repairedLines = 0
        /// Lines that the vocabulary's normalization changed.
        public var normalizedLines = 0
        public var wallSeconds = 0.0
        /// CPU time of the whole process (all threads) while running.
        public var cpuSeconds = 0.0

        public var tokensPerCharacter: Double { characters > 0 ? Double(tokens) / Double(characters) : 0 }
        public var megabytesPerSecond: Double { wallSeconds > 0 ? Double(bytes) / 1e6 / wallSeconds : 0 }
        public var megabytesPerCPUSecond: Double { cpuSeconds > 0 ? Double(bytes) / 1e6 / cpuSeconds : 0 }

        public var summary: String {
            var s = String(format: "%d lines, %d bytes, %d characters, %d tokens, %.3f tokens/character, %.1f MB/s (%.1f MB per CPU-second)",
                           lines, bytes, characters, tokens, tokensPerCharacter, megabytesPerSecond, megabytesPerCPUSecond)
            if repairedLines > 0 { s += ", \(repairedLines) lines with invalid UTF-8 replaced" }
            s += ", \(normalizedLines) lines changed by normalization"
            return s
        }

        public var json: String {
            "{\"lines\":\(lines),\"normalized_lines\":\(normalizedLines),\"bytes\":\(bytes),\"characters\":\(characters),\"tokens\":\(tokens),"
                + "\"repaired_lines\":\(repairedLines),\"wall_seconds\":\(wallSeconds),\"cpu_seconds\":\(cpuSeconds),"
                + "\"tokens_per_character\":\(tokensPerCharacter),\"mb_per_second\":\(megabytesPerSecond),"
                + "\"mb_per_cpu_second\":\(megabytesPerCPUSecond)}"
        }
    }

    public struct DecodeInputError: Error, CustomStringConvertible {
        public let line: Int
        public let message: String
        public var description: String { "line \(line): \(message)" }
    }

    public let tokenizer: Tokenizer
    public let format: Format
    public let allowSpecial: Bool
    public let threads: Int
    public private(set) var statistics = Statistics()
    private var encoders: [EncoderBox]
    private var segmenters: [WordSegmenter] = []
    /// What each token prints as, by format, computed once: formatting must not build a
    /// String per token.
    private let printed: PrintedTokens

    public init(tokenizer: Tokenizer, format: Format, allowSpecial: Bool = false, threads: Int = 2) {
        self.tokenizer = tokenizer
        self.format = format
        self.allowSpecial = allowSpecial
        self.threads = max(1, threads)
        encoders = (0..<max(1, threads)).map { _ in EncoderBox(Encoder(tokenizer)) }
        printed = PrintedTokens(tokenizer.vocabulary, format: format)
    }

    /// Processes everything `reader` delivers. `write` receives output in order; `flush`
    /// is called after each batch when `interactive` (a pipe or terminal), so answers are
    /// not held back; `progress` receives the bytes read so far.
    public mutating func run(reader: LineReader, output: OutputSink, interactive: Bool = false,
                             progress: (Int) -> Void = { _ in }) throws {
        var reader = reader
        let start = Date(), startCPU = Self.processCPUSeconds()
        defer {
            statistics.wallSeconds += Date().timeIntervalSince(start)
            statistics.cpuSeconds += Self.processCPUSeconds() - startCPU
        }
        // Blocks leave cutting and checking the lines to the threads; decoding and repairing
        // invalid UTF-8 need the reader's batches of lines.
        if format != .decode && reader.options.deferChecks && reader.options.invalidUTF8 == .strict {
            while let block = try reader.nextBlock(targetBytes: 1 << 20, returnEarly: interactive) {
                output.write(try process(block))
                if interactive { output.flush() }
                progress(reader.bytesRead)
            }
            return
        }
        while let batch = try reader.nextBatch(targetBytes: 1 << 20, returnEarly: interactive) {
            let text = try process(batch)
            output.write(text)
            if interactive { output.flush() }
            statistics.lines += batch.count
            statistics.repairedLines += batch.repairedLines
            progress(reader.bytesRead)
        }
    }

    /// The output for one block of lines. The block is cut into more parts than threads,
    /// claimed as the threads get to them (`forEachChunk`), and each thread cuts and checks the
    /// lines of its parts itself.
    public mutating func process(_ block: TextBlock) throws -> [UInt8] {
        let threadCount = min(threads, max(1, block.bytes.count / Self.minimumPartBytes))
        let parts = block.parts(threadCount == 1 ? 1 : min(block.bytes.count / Self.minimumPartBytes, threadCount * 8))
        let out = try encodeParts(parts.count, threads: threadCount) { part, encoder, job in
            try Self.encode(parts[part], of: block, encoder: &encoder, job: &job)
        }
        statistics.bytes += block.lineBytes
        statistics.lines += block.lineCount
        return out
    }

    /// The output for one batch, its lines split over the threads as a block's are.
    public mutating func process(_ batch: LineReader.Batch) throws -> [UInt8] {
        if format == .decode { return try decode(batch) }
        let threadCount = min(threads, max(1, batch.count / 64))
        let chunks = threadCount == 1 ? 1 : min(batch.count / 64, threadCount * 8)
        let out = try encodeParts(chunks, threads: threadCount) { chunk, encoder, job in
            try Self.encode(Self.share(of: batch, part: chunk, parts: chunks), of: batch, encoder: &encoder, job: &job)
        }
        statistics.bytes += batch.lineBytes
        return out
    }

    /// Parts smaller than this are not worth a thread.
    static let minimumPartBytes = 4096

    /// Runs `encode(part, encoder, job)` for every part on `threadCount` threads, each thread
    /// with its own encoder (and word segmenter), and joins the parts' output in order. The
    /// first part to fail (in input order, wherever it ran) gives the error.
    private mutating func encodeParts(_ parts: Int, threads threadCount: Int,
                                      _ encode: (Int, inout Encoder, inout PartJob) throws -> Void) throws -> [UInt8] {
        if format == .words && segmenters.isEmpty {
            segmenters = try (0..<threads).map { _ in try WordSegmenter() }
        }
        let normalizedBefore = encoders.reduce(0) { $0 + $1.encoder.normalizedInputs }
        let context = PartJob.Context(format: format, allowSpecial: allowSpecial, vocabulary: tokenizer.vocabulary,
                                      printed: printed)
        let segmenters = self.segmenters
        var results = [Result<PartJob, Error>](repeating: .failure(CancellationError()), count: parts)
        encoders.withUnsafeMutableBufferPointer { encoders in
            results.withUnsafeMutableBufferPointer { results in
                let e = encoders.baseAddress!, r = results.baseAddress!
                forEachChunk(parts, threads: threadCount) { part, thread in
                    var job = PartJob(context, segmenter: segmenters.isEmpty ? nil : segmenters[thread])
                    do {
                        try encode(part, &e[thread].encoder, &job)
                        r[part] = .success(job)
                    } catch {
                        r[part] = .failure(error)
                    }
                }
            }
        }
        var out: [UInt8] = []
        for result in results {
            let part = try result.get()
            out += part.out
            statistics.characters += part.characters
            statistics.tokens += part.tokens
        }
        statistics.normalizedLines += encoders.reduce(0) { $0 + $1.encoder.normalizedInputs } - normalizedBefore
        return out
    }

    // Not inlined: inlined into the part loop, the encoder was copied (with its piece cache) for
    // every line, which made encoding 1.7x slower.
    @inline(never)
    private static func encode(_ part: TextBlock.Part, of block: TextBlock, encoder: inout Encoder, job: inout PartJob) throws {
        try block.forEachLine(in: part) { line, number in
            try job.add(line, number: number, encoder: &encoder)
        }
    }

    @inline(never)
    private static func encode(_ lines: Range<Int>, of batch: LineReader.Batch, encoder: inout Encoder, job: inout PartJob) throws {
        try batch.bytes.withUnsafeBufferPointer { all in
            for k in lines {
                try batch.checkLine(k)
                try job.add(UnsafeBufferPointer(rebasing: all[batch.lineStarts[k]..<batch.lineEnds[k]]),
                            number: batch.firstLine + k, encoder: &encoder)
            }
        }
    }

    /// One part's output and counts, line by line.
    private struct PartJob {
        struct Context {
            let format: Format
            let allowSpecial: Bool
            let vocabulary: Vocabulary
            let printed: PrintedTokens
        }
        let context: Context
        let segmenter: WordSegmenter?
        var out: [UInt8] = []
        var characters = 0, tokens = 0
        private var encoding = Encoding()

        init(_ context: Context, segmenter: WordSegmenter?) {
            self.context = context
            self.segmenter = segmenter
        }

        @inline(__always)
        mutating func add(_ line: UnsafeBufferPointer<UInt8>, number: Int, encoder: inout Encoder) throws {
            characters += LineTokenizer.countScalars(line)
            if context.format == .words, let segmenter {
                try LineTokenizer.formatWords(line, segmenter, into: &out)
                return
            }
            encoding.removeAll()
            try encoder.encode(line, allowSpecial: context.allowSpecial, validated: true, into: &encoding)
            tokens += encoding.count
            LineTokenizer.format(encoding, line: number, format: context.format, vocabulary: context.vocabulary,
                                 printed: context.printed, into: &out)
        }
    }

    fileprivate static func formatWords(_ line: UnsafeBufferPointer<UInt8>, _ segmenter: WordSegmenter,
                                    into out: inout [UInt8]) throws {
        let words = try segmenter.words(line, droppingWhitespace: true)
        for (k, word) in words.enumerated() {
            if k > 0 { out.append(0x20) }
            out += line[word]
        }
        out.append(0x0A)
    }

    fileprivate static func format(_ e: Encoding, line: Int, format: Format, vocabulary v: Vocabulary,
                               printed: PrintedTokens, into out: inout [UInt8]) {
        switch format {
        case .count:
            return
        case .pieces, .ids:
            printed.bytes.withUnsafeBufferPointer { bytes in
                for k in 0..<e.count {
                    if k > 0 { out.append(0x20) }
                    let id = Int(e.ids[k])
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[printed.starts[id]..<printed.starts[id + 1]]))
                }
            }
        case .json:
            out += TokenFormatter.json(line: line, encoding: e, vocabulary: v).utf8
        case .decode, .words:
            break
        }
        out.append(0x0A)
    }

    private mutating func decode(_ batch: LineReader.Batch) throws -> [UInt8] {
        var out: [UInt8] = []
        for k in 0..<batch.count {
            let line = batch.line(k)
            var ids: [Int32] = []
            for field in line.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) {
                guard let id = Int32(String(decoding: field, as: Unicode.UTF8.self)) else {
                    throw DecodeInputError(line: batch.firstLine + k, message: "'\(String(decoding: field.prefix(20), as: Unicode.UTF8.self))' is not a token id")
                }
                ids.append(id)
            }
            do {
                out += try tokenizer.decode(ids)
            } catch {
                throw DecodeInputError(line: batch.firstLine + k, message: "\(error)")
            }
            out.append(0x0A)
            statistics.tokens += ids.count
        }
        statistics.bytes += batch.lineBytes
        return out
    }

    /// The lines of chunk `part` of `parts` of `batch`: equal shares of bytes, not of lines
    /// (Chinese lines range from a few characters to whole paragraphs).
    static func share(of batch: LineReader.Batch, part: Int, parts: Int) -> Range<Int> {
        func firstLine(atByte target: Int) -> Int {
            var lo = 0, hi = batch.count  // first line whose start is at or after `target`
            while lo < hi {
                let mid = (lo + hi) / 2
                if batch.lineStarts[mid] < target { lo = mid + 1 } else { hi = mid }
            }
            return lo
        }
        let total = batch.bytes.count
        let start = part == 0 ? 0 : firstLine(atByte: total * part / parts)
        let end = part == parts - 1 ? batch.count : firstLine(atByte: total * (part + 1) / parts)
        return start..<max(start, end)
    }

    static func processCPUSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    @inline(__always)
    static func countScalars(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var n = 0
        for b in bytes where b & 0xC0 != 0x80 { n += 1 }
        return n
    }
}

/// The printed form of every token (display text or decimal id), back to back.
private struct PrintedTokens {
    var bytes: [UInt8] = []
    var starts: [Int] = [0]

    init(_ v: Vocabulary, format: LineTokenizer.Format) {
        guard format == .pieces || format == .ids else { return }
        for id in 0..<v.count {
            bytes += format == .ids ? Array(String(id).utf8) : Array(TokenFormatter.display(v.tokens[id]).utf8)
            starts.append(bytes.count)
        }
    }
}

/// One thread's encoder in a heap object of its own, padded to two cache lines: encoders
/// kept inline in one array share cache lines, and every piece writes to its encoder, so
/// two threads would keep stealing the line from each other (measured: a third of the
/// second core's time lost).
private final class EncoderBox {
    var encoder: Encoder
    private let padding: (Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64,
                          Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    init(_ encoder: Encoder) { self.encoder = encoder }
}

/// Where `LineTokenizer` writes: standard output in the tool, an array in tests.
public protocol OutputSink: AnyObject {
    func write(_ bytes: [UInt8])
    func flush()
}
