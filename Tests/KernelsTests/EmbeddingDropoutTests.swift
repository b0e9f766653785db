import Kernels
import Testing

@Test(arguments: [1, 7, 17, 33])
func embeddingGatherAndScatter(c: Int) throws {
    let v = 11, n = 9
    let table = randomArray(v * c, seed: UInt64(c))
    let ids: [Int32] = [3, 0, 10, 3, 3, 5, 0, 9, 1]  // repeated ids must accumulate
    var out = [Float](repeating: .nan, count: n * c)
    try embeddingForward(&out, ids, table, n: n, c: c, v: v)
    for i in 0..<n {
        #expect(Array(out[(i * c)..<(i * c + c)]) == Array(table[(Int(ids[i]) * c)..<(Int(ids[i]) * c + c)]))
    }
    let dout = randomArray(n * c, seed: 99)
    var dtable = randomArray(v * c, seed: 100), ref = dtable
    try embeddingBackward(&dtable, dout, ids, n: n, c: c, v: v)
    try embeddingBackwardReference(&ref, dout, ids, n: n, c: c, v: v)
    #expect(dtable == ref)
    // Row 3 received three rows of dout.
    let expected = (0..<c).map { j in ref[3 * c + j] }
    #expect(Array(dtable[(3 * c)..<(4 * c)]) == expected)

    var untouched = [Float](repeating: 1, count: n * c)
    #expect(throws: KernelError.indexOutOfRange(what: "id", position: 2, index: 11, limit: 11)) {
        try embeddingForward(&untouched, [0, 1, 11], table, n: 3, c: c, v: v)
    }
    #expect(untouched.allSatisfy { $0 == 1 })
}

@Test func embeddingBackwardSumsRepeatedIds() throws {
    var dtable = [Float](repeating: 0, count: 2 * 3)
    try embeddingBackward(&dtable, [1, 2, 3, 10, 20, 30, 100, 200, 300], [1, 0, 1], n: 3, c: 3, v: 2)
    #expect(dtable == [10, 20, 30, 101, 202, 303])
}

@Test(arguments: [0, 1, 15, 1001])
func dropoutMatchesReferenceAndBackwardUsesTheSameMask(count: Int) throws {
    let x = randomArray(count, seed: 5)
    let p: Float = 0.3
    var out = [Float](repeating: .nan, count: count), ref = out
    try dropoutForward(&out, x, count: count, probability: p, seed: 1234)
    dropoutForwardReference(&ref, x, count: count, probability: p, seed: 1234)
    #expect(out == ref)

    let dout = randomArray(count, seed: 6)
    var dx = [Float](repeating: .nan, count: count)
    try dropoutBackward(&dx, dout, count: count, probability: p, seed: 1234)
    for i in 0..<count {
        #expect((out[i] == 0) == (dx[i] == 0))
        if out[i] != 0 { #expect(dx[i] == dout[i] * (1 / (1 - p))) }
    }

    // Two pieces with matching offsets give the same mask as one call.
    if count > 1 {
        let half = count / 2
        var pieces = [Float](repeating: 0, count: count)
        try pieces.withUnsafeMutableBufferPointer { o in
            try x.withUnsafeBufferPointer { i in
                try dropoutForward(o.baseAddress!, i.baseAddress!, count: half, probability: p, seed: 1234)
                try dropoutForward(o.baseAddress! + half, i.baseAddress! + half, count: count - half,
                                   probability: p, seed: 1234, offset: UInt64(half))
            }
        }
        #expect(pieces == out)
    }
}

@Test func dropoutKeepRateSeedsAndLimits() throws {
    let count = 100_000
    let ones = [Float](repeating: 1, count: count)
    var out = [Float](repeating: 0, count: count)
    try dropoutForward(&out, ones, count: count, probability: 0.3, seed: 42)
    let kept = out.filter { $0 != 0 }.count
    // Binomial(1e5, 0.7) has standard deviation 145: 1500 is over 10 of them.
    #expect(abs(kept - 70_000) < 1500)
    #expect(out.allSatisfy { $0 == 0 || $0 == 1 / Float(0.7) })
    var other = out
    try dropoutForward(&other, ones, count: count, probability: 0.3, seed: 43)
    #expect(other != out)

    try dropoutForward(&out, ones, count: count, probability: 0, seed: 42)
    #expect(out == ones)
    try dropoutForward(&out, ones, count: count, probability: 1, seed: 42)
    #expect(out.allSatisfy { $0 == 0 })
    #expect(throws: KernelError.self) {
        try dropoutForward(&out, ones, count: count, probability: 1.5, seed: 42)
    }
}
