import Kernels
@testable import Network

/// Deterministic values uniform in [-scale, scale).
func randomValues<S: NetworkScalar>(_ count: Int, seed: UInt64, scale: Float = 1) -> [S] {
    var rng = SplitMix64(seed: seed)
    return (0..<count).map { _ in S((rng.nextUnitFloat() * 2 - 1) * scale) }
}

/// Deterministic token ids in 0..<v.
func randomTokens(_ count: Int, v: Int, seed: UInt64) -> [Int32] {
    var rng = SplitMix64(seed: seed)
    return (0..<count).map { _ in Int32(rng.next() % UInt64(v)) }
}

/// Relative error of an analytic against a numerical derivative: |a - n| / max(|a|, |n|, 1e-4).
/// The floor: central differences with step 1e-5 in Float64 carry a rounding error of about
/// 1e-16 |loss| / 1e-5, a few 1e-11 for our losses, so a gradient entry of 1e-6 cannot be
/// checked to a relative 1e-6; below 1e-4 this bounds the absolute error (1e-6 -> 1e-10).
func relativeError(_ a: Double, _ n: Double) -> Double {
    abs(a - n) / max(abs(a), abs(n), 1e-4)
}

/// Largest |got - want| / (1 + |want|).
func maxScaledError<A: BinaryFloatingPoint, B: BinaryFloatingPoint>(
    _ got: UnsafeBufferPointer<A>, _ want: UnsafeBufferPointer<B>
) -> Double {
    precondition(got.count == want.count)
    var worst = 0.0
    for i in 0..<got.count {
        let w = Double(want[i]), e = abs(Double(got[i]) - w) / (1 + abs(w))
        if !(e <= worst) { worst = e.isNaN ? .infinity : e }
    }
    return worst
}

/// Indices of up to `count` entries of 0..<n, spread deterministically (all when n <= count).
func sampleIndices(_ n: Int, count: Int, seed: UInt64) -> [Int] {
    if n <= count { return Array(0..<n) }
    var rng = SplitMix64(seed: seed)
    return (0..<count).map { _ in Int(rng.next() % UInt64(n)) }
}

/// Checks d(loss)/d(buffer[i]) for sampled i by central differences with step h; returns the
/// worst relative error. `loss()` recomputes the loss from the current buffer contents.
func centralDifferenceError(
    _ buffer: UnsafeMutablePointer<Double>, count: Int, analytic: UnsafePointer<Double>,
    samples: Int = 8, seed: UInt64, h: Double = 1e-5, loss: () throws -> Double
) rethrows -> Double {
    var worst = 0.0
    for i in sampleIndices(count, count: samples, seed: seed) {
        let saved = buffer[i]
        buffer[i] = saved + h
        let up = try loss()
        buffer[i] = saved - h
        let down = try loss()
        buffer[i] = saved
        worst = max(worst, relativeError(analytic[i], (up - down) / (2 * h)))
    }
    return worst
}
