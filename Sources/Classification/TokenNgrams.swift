/// The hashed token n-grams of a text: the sparse, "wide" input of `ClassifierHead` beside the
/// pooled encoder features (fastText's hashing trick, on the tokenizer's ids).
///
/// Every run of 1...`order` consecutive ids is hashed to one of `buckets` rows. The hash is
/// a fixed function of the ids and the run's length (no seed, no dependence on the process's
/// hashing), so a saved classifier finds the same rows in every process and on every machine.
public struct TokenNgrams: Sendable, Equatable {
    public let order: Int
    public let buckets: Int

    public init(order: Int, buckets: Int) {
        precondition(order >= 1 && buckets >= 1, "TokenNgrams: order and buckets must be at least 1")
        self.order = order
        self.buckets = buckets
    }

    /// The n-grams of a table of `buckets` rows; nil for none (0 rows).
    public static func table(buckets: Int, order: Int) -> TokenNgrams? {
        buckets > 0 ? TokenNgrams(order: order, buckets: buckets) : nil
    }

    /// The bucket of every n-gram of `ids`, by start position, then length.
    public func rows(of ids: [Int32]) -> [Int32] {
        var rows: [Int32] = []
        rows.reserveCapacity(ids.count * order)
        for start in ids.indices {
            var h: UInt64 = 0xCBF2_9CE4_8422_2325
            for n in 1...min(order, ids.count - start) {
                h = (h ^ UInt64(UInt32(bitPattern: ids[start + n - 1]))) &* 0x0000_0100_0000_01B3
                rows.append(Int32(truncatingIfNeeded: Self.mix(h ^ UInt64(n)) % UInt64(buckets)))
            }
        }
        return rows
    }

    /// SplitMix64's finalizer: FNV's low bits alone spread runs of small ids poorly.
    private static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
