import Foundation

/// Reads a file descriptor as lines of UTF-8, in bounded memory, with checks that turn
/// bad input into errors that name the place: invalid UTF-8 (or U+FFFD replacement),
/// NUL bytes (the mark of a binary file), and lines longer than a limit.
///
/// Lines are delivered in batches (for parallel encoding) without their `\n`; a `\r`
/// before it stays in the line, so CRLF text round-trips. The input is read once, straight
/// into one buffer, and a batch is a run of complete lines in it: the encoding threads read
/// the bytes where `read` put them. Memory stays bounded: the buffer grows only for long
/// lines, to at most `maxLineBytes` + 1 bytes.
public struct LineReader {
    public enum InvalidUTF8Policy: String, Sendable, CaseIterable { case strict, replace }

    public struct Options: Sendable {
        public var invalidUTF8 = InvalidUTF8Policy.strict
        public var allowNUL = false
        public var maxLineBytes = 64 << 20
        /// Size of the read buffer; it grows for a longer line (up to `maxLineBytes`).
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

    /// A batch of complete lines, in place in the buffer the reader read them into (or, when
    /// invalid UTF-8 was replaced, in a copy of its own): the bytes from the first line's
    /// start to the last line's end, line breaks included, and where each line starts and
    /// ends in them. A batch keeps its bytes alive and unchanged for as long as it exists.
    public struct Batch {
        let storage: ByteBuffer
        let base: Int
        /// Bytes from the first line's start to the last line's end.
        public let byteCount: Int
        public internal(set) var lineStarts: [Int]
        public internal(set) var lineEnds: [Int]
        /// Number of the first line in the batch (1-based) and its offset in the input.
        public internal(set) var firstLine = 1
        public internal(set) var firstOffset = 0
        /// Lines in which invalid UTF-8 was replaced.
        public internal(set) var repairedLines = 0
        /// Bytes of the lines themselves, without the line breaks between them.
        public internal(set) var lineBytes = 0
        /// Whether the lines still need `checkLine` (the reader was told to defer checks).
        public internal(set) var checksDeferred = false
        var allowNUL = false

        public var count: Int { lineStarts.count }

        init(storage: ByteBuffer, base: Int, byteCount: Int, lineStarts: [Int], lineEnds: [Int]) {
            self.storage = storage
            self.base = base
            self.byteCount = byteCount
            self.lineStarts = lineStarts
            self.lineEnds = lineEnds
        }

        /// A batch of `lines`, one `\n` after each but the last (tests).
        init(lines: [[UInt8]]) {
            var bytes: [UInt8] = [], starts: [Int] = [], ends: [Int] = []
            for line in lines {
                if !starts.isEmpty { bytes.append(0x0A) }
                starts.append(bytes.count)
                bytes += line
                ends.append(bytes.count)
            }
            self.init(storage: ByteBuffer(copying: bytes), base: 0, byteCount: bytes.count, lineStarts: starts, lineEnds: ends)
            lineBytes = bytes.count - max(0, lines.count - 1)
        }

        /// Calls `body` with the batch's bytes (`byteCount` of them; `lineStarts` and
        /// `lineEnds` index into them).
        public func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
            try withExtendedLifetime(storage) {
                try body(UnsafeBufferPointer(start: storage.bytes + base, count: byteCount))
            }
        }

        /// A copy of line `k`.
        public func line(_ k: Int) -> [UInt8] {
            withBytes { Array($0[lineStarts[k]..<lineEnds[k]]) }
        }

        /// The NUL and UTF-8 checks the reader deferred, for line `k`; errors name the line
        /// and the byte offset in the whole input, as the reader's own would.
        public func checkLine(_ k: Int) throws {
            guard checksDeferred else { return }
            try withBytes { all in
                _ = try LineReader.check(UnsafeBufferPointer(rebasing: all[lineStarts[k]..<lineEnds[k]]),
                                         line: firstLine + k, offset: firstOffset + lineStarts[k],
                                         allowNUL: allowNUL, repair: false)
            }
        }

