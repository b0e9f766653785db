/// UTF-8 checks and decoding for the text layer, which works on bytes throughout:
/// `String` compares by canonical equivalence and would merge byte sequences that a
/// lossless tokenizer must keep apart.
public enum UTF8Bytes {
    /// Invalid UTF-8 at a byte offset of the input.
    public struct InvalidError: Error, Equatable, CustomStringConvertible {
        /// Offset of the first byte of the ill-formed sequence.
        public let offset: Int
        public init(offset: Int) { self.offset = offset }
        public var description: String { "invalid UTF-8 at byte offset \(offset)" }
    }

    /// The offset of the first ill-formed sequence, or nil when `bytes` is valid UTF-8
    /// (Unicode 15, table 3-7: no overlongs, no surrogates, nothing above U+10FFFF).
    /// ASCII is checked eight bytes at a time.
    public static func firstInvalidOffset(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        guard let base = bytes.baseAddress else { return nil }
        let n = bytes.count
        var i = 0
        while i < n {
            if i + 8 <= n {
                let word = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                if word & 0x8080_8080_8080_8080 == 0 { i += 8; continue }
            }
            let length = sequenceLength(base, i, n)
            if length == 0 { return i }
            i += length
        }
        return nil
    }

    public static func firstInvalidOffset(_ bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBufferPointer { firstInvalidOffset($0) }
    }

    /// Length of the well-formed sequence starting at `i`, or 0 when it is ill-formed.
    @inline(__always)
    static func sequenceLength(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> Int {
        let b0 = p[i]
        if b0 < 0x80 { return 1 }
        if b0 < 0xC2 { return 0 }
        @inline(__always) func cont(_ j: Int, _ lo: UInt8 = 0x80, _ hi: UInt8 = 0xBF) -> Bool {
            j < n && p[j] >= lo && p[j] <= hi
        }
        if b0 < 0xE0 { return cont(i + 1) ? 2 : 0 }
        if b0 < 0xF0 {
            let lo: UInt8 = b0 == 0xE0 ? 0xA0 : 0x80
            let hi: UInt8 = b0 == 0xED ? 0x9F : 0xBF
            return cont(i + 1, lo, hi) && cont(i + 2) ? 3 : 0
        }
        if b0 < 0xF5 {
            let lo: UInt8 = b0 == 0xF0 ? 0x90 : 0x80
            let hi: UInt8 = b0 == 0xF4 ? 0x8F : 0xBF
            return cont(i + 1, lo, hi) && cont(i + 2) && cont(i + 3) ? 4 : 0
        }
        return 0
    }

    /// Length of the maximal subpart of an ill-formed sequence at `i` (at least 1): the
    /// unit that Unicode's "U+FFFD substitution of maximal subparts" replaces.
    static func maximalSubpartLength(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> Int {
        let b0 = p[i]
        let need: Int, lo: UInt8, hi: UInt8
        switch b0 {
        case 0xC2...0xDF: need = 1; lo = 0x80; hi = 0xBF
        case 0xE0: need = 2; lo = 0xA0; hi = 0xBF
        case 0xED: need = 2; lo = 0x80; hi = 0x9F
        case 0xE1...0xEF: need = 2; lo = 0x80; hi = 0xBF
        case 0xF0: need = 3; lo = 0x90; hi = 0xBF
        case 0xF4: need = 3; lo = 0x80; hi = 0x8F
        case 0xF1...0xF3: need = 3; lo = 0x80; hi = 0xBF
        default: return 1
        }
        var j = i + 1
        if j < n, p[j] >= lo, p[j] <= hi { j += 1 } else { return 1 }
        while j - i <= need, j < n, p[j] & 0xC0 == 0x80 { j += 1 }
        return j - i
    }

    /// `bytes` with every maximal ill-formed subpart replaced by U+FFFD (EF BF BD), and
    /// the number of replacements made.
    public static func repaired(_ bytes: UnsafeBufferPointer<UInt8>) -> (bytes: [UInt8], replacements: Int) {
        guard let base = bytes.baseAddress, let first = firstInvalidOffset(bytes) else {
            return (Array(bytes), 0)
        }
        let n = bytes.count
        var out = [UInt8]()
        out.reserveCapacity(n + 16)
        out.append(contentsOf: UnsafeBufferPointer(start: base, count: first))
        var i = first, replacements = 0
        while i < n {
            let length = sequenceLength(base, i, n)
            if length > 0 {
                for k in 0..<length { out.append(base[i + k]) }
                i += length
            } else {
                out.append(contentsOf: [0xEF, 0xBF, 0xBD])
                replacements += 1
                i += maximalSubpartLength(base, i, n)
            }
        }
        return (out, replacements)
    }

    /// Decodes the scalar at `i` of valid UTF-8; returns its value and byte length.
    @inline(__always)
    public static func decode(_ p: UnsafePointer<UInt8>, _ i: Int) -> (scalar: UInt32, length: Int) {
        let b0 = UInt32(p[i])
        if b0 < 0x80 { return (b0, 1) }
        if b0 < 0xE0 { return ((b0 & 0x1F) << 6 | UInt32(p[i + 1] & 0x3F), 2) }
        if b0 < 0xF0 {
            return ((b0 & 0x0F) << 12 | UInt32(p[i + 1] & 0x3F) << 6 | UInt32(p[i + 2] & 0x3F), 3)
        }
        return ((b0 & 0x07) << 18 | UInt32(p[i + 1] & 0x3F) << 12
                | UInt32(p[i + 2] & 0x3F) << 6 | UInt32(p[i + 3] & 0x3F), 4)
    }

    /// Byte length of a sequence from its lead byte (1 for continuation bytes).
    @inline(__always)
    public static func lengthOfSequence(lead: UInt8) -> Int {
        if lead < 0xC0 { return 1 }
        if lead < 0xE0 { return 2 }
        if lead < 0xF0 { return 3 }
        return 4
    }

    /// The length of the longest prefix of `bytes` that does not end inside a multi-byte
    /// sequence: what a streaming decoder may emit now.
    public static func completePrefixLength(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        let n = bytes.count
        var back = 0
        // A sequence is at most 4 bytes: look at the last 3 for an unfinished lead byte.
        while back < min(3, n) {
            let b = bytes[n - 1 - back]
            if b & 0xC0 != 0x80 {
                if b >= 0xC0 && lengthOfSequence(lead: b) > back + 1 { return n - 1 - back }
                return n
            }
            back += 1
        }
        return n
    }
}
