// exp, tanh and sigmoid on a vector of `Lanes` at a time (16 lanes, one zmm register, in
// AVX-512 builds; 8 otherwise): range reduction plus a polynomial, no libm call per lane.
// Maximum errors against a Float64 reference (measured by ActivationTests on a dense sweep,
// every 1021st Float bit pattern and the special values; see README.md):
//   exp8      <= 1 ulp      (including denormal results; exactly 0 below -103.97, inf above 88.72)
//   tanh8     <= 2.5 ulp    (tanh(x) = x for tiny x, exactly +-1 beyond |x| = 9.1)
//   sigmoid8  <= 2.5 ulp    (including denormal results for x < -87.3)
// NaN inputs give NaN; +-inf give the limits.

private let magicRound: Float = 12_582_912            // 1.5 * 2^23: x + magic rounds x to an integer
private let magicBits: Int32 = 0x4B40_0000            // bit pattern of magicRound
private let log2e: Float = 1.442_695_040_888_963_4
// ln 2 = ln2Hi + ln2Lo, where ln2Hi has 9 significant bits so that n * ln2Hi is exact for
// every |n| <= 2^15 and the first step of the reduction loses nothing, with or without FMA.
private let ln2Hi: Float = 0.693_359_375
private let ln2Lo: Float = -2.121_944_4e-4

/// The vector the activations, the LSTM cell and the softmax loops work on: the widest the
/// build's registers hold. Concrete types, not a generic over `SIMD`: generic code reaches the
/// `SIMD` protocol's lane-by-lane operator implementations instead of the vector instructions.
/// Every lane gets the same sequence of operations at either width, so both give the same bits.
#if AVX512_BUILD
typealias Lanes = SIMD16<Float>
typealias LaneBits = SIMD16<Int32>
#else
typealias Lanes = SIMD8<Float>
typealias LaneBits = SIMD8<Int32>
#endif

@inline(__always)
private func bits(_ x: Lanes) -> LaneBits { unsafeBitCast(x, to: LaneBits.self) }
@inline(__always)
private func float(_ b: LaneBits) -> Lanes { unsafeBitCast(b, to: Lanes.self) }

/// Splits x = n ln 2 + r with integer n and |r| <= ln2/2 (plus rounding). n is returned as
/// Int32 lanes; requires |x| < 2^22 * ln 2 (callers clamp first).
@inline(__always)
private func reduce(_ x: Lanes) -> (n: LaneBits, r: Lanes) {
    let shifted = x * log2e + magicRound
    let nf = shifted - magicRound
    let r = (x - nf * ln2Hi) - nf * ln2Lo
    return (bits(shifted) &- magicBits, r)
}

/// 2^n for n in [-126, 127], built from the exponent bits.
@inline(__always)
private func pow2(_ n: LaneBits) -> Lanes { float((n &+ 127) &<< 23) }

/// e^r - 1 for |r| <= 0.35: the Taylor series to r^8 (the first omitted term, r^9/9!, is
/// below 2.1e-10, i.e. 1/500 ulp of the result), evaluated by Horner's rule with FMAs.
@inline(__always)
private func expm1Poly(_ r: Lanes) -> Lanes {
    var p = Lanes(repeating: 1.0 / 40320)
    p = Lanes(repeating: 1.0 / 5040).addingProduct(p, r)
    p = Lanes(repeating: 1.0 / 720).addingProduct(p, r)
    p = Lanes(repeating: 1.0 / 120).addingProduct(p, r)
    p = Lanes(repeating: 1.0 / 24).addingProduct(p, r)
    p = Lanes(repeating: 1.0 / 6).addingProduct(p, r)
    p = Lanes(repeating: 0.5).addingProduct(p, r)
    return r.addingProduct(p, r * r)
}

/// e^x on 8 lanes, <= 1 ulp.
public func exp8(_ x: SIMD8<Float>) -> SIMD8<Float> { eightLanes(x) { expLanes($0) } }

/// tanh(x) on 8 lanes, <= 2.5 ulp.
public func tanh8(_ x: SIMD8<Float>) -> SIMD8<Float> { eightLanes(x) { tanhLanes($0) } }

/// 1 / (1 + e^-x) on 8 lanes, <= 2.5 ulp.
public func sigmoid8(_ x: SIMD8<Float>) -> SIMD8<Float> { eightLanes(x) { sigmoidLanes($0) } }

@inline(__always)
private func eightLanes(_ x: SIMD8<Float>, _ f: (Lanes) -> Lanes) -> SIMD8<Float> {
    #if AVX512_BUILD
    f(Lanes(lowHalf: x, highHalf: x)).lowHalf
    #else
    f(x)
    #endif
}

// The bodies are always inlined inside this module (the array loops, softmax, the LSTM cell):
// as calls, each vector would cross the function boundary split into two xmm halves.
// `@_transparent` (inlined before any optimization decides), not `@inline(__always)`: with
// three sigmoids and two tanhs in its loop, the LSTM cell kept calls to `sigmoidLanes` (and,
// with that one forced, to `expLanes`), its compare masks rebuilt through permutes at every
// call. In a profile of `classify` on the tweets test four times over, the cell and the called
// sigmoid took 20% of the time, the inlined cell 16%, and the run 8% less (1.05 -> 0.97 s).

