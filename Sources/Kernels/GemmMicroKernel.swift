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
/// by Package.swift when the building machine has it) each is one zmm register, and
/// `multiplyPanels` runs pairs of B panels against one or two A panels per call instead
/// (`microKernel12x32` and its kin), or, for an odd last B panel, the same A panels against
/// one (`microKernel12x16`, `microKernel8x16`). Every element of C
/// is the same sequence of fused multiply-adds over p in every kernel and build, so they all
/// give the same bits.
func microKernel6x16(
    _ c: UnsafeMutablePointer<Float>, ldc: Int,
    _ a: UnsafePointer<Float>,
    _ b: UnsafePointer<Float>, bStride: Int,
    kc: Int, alpha: Float, beta: Float, rows: Int, cols: Int
) {
    onePanel(Rows6.self, c, ldc: ldc, a, b, bStride: bStride, kc: kc, alpha: alpha, beta: beta, rows: rows, cols: cols)
}

/// The 4-row version of `microKernel6x16`, for the last rows of a block whose height is not a
/// multiple of 6 (a batch of 32 rows is 4 x 6 + 2 x 4 instead of 6 x 6 with 4 rows of
/// padding, 11% of the work). `a` is a packed panel of 4 rows: element (i, p) at
/// `a[p * 4 + i]`.
func microKernel4x16(
    _ c: UnsafeMutablePointer<Float>, ldc: Int,
    _ a: UnsafePointer<Float>,
    _ b: UnsafePointer<Float>, bStride: Int,
    kc: Int, alpha: Float, beta: Float, rows: Int, cols: Int
) {
    onePanel(Rows4.self, c, ldc: ldc, a, b, bStride: bStride, kc: kc, alpha: alpha, beta: beta, rows: rows, cols: cols)
}

#if AVX512_BUILD
/// Two consecutive 6-row panels (`a0`, `a1`) against one B panel: a 12x16 tile, rows <= 12.
/// AVX-512 builds only (12 zmm accumulators; with AVX2 they would be 24 ymm registers of 16).
/// Six chains covered three quarters of a 4-cycle FMA latency at two FMAs per cycle; twelve
/// cover it.
func microKernel12x16(
    _ c: UnsafeMutablePointer<Float>, ldc: Int,
    _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>,
    _ b: UnsafePointer<Float>, bStride: Int,
    kc: Int, alpha: Float, beta: Float, rows: Int, cols: Int
) {
    twoPanels(Rows6.self, c, ldc: ldc, a0, a1, b, bStride: bStride, kc: kc, alpha: alpha, beta: beta,
              rows: rows, cols: cols)
}

/// Two consecutive 4-row panels against one B panel (an 8x16 tile, rows <= 8): a block's
/// remainder rows (a batch of 32 is 12 + 12 + 8) on 8 zmm accumulators instead of twice 4,
/// which covered half the FMA latency. AVX-512 builds only.
func microKernel8x16(
    _ c: UnsafeMutablePointer<Float>, ldc: Int,
    _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>,
    _ b: UnsafePointer<Float>, bStride: Int,
    kc: Int, alpha: Float, beta: Float, rows: Int, cols: Int
) {
    twoPanels(Rows4.self, c, ldc: ldc, a0, a1, b, bStride: bStride, kc: kc, alpha: alpha, beta: beta,
              rows: rows, cols: cols)
}

/// Two consecutive 6-row panels against two packed 16-column B panels (`b0`, full, and `b1`,
/// `cols1` valid columns, at `c + 16`): a 12x32 tile on 24 zmm accumulators. Each broadcast
/// element of A feeds two FMAs, so a step of p loads 12 floats of A and 2 vectors of B for 24
/// FMAs where a tile one B panel wide loads one float of A per FMA. AVX-512 builds only.
func microKernel12x32(
    _ c: UnsafeMutablePointer<Float>, ldc: Int,
    _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>,
    _ b0: UnsafePointer<Float>, _ b1: UnsafePointer<Float>,
    kc: Int, alpha: Float, beta: Float, rows: Int, cols1: Int
) {
    twoPanelsTwoColumns(Rows6.self, c, ldc: ldc, a0, a1, b0, b1, kc: kc, alpha: alpha, beta: beta,
                        rows: rows, cols1: cols1)
}

/// Two consecutive 4-row panels against two B panels: an 8x32 tile (16 accumulators).
func microKernel8x32(
    _ c: UnsafeMutablePointer<Float>, ldc: Int,
    _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>,
    _ b0: UnsafePointer<Float>, _ b1: UnsafePointer<Float>,
    kc: Int, alpha: Float, beta: Float, rows: Int, cols1: Int
) {
    twoPanelsTwoColumns(Rows4.self, c, ldc: ldc, a0, a1, b0, b1, kc: kc, alpha: alpha, beta: beta,
                        rows: rows, cols1: cols1)
}

