import Foundation
import Kernels
import Testing

/// |got - want| in units of the Float spacing at `want` (denormal spacing below 2^-126);
/// infinities count as 2^128 so a wrong overflow shows as a large error, and a NaN on either
/// side alone is an infinite error.
private func ulpError(_ got: Float, _ want: Double) -> Double {
    if want.isNaN || got.isNaN { return want.isNaN && got.isNaN ? 0 : .infinity }
    let limit = 0x1p128
    let g = got.isInfinite ? (got > 0 ? limit : -limit) : Double(got)
    let w = max(-limit, min(limit, want))
    let exponent = max(Int(w.magnitude.exponent), -126)
    let spacing = Double(sign: .plus, exponent: min(exponent, 127) - 23, significand: 1)
    return abs(g - w) / spacing
}

/// Inputs: a dense sweep over `range`, every 1021st Float bit pattern (all magnitudes,
/// denormals and both signs), and the special values.
private func inputs(dense range: ClosedRange<Float>, step: Float) -> [Float] {
    var xs: [Float] = []
    var x = range.lowerBound
    while x <= range.upperBound { xs.append(x); x += step }
    var pattern: UInt32 = 0
    while pattern < 0xFFFF_FF00 {
        xs.append(Float(bitPattern: pattern))
        pattern += 1021
    }
    xs += [0, -0.0, .infinity, -.infinity, .nan, 88, -88, 88.72, 88.73, -87.3, -103.9, -104,
           1e4, -1e4, 1e-30, -1e-30, .leastNonzeroMagnitude, -.leastNonzeroMagnitude,
           .leastNormalMagnitude, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 9.1, -9.1]
    return xs
}

/// Maximum ulp error of `applyF` over `xs` against `reference`, after checking NaN propagation.
private func worstError(_ xs: [Float], _ applyF: (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Int) -> Void,
                        _ reference: (Double) -> Double) -> (Double, Float) {
    var out = [Float](repeating: 0, count: xs.count)
    out.withUnsafeMutableBufferPointer { o in
        xs.withUnsafeBufferPointer { x in applyF(o.baseAddress!, x.baseAddress!, xs.count) }
    }
    var worst = 0.0
    var worstX: Float = 0
    for (x, y) in zip(xs, out) {
        let e = ulpError(y, reference(Double(x)))
        if !(e <= worst) { worst = e; worstX = x }
    }
    return (worst, worstX)
}

@Test func expErrorBound() {
    let (worst, at) = worstError(inputs(dense: -104...89, step: 1e-3),
                                 { applyExp($0, $1, count: $2) }, { Foundation.exp($0) })
    print("exp8: max error \(worst) ulp at x = \(at)")
    #expect(worst <= 1)
}

@Test func tanhErrorBound() {
    let (worst, at) = worstError(inputs(dense: -10...10, step: 1e-4),
                                 { applyTanh($0, $1, count: $2) }, { Foundation.tanh($0) })
    print("tanh8: max error \(worst) ulp at x = \(at)")
    #expect(worst <= 2.5)
}

@Test func sigmoidErrorBound() {
    let (worst, at) = worstError(inputs(dense: -110...30, step: 1e-3),
                                 { applySigmoid($0, $1, count: $2) }, { 1 / (1 + Foundation.exp(-$0)) })
    print("sigmoid8: max error \(worst) ulp at x = \(at)")
    #expect(worst <= 2.5)
}

@Test func activationLimitsAndNaN() {
    let xs: [Float] = [.nan, .infinity, -.infinity, 1e4, -1e4, 0, -0.0, .leastNonzeroMagnitude]
    var e = [Float](repeating: 0, count: xs.count), t = e, s = e
    applyExp(&e, xs, count: xs.count)
    applyTanh(&t, xs, count: xs.count)
    applySigmoid(&s, xs, count: xs.count)
    #expect(e[0].isNaN && t[0].isNaN && s[0].isNaN)
    #expect(Array(e[1...]) == [.infinity, 0, .infinity, 0, 1, 1, 1])
    #expect(Array(t[1...]) == [1, -1, 1, -1, 0, -0, .leastNonzeroMagnitude])
    #expect(t[6].sign == .minus)
    #expect(Array(s[1...]) == [1, 0, 1, 0, 0.5, 0.5, 0.5])
}

@Test func arrayFunctionsGiveTheEightLaneFunctionsBits() {
    // The array functions run whole vectors (16 lanes in AVX-512 builds) of different inputs,
    // the 8-lane functions 8 at a time: every element must come out exactly as the 8-lane
    // function computes it, NaN for NaN, so that a lane's value depends on its input alone.
    let xs = inputs(dense: -110...90, step: 1e-2)
    let functions: [(String, (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Int) -> Void,
                     (SIMD8<Float>) -> SIMD8<Float>)] = [
        ("exp", { applyExp($0, $1, count: $2) }, exp8),
        ("tanh", { applyTanh($0, $1, count: $2) }, tanh8),
        ("sigmoid", { applySigmoid($0, $1, count: $2) }, sigmoid8),
    ]
    for (name, apply, lanes8) in functions {
        var out = [Float](repeating: 0, count: xs.count)
        out.withUnsafeMutableBufferPointer { o in
            xs.withUnsafeBufferPointer { x in apply(o.baseAddress!, x.baseAddress!, xs.count) }
        }
        var mismatches = 0
        for start in stride(from: 0, to: xs.count, by: 8) {
            var v = SIMD8<Float>()
            for q in 0..<min(8, xs.count - start) { v[q] = xs[start + q] }
            let want = lanes8(v)
            for q in 0..<min(8, xs.count - start) where want[q].bitPattern != out[start + q].bitPattern
                && !(want[q].isNaN && out[start + q].isNaN) {
                mismatches += 1
            }
        }
        #expect(mismatches == 0, "\(name): \(mismatches) elements differ from the 8-lane function")
    }
}

@Test func arrayTailsMatchTheVectorFunction() {
    // Every length 0...19 and an in-place call: the tail path must give exactly the lane values.
    let xs = randomArray(19, seed: 5, scale: 6)
    for count in 0...xs.count {
        var out = [Float](repeating: .nan, count: count + 1)
        applyTanh(&out, xs, count: count)
        for i in 0..<count {
            var lane = SIMD8<Float>()
            lane[i % 8] = xs[i]
            #expect(out[i] == tanh8(lane)[i % 8])
        }
        #expect(out[count].isNaN)
    }
    var inPlace = xs
    inPlace.withUnsafeMutableBufferPointer { applySigmoid($0.baseAddress!, $0.baseAddress!, count: 19) }
    var copy = [Float](repeating: 0, count: 19)
    applySigmoid(&copy, xs, count: 19)
    #expect(inPlace == copy)
}
