import Testing
import TestSupport
@testable import Text

@Suite struct MergeTableTests {
    /// The filter in front of the table may only answer "absent" for absent pairs: every
    /// merge is found with its value, and random pairs are found exactly when they merge.
    /// Both layouts: 64-bit slots (ids below 65,535) and the wide table.
    @Test(arguments: [30_000, 100_000])
    func findsEveryMergeAndNothingElse(idLimit: Int) {
        var rng = SeededGenerator(seed: 11)
        var table = MergeTable(capacity: 20_000, idLimit: idLimit)
        var present = Set<Int64>()
        var pairs: [(Int32, Int32, UInt64)] = []
        for rank in 0..<20_000 {
            let left = Int32(rng.next(upTo: idLimit)), right = Int32(rng.next(upTo: idLimit))
            guard present.insert(Int64(left) << 32 | Int64(right)).inserted else { continue }
            let value = UInt64(rank) << 32 | UInt64(rng.next(upTo: idLimit))
            table.insert(left, right, value)
            pairs.append((left, right, value))
        }
        for (left, right, value) in pairs { #expect(table.value(left, right) == value) }
        for _ in 0..<200_000 {
            let left = Int32(rng.next(upTo: idLimit)), right = Int32(rng.next(upTo: idLimit))
            #expect((table.value(left, right) != nil) == present.contains(Int64(left) << 32 | Int64(right)))
        }
    }
}
