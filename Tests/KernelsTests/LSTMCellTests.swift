import Foundation
import Kernels
import Testing

/// sum(h * wh) + sum(c * wc) of one cell step in Double, for central differences.
private func weightedLoss(_ gates: [Double], _ cPrev: [Double], _ wh: [Double], _ wc: [Double],
                          batch: Int, hidden: Int) -> Double {
    func sigmoid(_ x: Double) -> Double { 1 / (1 + Foundation.exp(-x)) }
    var total = 0.0
    for b in 0..<batch {
        for j in 0..<hidden {
            let base = b * 4 * hidden + j, at = b * hidden + j
            let i = sigmoid(gates[base]), f = sigmoid(gates[base + hidden])
            let g = Foundation.tanh(gates[base + 2 * hidden]), o = sigmoid(gates[base + 3 * hidden])
            let c = f * cPrev[at] + i * g
            total += o * Foundation.tanh(c) * wh[at] + c * wc[at]
        }
    }
    return total
}

@Test(arguments: [1, 7, 8, 17, 33])
func lstmCellMatchesReference(hidden: Int) {
    let batch = 3
    let gates = randomArray(batch * 4 * hidden, seed: UInt64(hidden), scale: 4)
    let cPrev = randomArray(batch * hidden, seed: 100 + UInt64(hidden), scale: 2)
    var h = [Float](repeating: .nan, count: batch * hidden), c = h
    var acts = [Float](repeating: .nan, count: batch * 4 * hidden)
    var hRef = h, cRef = c, actsRef = acts
    lstmCellForward(&h, &c, &acts, gates, cPrev, batch: batch, hidden: hidden)
    lstmCellForwardReference(&hRef, &cRef, &actsRef, gates, cPrev, batch: batch, hidden: hidden)
    // The activations are within 2.5 ulp; a few roundings on top stay below 1e-6.
    #expect(maxScaledError(h, hRef) <= 1e-6)
    #expect(maxScaledError(c, cRef) <= 1e-6)
    #expect(maxScaledError(acts, actsRef) <= 1e-6)

    // acts written over gates (the in-place use) gives the same numbers.
    var inPlace = gates
    var h2 = h, c2 = c
    inPlace.withUnsafeMutableBufferPointer { g in
        lstmCellForward(&h2, &c2, g.baseAddress!, g.baseAddress!, cPrev, batch: batch, hidden: hidden)
    }
    #expect(inPlace == acts && h2 == h && c2 == c)

    let dh = randomArray(batch * hidden, seed: 7), dc = randomArray(batch * hidden, seed: 8)
    var dgates = [Float](repeating: .nan, count: batch * 4 * hidden)
    var dcPrev = [Float](repeating: .nan, count: batch * hidden)
    var dgatesRef = dgates, dcPrevRef = dcPrev
    lstmCellBackward(&dgates, &dcPrev, dh, dc, acts, cPrev, c, batch: batch, hidden: hidden)
    lstmCellBackwardReference(&dgatesRef, &dcPrevRef, dh, dc, actsRef, cPrev, cRef,
                              batch: batch, hidden: hidden)
    #expect(maxScaledError(dgates, dgatesRef) <= 1e-6)
    #expect(maxScaledError(dcPrev, dcPrevRef) <= 1e-6)
}

@Test func lstmCellBackwardIsTheDerivative() {
    let batch = 2, hidden = 11
    let gates = randomArray(batch * 4 * hidden, seed: 31, scale: 3)
    let cPrev = randomArray(batch * hidden, seed: 32, scale: 2)
    let wh = randomArray(batch * hidden, seed: 33), wc = randomArray(batch * hidden, seed: 34)
    var h = [Float](repeating: 0, count: batch * hidden), c = h
    var acts = [Float](repeating: 0, count: batch * 4 * hidden)
    lstmCellForward(&h, &c, &acts, gates, cPrev, batch: batch, hidden: hidden)
    var dgates = acts, dcPrev = c
    // Loss = sum(h * wh) + sum(c * wc): dh = wh, dc = wc.
    lstmCellBackward(&dgates, &dcPrev, wh, wc, acts, cPrev, c, batch: batch, hidden: hidden)

    let g0 = gates.map(Double.init), c0 = cPrev.map(Double.init)
    let whd = wh.map(Double.init), wcd = wc.map(Double.init)
    let step = 1e-5
    func numeric(gate index: Int?, cell: Int?) -> Double {
        var g = g0, cp = c0
        if let index { g[index] += step } else if let cell { cp[cell] += step }
        let up = weightedLoss(g, cp, whd, wcd, batch: batch, hidden: hidden)
        g = g0; cp = c0
        if let index { g[index] -= step } else if let cell { cp[cell] -= step }
        let down = weightedLoss(g, cp, whd, wcd, batch: batch, hidden: hidden)
        return (up - down) / (2 * step)
    }
    // Float kernels against Double differences: 1e-4 absolute + 1e-3 relative.
    for index in 0..<gates.count {
        let n = numeric(gate: index, cell: nil)
        #expect(abs(Double(dgates[index]) - n) <= 1e-4 + 1e-3 * abs(n), "dgates[\(index)]")
    }
    for cell in 0..<cPrev.count {
        let n = numeric(gate: nil, cell: cell)
        #expect(abs(Double(dcPrev[cell]) - n) <= 1e-4 + 1e-3 * abs(n), "dcPrev[\(cell)]")
    }
}
