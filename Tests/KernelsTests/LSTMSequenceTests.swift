import Kernels
import Testing

// (batch, hidden, steps). With 2 or 3 threads the larger ones are split by rows (6 rows or more
// a share: 16 rows into 2, 24 into 3, 80 into 3 crossing the 72-row M block), 9 rows are not
// (each step split by hidden units instead), and 129 crosses the K block (4H > 384) backward.
private let shapes: [(Int, Int, Int)] = [(1, 1, 3), (3, 5, 4), (16, 65, 5), (24, 65, 3), (17, 129, 3),
                                         (9, 129, 3), (80, 33, 2)]

private func packed(_ whh: [Float], hidden: Int, _ use: LSTMWeightsUse) -> [Float] {
    var out = [Float](repeating: .nan, count: lstmPackedWeightsCount(hidden: hidden))
    packLSTMWeights(&out, whh, hidden: hidden, for: use, workspace: GemmWorkspace(threads: 1))
    return out
}

/// The forward recurrence one `lstmForwardStep` at a time on one thread: h, c (T+1, B, H) and
/// the activations (T, B, 4H).
private func stepByStep(_ h0: [Float], _ c0: [Float], _ gatesIn: [Float], _ weights: [Float],
                        batch: Int, hidden: Int, steps: Int) -> (h: [Float], c: [Float], acts: [Float]) {
    let bh = batch * hidden, g = 4 * hidden
    var h = h0 + [Float](repeating: .nan, count: steps * bh), c = c0 + [Float](repeating: .nan, count: steps * bh)
    var acts = gatesIn
    let one = GemmWorkspace(threads: 1)
    h.withUnsafeMutableBufferPointer { hp in
        c.withUnsafeMutableBufferPointer { cp in
            acts.withUnsafeMutableBufferPointer { ap in
                for s in 0..<steps {
                    lstmForwardStep(hp.baseAddress! + (s + 1) * bh, cp.baseAddress! + (s + 1) * bh,
                                    ap.baseAddress! + s * batch * g, hp.baseAddress! + s * bh,
                                    cp.baseAddress! + s * bh, packedWeights: weights, batch: batch,
                                    hidden: hidden, workspace: one)
                }
            }
        }
    }
    return (h, c, acts)
}

@Test(arguments: [1, 2, 3])
func forwardSequenceGivesTheBitsOfItsStepsHoweverItIsSplit(threads: Int) {
    let workspace = GemmWorkspace(threads: threads)
    for (index, (batch, hidden, steps)) in shapes.enumerated() {
        let seed = UInt64(1000 + 10 * index), bh = batch * hidden
        let whh = randomArray(4 * hidden * hidden, seed: seed, scale: 0.5)
        let gatesIn = randomArray(steps * batch * 4 * hidden, seed: seed + 1, scale: 2)
        let h0 = randomArray(bh, seed: seed + 2), c0 = randomArray(bh, seed: seed + 3)
        let weights = packed(whh, hidden: hidden, .forward)
        let want = stepByStep(h0, c0, gatesIn, weights, batch: batch, hidden: hidden, steps: steps)
        let shape = "B=\(batch) H=\(hidden) T=\(steps) threads=\(threads)"

        // Every step's c kept.
        var h = h0 + [Float](repeating: .nan, count: steps * bh), c = c0 + [Float](repeating: .nan, count: steps * bh)
        var gates = gatesIn
        lstmForwardSequence(&h, &c, cStride: bh, &gates, packedWeights: weights, batch: batch, hidden: hidden,
                            steps: steps, workspace: workspace)
        #expect(h == want.h && c == want.c && gates == want.acts, "\(shape)")

        // One c updated in place.
        var hInPlace = h0 + [Float](repeating: .nan, count: steps * bh), cInPlace = c0
        gates = gatesIn
        lstmForwardSequence(&hInPlace, &cInPlace, cStride: 0, &gates, packedWeights: weights, batch: batch,
                            hidden: hidden, steps: steps, workspace: workspace)
        #expect(hInPlace == want.h && cInPlace == Array(want.c[(steps * bh)...]) && gates == want.acts, "\(shape)")
    }
}

