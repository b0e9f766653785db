import Foundation

/// Reads a file descriptor as lines of UTF-8, in bounded memory, with checks that turn
/// bad input into errors that name the place: invalid UTF-8 (or U+FFFD replacement),
/// NUL bytes (the mark of a binary file), and lines longer than a limit.
///
/// Lines are delivered in batches (for parallel encoding) without their `\n`; a `\r`
/// before it stays in the line, so CRLF text round-trips.
public struct LineReader {
    public enum InvalidUTF8Policy: String, Sendable, CaseIterable { case strict, replace }

    public struct Options: Sendable {
        public var invalidUTF8 = InvalidUTF8Policy.strict
        public var allowNUL = false
        public var maxLineBytes = 64 << 20
        public var blockBytes = 4 << 20
        /// Keep each line's `\n` in the batch, so the batch is a text chunk (for training).
        public var keepLineBreaks = false
        /// Leave the NUL and UTF-8 checks of each line to the consumer (`Batch.checkLine`),
        /// which can run them on its worker threads. Only with the strict policy: replacing
        /// invalid UTF-8 changes the bytes, which only the reader can do.
        public var deferChecks = false
        public init() {}
    }

    public enum InputError: Error, CustomStringConvertible, Equatable {
        case invalidUTF8(line: Int, offset: Int)
        case nulByte(line: Int, offset: Int)
        case lineTooLong(line: Int, limit: Int)
        case empty
        case readFailed(String)

        public var description: String {
            switch self {
            case .invalidUTF8(let line, let offset):
                "invalid UTF-8 at byte offset \(offset) (line \(line)); use --errors replace to substitute U+FFFD"
            case .nulByte(let line, let offset):
                "NUL byte at byte offset \(offset) (line \(line)): this looks like a binary file"
            case .lineTooLong(let line, let limit):
                "line \(line) is longer than \(limit) bytes; raise --max-line-bytes to accept it"
            case .empty:
                "the input is empty"
            case .readFailed(let reason):
                "cannot read the input: \(reason)"
            }
        }
    }

    /// A batch of lines: their bytes back to back, and where each starts and ends.
    public struct Batch {
        public var bytes: [UInt8] = []
        public var lineStarts: [Int] = []
        public var lineEnds: [Int] = []
        /// Number of the first line in the batch (1-based) and its offset in the input.
        public var firstLine = 1
        public var firstOffset = 0
        /// Lines in which invalid UTF-8 was replaced.
        public var repairedLines = 0
        public var count: Int { lineStarts.count }
        public func line(_ k: Int) -> ArraySlice<UInt8> { bytes[lineStarts[k]..<lineEnds[k]] }

        /// Whether the lines still need `checkLine` (the reader was told to defer checks).
        public var checksDeferred = false
        var allowNUL = false
        /// `bytes` is the input from `firstOffset` on as it was read, line breaks included
        /// (kept in the lines, or between them).
        var verbatim = false
        /// Bytes of the lines themselves, without the line breaks between them.
        public var lineBytes = 0

        /// The NUL and UTF-8 checks the reader deferred, for line `k`; errors name the line
        /// and the byte offset in the whole input, as the reader's own would.
        public func checkLine(_ k: Int) throws {
            guard checksDeferred else { return }
            try bytes.withUnsafeBufferPointer { all in
                let line = UnsafeBufferPointer(rebasing: all[lineStarts[k]..<lineEnds[k]])
                // Each earlier line of the batch lost its `\n` unless the batch is verbatim.
                let offset = firstOffset + lineStarts[k] + (verbatim ? 0 : k)
                if !allowNUL, let nul = LineReader.indexOfNUL(line) {
                    throw InputError.nulByte(line: firstLine + k, offset: offset + nul)
                }
                if let bad = UTF8Bytes.firstInvalidOffset(line) {
                    throw InputError.invalidUTF8(line: firstLine + k, offset: offset + bad)
                }
            }
        }
    }

    private let fd: Int32
    public let options: Options
    private var buffer: [UInt8] = []
    private var bufferStart = 0
    private let block: ReadBlock
    private var atEOF = false
    private var lineNumber = 1
    private var offset = 0
    public private(set) var bytesRead = 0
    private var sawAnything = false
    private var mapped: MappedSpan?

    public init(fileDescriptor: Int32, options: Options = Options()) {
        fd = fileDescriptor
        self.options = options
        block = ReadBlock(count: options.blockBytes)
        mapped = Self.mappableSpan(fileDescriptor)
    }

