/// A set of 64-bit hashes that may answer "present" for an absent one (about 2% of the
/// time at 16 bits per key) but never "absent" for a present one: put in front of a
/// table too large for the caches, it answers most lookups of absent keys from memory
/// that stays in a core's L2. Two bits per key, both in one 64-bit word, so a check is
/// one load.
struct BloomFilter: Sendable {
    private var words: [UInt64]
    private var mask: Int

    init(capacity: Int) {
        var count = 64
        while count * 64 < capacity * 16 { count <<= 1 }
        words = Array(repeating: 0, count: count)
        mask = count - 1
    }

    /// `hash` must be well mixed in bits 28 and up (the word from the top, the two bit
    /// positions from the 12 bits below 40).
    @inline(__always)
    private func place(_ hash: UInt64) -> (word: Int, bits: UInt64) {
        (Int(truncatingIfNeeded: hash >> 40) & mask, 1 << ((hash >> 28) & 63) | 1 << ((hash >> 34) & 63))
    }

    mutating func insert(_ hash: UInt64) {
        let (word, bits) = place(hash)
        words[word] |= bits
    }

    @inline(__always)
    func mayContain(_ hash: UInt64) -> Bool {
        let (word, bits) = place(hash)
        return words.withUnsafeBufferPointer { $0[word] & bits == bits }
    }
}
