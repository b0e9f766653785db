import Foundation

/// A run of whole lines exactly as they were read, line breaks included, not yet cut into
/// lines: `LineReader.nextBlock` hands these to consumers that cut, check and encode the lines
/// on their own threads. Cutting a megabyte of short English lines into line ranges on the
/// reading thread took 5 ms of a 36 ms 2-thread run, all of it while the other thread waited.
public struct TextBlock {
    /// The bytes, from the start of a line to just after a `\n` (or to the end of the input),
    /// in memory that `storage` owns (a copy, or a mapping of the file itself): valid while
    /// the block, or a copy of it, lives.
    public let bytes: UnsafeBufferPointer<UInt8>
    private let storage: AnyObject
    /// Number (1-based) of the first line, and its byte offset in the whole input.
    public let firstLine: Int
    public let firstOffset: Int
    /// Lines in the block: its `\n`s, plus one for a last line without one.
    public let lineCount: Int
    let maxLineBytes: Int
    let allowNUL: Bool

    init(bytes: UnsafeBufferPointer<UInt8>, storage: AnyObject, firstLine: Int, firstOffset: Int,
         maxLineBytes: Int = .max, allowNUL: Bool = false) {
        self.bytes = bytes
        self.storage = storage
        self.firstLine = firstLine
        self.firstOffset = firstOffset
        self.maxLineBytes = maxLineBytes
        self.allowNUL = allowNUL
        lineCount = Self.countNewlines(bytes) + (bytes.last == 0x0A || bytes.isEmpty ? 0 : 1)
    }

    /// A block holding a copy of `bytes`.
    init(copying bytes: UnsafeBufferPointer<UInt8>, firstLine: Int, firstOffset: Int, maxLineBytes: Int = .max,
         allowNUL: Bool = false) {
        let copy = ByteStorage(copying: bytes)
        self.init(bytes: UnsafeBufferPointer(start: copy.bytes.baseAddress, count: bytes.count), storage: copy,
                  firstLine: firstLine, firstOffset: firstOffset, maxLineBytes: maxLineBytes, allowNUL: allowNUL)
    }

    /// Bytes of the lines themselves, without their line breaks.
    public var lineBytes: Int {
        bytes.count - (lineCount - (bytes.isEmpty || bytes.last == 0x0A ? 0 : 1))
    }

    /// A share of the block: a byte range of whole lines and the number of its first line.
    public struct Part: Sendable {
        public let bytes: Range<Int>
        public let firstLine: Int
    }

    /// Cuts the block into at most `parts` shares of about equal bytes (not lines: Chinese
    /// lines range from a few characters to whole paragraphs), each starting at a line.
    public func parts(_ parts: Int) -> [Part] {
        var result: [Part] = []
        result.reserveCapacity(parts)
        do {
            let all = bytes
            guard let base = all.baseAddress else { return result }
            var start = 0, line = firstLine
            for k in 1...max(1, parts) where start < all.count {
                var end = all.count
                if k < parts {
                    let target = all.count * k / parts
                    // This share's target fell inside the line that ended the previous one.
                    if target < start { continue }
                    if let nl = memchr(base + target, 0x0A, all.count - target) {
                        end = base.distance(to: nl.assumingMemoryBound(to: UInt8.self)) + 1
                    }
                }
                result.append(Part(bytes: start..<end, firstLine: line))
                line += Self.countNewlines(UnsafeBufferPointer(rebasing: all[start..<end]))
                start = end
            }
        }
        return result
    }

    /// Calls `body` with every line of `part` (without its `\n`) and its number, after the
    /// checks `LineReader` leaves to the consumer: the length limit, NUL bytes, UTF-8.
    /// Errors name the line and the byte offset in the whole input.
    @inline(__always)
    public func forEachLine(in part: Part, _ body: (UnsafeBufferPointer<UInt8>, Int) throws -> Void) throws {
        do {
            let all = bytes
            guard let base = all.baseAddress else { return }
            var start = part.bytes.lowerBound, number = part.firstLine
            let end = part.bytes.upperBound
            while start < end {
                var stop = end
                if let nl = memchr(base + start, 0x0A, end - start) {
                    stop = base.distance(to: nl.assumingMemoryBound(to: UInt8.self))
                }
                let line = UnsafeBufferPointer(start: base + start, count: stop - start)
                if line.count > maxLineBytes { throw LineReader.InputError.lineTooLong(line: number, limit: maxLineBytes) }
                if !allowNUL, let nul = LineReader.indexOfNUL(line) {
                    throw LineReader.InputError.nulByte(line: number, offset: firstOffset + start + nul)
                }
                if let bad = UTF8Bytes.firstInvalidOffset(line) {
                    throw LineReader.InputError.invalidUTF8(line: number, offset: firstOffset + start + bad)
                }
                try body(line, number)
                number += 1
                start = stop + 1
            }
        }
    }

    /// The number of `\n` bytes, 8 at a time: a byte of `w ^ 0x0A...` is zero exactly where
    /// `w` holds a line break, and `~((x & 0x7F..) + 0x7F.. | x | 0x7F..)` keeps the high bit
    /// of exactly the zero bytes (no carry crosses a byte, unlike the shorter test).
    static func countNewlines(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        guard let base = bytes.baseAddress else { return 0 }
        let raw = UnsafeRawPointer(base), n = bytes.count
        let low7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F, breaks: UInt64 = 0x0A0A_0A0A_0A0A_0A0A
        var count = 0, i = 0
        while i + 8 <= n {
            let x = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ breaks
            count += (~(((x & low7) &+ low7) | x | low7)).nonzeroBitCount
            i += 8
        }
        while i < n {
            if base[i] == 0x0A { count += 1 }
            i += 1
        }
        return count
    }
}

/// Memory that a `TextBlock` owns: a copy of the bytes it holds.
final class ByteStorage {
    let bytes: UnsafeMutableBufferPointer<UInt8>
    init(copying source: UnsafeBufferPointer<UInt8>) {
        bytes = .allocate(capacity: max(1, source.count))
        _ = bytes.initialize(from: source)
        if source.isEmpty { bytes[0] = 0 }
    }
    deinit { bytes.deallocate() }
}
