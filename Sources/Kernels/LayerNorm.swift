/// Layer normalization over the last dimension: for each row,
/// out = (x - mean) * rstd * weight + bias with rstd = 1 / sqrt(var + eps) (biased variance,
/// as PyTorch's `LayerNorm`).
///
/// - `out`: (N, C), written.
/// - `mean`, `rstd`: (N), written; `layerNormBackward` reads them.
/// - `inp`: (N, C).  `weight`, `bias`: (C).
/// The mean and variance are computed in two passes (no E[x^2] - E[x]^2 cancellation).
public func layerNormForward(
    _ out: UnsafeMutablePointer<Float>,
    _ mean: UnsafeMutablePointer<Float>,
    _ rstd: UnsafeMutablePointer<Float>,
    _ inp: UnsafePointer<Float>,
    _ weight: UnsafePointer<Float>,
    _ bias: UnsafePointer<Float>,
    n: Int, c: Int, eps: Float = 1e-5
) {
    for row in 0..<n {
        let x = inp + row * c
        let y = out + row * c
        var acc = SIMD8<Float>()
        var j = 0
        while j + 8 <= c { acc += load8(x + j); j += 8 }
        var sum = acc.sum()
        while j < c { sum += x[j]; j += 1 }
        let m = sum / Float(c)

        let mv = SIMD8<Float>(repeating: m)
        acc = SIMD8<Float>()
        j = 0
        while j + 8 <= c {
            let d = load8(x + j) - mv
            acc.addProduct(d, d)
            j += 8
        }
        var sq = acc.sum()
        while j < c { let d = x[j] - m; sq += d * d; j += 1 }
        let s = 1 / (sq / Float(c) + eps).squareRoot()

        let sv = SIMD8<Float>(repeating: s)
        j = 0
        while j + 8 <= c {
            let xhat = (load8(x + j) - mv) * sv
            store8(load8(bias + j).addingProduct(xhat, load8(weight + j)), y + j)
            j += 8
        }
        while j < c { y[j] = (x[j] - m) * s * weight[j] + bias[j]; j += 1 }
        mean[row] = m
        rstd[row] = s
    }
}

/// Backward of `layerNormForward`. With xhat = (x - mean) * rstd and g = dout * weight:
///   dinp   += rstd * (g - mean(g) - xhat * mean(g * xhat))
///   dweight += sum over rows of dout * xhat,   dbias += sum over rows of dout
///
/// - `dinp`: (N, C), `dweight`, `dbias`: (C): all accumulated into (the caller zeroes them).
/// - `dout`: (N, C), `inp`: (N, C), `weight`: (C), `mean`, `rstd`: (N) from the forward.
public func layerNormBackward(
    _ dinp: UnsafeMutablePointer<Float>,
    _ dweight: UnsafeMutablePointer<Float>,
    _ dbias: UnsafeMutablePointer<Float>,
    _ dout: UnsafePointer<Float>,
    _ inp: UnsafePointer<Float>,
    _ weight: UnsafePointer<Float>,
    _ mean: UnsafePointer<Float>,
    _ rstd: UnsafePointer<Float>,
    n: Int, c: Int
) {
    for row in 0..<n {
        let x = inp + row * c
        let dy = dout + row * c
        let dx = dinp + row * c
        let m = mean[row], s = rstd[row]
        let mv = SIMD8<Float>(repeating: m), sv = SIMD8<Float>(repeating: s)
        // First pass: the two row means the formula needs, and the parameter gradients.
        var gSum = SIMD8<Float>(), gxSum = SIMD8<Float>()
        var j = 0
        while j + 8 <= c {
            let xhat = (load8(x + j) - mv) * sv
            let d = load8(dy + j)
            let g = d * load8(weight + j)
            gSum += g
            gxSum.addProduct(g, xhat)
            store8(load8(dbias + j) + d, dbias + j)
            store8(load8(dweight + j).addingProduct(d, xhat), dweight + j)
            j += 8
        }
        var gMean = gSum.sum(), gxMean = gxSum.sum()
        while j < c {
            let xhat = (x[j] - m) * s
            let g = dy[j] * weight[j]
            gMean += g
            gxMean += g * xhat
            dbias[j] += dy[j]
            dweight[j] += dy[j] * xhat
            j += 1
        }
        gMean /= Float(c)
        gxMean /= Float(c)
        let gm = SIMD8<Float>(repeating: gMean), gxm = SIMD8<Float>(repeating: gxMean)
        j = 0
        while j + 8 <= c {
            let xhat = (load8(x + j) - mv) * sv
            let g = load8(dy + j) * load8(weight + j)
            var t = g - gm
            t.addProduct(-xhat, gxm)
            store8(load8(dx + j).addingProduct(t, sv), dx + j)
            j += 8
        }
        while j < c {
            let xhat = (x[j] - m) * s
            dx[j] += s * (dy[j] * weight[j] - gMean - xhat * gxMean)
            j += 1
        }
    }
}

/// Reference for `layerNormForward`, in Double; same arguments.
public func layerNormForwardReference(
    _ out: UnsafeMutablePointer<Float>,   // (N, C)
    _ mean: UnsafeMutablePointer<Float>,  // (N)
    _ rstd: UnsafeMutablePointer<Float>,  // (N)
    _ inp: UnsafePointer<Float>,          // (N, C)
    _ weight: UnsafePointer<Float>,       // (C)
    _ bias: UnsafePointer<Float>,         // (C)
    n: Int, c: Int, eps: Float = 1e-5
) {
    for row in 0..<n {
        let x = (0..<c).map { Double(inp[row * c + $0]) }
        let m = x.reduce(0, +) / Double(c)
        let variance = x.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(c)
        let s = 1 / (variance + Double(eps)).squareRoot()
        for j in 0..<c {
            out[row * c + j] = Float((x[j] - m) * s * Double(weight[j]) + Double(bias[j]))
        }
        mean[row] = Float(m)
        rstd[row] = Float(s)
    }
}

/// Reference for `layerNormBackward`, in Double; same arguments and accumulation.
public func layerNormBackwardReference(
    _ dinp: UnsafeMutablePointer<Float>,     // (N, C)
    _ dweight: UnsafeMutablePointer<Float>,  // (C)
    _ dbias: UnsafeMutablePointer<Float>,    // (C)
    _ dout: UnsafePointer<Float>,            // (N, C)
    _ inp: UnsafePointer<Float>,             // (N, C)
    _ weight: UnsafePointer<Float>,          // (C)
    _ mean: UnsafePointer<Float>,            // (N)
    _ rstd: UnsafePointer<Float>,            // (N)
    n: Int, c: Int
) {
    for row in 0..<n {
        let m = Double(mean[row]), s = Double(rstd[row])
        let xhat = (0..<c).map { (Double(inp[row * c + $0]) - m) * s }
        let g = (0..<c).map { Double(dout[row * c + $0]) * Double(weight[$0]) }
        let gMean = g.reduce(0, +) / Double(c)
        let gxMean = zip(g, xhat).reduce(0) { $0 + $1.0 * $1.1 } / Double(c)
        for j in 0..<c {
            dbias[j] += dout[row * c + j]
            dweight[j] = Float(Double(dweight[j]) + Double(dout[row * c + j]) * xhat[j])
            dinp[row * c + j] = Float(Double(dinp[row * c + j]) + s * (g[j] - gMean - xhat[j] * gxMean))
        }
    }
}