    private mutating func fill() throws {
        if bufferStart > 0 {
            buffer.removeFirst(bufferStart)
            bufferStart = 0
        }
        // read() into a block allocated once, then append only what arrived: growing the
        // array by a zero-filled block first cost a 4 MB memset per read, even for a 2-byte
        // input (7% of `tokenize`'s start-up in a profile).
        var n: Int
        repeat {
            n = read(fd, block.bytes, block.count)
        } while n < 0 && errno == EINTR
        if n < 0 { throw InputError.readFailed(String(cString: strerror(errno))) }
        buffer.append(contentsOf: UnsafeBufferPointer(start: block.bytes, count: n))
        if n == 0 { atEOF = true }
        bytesRead += n
    }

    /// The next batch of about `targetBytes` of whole lines, or nil at the end. With
    /// `returnEarly` (a pipe or terminal), a batch ends as soon as no complete line is
    /// waiting, instead of blocking for more input.
    public mutating func nextBatch(targetBytes: Int = 1 << 20, returnEarly: Bool = false) throws -> Batch? {
        var batch = Batch()
        batch.firstLine = lineNumber
        batch.firstOffset = offset
        batch.checksDeferred = options.deferChecks && options.invalidUTF8 == .strict
        batch.allowNUL = options.allowNUL
        if batch.checksDeferred && !options.keepLineBreaks {
            try appendVerbatim(to: &batch, targetBytes: targetBytes, returnEarly: returnEarly)
        } else {
            batch.verbatim = options.keepLineBreaks
            while batch.bytes.count < targetBytes {
                guard let line = try nextLineRange(mayBlock: !returnEarly || batch.count == 0) else { break }
                sawAnything = true
                try appendChecked(line, to: &batch)
            }
        }
        if batch.count == 0 {
            if !sawAnything { throw InputError.empty }
            return nil
        }
        return batch
    }

    /// The next block of whole lines, as read, of about `targetBytes` (more when a line is
    /// longer), or nil at the end. The lines are neither cut nor checked here: the consumer
    /// does both on its own threads (`TextBlock.parts`, `TextBlock.forEachLine`), so this
    /// needs the strict policy (replacing invalid UTF-8 changes the bytes, which only the
    /// reader can do). With `returnEarly` (a pipe or terminal), a block ends as soon as no
    /// complete line is waiting, instead of blocking for more input.
    public mutating func nextBlock(targetBytes: Int = 1 << 20, returnEarly: Bool = false) throws -> TextBlock? {
        precondition(options.invalidUTF8 == .strict, "LineReader.nextBlock: blocks leave invalid UTF-8 to the consumer")
        if bufferStart == buffer.count, let block = try nextMappedBlock(targetBytes: targetBytes) { return block }
        var end = 0
        var scanned = 0  // bytes after bufferStart known to hold no line break
        while true {
            let waiting = buffer.count - bufferStart
            if waiting >= targetBytes || atEOF || returnEarly {
                let window = min(waiting, targetBytes)
                if let cut = lastNewline(before: bufferStart + window) {
                    end = cut + 1
                    break
                }
                if let nl = Self.indexOfNewline(buffer, from: bufferStart + max(window, scanned)) {
                    end = nl + 1
                    break
                }
                scanned = waiting
                if atEOF {
                    if waiting == 0 {
                        if !sawAnything { throw InputError.empty }
                        return nil
                    }
                    end = buffer.count  // the last line, without a line break
                    break
                }
                if waiting > options.maxLineBytes {
                    throw InputError.lineTooLong(line: lineNumber, limit: options.maxLineBytes)
                }
            }
            try fill()  // moves the unread bytes to the front
        }
        let block = buffer.withUnsafeBufferPointer { b in
            TextBlock(copying: UnsafeBufferPointer(rebasing: b[bufferStart..<end]), firstLine: lineNumber, firstOffset: offset,
                      maxLineBytes: options.maxLineBytes, allowNUL: options.allowNUL)
        }
        lineNumber += block.lineCount
        offset += end - bufferStart
        bufferStart = end
        sawAnything = true
        return block
    }

    /// Index in `buffer` of the last line break in `bufferStart..<limit`.
    private func lastNewline(before limit: Int) -> Int? {
        buffer.withUnsafeBufferPointer { Self.lastNewline(in: UnsafeBufferPointer(rebasing: $0[bufferStart..<limit])) }
            .map { bufferStart + $0 }
    }

    /// Index of the last line break in `bytes`, searched backwards from the end: lines are
    /// short next to a block, so the search stops soon.
    static func lastNewline(in bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        var i = bytes.count - 1
        while i >= 0 {
            if bytes[i] == 0x0A { return i }
            i -= 1
        }
        return nil
    }