        /// A copy of the batch with the invalid UTF-8 of lines `lines` replaced by U+FFFD
        /// (longer, so it cannot be done in place); the line breaks between lines are kept.
        func repairing(_ lines: [Int]) -> Batch {
            var bytes: [UInt8] = [], starts: [Int] = [], ends: [Int] = []
            bytes.reserveCapacity(byteCount + 16 * lines.count)
            var iterator = lines.makeIterator()
            var next = iterator.next(), copied = 0
            withBytes { all in
                for k in 0..<count {
                    bytes += all[copied..<lineStarts[k]]  // the line break before the line
                    starts.append(bytes.count)
                    let line = UnsafeBufferPointer(rebasing: all[lineStarts[k]..<lineEnds[k]])
                    if k == next {
                        bytes += UTF8Bytes.repaired(line).bytes
                        next = iterator.next()
                    } else {
                        bytes += line
                    }
                    ends.append(bytes.count)
                    copied = lineEnds[k]
                }
            }
            var copy = Batch(storage: ByteBuffer(copying: bytes), base: 0, byteCount: bytes.count, lineStarts: starts, lineEnds: ends)
            copy.firstLine = firstLine
            copy.firstOffset = firstOffset
            copy.repairedLines = lines.count
            copy.lineBytes = lineBytes + (bytes.count - byteCount)
            copy.allowNUL = allowNUL
            return copy
        }
    }

    private let fd: Int32
    private let options: Options
    /// What has been read: bytes `start..<end` of `buffer` are not in any batch yet.
    private var buffer: ByteBuffer
    private var start = 0
    private var end = 0
    private var atEOF = false
    /// Line number and input offset of `buffer[start]`.
    private var lineNumber = 1
    private var offset = 0
    public private(set) var bytesRead = 0
    private var sawAnything = false
    var bufferCapacity: Int { buffer.capacity }
    /// The last batch's line tables, reused by the next batch when that one is gone.
    private var spareStarts: [Int] = []
    private var spareEnds: [Int] = []

    public init(fileDescriptor: Int32, options: Options = Options()) {
        fd = fileDescriptor
        self.options = options
        buffer = ByteBuffer(capacity: options.blockBytes)
    }

    /// The next batch of about `targetBytes` of whole lines, or nil at the end. With
    /// `returnEarly` (a pipe or terminal), a batch ends as soon as no complete line is
    /// waiting, instead of blocking for more input.
    ///
    /// The lines stay where `read` put them; this only finds where they end (and, unless
    /// the checks are deferred, checks them), so the serial work per byte is the `read`
    /// itself and a `memchr`. A batch never spans the end of the buffer: when the buffer is
    /// full it ends at its last complete line, and the next call moves the unfinished line
    /// to the front (the only bytes ever moved) before reading on.
    public mutating func nextBatch(targetBytes: Int = 1 << 20, returnEarly: Bool = false) throws -> Batch? {
        let deferred = options.deferChecks && options.invalidUTF8 == .strict
        var lineStarts = spareStarts, lineEnds = spareEnds
        spareStarts = []
        spareEnds = []
        lineStarts.removeAll(keepingCapacity: true)
        lineEnds.removeAll(keepingCapacity: true)
        let firstLine = lineNumber, firstOffset = offset
        var lineBytes = 0, repair: [Int] = []
        // Lines run from `cursor`; there is no line break in `cursor..<searched`.
        var cursor = start, searched = start

        func addLine(upTo lineEnd: Int) throws {
            let base = start
            if !deferred {
                let line = UnsafeBufferPointer(start: buffer.bytes + cursor, count: lineEnd - cursor)
                if try Self.check(line, line: lineNumber, offset: offset + cursor - base, allowNUL: options.allowNUL,
                                  repair: options.invalidUTF8 == .replace) {
                    repair.append(lineStarts.count)
                }
            }
            lineStarts.append(cursor - base)
            lineEnds.append(lineEnd - base)
            lineBytes += lineEnd - cursor
            lineNumber += 1
            sawAnything = true
        }

        while cursor - start < targetBytes {
            if searched < end, let found = memchr(buffer.bytes + searched, 0x0A, end - searched) {
                let nl = buffer.bytes.distance(to: found.assumingMemoryBound(to: UInt8.self))
                if nl - cursor > options.maxLineBytes { throw InputError.lineTooLong(line: lineNumber, limit: options.maxLineBytes) }
                try addLine(upTo: options.keepLineBreaks ? nl + 1 : nl)
                cursor = nl + 1
                searched = cursor
                continue
            }
            searched = end
            if end - cursor > options.maxLineBytes { throw InputError.lineTooLong(line: lineNumber, limit: options.maxLineBytes) }
            if atEOF {
                if cursor < end {  // the last line, without a line break
                    try addLine(upTo: end)
                    cursor = end
                }
                break
            }
            if !lineStarts.isEmpty && (returnEarly || end == buffer.capacity) { break }
            if end == buffer.capacity {
                // No line in this batch yet, so `start == cursor`: only the unfinished line moves.
                makeRoom()
                cursor = start
                searched = end
            }
            try readMore()
        }
        guard !lineStarts.isEmpty else {
            if !sawAnything { throw InputError.empty }
            return nil
        }
        var batch = Batch(storage: buffer, base: start, byteCount: lineEnds[lineEnds.count - 1], lineStarts: lineStarts,
                          lineEnds: lineEnds)
        batch.firstLine = firstLine
        batch.firstOffset = firstOffset
        batch.lineBytes = lineBytes
        batch.checksDeferred = deferred
        batch.allowNUL = options.allowNUL
        offset += cursor - start
        start = cursor
        spareStarts = lineStarts
        spareEnds = lineEnds
        return repair.isEmpty ? batch : batch.repairing(repair)
    }

