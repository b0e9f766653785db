// Packing for `gemm`: copies of blocks of op(A) and op(B) into the panel layouts the
// micro-kernels read (see GemmMicroKernel.swift), reading each source sequentially.

/// How the rows of an mb-row block are cut into micro-kernel panels: `sixes` panels of 6 rows,
/// then `fours` panels of 4 rows; only the last panel may be partial (zero-padded). Four-row
/// panels cover remainders that 6-row panels would pad: 32 = 4 x 6 + 2 x 4, 16 = 2 x 6 + 4.
/// Panels never hold more rows than 6-row panels alone would, so `blockM` rows always fit.
struct RowPanels {
    let sixes: Int
    let fours: Int

    init(rows mb: Int) {
        let full = mb / microRows
        switch mb % microRows {
        case 0: (sixes, fours) = (full, 0)
        case 2 where full > 0: (sixes, fours) = (full - 1, 2)
        case 5: (sixes, fours) = (full + 1, 0)
        default: (sixes, fours) = (full, 1)
        }
    }

    var count: Int { sixes + fours }
    func height(_ panel: Int) -> Int { panel < sixes ? microRows : 4 }
    /// First row of `panel`; its packed data starts at `start * kb`.
    func start(_ panel: Int) -> Int {
        panel <= sixes ? panel * microRows : sixes * microRows + (panel - sixes) * 4
    }
}

/// Packs op(A)[i0 ..< i0+mb, p0 ..< p0+kb] into the panels of `panels`: a panel of height h
/// starting at row r holds element (r + i, p) at `dst[r * kb + p * h + i]`; rows past the
/// edge are zero.
func packPanelsA(_ dst: UnsafeMutablePointer<Float>, _ a: Operand,
                         i0: Int, mb: Int, p0: Int, kb: Int, panels: RowPanels) {
    if a.transposed {
        packPanelsOfTransposedA(dst, a, i0: i0, mb: mb, p0: p0, kb: kb, panels: panels)
        return
    }
    for panel in 0..<panels.count {
        let ir = panels.start(panel)
        let src = a.base + (i0 + ir) * a.ld + p0
        let rows = min(panels.height(panel), mb - ir)
        if panel < panels.sixes {
            packPanelOfA(dst + ir * kb, src, ld: a.ld, rows: rows, height: microRows, kb: kb)
        } else {
            packPanelOfA(dst + ir * kb, src, ld: a.ld, rows: rows, height: 4, kb: kb)
        }
    }
}

/// One panel of an untransposed A: `rows` (<= height) rows of `src`, `ld` apart, into
/// `out[p * height + i]`, zero past `rows`. Eight columns of every row are loaded, transposed
/// in registers and stored as eight consecutive panel rows, so the panel is written
/// sequentially and the source rows are read as parallel streams. (Copying one element at a
/// time with a stride of `height` made products with a large untransposed A, such as the
/// output layer's input gradient (2048 x 5000) x (5000 x 256), 15-20% slower.) Each 8-wide store runs
/// `8 - height` floats past its panel row; the next store, the next panel or the slack of
/// `packASize` takes them.
@inline(__always)
private func packPanelOfA(_ out: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>,
                          ld: Int, rows: Int, height h: Int, kb: Int) {
    let zero = SIMD8<Float>()
    let vectorK = kb / 8 * 8
    var p = 0
    while p < vectorK {
        @inline(__always)
        func row(_ i: Int) -> SIMD8<Float> { i < rows ? load8(src + i * ld + p) : zero }
        let t = transpose8x8((row(0), row(1), row(2), row(3),
                              h > 4 ? row(4) : zero, h > 4 ? row(5) : zero, zero, zero))
        let o = out + p * h
        store8(t.0, o); store8(t.1, o + h); store8(t.2, o + 2 * h); store8(t.3, o + 3 * h)
        store8(t.4, o + 4 * h); store8(t.5, o + 5 * h); store8(t.6, o + 6 * h); store8(t.7, o + 7 * h)
        p += 8
    }
    while p < kb {
        for i in 0..<h { out[p * h + i] = i < rows ? src[i * ld + p] : 0 }
        p += 1
    }
}

/// The panels of a transposed A (op(A) row i is a column of A): 16 rows of A at a time, each
/// panel receiving their 16 consecutive panel rows (384 bytes for a 6-row panel) before the
/// next. One row of A at a time wrote 24 bytes to every panel in turn, panels 9 KiB apart,
/// and read one row per 4 KiB page at a time: that packing took 19% of the (1024 x 2048) x
/// (2048 x 256) product with A transposed (the LSTM's weight gradients dgates^T x) under
/// perf; 16 rows take 10% (8 rows 14%, 32 rows 13%), and the product runs about 15% faster.
private func packPanelsOfTransposedA(_ dst: UnsafeMutablePointer<Float>, _ a: Operand,
                                     i0: Int, mb: Int, p0: Int, kb: Int, panels: RowPanels) {
    // Full panels take the fixed-length copies; the last panel may be partial.
    let last = panels.count - 1
    let lastStart = panels.start(last), lastHeight = panels.height(last)
    let lastRows = mb - lastStart
    let fullSixes = lastRows == lastHeight || last >= panels.sixes ? panels.sixes : panels.sixes - 1
    let fullFours = lastRows == lastHeight || last < panels.sixes ? panels.fours : panels.fours - 1
    var p = 0
    while p < kb {
        let rows = min(16, kb - p)
        let src = a.base + (p0 + p) * a.ld + i0
        var i = 0
        var out = dst + p * microRows
        for _ in 0..<fullSixes {
            for q in 0..<rows {
                let from = src + q * a.ld + i, to = out + q * microRows
                storeVector(loadVector(from) as SIMD4<Float>, to)
                storeVector(loadVector(from + 4) as SIMD2<Float>, to + 4)
            }
            out += microRows * kb
            i += microRows
        }
        out = dst + i * kb + p * 4
        for _ in 0..<fullFours {
            for q in 0..<rows {
                storeVector(loadVector(src + q * a.ld + i) as SIMD4<Float>, out + q * 4)
            }
            out += 4 * kb
            i += 4
        }
        if lastRows != lastHeight {
            for q in 0..<rows {
                let from = src + q * a.ld + lastStart, tail = dst + lastStart * kb + (p + q) * lastHeight
                for r in 0..<lastRows { tail[r] = from[r] }
                for r in lastRows..<lastHeight { tail[r] = 0 }
            }
        }
        p += rows
    }
}