    /// Range of the next line in `buffer` (without the `\n`), consuming it; nil at the end
    /// of the input, or when reading more would be needed and `mayBlock` is false.
    private mutating func nextLineRange(mayBlock: Bool) throws -> Range<Int>? {
        var scanFrom = bufferStart
        while true {
            if let nl = Self.indexOfNewline(buffer, from: scanFrom) {
                let range = bufferStart..<nl
                if range.count > options.maxLineBytes { throw InputError.lineTooLong(line: lineNumber, limit: options.maxLineBytes) }
                bufferStart = nl + 1
                return range
            }
            if buffer.count - bufferStart > options.maxLineBytes {
                throw InputError.lineTooLong(line: lineNumber, limit: options.maxLineBytes)
            }
            if atEOF {
                guard bufferStart < buffer.count else { return nil }
                let range = bufferStart..<buffer.count
                bufferStart = buffer.count
                return range
            }
            if !mayBlock { return nil }
            let scanned = buffer.count - bufferStart
            try fill()  // moves the unread bytes to the front
            scanFrom = bufferStart + scanned
        }
    }

    /// With the checks deferred, nothing is left to do per line but find its end: the
    /// complete lines waiting in the buffer are copied into the batch at once, line breaks
    /// included, and the lines are ranges in it. Line by line, this copying was a tenth of
    /// `tokenize`'s time on English text, all of it on one thread while the others waited.
    private mutating func appendVerbatim(to batch: inout Batch, targetBytes: Int, returnEarly: Bool) throws {
        batch.verbatim = true
        while batch.bytes.count < targetBytes {
            let segmentStart = bufferStart, base = batch.bytes.count
            var end = bufferStart
            try buffer.withUnsafeBufferPointer { b in
                while base + end - segmentStart < targetBytes, end < b.count,
                      let found = memchr(b.baseAddress! + end, 0x0A, b.count - end) {
                    let nl = b.baseAddress!.distance(to: found.assumingMemoryBound(to: UInt8.self))
                    if nl - end > options.maxLineBytes { throw InputError.lineTooLong(line: lineNumber, limit: options.maxLineBytes) }
                    batch.lineStarts.append(base + end - segmentStart)
                    batch.lineEnds.append(base + nl - segmentStart)
                    batch.lineBytes += nl - end
                    lineNumber += 1
                    end = nl + 1
                }
            }
            if end == segmentStart {
                // No complete line waiting.
                if buffer.count - bufferStart > options.maxLineBytes {
                    throw InputError.lineTooLong(line: lineNumber, limit: options.maxLineBytes)
                }
                if atEOF {
                    guard bufferStart < buffer.count else { break }
                    end = buffer.count  // the last line, without a line break
                    batch.lineStarts.append(base)
                    batch.lineEnds.append(base + end - segmentStart)
                    batch.lineBytes += end - segmentStart
                    lineNumber += 1
                } else {
                    if returnEarly && batch.count > 0 { break }
                    try fill()
                    continue
                }
            }
            sawAnything = true
            buffer.withUnsafeBufferPointer { batch.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: $0[segmentStart..<end])) }
            offset += end - segmentStart
            bufferStart = end
        }
    }

    static func indexOfNUL(_ line: UnsafeBufferPointer<UInt8>) -> Int? {
        guard let base = line.baseAddress, let p = memchr(base, 0, line.count) else { return nil }
        return base.distance(to: p.assumingMemoryBound(to: UInt8.self))
    }

    private static func indexOfNewline(_ buffer: [UInt8], from start: Int) -> Int? {
        buffer.withUnsafeBufferPointer { b in
            guard start < b.count, let p = memchr(b.baseAddress! + start, 0x0A, b.count - start) else { return nil }
            return b.baseAddress!.distance(to: p.assumingMemoryBound(to: UInt8.self))
        }
    }

    private mutating func appendChecked(_ range: Range<Int>, to batch: inout Batch) throws {
        let lineOffset = offset
        offset += range.count + 1
        defer { lineNumber += 1 }
        try buffer.withUnsafeBufferPointer { all in
            let line = UnsafeBufferPointer(rebasing: all[range])
            let start = batch.bytes.count
            if batch.checksDeferred {
                batch.bytes.append(contentsOf: line)
            } else if !options.allowNUL, let nul = Self.indexOfNUL(line) {
                throw InputError.nulByte(line: lineNumber, offset: lineOffset + nul)
            } else if let bad = UTF8Bytes.firstInvalidOffset(line) {
                guard options.invalidUTF8 == .replace else {
                    throw InputError.invalidUTF8(line: lineNumber, offset: lineOffset + bad)
                }
                batch.bytes.append(contentsOf: UTF8Bytes.repaired(line).bytes)
                batch.repairedLines += 1
            } else {
                batch.bytes.append(contentsOf: line)
            }
            if options.keepLineBreaks && range.upperBound < all.count && all[range.upperBound] == 0x0A {
                batch.bytes.append(0x0A)
            }
            batch.lineStarts.append(start)
            batch.lineEnds.append(batch.bytes.count)
            batch.lineBytes += batch.bytes.count - start
        }
    }
}

