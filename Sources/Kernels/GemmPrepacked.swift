// Products with a B operand packed once and reused: the LSTM's recurrent weights are the
// same for every time step of a sequence, so repacking them per step (a copy of the whole
// matrix for a product that uses each element only B times) is avoidable.

/// Floats that `packWhole` writes for op(B) of (k, n): n rounded up to whole panels.
func prepackedCount(k: Int, n: Int) -> Int {
    k * ((n + microCols - 1) / microCols * microCols)
}

/// Packs the 16-column panels `tiles` of op(B) (k, n) into `dst`, K block by K block: block
/// pc (blockK rows, the last one shorter) starts at `dst + pc * width` (width = n rounded up
/// to panels) and holds panel s at `+ s * 16 * kb`, laid out as `packPanelsB` lays it out.
/// The same blocks and panels as `gemm` packs, so products on it sum in the same order.
func packWhole(_ dst: UnsafeMutablePointer<Float>, _ b: Operand, k: Int, n: Int, tiles: Range<Int>) {
    let width = (n + microCols - 1) / microCols * microCols
    let j0 = tiles.lowerBound * microCols, j1 = min(n, tiles.upperBound * microCols)
    guard j1 > j0 else { return }
    for pc in stride(from: 0, to: k, by: blockK) {
        let kb = min(blockK, k - pc)
        packPanelsB(dst + pc * width + j0 * kb, b, p0: pc, kb: kb, j0: j0, nb: j1 - j0)
    }
}

/// C[:, g n + tiles] = alpha op(A) B_g + beta C[:, g n + tiles] for g in 0..<groups: each
/// B_g (k, n) packed by `packWhole`, B_g at `packed + g * prepackedCount(k, n)`, C (m, groups
/// n). Only the 16-column panels `tiles` of every group, on the calling thread, with `packA`
/// as scratch; A is packed once for all groups. Bit-identical to the same columns of `gemm`
/// with each B_g: same K blocks, same kernels, same row panels.
func multiplyPrepacked(
    _ c: UnsafeMutablePointer<Float>, ldc: Int,      // (m, groups * n)
    _ a: Operand,                                    // op: (m, k)
    _ packed: UnsafePointer<Float>,                  // groups * prepackedCount(k, n)
    m: Int, n: Int, k: Int, groups: Int = 1, tiles: Range<Int>, alpha: Float, beta: Float,
    packA: UnsafeMutablePointer<Float>               // (packASize)
) {
    let width = (n + microCols - 1) / microCols * microCols
    let j0 = tiles.lowerBound * microCols, j1 = min(n, tiles.upperBound * microCols)
    guard j1 > j0 else { return }
    if k == 0 {
        for g in 0..<groups { scaleMatrix(c + g * n + j0, ldc: ldc, rows: m, cols: j1 - j0, beta: beta) }
        return
    }
    for pc in stride(from: 0, to: k, by: blockK) {
        let kb = min(blockK, k - pc)
        let betaBlock: Float = pc == 0 ? beta : 1
        for ic in stride(from: 0, to: m, by: blockM) {
            let mb = min(blockM, m - ic)
            let panels = RowPanels(rows: mb)
            packPanelsA(packA, a, i0: ic, mb: mb, p0: pc, kb: kb, panels: panels)
            for g in 0..<groups {
                multiplyPanels(c + ic * ldc + g * n, ldc: ldc, packA, panels, rows: mb,
                               packed + g * k * width + pc * width,
                               tiles: tiles, cols: n, kb: kb, alpha: alpha, beta: betaBlock)
            }
        }
    }
}
