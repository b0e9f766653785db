/// The encoder's merge lookup: (left, right) -> rank << 32 | result, behind a Bloom filter.
///
/// This lookup is most of the merge loop's time, and it is bound by cache misses:
/// - Most lookups miss: of the adjacent pairs the merger asks about on the zh-news held-out
///   text, 70% have no merge. The filter (64 KB at 28k merges) answers all but about 2% of
///   them without touching the table.
/// - The pairs that do merge are spread over the whole table. When every id fits in 16
///   bits (vocabularies below 65,535 entries), a slot is one 64-bit word, key and value
///   packed (512 KB at 28k merges instead of 1 MB with 16-byte slots), so that twice as
///   many of them stay in the caches. Larger vocabularies use a `PairTable`.
struct MergeTable: Sendable {
    private let compact: Bool
    private var wide: PairTable<UInt64>  // when not compact
    /// left << 48 | right << 32 | rank << 16 | result; all ones when empty.
    private var slots: [UInt64]
    private var mask: Int
    private var filter: BloomFilter

    /// `capacity` merges among ids below `idLimit`.
    init(capacity: Int, idLimit: Int) {
        compact = idLimit < 0xFFFF && capacity <= 0xFFFF
        wide = PairTable(capacity: compact ? 1 : capacity)
        var size = 16
        while compact && size < capacity * 2 { size <<= 1 }
        slots = Array(repeating: UInt64.max, count: size)
        mask = size - 1
        filter = BloomFilter(capacity: capacity)
    }

    @inline(__always)
    private static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    // The filter's hash is mixed differently from the slot's, so that its bits do not
    // follow the slot.
    @inline(__always)
    private static func filterHash(_ key: UInt64) -> UInt64 {
        let h = key &* 0xD6E8_FEB8_6659_FD93
        return (h ^ h >> 32) &* 0x9E37_79B9_7F4A_7C15
    }

    @inline(__always)
    private func slot(_ key: UInt64) -> Int {
        var h = key &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 31
        return Int(truncatingIfNeeded: h) & mask
    }

    @inline(__always)
    func value(_ left: Int32, _ right: Int32) -> UInt64? {
        let key = Self.key(left, right)
        guard filter.mayContain(Self.filterHash(key)) else { return nil }
        if !compact { return wide.value(left, right) }
        let packedKey = key << 16 & 0xFFFF_0000_0000_0000 | key << 32 & 0x0000_FFFF_0000_0000
        return slots.withUnsafeBufferPointer { table in
            var s = slot(key)
            while true {
                let found = table[s]
                if found & 0xFFFF_FFFF_0000_0000 == packedKey {
                    return (found >> 16 & 0xFFFF) << 32 | found & 0xFFFF
                }
                if found == UInt64.max { return nil }
                s = (s + 1) & mask
            }
        }
    }

    /// Adds a merge that is not in the table yet; `value` is rank << 32 | result.
    mutating func insert(_ left: Int32, _ right: Int32, _ value: UInt64) {
        let key = Self.key(left, right)
        filter.insert(Self.filterHash(key))
        if !compact {
            wide.set(left, right, value)
            return
        }
        var s = slot(key)
        while slots[s] != UInt64.max { s = (s + 1) & mask }
        slots[s] = key << 16 & 0xFFFF_0000_0000_0000 | key << 32 & 0x0000_FFFF_0000_0000 | (value >> 32) << 16 | value & 0xFFFF
    }
}
