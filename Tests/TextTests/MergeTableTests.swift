import Testing
import TestSupport
@testable import Text

@Suite struct MergeTableTests {
    /// The filter in front of the table may only answer "absent" for absent pairs: every
    /// merge is found with its value, and random pairs are found exactly when they merge.
    @Test func findsEveryMergeAndNothingElse() {
        var rng = SeededGenerator(seed: 11)
        var table = MergeTable(capacity: 20_000)
        var present = Set<Int64>()
        var pairs: [(Int32, Int32, UInt64)] = []
        for rank in 0..<20_000 {
            let left = Int32(rng.next(upTo: 30_000)), right = Int32(rng.next(upTo: 30_000))
            guard present.insert(Int64(left) << 32 | Int64(right)).inserted else { continue }
            let value = UInt64(rank) << 32 | UInt64(rng.next(upTo: 30_000))
            table.set(left, right, value)
            pairs.append((left, right, value))
        }
        for (left, right, value) in pairs { #expect(table.value(left, right) == value) }
        for _ in 0..<200_000 {
            let left = Int32(rng.next(upTo: 30_000)), right = Int32(rng.next(upTo: 30_000))
            #expect((table.value(left, right) != nil) == present.contains(Int64(left) << 32 | Int64(right)))
        }
    }
}
