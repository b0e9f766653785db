// The register-blocked inner kernel of `gemm` and the helpers it shares with `gemv`.

/// Rows of C produced by one micro-kernel call (the height of a packed A panel).
let microRows = 6
/// Columns of C produced by one micro-kernel call (the width of a packed B panel).
let microCols = 16

@inline(__always)
func loadVector<V: SIMD>(_ p: UnsafePointer<Float>) -> V where V.Scalar == Float {
    UnsafeRawPointer(p).loadUnaligned(as: V.self)
}

@inline(__always)
func storeVector<V: SIMD>(_ v: V, _ p: UnsafeMutablePointer<Float>) where V.Scalar == Float {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
}

@inline(__always) func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> { loadVector(p) }
@inline(__always) func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) { storeVector(v, p) }
@inline(__always) func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> { loadVector(p) }
@inline(__always) func store16(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) { storeVector(v, p) }

/// Writes `alpha * v + beta * row` into the 16 floats at `row`; with `beta == 0` the old
/// contents are not read (BLAS convention: NaN in C does not leak through).
@inline(__always)
private func storeRow16(_ row: UnsafeMutablePointer<Float>, _ v: SIMD16<Float>,
                        _ alpha: SIMD16<Float>, _ beta: Float) {
    if beta == 0 {
        store16(alpha * v, row)
    } else {
        var r = load16(row) * SIMD16<Float>(repeating: beta)
        r.addProduct(alpha, v)
        store16(r, row)
    }
}

/// C tile (rows, cols) = alpha * Apanel * Bpanel + beta * C tile, for rows <= 6, cols <= 16.
///
/// - `a`: packed A panel, (kc, 6): element (i, p) at `a[p * 6 + i]`, rows past `rows` zero.
/// - `b`: B panel, (kc, 16): row p at `b + p * bStride` (16 for a packed panel), columns past
///   `cols` zero.
/// - `c`: the tile's top-left element, row stride `ldc`.
///
/// One `SIMD16` accumulator per row. Built for AVX2 (x86-64-v3, 16 ymm registers) each is two
/// ymm registers: 12 accumulators + 2 B vectors + 1 broadcast = 15, and per step of p 2 loads,
/// 6 broadcasts and 12 FMAs keep both FMA pipes busy. Built for AVX-512 (x86-64-v4, chosen
/// by Package.swift when the building machine has it) each is one zmm register: 6 FMAs of
/// twice the width per step, on machines whose FMA units are 512 bits wide (Zen 5) up to
/// 1.5x the FLOP/s (6 chains for a 4-cycle latency at 2 FMAs per cycle). Either way every
/// element of C is the same sequence of fused multiply-adds over p, so the two builds give
/// the same bits.
func microKernel6x16(
    _ c: UnsafeMutablePointer<Float>, ldc: Int,
    _ a: UnsafePointer<Float>,
    _ b: UnsafePointer<Float>, bStride: Int,
    kc: Int, alpha: Float, beta: Float, rows: Int, cols: Int
) {
    var t = zeroTile
    var ap = a
    var bp = b
    for _ in 0..<kc {
        addStep(&t, ap, load16(bp))
        ap += 6
        bp += bStride
    }
    if rows == microRows && cols == microCols {
        storeTile(c, ldc: ldc, t, alpha: alpha, beta: beta)
        return
    }
    storeEdgeTile(c, ldc: ldc, t, alpha: alpha, beta: beta, rows: rows, cols: cols)
}

/// Row i of the tile += a[i] * bv, for the 6 rows of a packed panel step.
@inline(__always)
private func addStep(_ t: inout Tile6x16, _ a: UnsafePointer<Float>, _ bv: SIMD16<Float>) {
    t.0.addProduct(SIMD16(repeating: a[0]), bv)
    t.1.addProduct(SIMD16(repeating: a[1]), bv)
    t.2.addProduct(SIMD16(repeating: a[2]), bv)
    t.3.addProduct(SIMD16(repeating: a[3]), bv)
    t.4.addProduct(SIMD16(repeating: a[4]), bv)
    t.5.addProduct(SIMD16(repeating: a[5]), bv)
}

/// A full 6x16 tile into C (`storeRow16` per row).
@inline(__always)
private func storeTile(_ c: UnsafeMutablePointer<Float>, ldc: Int, _ t: Tile6x16, alpha: Float, beta: Float) {
    let va = SIMD16<Float>(repeating: alpha)
    storeRow16(c, t.0, va, beta)
    storeRow16(c + ldc, t.1, va, beta)
    storeRow16(c + 2 * ldc, t.2, va, beta)
    storeRow16(c + 3 * ldc, t.3, va, beta)
    storeRow16(c + 4 * ldc, t.4, va, beta)
    storeRow16(c + 5 * ldc, t.5, va, beta)
}

private let zeroTile: Tile6x16 = (SIMD16(), SIMD16(), SIMD16(), SIMD16(), SIMD16(), SIMD16())

