#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Causal (masked) softmax over the rows of a score matrix, as in causal self-attention:
/// row r sees the columns `0...min(r + offset, S - 1)`, and
///   out[r, j] = exp(scale * inp[r, j] - m) / sum over visible j' of exp(scale * inp[r, j'] - m)
/// for visible j (m the visible maximum, so nothing overflows) and out[r, j] = 0 beyond.
/// `offset` is the position of row 0 among the columns: 0 for a full sequence attending to
/// itself, `pos` for one new token at position `pos` attending to a cache of `pos + 1` keys.
///
/// - `out`: (R, S), written; may be the same buffer as `inp` (R, S).
/// - `scale`: applied to the scores before the softmax (1 / sqrt(head size) in attention).
/// Masked entries of `inp` are never read. Allocates nothing.
public func causalSoftmaxForward(
    _ out: UnsafeMutablePointer<Float>,
    _ inp: UnsafePointer<Float>,
    rows: Int, cols: Int, offset: Int, scale: Float
) {
    guard rows >= 0, cols >= 0, offset >= 0 else {
        fatalError("causalSoftmaxForward: bad sizes rows=\(rows) cols=\(cols) offset=\(offset)")
    }
    for r in 0..<rows {
        let x = inp + r * cols, y = out + r * cols
        let visible = min(cols, r + offset + 1)
        var m = -Float.infinity
        for j in 0..<visible { m = max(m, scale * x[j]) }
        let sum = expScaledShiftedSum(y, x, scale: scale, shift: m, count: visible)
        let inv = 1 / sum
        for q in 0..<visible { y[q] *= inv }
        if visible < cols { (y + visible).update(repeating: 0, count: cols - visible) }
    }
}

/// Backward of `causalSoftmaxForward` with the same sizes: for visible j,
///   dinp[r, j] = scale * out[r, j] * (dout[r, j] - sum over visible j' of out[r, j'] dout[r, j'])
/// and dinp[r, j] = 0 for masked j.
///
/// - `dinp`: (R, S), written; may be the same buffer as `dout` (R, S).
/// - `out`: (R, S), the forward's output.
public func causalSoftmaxBackward(
    _ dinp: UnsafeMutablePointer<Float>,
    _ dout: UnsafePointer<Float>,
    _ out: UnsafePointer<Float>,
    rows: Int, cols: Int, offset: Int, scale: Float
) {
    guard rows >= 0, cols >= 0, offset >= 0 else {
        fatalError("causalSoftmaxBackward: bad sizes rows=\(rows) cols=\(cols) offset=\(offset)")
    }
    for r in 0..<rows {
        let y = out + r * cols, dy = dout + r * cols, dx = dinp + r * cols
        let visible = min(cols, r + offset + 1)
        var acc = SIMD8<Float>()
        var j = 0
        while j + 8 <= visible { acc.addProduct(load8(y + j), load8(dy + j)); j += 8 }
        var dot = acc.sum()
        while j < visible { dot += y[j] * dy[j]; j += 1 }
        let sv = SIMD8<Float>(repeating: scale), dotv = SIMD8<Float>(repeating: dot)
        j = 0
        while j + 8 <= visible { store8(sv * load8(y + j) * (load8(dy + j) - dotv), dx + j); j += 8 }
        while j < visible { dx[j] = scale * y[j] * (dy[j] - dot); j += 1 }
        if visible < cols { (dx + visible).update(repeating: 0, count: cols - visible) }
    }
}

/// Reference for `causalSoftmaxForward` in Double with libm (no aliasing).
public func causalSoftmaxForwardReference(
    _ out: UnsafeMutablePointer<Float>,  // (R, S)
    _ inp: UnsafePointer<Float>,         // (R, S)
    rows: Int, cols: Int, offset: Int, scale: Float
) {
    for r in 0..<rows {
        let visible = min(cols, r + offset + 1)
        var m = -Double.infinity
        for j in 0..<visible { m = max(m, Double(scale) * Double(inp[r * cols + j])) }
        var sum = 0.0
        for j in 0..<visible { sum += exp(Double(scale) * Double(inp[r * cols + j]) - m) }
        for j in 0..<cols {
            out[r * cols + j] = j < visible
                ? Float(exp(Double(scale) * Double(inp[r * cols + j]) - m) / sum) : 0
        }
    }
}

/// Reference for `causalSoftmaxBackward` in Double (no aliasing).
public func causalSoftmaxBackwardReference(
    _ dinp: UnsafeMutablePointer<Float>,  // (R, S)
    _ dout: UnsafePointer<Float>,         // (R, S)
    _ out: UnsafePointer<Float>,          // (R, S)
    rows: Int, cols: Int, offset: Int, scale: Float
) {
    for r in 0..<rows {
        let visible = min(cols, r + offset + 1)
        var dot = 0.0
        for j in 0..<visible { dot += Double(out[r * cols + j]) * Double(dout[r * cols + j]) }
        for j in 0..<cols {
            dinp[r * cols + j] = j < visible
                ? Float(Double(scale) * Double(out[r * cols + j]) * (Double(dout[r * cols + j]) - dot))
                : 0
        }
    }
}