@_transparent
func expLanes(_ x: Lanes) -> Lanes {
    // Below -103.98 the result rounds to 0, above 88.73 it overflows: clamping just outside
    // those bounds keeps n within [-151, 129] and lets the final products produce 0 and inf.
    let high = Lanes(repeating: 89), low = Lanes(repeating: -104)
    let xc = x.replacing(with: high, where: x .> high).replacing(with: low, where: x .< low)
    let (n, r) = reduce(xc)
    let p = expm1Poly(r) + 1
    // 2^n in two factors so that n below -126 (denormal results) and n = 128 both work; the
    // first product is exact, so denormal results are rounded once.
    let n1 = n &>> 1
    let result = p * pow2(n1) * pow2(n &- n1)
    return result.replacing(with: x, where: x .!= x)
}

@_transparent
func tanhLanes(_ x: Lanes) -> Lanes {
    let signMask = LaneBits(repeating: Int32(bitPattern: 0x8000_0000))
    let sign = bits(x) & signMask
    // tanh|x| = e / (e + 2) with e = expm1(2|x|): no cancellation for small |x| (where it
    // gives x exactly, denormals included). Beyond 2|x| = 20 the result is 1 in Float.
    let limit = Lanes(repeating: 20)
    let y2 = float(bits(x) & ~signMask) * 2
    let y = y2.replacing(with: limit, where: y2 .> limit)
    let (n, r) = reduce(y)
    // expm1(y) = 2^n (q + 1) - 1 = 2^n q + (2^n - 1), both terms exact for n in [0, 29].
    let s = pow2(n)
    let e = (s - 1).addingProduct(s, expm1Poly(r))
    let t = e / (e + 2)
    let result = float(bits(t) | sign)
    return result.replacing(with: x, where: x .!= x)
}

@_transparent
func sigmoidLanes(_ x: Lanes) -> Lanes {
    // With e = e^-|x| in (0, 1]: 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0, so nothing
    // overflows and small results keep full relative precision down to the denormals.
    let absX = float(bits(x) & LaneBits(repeating: 0x7FFF_FFFF))
    let e = expLanes(-absX)
    let d = 1 + e
    let numerator = Lanes(repeating: 1).replacing(with: e, where: x .< 0)
    let result = numerator / d
    return result.replacing(with: x, where: x .!= x)
}

// Comparisons with `replacing` rather than `pointwiseMin`/`pointwiseMax`: those compile to
// calls to a per-lane generic loop, these to one compare and one blend.

/// out[j] = e^(scale x[j] - shift) for j in 0..<count; returns their sum. The exponentials of
/// both softmaxes: cross-entropy's with scale 1 (x * 1 is x exactly), attention's with
/// 1 / sqrt(head size). `out` (count) may be the same buffer as `x` (count).
func expScaledShiftedSum(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                         scale: Float, shift: Float, count: Int) -> Float {
    let sv = Lanes(repeating: scale), mv = Lanes(repeating: shift)
    var acc = SIMD8<Float>()
    var j = 0
    while j + Lanes.scalarCount <= count {
        let e = expLanes(loadVector(x + j) * sv - mv)
        storeVector(e, out + j)
        accumulate(&acc, e)
        j += Lanes.scalarCount
    }
    if j < count {
        // Padding lanes are -inf, whose exponential is exactly 0.
        var tail = Lanes(repeating: -.infinity)
        for q in 0..<(count - j) { tail[q] = x[j + q] * scale - shift }
        let e = expLanes(tail)
        for q in 0..<(count - j) { out[j + q] = e[q] }
        accumulate(&acc, e)
    }
    return acc.sum()
}

/// Adds `e` to an 8-lane running sum as 8-lane vectors would have been added (the low half
/// first), so sums over `Lanes` vectors come out the same in every build.
@inline(__always)
private func accumulate(_ acc: inout SIMD8<Float>, _ e: Lanes) {
    #if AVX512_BUILD
    acc += e.lowHalf
    acc += e.highHalf
    #else
    acc += e
    #endif
}

private enum Activation { case exp, tanh, sigmoid }

/// Applies `function` to `count` floats, a `Lanes` vector at a time; the tail is padded into
/// one vector, so every element gets exactly the value the vector function gives it. (An enum,
/// not a closure: a closure over 16-lane vectors was left as an indirect call per vector.)
@inline(__always)
private func applyLanes(
    _ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int, _ function: Activation
) {
    @inline(__always) func f(_ v: Lanes) -> Lanes {
        switch function {
        case .exp: expLanes(v)
        case .tanh: tanhLanes(v)
        case .sigmoid: sigmoidLanes(v)
        }
    }
    let width = Lanes.scalarCount
    var i = 0
    while i + width <= count {
        storeVector(f(loadVector(x + i)), out + i)
        i += width
    }
    if i < count {
        var v = Lanes()
        for j in 0..<(count - i) { v[j] = x[i + j] }
        let y = f(v)
        for j in 0..<(count - i) { out[i + j] = y[j] }
    }
}

/// out[i] = e^x[i] for i in 0..<count. `out` (count) may be the same buffer as `x` (count).
public func applyExp(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
    applyLanes(out, x, count: count, .exp)
}

/// out[i] = tanh(x[i]) for i in 0..<count. `out` (count) may be the same buffer as `x` (count).
public func applyTanh(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
    applyLanes(out, x, count: count, .tanh)
}

/// out[i] = sigmoid(x[i]) for i in 0..<count. `out` (count) may be the same buffer as `x` (count).
public func applySigmoid(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
    applyLanes(out, x, count: count, .sigmoid)
}
