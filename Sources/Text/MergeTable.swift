/// The encoder's merge lookup: (left, right) -> rank << 32 | result, behind a Bloom filter.
///
/// Most lookups miss: of the adjacent pairs the merger asks about on the zh-news held-out
/// text, 70% have no merge. The table (16-byte slots, 1 MB at 28k merges) does not stay in
/// a core's L2, so every miss was a cache miss; the filter (16 bits per merge, 64 KB at
/// 28k merges) answers all but about 2% of them from memory that does.
struct MergeTable: Sendable {
    private var table: PairTable<UInt64>
    private var filter: [UInt64]
    private var filterMask: Int

    init(capacity: Int) {
        table = PairTable(capacity: capacity)
        var words = 64
        while words * 64 < capacity * 16 { words <<= 1 }
        filter = Array(repeating: 0, count: words)
        filterMask = words - 1
    }

    // The word and the two bits in it come from one well-mixed hash (the table hashes the
    // pair on its own, so the filter's bits do not follow the slot).
    @inline(__always)
    private func filterBits(_ left: Int32, _ right: Int32) -> (word: Int, bits: UInt64) {
        var h = (UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))) &* 0xD6E8_FEB8_6659_FD93
        h = (h ^ h >> 32) &* 0x9E37_79B9_7F4A_7C15
        let word = Int(truncatingIfNeeded: h >> 40) & filterMask
        return (word, 1 << ((h >> 28) & 63) | 1 << ((h >> 34) & 63))
    }

    @inline(__always)
    func value(_ left: Int32, _ right: Int32) -> UInt64? {
        let (word, bits) = filterBits(left, right)
        let present = filter.withUnsafeBufferPointer { $0[word] & bits == bits }
        return present ? table.value(left, right) : nil
    }

    mutating func set(_ left: Int32, _ right: Int32, _ value: UInt64) {
        let (word, bits) = filterBits(left, right)
        filter[word] |= bits
        table.set(left, right, value)
    }
}
