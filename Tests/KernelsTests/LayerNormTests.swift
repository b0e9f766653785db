import Kernels
import Testing

/// sum(out * w) of a Double layer norm, for central differences.
private func weightedLoss(_ x: [Double], _ weight: [Double], _ bias: [Double], _ w: [Double],
                          n: Int, c: Int, eps: Double) -> Double {
    var total = 0.0
    for row in 0..<n {
        let r = x[(row * c)..<(row * c + c)]
        let m = r.reduce(0, +) / Double(c)
        let s = 1 / (r.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(c) + eps).squareRoot()
        for j in 0..<c { total += ((r[row * c + j] - m) * s * weight[j] + bias[j]) * w[row * c + j] }
    }
    return total
}

@Test(arguments: [(1, 1), (3, 7), (4, 17), (2, 33), (5, 130)])
func layerNormMatchesReference(n: Int, c: Int) {
    let x = randomArray(n * c, seed: UInt64(c), scale: 3).map { $0 + 1.5 }
    let weight = randomArray(c, seed: 2), bias = randomArray(c, seed: 3)
    var out = [Float](repeating: 0, count: n * c), mean = [Float](repeating: 0, count: n)
    var rstd = mean, outRef = out, meanRef = mean, rstdRef = mean
    layerNormForward(&out, &mean, &rstd, x, weight, bias, n: n, c: c)
    layerNormForwardReference(&outRef, &meanRef, &rstdRef, x, weight, bias, n: n, c: c)
    #expect(maxScaledError(out, outRef) <= 1e-5)
    #expect(maxScaledError(mean, meanRef) <= 1e-6)
    #expect(maxScaledError(rstd, rstdRef) <= 1e-5)

    let dout = randomArray(n * c, seed: 9)
    // Nonzero starting gradients check that all three outputs accumulate.
    var dx = randomArray(n * c, seed: 10), dw = randomArray(c, seed: 11), db = randomArray(c, seed: 12)
    var dxRef = dx, dwRef = dw, dbRef = db
    layerNormBackward(&dx, &dw, &db, dout, x, weight, mean, rstd, n: n, c: c)
    layerNormBackwardReference(&dxRef, &dwRef, &dbRef, dout, x, weight, meanRef, rstdRef, n: n, c: c)
    #expect(maxScaledError(dx, dxRef) <= 1e-4)
    #expect(maxScaledError(dw, dwRef) <= 1e-5)
    #expect(maxScaledError(db, dbRef) <= 1e-6)
}

@Test func layerNormBackwardIsTheDerivative() {
    let n = 3, c = 13
    let eps: Float = 1e-5
    let x = randomArray(n * c, seed: 21, scale: 2)
    let weight = randomArray(c, seed: 22), bias = randomArray(c, seed: 23)
    let w = randomArray(n * c, seed: 24)
    var out = [Float](repeating: 0, count: n * c), mean = [Float](repeating: 0, count: n), rstd = mean
    layerNormForward(&out, &mean, &rstd, x, weight, bias, n: n, c: c, eps: eps)
    var dx = [Float](repeating: 0, count: n * c), dw = [Float](repeating: 0, count: c), db = dw
    layerNormBackward(&dx, &dw, &db, w, x, weight, mean, rstd, n: n, c: c)

    let wr = w.map(Double.init)
    let h = 1e-5
    /// Central difference of the loss with respect to element `index` of parameter `which`
    /// (0: input, 1: weight, 2: bias).
    func central(_ which: Int, _ index: Int) -> Double {
        var params = [x, weight, bias].map { $0.map(Double.init) }
        let saved = params[which][index]
        params[which][index] = saved + h
        let up = weightedLoss(params[0], params[1], params[2], wr, n: n, c: c, eps: Double(eps))
        params[which][index] = saved - h
        let down = weightedLoss(params[0], params[1], params[2], wr, n: n, c: c, eps: Double(eps))
        return (up - down) / (2 * h)
    }
    // Float kernels against Double differences: 1e-3 relative covers Float rounding of rstd.
    for i in 0..<(n * c) {
        let numeric = central(0, i)
        #expect(abs(Double(dx[i]) - numeric) <= 1e-4 + 1e-3 * abs(numeric), "dx[\(i)]")
    }
    for j in 0..<c {
        let nw = central(1, j), nb = central(2, j)
        #expect(abs(Double(dw[j]) - nw) <= 1e-4 + 1e-3 * abs(nw), "dweight[\(j)]")
        #expect(abs(Double(db[j]) - nb) <= 1e-4 + 1e-3 * abs(nb), "dbias[\(j)]")
    }
}
