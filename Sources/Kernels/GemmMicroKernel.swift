// The register-blocked inner kernel of `gemm` and the helpers it shares with `gemv`.

/// Rows of C produced by one micro-kernel call (the height of a packed A panel).
let microRows = 6
/// Columns of C produced by one micro-kernel call (the width of a packed B panel).
let microCols = 16

@inline(__always)
func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}

/// Writes `alpha * (v0, v1) + beta * row` into the 16 floats at `row`; with `beta == 0`
/// the old contents are not read (BLAS convention: NaN in C does not leak through).
@inline(__always)
private func storeRow16(_ row: UnsafeMutablePointer<Float>, _ v0: SIMD8<Float>, _ v1: SIMD8<Float>,
                        _ alpha: SIMD8<Float>, _ beta: Float) {
    if beta == 0 {
        store8(alpha * v0, row)
        store8(alpha * v1, row + 8)
    } else {
        let b = SIMD8<Float>(repeating: beta)
        var r0 = load8(row) * b
        var r1 = load8(row + 8) * b
        r0.addProduct(alpha, v0)
        r1.addProduct(alpha, v1)
        store8(r0, row)
        store8(r1, row + 8)
    }
}

/// C tile (rows, cols) = alpha * Apanel * Bpanel + beta * C tile, for rows <= 6, cols <= 16.
///
/// - `a`: packed A panel, (kc, 6): element (i, p) at `a[p * 6 + i]`, rows past `rows` zero.
/// - `b`: B panel, (kc, 16): row p at `b + p * bStride` (16 for a packed panel), columns past
///   `cols` zero.
/// - `c`: the tile's top-left element, row stride `ldc`.
///
/// Register budget (AVX2 has 16 ymm registers): 12 accumulators (6 rows x 2 vectors of 8)
/// + 2 B vectors + 1 broadcast A value = 15. Per step of p: 2 loads, 6 broadcasts and 12
/// FMAs, which keeps both FMA pipes busy while the loads stay in L1.
func microKernel6x16(
    _ c: UnsafeMutablePointer<Float>, ldc: Int,
    _ a: UnsafePointer<Float>,
    _ b: UnsafePointer<Float>, bStride: Int,
    kc: Int, alpha: Float, beta: Float, rows: Int, cols: Int
) {
    var c00 = SIMD8<Float>(), c01 = SIMD8<Float>()
    var c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
    var c20 = SIMD8<Float>(), c21 = SIMD8<Float>()
    var c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
    var c40 = SIMD8<Float>(), c41 = SIMD8<Float>()
    var c50 = SIMD8<Float>(), c51 = SIMD8<Float>()
    var ap = a
    var bp = b
    for _ in 0..<kc {
        let b0 = load8(bp), b1 = load8(bp + 8)
        var av = SIMD8<Float>(repeating: ap[0])
        c00.addProduct(av, b0); c01.addProduct(av, b1)
        av = SIMD8<Float>(repeating: ap[1])
        c10.addProduct(av, b0); c11.addProduct(av, b1)
        av = SIMD8<Float>(repeating: ap[2])
        c20.addProduct(av, b0); c21.addProduct(av, b1)
        av = SIMD8<Float>(repeating: ap[3])
        c30.addProduct(av, b0); c31.addProduct(av, b1)
        av = SIMD8<Float>(repeating: ap[4])
        c40.addProduct(av, b0); c41.addProduct(av, b1)
        av = SIMD8<Float>(repeating: ap[5])
        c50.addProduct(av, b0); c51.addProduct(av, b1)
        ap += 6
        bp += bStride
    }
    let va = SIMD8<Float>(repeating: alpha)
    if rows == microRows && cols == microCols {
        storeRow16(c, c00, c01, va, beta)
        storeRow16(c + ldc, c10, c11, va, beta)
        storeRow16(c + 2 * ldc, c20, c21, va, beta)
        storeRow16(c + 3 * ldc, c30, c31, va, beta)
        storeRow16(c + 4 * ldc, c40, c41, va, beta)
        storeRow16(c + 5 * ldc, c50, c51, va, beta)
        return
    }
    storeEdgeTile(c, ldc: ldc, (c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51),
                  alpha: alpha, beta: beta, rows: rows, cols: cols)
}

