/// Inverted dropout: out[i] = keep(i) ? inp[i] / (1 - p) : 0, where element i (counted from
/// `offset`) is kept when the top 24 bits of `SplitMix64.value(seed: seed, index: offset + i)`,
/// read as a fraction in [0, 1), are >= p. The mask depends only on (seed, offset + i), so the
/// backward pass regenerates it instead of storing it, and a tensor processed in pieces (with
/// matching offsets) gets the same mask as in one call.
///
/// - `out`: (count), written; may be the same buffer as `inp` (count).
/// - `probability`: p in [0, 1]; p = 1 drops everything (out = 0). Outside throws.
public func dropoutForward(
    _ out: UnsafeMutablePointer<Float>,
    _ inp: UnsafePointer<Float>,
    count: Int, probability p: Float, seed: UInt64, offset: UInt64 = 0
) throws {
    guard p >= 0 && p <= 1 else {
        throw KernelError.invalidArgument("dropout probability \(p) is outside [0, 1]")
    }
    let scale: Float = p < 1 ? 1 / (1 - p) : 0
    for i in 0..<count {
        out[i] = dropoutKeeps(seed: seed, index: offset &+ UInt64(i), probability: p)
            ? inp[i] * scale : 0
    }
}

/// Backward of `dropoutForward` with the same (seed, offset, probability): dinp = dout masked
/// and scaled exactly as the forward did.
///
/// - `dinp`: (count), written; may be the same buffer as `dout` (count).
public func dropoutBackward(
    _ dinp: UnsafeMutablePointer<Float>,
    _ dout: UnsafePointer<Float>,
    count: Int, probability p: Float, seed: UInt64, offset: UInt64 = 0
) throws {
    try dropoutForward(dinp, dout, count: count, probability: p, seed: seed, offset: offset)
}

/// Whether `dropoutForward` keeps element `index` (counted from 0, offset included) for this
/// seed and probability; exposed so that a reference in another precision draws the same mask.
@inline(__always)
public func dropoutKeeps(seed: UInt64, index: UInt64, probability p: Float) -> Bool {
    Float(SplitMix64.value(seed: seed, index: index) >> 40) * 0x1p-24 >= p
}

/// Reference for `dropoutForward` with offset 0: draws from a sequential `SplitMix64`.
public func dropoutForwardReference(
    _ out: UnsafeMutablePointer<Float>,  // (count)
    _ inp: UnsafePointer<Float>,         // (count)
    count: Int, probability p: Float, seed: UInt64
) {
    var rng = SplitMix64(seed: seed)
    for i in 0..<count {
        let keep = rng.nextUnitFloat() >= p
        out[i] = keep ? inp[i] * (1 / (1 - p)) : 0
    }
}