#if AVX512_BUILD
/// Two consecutive 6-row panels (`a0`, `a1`, each packed as for `microKernel6x16`) against one
/// B panel: a 12x16 tile, rows <= 12. AVX-512 builds only (12 zmm accumulators; with AVX2 they
/// would be 24 ymm registers of 16). Six chains covered three quarters of a 4-cycle FMA
/// latency at two FMAs per cycle; twelve cover it. Each element of C is the same chain of
/// fused multiply-adds as in `microKernel6x16`, so results do not depend on which ran.
func microKernel12x16(
    _ c: UnsafeMutablePointer<Float>, ldc: Int,
    _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>,
    _ b: UnsafePointer<Float>, bStride: Int,
    kc: Int, alpha: Float, beta: Float, rows: Int, cols: Int
) {
    var t = zeroTile, u = zeroTile
    var ap = a0, aq = a1
    var bp = b
    for _ in 0..<kc {
        let bv = load16(bp)
        addStep(&t, ap, bv)
        addStep(&u, aq, bv)
        ap += 6
        aq += 6
        bp += bStride
    }
    if rows == 2 * microRows && cols == microCols {
        storeTile(c, ldc: ldc, t, alpha: alpha, beta: beta)
        storeTile(c + microRows * ldc, ldc: ldc, u, alpha: alpha, beta: beta)
        return
    }
    storeEdgeTile(c, ldc: ldc, t, alpha: alpha, beta: beta, rows: min(microRows, rows), cols: cols)
    if rows > microRows {
        storeEdgeTile(c + microRows * ldc, ldc: ldc, u, alpha: alpha, beta: beta,
                      rows: rows - microRows, cols: cols)
    }
}
#endif

/// The 4-row version of `microKernel6x16`, for the last rows of a block whose height is not a
/// multiple of 6 (a batch of 32 rows is 4 x 6 + 2 x 4 instead of 6 x 6 with 4 rows of
/// padding, 11% of the work). `a` is a packed panel of 4 rows: element (i, p) at
/// `a[p * 4 + i]`. Each element of C is summed in the same order as by `microKernel6x16`, so
/// results do not depend on which kernel ran.
func microKernel4x16(
    _ c: UnsafeMutablePointer<Float>, ldc: Int,
    _ a: UnsafePointer<Float>,
    _ b: UnsafePointer<Float>, bStride: Int,
    kc: Int, alpha: Float, beta: Float, rows: Int, cols: Int
) {
    var t = zeroTile4
    var ap = a
    var bp = b
    for _ in 0..<kc {
        addStep4(&t, ap, load16(bp))
        ap += 4
        bp += bStride
    }
    storeTile4(c, ldc: ldc, t, alpha: alpha, beta: beta, rows: rows, cols: cols)
}

#if AVX512_BUILD
/// Two consecutive 4-row panels against one B panel (an 8x16 tile, rows <= 8): the remainder
/// rows of a block (a batch of 32 is 12 + 12 + 8) on 8 zmm accumulators instead of twice 4,
/// which covered half the FMA latency. AVX-512 builds only; the same bits as two 4x16 calls.
func microKernel8x16(
    _ c: UnsafeMutablePointer<Float>, ldc: Int,
    _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>,
    _ b: UnsafePointer<Float>, bStride: Int,
    kc: Int, alpha: Float, beta: Float, rows: Int, cols: Int
) {
    var t = zeroTile4, u = zeroTile4
    var ap = a0, aq = a1
    var bp = b
    for _ in 0..<kc {
        let bv = load16(bp)
        addStep4(&t, ap, bv)
        addStep4(&u, aq, bv)
        ap += 4
        aq += 4
        bp += bStride
    }
    storeTile4(c, ldc: ldc, t, alpha: alpha, beta: beta, rows: min(4, rows), cols: cols)
    if rows > 4 {
        storeTile4(c + 4 * ldc, ldc: ldc, u, alpha: alpha, beta: beta, rows: rows - 4, cols: cols)
    }
}
#endif

private typealias Tile4x16 = (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>)
private let zeroTile4: Tile4x16 = (SIMD16(), SIMD16(), SIMD16(), SIMD16())

@inline(__always)
private func addStep4(_ t: inout Tile4x16, _ a: UnsafePointer<Float>, _ bv: SIMD16<Float>) {
    t.0.addProduct(SIMD16(repeating: a[0]), bv)
    t.1.addProduct(SIMD16(repeating: a[1]), bv)
    t.2.addProduct(SIMD16(repeating: a[2]), bv)
    t.3.addProduct(SIMD16(repeating: a[3]), bv)
}

/// A 4-row tile into C: whole rows by `storeRow16`, an edge tile through `storeEdgeTile`.
@inline(__always)
private func storeTile4(_ c: UnsafeMutablePointer<Float>, ldc: Int, _ t: Tile4x16, alpha: Float, beta: Float,
                        rows: Int, cols: Int) {
    if rows == 4 && cols == microCols {
        let va = SIMD16<Float>(repeating: alpha)
        storeRow16(c, t.0, va, beta)
        storeRow16(c + ldc, t.1, va, beta)
        storeRow16(c + 2 * ldc, t.2, va, beta)
        storeRow16(c + 3 * ldc, t.3, va, beta)
        return
    }
    let zero = SIMD16<Float>()
    storeEdgeTile(c, ldc: ldc, (t.0, t.1, t.2, t.3, zero, zero), alpha: alpha, beta: beta, rows: rows, cols: cols)
}

typealias Tile6x16 = (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>)

/// Edge tile (rows <= 6, cols <= 16): spills the accumulators (row i in vector i) to the
/// stack and writes only the valid part of C, rounding exactly as `storeRow16` does: whether
/// a row lands in an edge tile depends on how the rows were split into blocks and shares, and
/// the results must not.
@inline(never)
private func storeEdgeTile(_ c: UnsafeMutablePointer<Float>, ldc: Int, _ acc: Tile6x16,
                           alpha: Float, beta: Float, rows: Int, cols: Int) {
    withUnsafeTemporaryAllocation(of: Float.self, capacity: microRows * microCols) { tile in
        let t = tile.baseAddress!
        store16(acc.0, t); store16(acc.1, t + 16); store16(acc.2, t + 32)
        store16(acc.3, t + 48); store16(acc.4, t + 64); store16(acc.5, t + 80)
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
