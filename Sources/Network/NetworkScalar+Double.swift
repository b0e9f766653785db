#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Kernels

// The Float64 primitives: plain loops with libm, written for clarity, not speed. They exist so
// that the generic layer code can be run in double precision for the gradient checks; the
// definitions are the ones documented on the `Kernels` functions.
extension Double: NetworkScalar {
    public static func gemm(
        _ c: UnsafeMutablePointer<Double>, ldc: Int,
        _ a: UnsafePointer<Double>, lda: Int, transA: Transpose,
        _ b: UnsafePointer<Double>, ldb: Int, transB: Transpose,
        m: Int, n: Int, k: Int, alpha: Double, beta: Double, workspace: GemmWorkspace
    ) {
        let ta = transA == .transpose, tb = transB == .transpose
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k {
                    sum += (ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j])
                }
                c[i * ldc + j] = alpha * sum + (beta == 0 ? 0 : beta * c[i * ldc + j])
            }
        }
    }

    public static func axpy(_ y: UnsafeMutablePointer<Double>, alpha: Double,
                            _ x: UnsafePointer<Double>, count: Int) {
        for i in 0..<count { y[i] += alpha * x[i] }
    }

    public static func lstmCellForward(
        _ h: UnsafeMutablePointer<Double>, _ c: UnsafeMutablePointer<Double>,
        _ acts: UnsafeMutablePointer<Double>, _ gates: UnsafePointer<Double>,
        _ cPrev: UnsafePointer<Double>, batch: Int, hidden hh: Int
    ) {
        func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }
        for b in 0..<batch {
            for j in 0..<hh {
                let g0 = b * 4 * hh + j
                let i = sigmoid(gates[g0]), f = sigmoid(gates[g0 + hh])
                let g = tanh(gates[g0 + 2 * hh]), o = sigmoid(gates[g0 + 3 * hh])
                let cNew = f * cPrev[b * hh + j] + i * g
                acts[g0] = i; acts[g0 + hh] = f; acts[g0 + 2 * hh] = g; acts[g0 + 3 * hh] = o
                c[b * hh + j] = cNew
                h[b * hh + j] = o * tanh(cNew)
            }
        }
    }

    public static func broadcastRows(_ out: UnsafeMutablePointer<Double>, _ bias: UnsafePointer<Double>,
                                     rows: Int, cols: Int, workspace: GemmWorkspace) {
        for r in 0..<rows { (out + r * cols).update(from: bias, count: cols) }
    }

    public static func addColumnSums(_ dbias: UnsafeMutablePointer<Double>, _ x: UnsafePointer<Double>,
                                     rows: Int, cols: Int, workspace: GemmWorkspace) {
        for r in 0..<rows { axpy(dbias, alpha: 1, x + r * cols, count: cols) }
    }

    public static func lstmPackedWeightsCount(hidden: Int) -> Int { 4 * hidden * hidden }

    /// No panels here: a copy of W_hh serves both uses.
    public static func packLSTMWeights(_ dst: UnsafeMutablePointer<Double>, _ whh: UnsafePointer<Double>,
                                       hidden: Int, for use: LSTMWeightsUse, workspace: GemmWorkspace) {
        dst.update(from: whh, count: 4 * hidden * hidden)
    }

    public static func lstmForwardSequence(
        _ h: UnsafeMutablePointer<Double>, _ c: UnsafeMutablePointer<Double>, cStride: Int,
        _ gates: UnsafeMutablePointer<Double>, packedWeights: UnsafePointer<Double>,
        batch: Int, hidden: Int, steps: Int, workspace: GemmWorkspace
    ) {
        for s in 0..<steps {
            forwardStep(s, h, c, cStride: cStride, gates + s * batch * 4 * hidden, whh: packedWeights,
                        batch: batch, hidden: hidden, workspace: workspace)
        }
    }

    public static func lstmForwardSequence(
        _ h: UnsafeMutablePointer<Double>, _ c: UnsafeMutablePointer<Double>, cStride: Int,
        _ gates: UnsafeMutablePointer<Double>, gatesStride: Int, table: GateRows<Double>,
        packedWeights: UnsafePointer<Double>, batch: Int, hidden: Int, steps: Int, workspace: GemmWorkspace
    ) throws {
        try checkIds(table.ids, n: steps * batch, v: table.vocabulary)
        for s in 0..<steps {
            let stepGates = gates + s * gatesStride
            try embeddingForward(stepGates, table.ids + s * batch, table.rows, n: batch, c: 4 * hidden,
                                 v: table.vocabulary)
            forwardStep(s, h, c, cStride: cStride, stepGates, whh: packedWeights, batch: batch, hidden: hidden,
                        workspace: workspace)
        }
    }

    /// Step s of the recurrence: gates += h_s W_hh^T, then the cell into slot s + 1.
    private static func forwardStep(
        _ s: Int, _ h: UnsafeMutablePointer<Double>, _ c: UnsafeMutablePointer<Double>, cStride: Int,
        _ gates: UnsafeMutablePointer<Double>, whh: UnsafePointer<Double>, batch: Int, hidden: Int,
        workspace: GemmWorkspace
    ) {
        let bh = batch * hidden
        gemm(gates, ldc: 4 * hidden, h + s * bh, lda: hidden, transA: .none, whh, ldb: hidden,
             transB: .transpose, m: batch, n: 4 * hidden, k: hidden, alpha: 1, beta: 1, workspace: workspace)
        lstmCellForward(h + (s + 1) * bh, c + (s + 1) * cStride, gates, gates, c + s * cStride,
                        batch: batch, hidden: hidden)
    }

    public static func lstmBackwardSequence(
        _ dgates: UnsafeMutablePointer<Double>, _ dc: UnsafeMutablePointer<Double>,
        _ dh: UnsafeMutablePointer<Double>, _ dout: UnsafePointer<Double>,
        _ acts: UnsafePointer<Double>, _ c: UnsafePointer<Double>,
        packedWeights whh: UnsafePointer<Double>, batch: Int, hidden: Int, steps: Int, workspace: GemmWorkspace
    ) {
        let bh = batch * hidden, g = 4 * hidden
        for s in stride(from: steps - 1, through: 0, by: -1) {
            dh.update(from: dout + s * bh, count: bh)
            if s < steps - 1 {
                gemm(dh, ldc: hidden, dgates + (s + 1) * batch * g, lda: g, transA: .none, whh, ldb: hidden,
                     transB: .none, m: batch, n: hidden, k: g, alpha: 1, beta: 1, workspace: workspace)
            }
            lstmCellBackward(dgates + s * batch * g, dc, dh, dc, acts + s * batch * g, c + s * bh, c + (s + 1) * bh,
                             batch: batch, hidden: hidden)
        }
    }

    static func lstmCellBackward(
        _ dgates: UnsafeMutablePointer<Double>, _ dcPrev: UnsafeMutablePointer<Double>,
        _ dh: UnsafePointer<Double>, _ dc: UnsafePointer<Double>, _ acts: UnsafePointer<Double>,
        _ cPrev: UnsafePointer<Double>, _ c: UnsafePointer<Double>, batch: Int, hidden hh: Int
    ) {
        for b in 0..<batch {
            for j in 0..<hh {
                let g0 = b * 4 * hh + j, r = b * hh + j
                let i = acts[g0], f = acts[g0 + hh], g = acts[g0 + 2 * hh], o = acts[g0 + 3 * hh]
                let tc = tanh(c[r])
                let dcTotal = dc[r] + dh[r] * o * (1 - tc * tc)
                dgates[g0] = dcTotal * g * i * (1 - i)
                dgates[g0 + hh] = dcTotal * cPrev[r] * f * (1 - f)
                dgates[g0 + 2 * hh] = dcTotal * i * (1 - g * g)
                dgates[g0 + 3 * hh] = dh[r] * tc * o * (1 - o)
                dcPrev[r] = dcTotal * f
            }
        }
    }

    public static func layerNormForward(
        _ out: UnsafeMutablePointer<Double>, _ mean: UnsafeMutablePointer<Double>,
        _ rstd: UnsafeMutablePointer<Double>, _ inp: UnsafePointer<Double>,
        _ weight: UnsafePointer<Double>, _ bias: UnsafePointer<Double>, n: Int, c: Int
    ) {
        for row in 0..<n {
            let x = inp + row * c
            var m = 0.0
            for j in 0..<c { m += x[j] }
            m /= Double(c)
            var v = 0.0
            for j in 0..<c { v += (x[j] - m) * (x[j] - m) }
            let s = 1 / (v / Double(c) + 1e-5).squareRoot()
            for j in 0..<c { out[row * c + j] = (x[j] - m) * s * weight[j] + bias[j] }
            mean[row] = m
            rstd[row] = s
        }
    }

    public static func layerNormBackward(
        _ dinp: UnsafeMutablePointer<Double>, _ dweight: UnsafeMutablePointer<Double>,
        _ dbias: UnsafeMutablePointer<Double>, _ dout: UnsafePointer<Double>,
        _ inp: UnsafePointer<Double>, _ weight: UnsafePointer<Double>,
        _ mean: UnsafePointer<Double>, _ rstd: UnsafePointer<Double>, n: Int, c: Int
    ) {
        for row in 0..<n {
            let x = inp + row * c, dy = dout + row * c, dx = dinp + row * c
            var meanG = 0.0, meanGX = 0.0
            for j in 0..<c {
                let xhat = (x[j] - mean[row]) * rstd[row]
                let g = dy[j] * weight[j]
                meanG += g
                meanGX += g * xhat
                dweight[j] += dy[j] * xhat
                dbias[j] += dy[j]
            }
            meanG /= Double(c)
            meanGX /= Double(c)
            for j in 0..<c {
                let xhat = (x[j] - mean[row]) * rstd[row]
                dx[j] += rstd[row] * (dy[j] * weight[j] - meanG - xhat * meanGX)
            }
        }
    }

    public static func causalSoftmaxForward(
        _ out: UnsafeMutablePointer<Double>, _ inp: UnsafePointer<Double>,
        rows: Int, cols: Int, offset: Int, scale: Double
    ) {
        for r in 0..<rows {
            let x = inp + r * cols, y = out + r * cols
            let visible = min(cols, r + offset + 1)
            var m = -Double.infinity
            for j in 0..<visible { m = max(m, scale * x[j]) }
            var sum = 0.0
            for j in 0..<visible { y[j] = exp(scale * x[j] - m); sum += y[j] }
            for j in 0..<visible { y[j] /= sum }
            for j in visible..<max(visible, cols) { y[j] = 0 }
        }
    }

    public static func causalSoftmaxBackward(
        _ dinp: UnsafeMutablePointer<Double>, _ dout: UnsafePointer<Double>,
        _ out: UnsafePointer<Double>, rows: Int, cols: Int, offset: Int, scale: Double
    ) {
        for r in 0..<rows {
            let y = out + r * cols, dy = dout + r * cols, dx = dinp + r * cols
            let visible = min(cols, r + offset + 1)
            var dot = 0.0
            for j in 0..<visible { dot += y[j] * dy[j] }
            for j in 0..<visible { dx[j] = scale * y[j] * (dy[j] - dot) }
            for j in visible..<max(visible, cols) { dx[j] = 0 }
        }
    }

    public static func softmaxCrossEntropy(
        _ dlogits: UnsafeMutablePointer<Double>, _ logits: UnsafePointer<Double>,
        _ targets: UnsafePointer<Int32>, n: Int, v: Int, workspace: GemmWorkspace
    ) throws -> Double {
        var count = 0
        for row in 0..<n {
            let t = targets[row]
            guard t == ignoreTarget || (t >= 0 && Int(t) < v) else {
                throw KernelError.indexOutOfRange(what: "target", position: row, index: Int(t), limit: v)
            }
            if t != ignoreTarget { count += 1 }
        }
        var total = 0.0
        for row in 0..<n {
            let x = logits + row * v, g = dlogits + row * v
            let t = Int(targets[row])
            if t < 0 {
                g.update(repeating: 0, count: v)
                continue
            }
            var m = -Double.infinity
            for j in 0..<v { m = max(m, x[j]) }
            var sum = 0.0
            for j in 0..<v { sum += exp(x[j] - m) }
            total += m + log(sum) - x[t]
            for j in 0..<v {
                g[j] = (exp(x[j] - m) / sum - (j == t ? 1 : 0)) / Double(count)
            }
        }
        return count == 0 ? 0 : total / Double(count)
    }

    public static func embeddingForward(
        _ out: UnsafeMutablePointer<Double>, _ ids: UnsafePointer<Int32>,
        _ table: UnsafePointer<Double>, n: Int, c: Int, v: Int
    ) throws {
        try checkIds(ids, n: n, v: v)
        for i in 0..<n { (out + i * c).update(from: table + Int(ids[i]) * c, count: c) }
    }

    public static func embeddingBackward(
        _ dtable: UnsafeMutablePointer<Double>, _ dout: UnsafePointer<Double>,
        _ ids: UnsafePointer<Int32>, n: Int, c: Int, v: Int
    ) throws {
        try checkIds(ids, n: n, v: v)
        for i in 0..<n { axpy(dtable + Int(ids[i]) * c, alpha: 1, dout + i * c, count: c) }
    }

    public static func dropoutForward(
        _ out: UnsafeMutablePointer<Double>, _ inp: UnsafePointer<Double>,
        count: Int, probability p: Float, seed: UInt64, offset: UInt64
    ) throws {
        guard p >= 0 && p <= 1 else {
            throw KernelError.invalidArgument("dropout probability \(p) is outside [0, 1]")
        }
        // The same scale as the Float kernel, computed in Float, so both precisions agree.
        let scale = Double(p < 1 ? 1 / (1 - p) : 0)
        for i in 0..<count {
            out[i] = dropoutKeeps(seed: seed, index: offset &+ UInt64(i), probability: p)
                ? inp[i] * scale : 0
        }
    }

    private static func checkIds(_ ids: UnsafePointer<Int32>, n: Int, v: Int) throws {
        for i in 0..<n where ids[i] < 0 || Int(ids[i]) >= v {
            throw KernelError.indexOutOfRange(what: "id", position: i, index: Int(ids[i]), limit: v)
        }
    }
}
