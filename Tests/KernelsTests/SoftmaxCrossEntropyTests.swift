import Foundation
import Kernels
import Testing

/// Mean cross-entropy in Double, for central differences.
private func lossDouble(_ logits: [Double], _ targets: [Int32], n: Int, v: Int) -> Double {
    var total = 0.0, count = 0
    for row in 0..<n where targets[row] >= 0 {
        let x = logits[(row * v)..<(row * v + v)]
        let m = x.max()!
        let lse = m + Foundation.log(x.reduce(0) { $0 + Foundation.exp($1 - m) })
        total += lse - x[row * v + Int(targets[row])]
        count += 1
    }
    return count == 0 ? 0 : total / Double(count)
}

private func targetsFor(n: Int, v: Int, seed: UInt64) -> [Int32] {
    var rng = SplitMix64(seed: seed)
    // Every fourth row ignored.
    return (0..<n).map { $0 % 4 == 3 ? ignoreTarget : Int32(rng.next() % UInt64(v)) }
}

@Test(arguments: [(1, 1), (3, 7), (5, 17), (9, 33), (4, 1000), (2, 50_257)])
func softmaxCrossEntropyMatchesReference(n: Int, v: Int) throws {
    let logits = randomArray(n * v, seed: UInt64(n * 31 + v), scale: 8)
    let targets = targetsFor(n: n, v: v, seed: UInt64(v))
    var grad = [Float](repeating: .nan, count: n * v), ref = grad
    let loss = try softmaxCrossEntropy(&grad, logits, targets, n: n, v: v)
    let refLoss = try softmaxCrossEntropyReference(&ref, logits, targets, n: n, v: v)
    #expect(abs(loss - refLoss) <= 1e-5 * (1 + abs(refLoss)))
    // Gradients are probabilities / count: absolute error relative to the largest (1/count).
    let worst = zip(grad, ref).map { abs($0 - $1) }.max()!
    #expect(worst <= 1e-6, "worst \(worst)")

    // In place gives the same numbers.
    var inPlace = logits
    let loss2 = try inPlace.withUnsafeMutableBufferPointer {
        try softmaxCrossEntropy($0.baseAddress!, $0.baseAddress!, targets, n: n, v: v)
    }
    #expect(loss2 == loss && inPlace == grad)
}

@Test func softmaxCrossEntropyGradientIsTheDerivative() throws {
    let n = 5, v = 11
    let logits = randomArray(n * v, seed: 77, scale: 3)
    let targets = targetsFor(n: n, v: v, seed: 78)
    var grad = [Float](repeating: 0, count: n * v)
    _ = try softmaxCrossEntropy(&grad, logits, targets, n: n, v: v)
    var x = logits.map(Double.init)
    let h = 1e-5
    for i in 0..<(n * v) {
        let saved = x[i]
        x[i] = saved + h; let up = lossDouble(x, targets, n: n, v: v)
        x[i] = saved - h; let down = lossDouble(x, targets, n: n, v: v)
        x[i] = saved
        let numeric = (up - down) / (2 * h)
        #expect(abs(Double(grad[i]) - numeric) <= 1e-6 + 1e-4 * abs(numeric), "i=\(i)")
    }
}

@Test func softmaxCrossEntropyIsStableAndHandlesIgnoredRows() throws {
    // Logits of 1e4 would overflow a naive exp; the loss is exactly representable here.
    let logits: [Float] = [1e4, 1e4, -1e4, 0, 3e4, 3e4 - 1]
    var grad = [Float](repeating: 0, count: 6)
    let loss = try softmaxCrossEntropy(&grad, logits, [0, 2], n: 2, v: 3)
    #expect(loss.isFinite && grad.allSatisfy(\.isFinite))
    #expect(abs(loss - Float(Foundation.log(2.0) + 1 + Foundation.log(1 + Foundation.exp(-1.0))) / 2) < 1e-5)

    // All rows ignored: zero loss and gradient, no NaN from 0/0.
    var g2 = [Float](repeating: .nan, count: 6)
    #expect(try softmaxCrossEntropy(&g2, logits, [-1, -1], n: 2, v: 3) == 0)
    #expect(g2 == [Float](repeating: 0, count: 6))

    // A bad target throws and writes nothing.
    var g3 = [Float](repeating: 7, count: 6)
    #expect(throws: KernelError.indexOutOfRange(what: "target", position: 1, index: 3, limit: 3)) {
        try softmaxCrossEntropy(&g3, logits, [0, 3], n: 2, v: 3)
    }
    #expect(g3 == [Float](repeating: 7, count: 6))
}

@Test func softmaxCrossEntropyIsTheSameOnAnyNumberOfThreads() throws {
    // Large enough to be split (n * v >= 2^16); 67 rows do not divide into the 64 loss blocks
    // or the two shares evenly.
    for (n, v) in [(67, 1001), (2048, 40), (3, 30_000)] {
        let logits = randomArray(n * v, seed: UInt64(n + v), scale: 6)
        let targets = targetsFor(n: n, v: v, seed: UInt64(n))
        var one = [Float](repeating: .nan, count: n * v), two = one, ref = one
        let lossOne = try softmaxCrossEntropy(&one, logits, targets, n: n, v: v, workspace: GemmWorkspace(threads: 1))
        let lossTwo = try softmaxCrossEntropy(&two, logits, targets, n: n, v: v, workspace: GemmWorkspace(threads: 2))
        let lossNone = try softmaxCrossEntropy(&ref, logits, targets, n: n, v: v)
        #expect(lossOne == lossTwo && lossOne == lossNone, "n=\(n) v=\(v)")
        #expect(one == two && one == ref, "n=\(n) v=\(v)")
        let refLoss = try softmaxCrossEntropyReference(&ref, logits, targets, n: n, v: v)
        #expect(abs(lossTwo - refLoss) <= 1e-5 * (1 + abs(refLoss)))
        #expect(zip(two, ref).map { abs($0 - $1) }.max()! <= 1e-6)
    }
}