/// One 6-row panel against two B panels: a 6x32 tile (12 accumulators).
func microKernel6x32(
    _ c: UnsafeMutablePointer<Float>, ldc: Int, _ a: UnsafePointer<Float>,
    _ b0: UnsafePointer<Float>, _ b1: UnsafePointer<Float>,
    kc: Int, alpha: Float, beta: Float, rows: Int, cols1: Int
) {
    onePanelTwoColumns(Rows6.self, c, ldc: ldc, a, b0, b1, kc: kc, alpha: alpha, beta: beta,
                       rows: rows, cols1: cols1)
}

/// One 4-row panel against two B panels: a 4x32 tile (8 accumulators).
func microKernel4x32(
    _ c: UnsafeMutablePointer<Float>, ldc: Int, _ a: UnsafePointer<Float>,
    _ b0: UnsafePointer<Float>, _ b1: UnsafePointer<Float>,
    kc: Int, alpha: Float, beta: Float, rows: Int, cols1: Int
) {
    onePanelTwoColumns(Rows4.self, c, ldc: ldc, a, b0, b1, kc: kc, alpha: alpha, beta: beta,
                       rows: rows, cols1: cols1)
}

@inline(__always)
private func onePanelTwoColumns<T: PanelTile>(
    _: T.Type, _ c: UnsafeMutablePointer<Float>, ldc: Int, _ a: UnsafePointer<Float>,
    _ b0: UnsafePointer<Float>, _ b1: UnsafePointer<Float>, kc: Int, alpha: Float, beta: Float,
    rows: Int, cols1: Int
) {
    var t = T(), t1 = T()
    var ap = a, bp = b0, bq = b1
    for _ in 0..<kc {
        t.add(ap, load16(bp), load16(bq), right: &t1)
        ap += T.height
        bp += microCols
        bq += microCols
    }
    store(t, c, ldc: ldc, alpha: alpha, beta: beta, rows: rows, cols: microCols)
    store(t1, c + microCols, ldc: ldc, alpha: alpha, beta: beta, rows: rows, cols: cols1)
}

@inline(__always)
private func twoPanelsTwoColumns<T: PanelTile>(
    _: T.Type, _ c: UnsafeMutablePointer<Float>, ldc: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>,
    _ b0: UnsafePointer<Float>, _ b1: UnsafePointer<Float>, kc: Int, alpha: Float, beta: Float,
    rows: Int, cols1: Int
) {
    var t = T(), t1 = T(), u = T(), u1 = T()
    var ap = a0, aq = a1, bp = b0, bq = b1
    for _ in 0..<kc {
        let bv = load16(bp), bw = load16(bq)
        t.add(ap, bv, bw, right: &t1)
        u.add(aq, bv, bw, right: &u1)
        ap += T.height
        aq += T.height
        bp += microCols
        bq += microCols
    }
    let top = min(T.height, rows)
    store(t, c, ldc: ldc, alpha: alpha, beta: beta, rows: top, cols: microCols)
    store(t1, c + microCols, ldc: ldc, alpha: alpha, beta: beta, rows: top, cols: cols1)
    if rows > T.height {
        let below = c + T.height * ldc
        store(u, below, ldc: ldc, alpha: alpha, beta: beta, rows: rows - T.height, cols: microCols)
        store(u1, below + microCols, ldc: ldc, alpha: alpha, beta: beta, rows: rows - T.height, cols: cols1)
    }
}
#endif

/// The accumulators of one packed A panel of `height` rows against a 16-column B panel: one
/// `SIMD16` per row.
private protocol PanelTile {
    static var height: Int { get }
    init()
    /// Row i += a[i] * bv, for one step of p.
    mutating func add(_ a: UnsafePointer<Float>, _ bv: SIMD16<Float>)
    /// Row i += a[i] * bv and right's row i += a[i] * bw: one broadcast of a[i] for both.
    mutating func add(_ a: UnsafePointer<Float>, _ bv: SIMD16<Float>, _ bw: SIMD16<Float>, right: inout Self)
    /// The tile's rows as the six of an edge tile (rows past `height` zero).
    var six: Tile6x16 { get }
}