/// Packs op(B)[p0 ..< p0+kb, j0 ..< j0+nb] into panels of 16 columns: panel s holds element
/// (p, j) at `dst[s * 16 * kb + p * 16 + j]`; columns past the edge are zero.
func packPanelsB(_ dst: UnsafeMutablePointer<Float>, _ b: Operand,
                         p0: Int, kb: Int, j0: Int, nb: Int) {
    for jr in stride(from: 0, to: nb, by: microCols) {
        let panel = dst + jr * kb
        let cols = min(microCols, nb - jr)
        if b.transposed && cols == microCols {
            // op(B) column j is a row of B: read 8 values from each of 16 rows, transpose the
            // two 8x8 blocks in registers, write 8 rows of the panel.
            let vectorK = kb / 8 * 8
            let src = b.base + (j0 + jr) * b.ld + p0
            var p = 0
            while p < vectorK {
                storeRows8(transpose8x8(loadRows8(src + p, b.ld)), panel + p * microCols, microCols)
                storeRows8(transpose8x8(loadRows8(src + 8 * b.ld + p, b.ld)),
                           panel + p * microCols + 8, microCols)
                p += 8
            }
            for j in 0..<microCols {
                for q in vectorK..<kb { panel[q * microCols + j] = src[j * b.ld + q] }
            }
        } else if b.transposed {
            // op(B) column j is a row of B: read it sequentially, write with stride 16.
            for j in 0..<cols {
                let src = b.base + (j0 + jr + j) * b.ld + p0
                for p in 0..<kb { panel[p * microCols + j] = src[p] }
            }
            for j in cols..<microCols {
                for p in 0..<kb { panel[p * microCols + j] = 0 }
            }
        } else if cols < microCols {
            for p in 0..<kb {
                let src = b.base + (p0 + p) * b.ld + j0 + jr
                let out = panel + p * microCols
                for j in 0..<cols { out[j] = src[j] }
                for j in cols..<microCols { out[j] = 0 }
            }
        }
    }
    guard !b.transposed else { return }
    // Full panels of an untransposed B are copied 8 rows at a time across all panels: the 8
    // rows of B are read sequentially, as 8 streams (panel by panel would read 64 bytes from
    // each of kb pages and stall on cache and TLB misses), and each panel receives 512
    // consecutive bytes. One row at a time wrote 64 bytes to each panel in turn, lines that
    // all fall in the same L1 set (panels are 24 KiB apart); 8 rows pack 15-25% faster and
    // make a 32 x 384 x 1024 product 4-7% faster.
    let fullCols = nb / microCols * microCols
    var p = 0
    while p < kb {
        let rows = min(8, kb - p)
        let src = b.base + (p0 + p) * b.ld + j0
        var out = dst + p * microCols
        var j = 0
        while j < fullCols {
            for q in 0..<rows {
                store8(load8(src + q * b.ld + j), out + q * microCols)
                store8(load8(src + q * b.ld + j + 8), out + q * microCols + 8)
            }
            out += microCols * kb
            j += microCols
        }
        p += rows
    }
}

typealias Rows8 = (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>,
                  SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)

/// Transposes an 8x8 block held as 8 row vectors: three rounds of splitting each pair of rows
/// into its even and odd elements (a perfect shuffle; 2^3 = 8). Tuples, not arrays: an array
/// here would be allocated on every call.
@inline(__always)
private func transpose8x8(_ r: Rows8) -> Rows8 {
    @inline(__always)
    func split(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> (SIMD8<Float>, SIMD8<Float>) {
        let pair = SIMD16<Float>(lowHalf: a, highHalf: b)
        return (pair.evenHalf, pair.oddHalf)
    }
    @inline(__always)
    func round(_ r: Rows8) -> Rows8 {
        let (e0, o0) = split(r.0, r.1), (e1, o1) = split(r.2, r.3)
        let (e2, o2) = split(r.4, r.5), (e3, o3) = split(r.6, r.7)
        return (e0, e1, e2, e3, o0, o1, o2, o3)
    }
    return round(round(round(r)))
}

/// Loads 8 floats from each of 8 rows `ld` apart.
@inline(__always)
private func loadRows8(_ p: UnsafePointer<Float>, _ ld: Int) -> Rows8 {
    (load8(p), load8(p + ld), load8(p + 2 * ld), load8(p + 3 * ld),
     load8(p + 4 * ld), load8(p + 5 * ld), load8(p + 6 * ld), load8(p + 7 * ld))
}

/// Stores 8 vectors at `p`, `p + ld`, ... .
@inline(__always)
private func storeRows8(_ r: Rows8, _ p: UnsafeMutablePointer<Float>, _ ld: Int) {
    store8(r.0, p); store8(r.1, p + ld); store8(r.2, p + 2 * ld); store8(r.3, p + 3 * ld)
    store8(r.4, p + 4 * ld); store8(r.5, p + 5 * ld); store8(r.6, p + 6 * ld); store8(r.7, p + 7 * ld)
}
