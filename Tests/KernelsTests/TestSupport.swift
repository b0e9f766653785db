import Kernels

/// Deterministic test data: uniform values in [-scale, scale) from a fixed seed.
func randomArray(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var rng = SplitMix64(seed: seed)
    return (0..<count).map { _ in (rng.nextUnitFloat() * 2 - 1) * scale }
}

/// Largest `|got - want| / (1 + |want|)` over two arrays of the same length.
func maxScaledError(_ got: [Float], _ want: [Float]) -> Float {
    precondition(got.count == want.count)
    var worst: Float = 0
    for (g, w) in zip(got, want) {
        let e = abs(g - w) / (1 + abs(w))
        if !(e <= worst) { worst = e.isNaN ? .infinity : e }
    }
    return worst
}