@Test(arguments: [1, 2, 3])
func forwardSequenceFromAGateTableGathersEachStepsRows(threads: Int) throws {
    let workspace = GemmWorkspace(threads: threads)
    for (index, (batch, hidden, steps)) in shapes.enumerated() {
        let seed = UInt64(2000 + 10 * index), bh = batch * hidden, g = 4 * hidden, vocabulary = 7
        let whh = randomArray(4 * hidden * hidden, seed: seed, scale: 0.5)
        let table = randomArray(vocabulary * g, seed: seed + 1, scale: 2)
        let h0 = randomArray(bh, seed: seed + 2), c0 = randomArray(bh, seed: seed + 3)
        let ids = (0..<(steps * batch)).map { Int32(($0 * 5 + 3) % vocabulary) }
        let gatesIn = ids.flatMap { table[(Int($0) * g)..<((Int($0) + 1) * g)] }
        let weights = packed(whh, hidden: hidden, .forward)
        let want = stepByStep(h0, c0, gatesIn, weights, batch: batch, hidden: hidden, steps: steps)
        let shape = "B=\(batch) H=\(hidden) T=\(steps) threads=\(threads)"

        for keepEveryStep in [true, false] {
            var h = h0 + [Float](repeating: .nan, count: steps * bh)
            var c = keepEveryStep ? c0 + [Float](repeating: .nan, count: steps * bh) : c0
            var gates = [Float](repeating: .nan, count: (keepEveryStep ? steps : 1) * batch * g)
            try table.withUnsafeBufferPointer { t in
                try ids.withUnsafeBufferPointer { i in
                    try lstmForwardSequence(&h, &c, cStride: keepEveryStep ? bh : 0, &gates,
                                            gatesStride: keepEveryStep ? batch * g : 0,
                                            table: LSTMGateTable(rows: t.baseAddress!, ids: i.baseAddress!,
                                                                 vocabulary: vocabulary),
                                            packedWeights: weights, batch: batch, hidden: hidden, steps: steps,
                                            workspace: workspace)
                }
            }
            #expect(h == want.h, "\(shape) keepEveryStep=\(keepEveryStep)")
            #expect(c == (keepEveryStep ? want.c : Array(want.c[(steps * bh)...])), "\(shape)")
            #expect(gates == (keepEveryStep ? want.acts : Array(want.acts[((steps - 1) * batch * g)...])), "\(shape)")
        }
    }
}

@Test func forwardSequenceRefusesAnIdOutsideItsTableBeforeWritingAnything() {
    let batch = 16, hidden = 65, steps = 3, bh = batch * hidden, g = 4 * hidden
    let weights = packed(randomArray(4 * hidden * hidden, seed: 1), hidden: hidden, .forward)
    let table = randomArray(5 * g, seed: 2)
    var ids = [Int32](repeating: 1, count: steps * batch)
    ids[2 * batch + 7] = 5
    let h0 = randomArray((steps + 1) * bh, seed: 3), c0 = randomArray(bh, seed: 4)
    var h = h0, c = c0, gates = [Float](repeating: 0, count: batch * g)
    #expect(throws: KernelError.self) {
        try table.withUnsafeBufferPointer { t in
            try ids.withUnsafeBufferPointer { i in
                try lstmForwardSequence(&h, &c, cStride: 0, &gates, gatesStride: 0,
                                        table: LSTMGateTable(rows: t.baseAddress!, ids: i.baseAddress!, vocabulary: 5),
                                        packedWeights: weights, batch: batch, hidden: hidden, steps: steps,
                                        workspace: GemmWorkspace(threads: 2))
            }
        }
    }
    #expect(h == h0 && c == c0)
}

@Test(arguments: [1, 2, 3])
func backwardSequenceGivesTheBitsOfItsStepsHoweverItIsSplit(threads: Int) {
    let workspace = GemmWorkspace(threads: threads)
    for (index, (batch, hidden, steps)) in shapes.enumerated() {
        let seed = UInt64(3000 + 10 * index), bh = batch * hidden, g = 4 * hidden
        let whh = randomArray(g * hidden, seed: seed, scale: 0.5)
        let acts = randomArray(steps * batch * g, seed: seed + 1).map { 0.5 + 0.5 * $0 }
        let c = randomArray((steps + 1) * bh, seed: seed + 2)
        let dout = randomArray(steps * bh, seed: seed + 3), dcIn = randomArray(bh, seed: seed + 4)
        let weights = packed(whh, hidden: hidden, .backward)

        var want = [Float](repeating: .nan, count: steps * batch * g), dcWant = dcIn
        var dhWant = [Float](repeating: .nan, count: bh)
        let one = GemmWorkspace(threads: 1)
        want.withUnsafeMutableBufferPointer { dg in
            for s in stride(from: steps - 1, through: 0, by: -1) {
                let next: UnsafePointer<Float>? = s == steps - 1 ? nil : UnsafePointer(dg.baseAddress! + (s + 1) * batch * g)
                lstmBackwardStep(dg.baseAddress! + s * batch * g, &dcWant, &dhWant, Array(dout[(s * bh)...]), next,
                                 Array(acts[(s * batch * g)...]), Array(c[(s * bh)...]), Array(c[((s + 1) * bh)...]),
                                 packedWeights: weights, batch: batch, hidden: hidden, workspace: one)
            }
        }

        var dgates = [Float](repeating: .nan, count: steps * batch * g), dc = dcIn
        var dh = [Float](repeating: .nan, count: bh)
        lstmBackwardSequence(&dgates, &dc, &dh, dout, acts, c, packedWeights: weights, batch: batch,
                             hidden: hidden, steps: steps, workspace: workspace)
        #expect(dgates == want && dc == dcWant && dh == dhWant, "B=\(batch) H=\(hidden) T=\(steps) threads=\(threads)")
    }
}
