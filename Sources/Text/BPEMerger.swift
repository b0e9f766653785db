/// Applies a vocabulary's merges to one pre-tokenized piece: exact BPE, in which the
/// adjacent pair of lowest rank is merged first and, among equal pairs, the leftmost.
///
/// The piece starts as its characters (character tokens where the alphabet has them,
/// UTF-8 bytes otherwise). The loop keeps the rank of every adjacent pair in an array, so
/// each merge costs one scan of the pairs and two table lookups. A piece has at most
/// `PreTokenizer.maxPieceScalars` scalars (at most 256 symbols), so the quadratic scan is
/// bounded per piece and encoding is linear in the input.
///
/// Holds reusable scratch buffers: one merger per thread.
struct BPEMerger {
    private(set) var symbols: [Int32] = []
    private var pairs: [UInt64] = []  // rank << 32 | result for (i, i + 1); .max when no merge
    private static let none = UInt64.max

    init() {
        symbols.reserveCapacity(4 * PreTokenizer.maxPieceScalars)
        pairs.reserveCapacity(4 * PreTokenizer.maxPieceScalars)
    }

    /// Merges `piece` (valid UTF-8) and leaves the token ids in `symbols`; returns their count.
    @discardableResult
    mutating func merge(piece: UnsafeBufferPointer<UInt8>, vocabulary v: Vocabulary) -> Int {
        symbols.removeAll(keepingCapacity: true)
        pairs.removeAll(keepingCapacity: true)
        guard let p = piece.baseAddress else { return 0 }
        var i = 0
        let n = piece.count
        while i < n {
            let b = p[i]
            if b < 0x80 { symbols.append(v.byteIDs[Int(b)]); i += 1; continue }
            let (scalar, length) = UTF8Bytes.decode(p, i)
            let id = v.characterID(scalar)
            if id >= 0 {
                symbols.append(id)
            } else {
                for k in 0..<length { symbols.append(v.byteIDs[Int(p[i + k])]) }
            }
            i += length
        }
        var count = symbols.count
        guard count > 1 else { return count }
        let table = v.mergeTable
        symbols.withUnsafeMutableBufferPointer { s in
            for k in 0..<(count - 1) { pairs.append(table.value(s[k], s[k + 1]) ?? Self.none) }
            pairs.withUnsafeMutableBufferPointer { r in
                while count > 1 {
                    var best = Self.none, at = -1
                    for k in 0..<(count - 1) where r[k] < best { best = r[k]; at = k }
                    if at < 0 { break }
                    s[at] = Int32(truncatingIfNeeded: best & 0xFFFF_FFFF)
                    // Drop symbol at + 1; pairs right of the merge shift left by one.
                    var k = at + 1
                    while k < count - 1 { s[k] = s[k + 1]; k += 1 }
                    k = at + 1
                    while k < count - 2 { r[k] = r[k + 1]; k += 1 }
                    count -= 1
                    if at > 0 { r[at - 1] = table.value(s[at - 1], s[at]) ?? Self.none }
                    if at < count - 1 { r[at] = table.value(s[at], s[at + 1]) ?? Self.none }
                }
            }
        }
        symbols.removeLast(symbols.count - count)
        return count
    }

    /// The merged ids of `piece` as a new array (for tests and one-off use).
    mutating func encode(piece: UnsafeBufferPointer<UInt8>, vocabulary: Vocabulary) -> [Int32] {
        merge(piece: piece, vocabulary: vocabulary)
        return symbols
    }
}
