// The AdamW parameter update, elementwise over flat buffers. It reads and writes four buffers
// of the model's size, so it is bound by memory bandwidth: 8 lanes at a time, split across
// the workspace's threads (each element's arithmetic is the same whatever the split).

/// The constants of one AdamW update (torch.optim.AdamW): moments decay `beta1`, `beta2`;
/// `shrink` = 1 - lr * weight decay; `stepSize` = lr / (1 - beta1^t); `invCorrection2` =
/// 1 / (1 - beta2^t).
public struct AdamWStep: Sendable {
    public var beta1: Float, beta2: Float, epsilon: Float
    public var shrink: Float, stepSize: Float, invCorrection2: Float

    public init(beta1: Float, beta2: Float, epsilon: Float, shrink: Float, stepSize: Float,
                invCorrection2: Float) {
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon
        self.shrink = shrink; self.stepSize = stepSize; self.invCorrection2 = invCorrection2
    }
}

/// For i in 0..<count:
///   m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g g
///   p = p shrink - stepSize m / (sqrt(v invCorrection2) + epsilon)
/// evaluated in that order in Float (no fused multiply-add), so every lane rounds as the
/// scalar `adamWUpdateReference` does: the results are identical.
///
/// - `p`, `m`, `v`: (count), updated.  `g`: (count).
/// Allocates nothing.
public func adamWUpdate(_ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
                        _ m: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>,
                        count: Int, _ step: AdamWStep, workspace: GemmWorkspace? = nil) {
    guard count >= 0 else { fatalError("adamWUpdate: count \(count)") }
    let parts = lineParts(count: count, threshold: 1 << 15, workspace: workspace)
    runParts(AdamWShares(p: p, g: g, m: m, v: v, count: count, step: step, parts: parts),
             parts: parts, workspace: workspace)
}

private struct AdamWShares: ParallelJob {
    let p: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>
    let m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>
    let count: Int, step: AdamWStep, parts: Int

    func run(part: Int) {
        let share = lineShare(count: count, parts: parts, part: part)
        let i1 = share.upperBound
        let s = step
        let b1 = SIMD8<Float>(repeating: s.beta1), b2 = SIMD8<Float>(repeating: s.beta2)
        let a1 = SIMD8<Float>(repeating: 1 - s.beta1), a2 = SIMD8<Float>(repeating: 1 - s.beta2)
        let eps = SIMD8<Float>(repeating: s.epsilon), shrink = SIMD8<Float>(repeating: s.shrink)
        let stepSize = SIMD8<Float>(repeating: s.stepSize)
        let inv2 = SIMD8<Float>(repeating: s.invCorrection2)
        var i = share.lowerBound
        while i + 8 <= i1 {
            let gi = load8(g + i)
            let mi = b1 * load8(m + i) + a1 * gi
            let vi = b2 * load8(v + i) + a2 * gi * gi
            store8(mi, m + i)
            store8(vi, v + i)
            store8(load8(p + i) * shrink - stepSize * mi / ((vi * inv2).squareRoot() + eps), p + i)
            i += 8
        }
        if i < i1 {
            adamWUpdateReference(p + i, g + i, m + i, v + i, count: i1 - i, s)
        }
    }
}

/// Reference for `adamWUpdate`: the same formula, one element at a time.
public func adamWUpdateReference(_ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
                                 _ m: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>,
                                 count: Int, _ s: AdamWStep) {
    for i in 0..<count {
        let gi = g[i]
        let mi = s.beta1 * m[i] + (1 - s.beta1) * gi
        let vi = s.beta2 * v[i] + (1 - s.beta2) * gi * gi
        m[i] = mi
        v[i] = vi
        p[i] = p[i] * s.shrink - s.stepSize * mi / ((vi * s.invCorrection2).squareRoot() + s.epsilon)
    }
}