    /// Moves the unfinished line at `start` to the front of the buffer, growing it when that
    /// line fills more than half of it (so a long line is not moved again and again). A batch
    /// that still holds the buffer keeps it: the line then moves into a new one.
    private mutating func makeRoom() {
        let tail = end - start
        var capacity = buffer.capacity
        if tail > capacity / 2 { capacity = max(capacity, min(2 * capacity, options.maxLineBytes + 1)) }
        if capacity != buffer.capacity || !isKnownUniquelyReferenced(&buffer) {
            let grown = ByteBuffer(capacity: capacity)
            grown.bytes.update(from: buffer.bytes + start, count: tail)
            buffer = grown
        } else {
            memmove(buffer.bytes, buffer.bytes + start, tail)
        }
        start = 0
        end = tail
    }

    /// One `read` into the free end of the buffer.
    private mutating func readMore() throws {
        var n: Int
        repeat {
            n = read(fd, buffer.bytes + end, buffer.capacity - end)
        } while n < 0 && errno == EINTR
        if n < 0 { throw InputError.readFailed(String(cString: strerror(errno))) }
        if n == 0 { atEOF = true }
        end += n
        bytesRead += n
    }

    /// Throws for a NUL byte (unless allowed) or, unless `repair`, for invalid UTF-8;
    /// returns whether the line has invalid UTF-8 to replace. Errors name `line` and the
    /// byte offset in the input, the line starting at `offset`.
    static func check(_ line: UnsafeBufferPointer<UInt8>, line number: Int, offset: Int, allowNUL: Bool,
                      repair: Bool) throws -> Bool {
        if !allowNUL, let nul = indexOfNUL(line) {
            throw InputError.nulByte(line: number, offset: offset + nul)
        }
        guard let bad = UTF8Bytes.firstInvalidOffset(line) else { return false }
        if !repair { throw InputError.invalidUTF8(line: number, offset: offset + bad) }
        return true
    }

    static func indexOfNUL(_ line: UnsafeBufferPointer<UInt8>) -> Int? {
        guard let base = line.baseAddress, let p = memchr(base, 0, line.count) else { return nil }
        return base.distance(to: p.assumingMemoryBound(to: UInt8.self))
    }
}

/// Raw bytes in a class of their own: the reader's buffer, which its batches share (and
/// keep alive) instead of copying, or a batch's own repaired copy.
final class ByteBuffer {
    let bytes: UnsafeMutablePointer<UInt8>
    let capacity: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        // A buffer of 2 MiB or more is aligned to and backed by huge pages where the kernel
        // offers them: `read` into fresh memory takes a page fault per 4 KiB otherwise, and
        // those faults (on the reading thread, while the encoders wait) cost more than the
        // copy itself.
        let huge = 2 << 20
        var memory: UnsafeMutableRawPointer?
        if self.capacity >= huge, posix_memalign(&memory, huge, self.capacity) == 0, let memory {
            _ = madvise(memory, self.capacity, Int32(MADV_HUGEPAGE))
            bytes = memory.bindMemory(to: UInt8.self, capacity: self.capacity)
        } else {
            bytes = malloc(self.capacity)!.bindMemory(to: UInt8.self, capacity: self.capacity)
        }
    }

    convenience init(copying array: [UInt8]) {
        self.init(capacity: array.count)
        array.withUnsafeBufferPointer { if let source = $0.baseAddress { bytes.update(from: source, count: $0.count) } }
    }

    deinit { free(bytes) }
}
