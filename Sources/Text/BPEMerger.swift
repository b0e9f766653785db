/// Applies a vocabulary's merges to one pre-tokenized piece: exact BPE, in which the
/// adjacent pair of lowest rank is merged first and, among equal pairs, the leftmost.
///
/// The piece starts as its characters (character tokens where the alphabet has them,
/// UTF-8 bytes otherwise). The loop keeps the rank of every adjacent pair in an array, so
/// each merge costs one scan of the pairs and two table lookups. A piece has at most
/// `PreTokenizer.maxPieceScalars` scalars (at most 256 symbols), so the quadratic scan is
/// bounded per piece and encoding is linear in the input.
///
/// The scratch buffers are raw memory owned by the merger and sized once (they grow only
/// for a longer piece, e.g. a long token checked by the vocabulary): this is the hottest
/// loop of encoding, and Swift arrays would add uniqueness checks and reference counting
/// to every access. One merger per thread.
struct BPEMerger {
    private final class Scratch {
        var capacity: Int
        var count = 0
        var symbols: UnsafeMutablePointer<Int32>
        var pairs: UnsafeMutablePointer<UInt64>  // rank << 32 | result for (i, i + 1); .max when no merge

        init(capacity: Int) {
            self.capacity = capacity
            symbols = .allocate(capacity: capacity)
            pairs = .allocate(capacity: capacity)
        }

        func ensure(_ needed: Int) {
            guard needed > capacity else { return }
            symbols.deallocate(); pairs.deallocate()
            capacity = max(needed, capacity * 2)
            symbols = .allocate(capacity: capacity)
            pairs = .allocate(capacity: capacity)
        }

        deinit { symbols.deallocate(); pairs.deallocate() }
    }

    private let scratch = Scratch(capacity: 4 * PreTokenizer.maxPieceScalars + 4)
    private static let none = UInt64.max

    /// The ids left by the last `merge`, valid until the next call.
    var symbols: UnsafeBufferPointer<Int32> { UnsafeBufferPointer(start: scratch.symbols, count: scratch.count) }

    init() {}

    /// Merges `piece` (valid UTF-8) and leaves the token ids in `symbols`; returns their count.
    @discardableResult
    func merge(piece: UnsafeBufferPointer<UInt8>, vocabulary v: Vocabulary) -> Int {
        scratch.count = 0
        guard let p = piece.baseAddress, piece.count > 0 else { return 0 }
        scratch.ensure(piece.count)  // at most one symbol per byte
        let s = scratch.symbols, r = scratch.pairs
        var n = 0
        v.byteIDs.withUnsafeBufferPointer { byteIDs in
            v.bmpCharacterIDs.withUnsafeBufferPointer { bmp in
                var i = 0
                let end = piece.count
                while i < end {
                    let b = p[i]
                    if b < 0x80 { s[n] = byteIDs[Int(b)]; n += 1; i += 1; continue }
                    let (scalar, length) = UTF8Bytes.decode(p, i)
                    let id = scalar < 0x10000 ? bmp[Int(scalar)] : v.characterID(scalar)
                    if id >= 0 {
                        s[n] = id; n += 1
                    } else {
                        for k in 0..<length { s[n] = byteIDs[Int(p[i + k])]; n += 1 }
                    }
                    i += length
                }
            }
        }
        guard n > 1 else { scratch.count = n; return n }
        let table = v.mergeTable
        for k in 0..<(n - 1) { r[k] = table.value(s[k], s[k + 1]) ?? Self.none }
        while n > 1 {
            var best = Self.none, at = -1
            for k in 0..<(n - 1) where r[k] < best { best = r[k]; at = k }
            if at < 0 { break }
            s[at] = Int32(truncatingIfNeeded: best & 0xFFFF_FFFF)
            // Drop symbol at + 1; pairs right of the merge shift left by one.
            let tail = n - at - 2
            if tail > 0 {
                (s + at + 1).update(from: s + at + 2, count: tail)
                if tail > 1 { (r + at + 1).update(from: r + at + 2, count: tail - 1) }
            }
            n -= 1
            if at > 0 { r[at - 1] = table.value(s[at - 1], s[at]) ?? Self.none }
            if at < n - 1 { r[at] = table.value(s[at], s[at + 1]) ?? Self.none }
        }
        scratch.count = n
        return n
    }

    /// The merged ids of `piece` as a new array (for tests and one-off use).
    func encode(piece: UnsafeBufferPointer<UInt8>, vocabulary: Vocabulary) -> [Int32] {
        merge(piece: piece, vocabulary: vocabulary)
        return Array(symbols)
    }
}
