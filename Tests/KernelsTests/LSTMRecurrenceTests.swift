import Kernels
import Testing

// (batch, hidden): odd sizes and edge panels; 65 and 129 are split across two threads (5 and 9
// panels of 16 units), 129 also crosses the K block (4H > 384) in the backward product, and a
// batch of 80 crosses the M block (72 rows).
private let shapes: [(Int, Int)] = [(1, 1), (3, 3), (2, 17), (5, 33), (32, 65), (5, 129), (80, 17)]

/// W_hh packed for `use`, as a flat array.
private func packed(_ whh: [Float], hidden: Int, _ use: LSTMWeightsUse, _ workspace: GemmWorkspace) -> [Float] {
    var out = [Float](repeating: .nan, count: lstmPackedWeightsCount(hidden: hidden))
    packLSTMWeights(&out, whh, hidden: hidden, for: use, workspace: workspace)
    return out
}

@Test(arguments: [1, 2])
func lstmForwardStepMatchesReferenceAndUnfusedSteps(threads: Int) {
    let workspace = GemmWorkspace(threads: threads)
    for (index, (batch, hidden)) in shapes.enumerated() {
        let seed = UInt64(10 * index)
        let g = 4 * hidden
        let whh = randomArray(g * hidden, seed: seed, scale: 0.5)
        let gatesIn = randomArray(batch * g, seed: seed + 1, scale: 2)
        let hPrev = randomArray(batch * hidden, seed: seed + 2), cPrev = randomArray(batch * hidden, seed: seed + 3)
        let weights = packed(whh, hidden: hidden, .forward, workspace)

        var h = [Float](repeating: .nan, count: batch * hidden), c = h, gates = gatesIn
        lstmForwardStep(&h, &c, &gates, hPrev, cPrev, packedWeights: weights, batch: batch, hidden: hidden,
                        workspace: workspace)

        var hRef = h, cRef = c, actsRef = gates
        lstmForwardStepReference(&hRef, &cRef, &actsRef, gatesIn, hPrev, cPrev, whh, batch: batch, hidden: hidden)
        let tolerance: Float = 1e-5
        #expect(maxScaledError(h, hRef) <= tolerance, "B=\(batch) H=\(hidden)")
        #expect(maxScaledError(c, cRef) <= tolerance, "B=\(batch) H=\(hidden)")
        #expect(maxScaledError(gates, actsRef) <= tolerance, "B=\(batch) H=\(hidden)")

        // The unfused step (one gemm, then the cell) on one thread, bit for bit.
        var hOne = hRef, cOne = cRef, unfused = gatesIn
        gemm(&unfused, ldc: g, hPrev, lda: hidden, transA: .none, whh, ldb: hidden, transB: .transpose,
             m: batch, n: g, k: hidden, beta: 1, workspace: GemmWorkspace(threads: 1))
        unfused.withUnsafeMutableBufferPointer { u in
            lstmCellForward(&hOne, &cOne, u.baseAddress!, u.baseAddress!, cPrev, batch: batch, hidden: hidden)
        }
        #expect(h == hOne && c == cOne && gates == unfused, "B=\(batch) H=\(hidden) threads=\(threads)")
    }
}

@Test(arguments: [1, 2])
func lstmBackwardStepMatchesReferenceAndUnfusedSteps(threads: Int) {
    let workspace = GemmWorkspace(threads: threads)
    for (index, (batch, hidden)) in shapes.enumerated() {
        for last in [true, false] {
            let seed = UInt64(100 + 10 * index)
            let g = 4 * hidden, bh = batch * hidden
            let whh = randomArray(g * hidden, seed: seed, scale: 0.5)
            let acts = randomArray(batch * g, seed: seed + 1).map { 0.5 + 0.5 * $0 }
            let cPrev = randomArray(bh, seed: seed + 2), c = randomArray(bh, seed: seed + 3)
            let dout = randomArray(bh, seed: seed + 4), dcIn = randomArray(bh, seed: seed + 5)
            let next = randomArray(batch * g, seed: seed + 6)
            let weights = packed(whh, hidden: hidden, .backward, workspace)

            var dgates = [Float](repeating: .nan, count: batch * g), dc = dcIn
            var dh = [Float](repeating: .nan, count: bh)
            next.withUnsafeBufferPointer { n in
                lstmBackwardStep(&dgates, &dc, &dh, dout, last ? nil : n.baseAddress!, acts, cPrev, c,
                                 packedWeights: weights, batch: batch, hidden: hidden, workspace: workspace)
            }

            var dgatesRef = dgates, dcRef = dc
            next.withUnsafeBufferPointer { n in
                lstmBackwardStepReference(&dgatesRef, &dcRef, dout, dcIn, last ? nil : n.baseAddress!, acts,
                                          cPrev, c, whh, batch: batch, hidden: hidden)
            }
            #expect(maxScaledError(dgates, dgatesRef) <= 1e-5, "B=\(batch) H=\(hidden) last=\(last)")
            #expect(maxScaledError(dc, dcRef) <= 1e-5, "B=\(batch) H=\(hidden) last=\(last)")

            // Unfused: dhNext = next W_hh, dh = dout + dhNext, the cell; bit for bit.
            var dhNext = [Float](repeating: 0, count: bh), dhOne = dout
            if !last {
                gemm(&dhNext, ldc: hidden, next, lda: g, transA: .none, whh, ldb: hidden, transB: .none,
                     m: batch, n: hidden, k: g, workspace: GemmWorkspace(threads: 1))
                for i in 0..<bh { dhOne[i] += dhNext[i] }
            }
            var dgatesOne = dgatesRef, dcOne = dcIn
            dcOne.withUnsafeMutableBufferPointer { d in
                lstmCellBackward(&dgatesOne, d.baseAddress!, dhOne, d.baseAddress!, acts, cPrev, c,
                                 batch: batch, hidden: hidden)
            }
            #expect(dgates == dgatesOne && dc == dcOne && dh == dhOne,
                    "B=\(batch) H=\(hidden) last=\(last) threads=\(threads)")
        }
    }
}
