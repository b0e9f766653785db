import Kernels
import Testing

@Test(arguments: [(1, 1, 0), (3, 7, 0), (7, 7, 0), (5, 17, 0), (1, 33, 32), (2, 19, 9), (9, 9, 0)])
func causalSoftmaxMatchesReference(rows: Int, cols: Int, offset: Int) {
    let x = randomArray(rows * cols, seed: UInt64(rows * 100 + cols), scale: 6)
    let scale: Float = 0.37
    var out = [Float](repeating: .nan, count: rows * cols), ref = out
    causalSoftmaxForward(&out, x, rows: rows, cols: cols, offset: offset, scale: scale)
    causalSoftmaxForwardReference(&ref, x, rows: rows, cols: cols, offset: offset, scale: scale)
    #expect(maxScaledError(out, ref) <= 1e-6)
    for r in 0..<rows {
        let visible = min(cols, r + offset + 1)
        #expect(out[(r * cols + visible)..<(r * cols + cols)].allSatisfy { $0 == 0 })
        let sum = out[(r * cols)..<(r * cols + visible)].reduce(0, +)
        #expect(abs(sum - 1) <= 1e-5)
    }

    let dout = randomArray(rows * cols, seed: 77)
    var din = [Float](repeating: .nan, count: rows * cols), dref = din
    causalSoftmaxBackward(&din, dout, out, rows: rows, cols: cols, offset: offset, scale: scale)
    causalSoftmaxBackwardReference(&dref, dout, out, rows: rows, cols: cols, offset: offset,
                                   scale: scale)
    #expect(maxScaledError(din, dref) <= 1e-6)

    // In place (dinp aliasing dout) gives the same numbers.
    var inPlace = dout
    inPlace.withUnsafeMutableBufferPointer {
        causalSoftmaxBackward($0.baseAddress!, $0.baseAddress!, out, rows: rows, cols: cols,
                              offset: offset, scale: scale)
    }
    #expect(inPlace == din)
}

/// A masked score never matters, even when it is huge or NaN.
@Test func causalSoftmaxIgnoresMaskedScores() {
    var x = randomArray(4 * 5, seed: 3)
    for r in 0..<4 { for j in (r + 1)..<5 { x[r * 5 + j] = r % 2 == 0 ? .nan : 1e30 } }
    var out = [Float](repeating: 0, count: 20)
    causalSoftmaxForward(&out, x, rows: 4, cols: 5, offset: 0, scale: 1)
    #expect(out.allSatisfy { $0.isFinite })
    #expect(out[0] == 1)
}