/// The 4-row version of `microKernel6x16`, for the last rows of a block whose height is not a
/// multiple of 6 (a batch of 32 rows is 4 x 6 + 2 x 4 instead of 6 x 6 with 4 rows of
/// padding, 11% of the work). `a` is a packed panel of 4 rows: element (i, p) at
/// `a[p * 4 + i]`. 8 accumulators are just enough to cover a 4-cycle FMA latency at 2 FMAs
/// per cycle; in L1 it runs as fast as the 6-row kernel. Each element of C is summed in the
/// same order as by `microKernel6x16`, so results do not depend on which kernel ran.
func microKernel4x16(
    _ c: UnsafeMutablePointer<Float>, ldc: Int,
    _ a: UnsafePointer<Float>,
    _ b: UnsafePointer<Float>, bStride: Int,
    kc: Int, alpha: Float, beta: Float, rows: Int, cols: Int
) {
    var c00 = SIMD8<Float>(), c01 = SIMD8<Float>()
    var c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
    var c20 = SIMD8<Float>(), c21 = SIMD8<Float>()
    var c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
    var ap = a
    var bp = b
    for _ in 0..<kc {
        let b0 = load8(bp), b1 = load8(bp + 8)
        var av = SIMD8<Float>(repeating: ap[0])
        c00.addProduct(av, b0); c01.addProduct(av, b1)
        av = SIMD8<Float>(repeating: ap[1])
        c10.addProduct(av, b0); c11.addProduct(av, b1)
        av = SIMD8<Float>(repeating: ap[2])
        c20.addProduct(av, b0); c21.addProduct(av, b1)
        av = SIMD8<Float>(repeating: ap[3])
        c30.addProduct(av, b0); c31.addProduct(av, b1)
        ap += 4
        bp += bStride
    }
    let va = SIMD8<Float>(repeating: alpha)
    if rows == 4 && cols == microCols {
        storeRow16(c, c00, c01, va, beta)
        storeRow16(c + ldc, c10, c11, va, beta)
        storeRow16(c + 2 * ldc, c20, c21, va, beta)
        storeRow16(c + 3 * ldc, c30, c31, va, beta)
        return
    }
    let zero = SIMD8<Float>()
    storeEdgeTile(c, ldc: ldc, (c00, c01, c10, c11, c20, c21, c30, c31, zero, zero, zero, zero),
                  alpha: alpha, beta: beta, rows: rows, cols: cols)
}

typealias Tile6x16 = (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>,
                      SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>,
                      SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)

/// Edge tile (rows <= 6, cols <= 16): spills the accumulators (row i in vectors 2i, 2i + 1)
/// to the stack and writes only the valid part of C, rounding exactly as `storeRow16` does:
/// whether a row lands in an edge tile depends on how the rows were split into blocks and
/// shares, and the results must not.
@inline(never)
private func storeEdgeTile(_ c: UnsafeMutablePointer<Float>, ldc: Int, _ acc: Tile6x16,
                           alpha: Float, beta: Float, rows: Int, cols: Int) {
    withUnsafeTemporaryAllocation(of: Float.self, capacity: microRows * microCols) { tile in
        let t = tile.baseAddress!
        store8(acc.0, t); store8(acc.1, t + 8)
        store8(acc.2, t + 16); store8(acc.3, t + 24)
        store8(acc.4, t + 32); store8(acc.5, t + 40)
        store8(acc.6, t + 48); store8(acc.7, t + 56)
        store8(acc.8, t + 64); store8(acc.9, t + 72)
        store8(acc.10, t + 80); store8(acc.11, t + 88)
        for i in 0..<rows {
            let row = c + i * ldc
            let acc = t + i * microCols
            if beta == 0 {
                for j in 0..<cols { row[j] = alpha * acc[j] }
            } else {
                for j in 0..<cols { row[j] = (beta * row[j]).addingProduct(alpha, acc[j]) }
            }
        }
    }
}