private struct Rows6: PanelTile {
    var r: Tile6x16 = (SIMD16(), SIMD16(), SIMD16(), SIMD16(), SIMD16(), SIMD16())
    static var height: Int { 6 }
    @inline(__always) mutating func add(_ a: UnsafePointer<Float>, _ bv: SIMD16<Float>) {
        r.0.addProduct(SIMD16(repeating: a[0]), bv)
        r.1.addProduct(SIMD16(repeating: a[1]), bv)
        r.2.addProduct(SIMD16(repeating: a[2]), bv)
        r.3.addProduct(SIMD16(repeating: a[3]), bv)
        r.4.addProduct(SIMD16(repeating: a[4]), bv)
        r.5.addProduct(SIMD16(repeating: a[5]), bv)
    }
    @inline(__always) mutating func add(_ a: UnsafePointer<Float>, _ bv: SIMD16<Float>, _ bw: SIMD16<Float>,
                                        right: inout Rows6) {
        var x = SIMD16<Float>(repeating: a[0]); r.0.addProduct(x, bv); right.r.0.addProduct(x, bw)
        x = SIMD16(repeating: a[1]); r.1.addProduct(x, bv); right.r.1.addProduct(x, bw)
        x = SIMD16(repeating: a[2]); r.2.addProduct(x, bv); right.r.2.addProduct(x, bw)
        x = SIMD16(repeating: a[3]); r.3.addProduct(x, bv); right.r.3.addProduct(x, bw)
        x = SIMD16(repeating: a[4]); r.4.addProduct(x, bv); right.r.4.addProduct(x, bw)
        x = SIMD16(repeating: a[5]); r.5.addProduct(x, bv); right.r.5.addProduct(x, bw)
    }
    var six: Tile6x16 { r }
}

private struct Rows4: PanelTile {
    var r: (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) = (SIMD16(), SIMD16(), SIMD16(), SIMD16())
    static var height: Int { 4 }
    @inline(__always) mutating func add(_ a: UnsafePointer<Float>, _ bv: SIMD16<Float>) {
        r.0.addProduct(SIMD16(repeating: a[0]), bv)
        r.1.addProduct(SIMD16(repeating: a[1]), bv)
        r.2.addProduct(SIMD16(repeating: a[2]), bv)
        r.3.addProduct(SIMD16(repeating: a[3]), bv)
    }
    @inline(__always) mutating func add(_ a: UnsafePointer<Float>, _ bv: SIMD16<Float>, _ bw: SIMD16<Float>,
                                        right: inout Rows4) {
        var x = SIMD16<Float>(repeating: a[0]); r.0.addProduct(x, bv); right.r.0.addProduct(x, bw)
        x = SIMD16(repeating: a[1]); r.1.addProduct(x, bv); right.r.1.addProduct(x, bw)
        x = SIMD16(repeating: a[2]); r.2.addProduct(x, bv); right.r.2.addProduct(x, bw)
        x = SIMD16(repeating: a[3]); r.3.addProduct(x, bv); right.r.3.addProduct(x, bw)
    }
    var six: Tile6x16 { (r.0, r.1, r.2, r.3, SIMD16(), SIMD16()) }
}

@inline(__always)
private func onePanel<T: PanelTile>(
    _: T.Type, _ c: UnsafeMutablePointer<Float>, ldc: Int, _ a: UnsafePointer<Float>,
    _ b: UnsafePointer<Float>, bStride: Int, kc: Int, alpha: Float, beta: Float, rows: Int, cols: Int
) {
    var t = T()
    var ap = a, bp = b
    for _ in 0..<kc {
        t.add(ap, load16(bp))
        ap += T.height
        bp += bStride
    }
    store(t, c, ldc: ldc, alpha: alpha, beta: beta, rows: rows, cols: cols)
}

@inline(__always)
private func twoPanels<T: PanelTile>(
    _: T.Type, _ c: UnsafeMutablePointer<Float>, ldc: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>,
    _ b: UnsafePointer<Float>, bStride: Int, kc: Int, alpha: Float, beta: Float, rows: Int, cols: Int
) {
    var t = T(), u = T()
    var ap = a0, aq = a1, bp = b
    for _ in 0..<kc {
        let bv = load16(bp)
        t.add(ap, bv)
        u.add(aq, bv)
        ap += T.height
        aq += T.height
        bp += bStride
    }
    store(t, c, ldc: ldc, alpha: alpha, beta: beta, rows: min(T.height, rows), cols: cols)
    if rows > T.height {
        store(u, c + T.height * ldc, ldc: ldc, alpha: alpha, beta: beta, rows: rows - T.height, cols: cols)
    }
}

/// A tile into C: whole rows by `storeRow16`, a partial tile through `storeEdgeTile`.
@inline(__always)
private func store<T: PanelTile>(_ t: T, _ c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, beta: Float,
                                 rows: Int, cols: Int) {
    let r = t.six
    guard rows == T.height && cols == microCols else {
        storeEdgeTile(c, ldc: ldc, r, alpha: alpha, beta: beta, rows: rows, cols: cols)
        return
    }
    let va = SIMD16<Float>(repeating: alpha)
    storeRow16(c, r.0, va, beta)
    storeRow16(c + ldc, r.1, va, beta)
    storeRow16(c + 2 * ldc, r.2, va, beta)
    storeRow16(c + 3 * ldc, r.3, va, beta)
    if T.height == 6 {
        storeRow16(c + 4 * ldc, r.4, va, beta)
        storeRow16(c + 5 * ldc, r.5, va, beta)
    }
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