/// The raw memory `LineReader` reads into, freed with the reader.
private final class ReadBlock {
    let bytes: UnsafeMutablePointer<UInt8>
    let count: Int
    init(count: Int) {
        self.count = max(1, count)
        bytes = .allocate(capacity: self.count)
    }
    deinit { bytes.deallocate() }
}

// MARK: - Regular files: blocks mapped, not read

extension LineReader {
    /// The part of a regular file that `nextBlock` maps instead of reading: from where the
    /// descriptor stood when the reader was made to the file's size then.
    struct MappedSpan {
        var next: Int
        let end: Int
    }

    static func mappableSpan(_ fd: Int32) -> MappedSpan? {
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        let position = lseek(fd, 0, SEEK_CUR)
        guard position >= 0, Int(info.st_size) > Int(position) else { return nil }
        return MappedSpan(next: Int(position), end: Int(info.st_size))
    }

    /// The next block of a regular file, as a view of the file mapped into memory: no copy into
    /// fresh memory, whose page faults cost more than the mapping's own (a block is still
    /// read once here, to count its line breaks). Nil when nothing mapped
    /// is left; the rest (what the file gained since, or a last line without a line break,
    /// which may still grow) goes through `read`.
    mutating func nextMappedBlock(targetBytes: Int) throws -> TextBlock? {
        guard var span = mapped, span.next < span.end else { return nil }
        // Enough for the block and for the longest line allowed to cross its end: only the
        // pages touched cost memory.
        let want = min(span.end - span.next, max(1, targetBytes) + options.maxLineBytes + 1)
        guard let mapping = FileMapping(fd, offset: span.next, count: want) else {
            // `read` takes over from where the blocks so far ended (mapping moved nothing).
            mapped = nil
            guard lseek(fd, off_t(span.next), SEEK_SET) >= 0 else { throw InputError.readFailed(String(cString: strerror(errno))) }
            return nil
        }
        let bytes = mapping.bytes
        let window = min(bytes.count, max(1, targetBytes))
        var end = Self.lastNewline(in: UnsafeBufferPointer(rebasing: bytes[0..<window])).map { $0 + 1 }
        if end == nil, window < bytes.count, let nl = memchr(bytes.baseAddress! + window, 0x0A, bytes.count - window) {
            end = bytes.baseAddress!.distance(to: nl.assumingMemoryBound(to: UInt8.self)) + 1
        }
        guard let end else {
            if bytes.count > options.maxLineBytes {
                throw InputError.lineTooLong(line: lineNumber, limit: options.maxLineBytes)
            }
            // A last line without a line break: `read` takes it from here.
            mapped = nil
            guard lseek(fd, off_t(span.next), SEEK_SET) >= 0 else { throw InputError.readFailed(String(cString: strerror(errno))) }
            return nil
        }
        let block = TextBlock(bytes: UnsafeBufferPointer(rebasing: bytes[0..<end]), storage: mapping, firstLine: lineNumber,
                              firstOffset: offset, maxLineBytes: options.maxLineBytes, allowNUL: options.allowNUL)
        lineNumber += block.lineCount
        offset += end
        bytesRead += end
        span.next += end
        sawAnything = true
        if span.next == span.end {
            mapped = nil
            guard lseek(fd, off_t(span.end), SEEK_SET) >= 0 else { throw InputError.readFailed(String(cString: strerror(errno))) }
        } else {
            mapped = span
        }
        return block
    }
}

/// A read-only private mapping of part of a file, unmapped with the last block that uses it.
/// If another process truncates the file meanwhile, reading the lost pages raises SIGBUS, a
/// risk every mapping reader (ripgrep, for one) takes for the speed.
final class FileMapping {
    private let base: UnsafeMutableRawPointer
    private let length: Int
    /// The requested bytes (the mapping itself starts at a page boundary at or before them).
    let bytes: UnsafeBufferPointer<UInt8>

    init?(_ fd: Int32, offset: Int, count: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = offset / page * page
        length = offset - start + count
        guard let p = mmap(nil, length, PROT_READ, MAP_PRIVATE, fd, off_t(start)), p != MAP_FAILED else { return nil }
        base = p
        bytes = UnsafeBufferPointer(start: (p + (offset - start)).assumingMemoryBound(to: UInt8.self), count: count)
    }

    deinit { munmap(base, length) }
}
