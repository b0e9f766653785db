// One time step of the LSTM recurrence: the recurrent product and the cell, split across the
// workspace's threads by hidden units.
//
// Why fused and prepacked: a step's product (B, H) x (H, 4H) is small (B = 32, H = 256: 17
// MFLOP), so repacking W_hh for it on every step, and running the cell on one thread between
// two parallel products, kept two threads at the speed of one. W_hh is packed once per
// sequence (`packLSTMWeights`); each share then computes the four gate columns of its hidden
// units and runs the cell on exactly those units, so a step is one parallel job.
//
// A whole sequence whose batch gives each thread 6 rows or more goes through
// `lstmForwardSequence` and `lstmBackwardSequence` instead, split by batch rows
// (`LSTMSequence.swift`); these steps serve smaller batches and are its reference.

/// Which use of W_hh (4H, H) a packed copy serves.
public enum LSTMWeightsUse: Sendable {
    /// gates += h_{t-1} W_hh^T (`lstmForwardStep`): W_hh^T as four (H, H) gate blocks.
    case forward
    /// dh_{t-1} = dgates_t W_hh (`lstmBackwardStep`).
    case backward
}

/// Floats of a packed W_hh for either use: 4H x H with H rounded up to 16-column panels.
public func lstmPackedWeightsCount(hidden: Int) -> Int {
    4 * prepackedCount(k: hidden, n: hidden)
}

/// Shares of a step: the 16-unit panels of H, split evenly.
private func stepShares(batch: Int, hidden: Int, workspace: GemmWorkspace) -> Int {
    let tiles = (hidden + microCols - 1) / microCols
    let work = batch * 4 * hidden * hidden
    return max(1, min(work < parallelThreshold ? 1 : workspace.threads, tiles))
}

private func units(_ tiles: Range<Int>, hidden: Int) -> Range<Int> {
    min(hidden, tiles.lowerBound * microCols)..<min(hidden, tiles.upperBound * microCols)
}

/// Packs W_hh (4H, H) into `dst` (`lstmPackedWeightsCount(hidden:)` floats) for `use`.
/// Allocates nothing; call again after W_hh changes.
public func packLSTMWeights(_ dst: UnsafeMutablePointer<Float>, _ whh: UnsafePointer<Float>,
                            hidden: Int, for use: LSTMWeightsUse, workspace: GemmWorkspace) {
    guard hidden >= 1 else { fatalError("packLSTMWeights: hidden \(hidden)") }
    let parts = stepShares(batch: 1, hidden: hidden, workspace: workspace)
    workspace.parallelFor(threads: parts, PackWeights(dst: dst, whh: whh, hidden: hidden,
                                                      use: use, parts: parts))
}

private struct PackWeights: ParallelJob {
    let dst: UnsafeMutablePointer<Float>, whh: UnsafePointer<Float>
    let hidden: Int, use: LSTMWeightsUse, parts: Int

    func run(part: Int) {
        let h = hidden
        let tiles = evenSplit(units: (h + microCols - 1) / microCols, parts: parts, part: part)
        switch use {
        case .forward:
            // Gate block q of W_hh^T (H, H) is rows qH..<(q+1)H of W_hh, transposed.
            for q in 0..<4 {
                packWhole(dst + q * prepackedCount(k: h, n: h),
                          Operand(base: whh + q * h * h, ld: h, transposed: true), k: h, n: h, tiles: tiles)
            }
        case .backward:
            packWhole(dst, Operand(base: whh, ld: h, transposed: false), k: 4 * h, n: h, tiles: tiles)
        }
    }
}

/// One forward time step for a batch: gates += hPrev W_hh^T, then `lstmCellForward`.
///
/// - `h`, `c`: (B, H), written with h_t, c_t.
/// - `gates`: (B, 4H), in: x_t W_ih^T + biases; out: the activations `lstmCellBackward` reads.
/// - `hPrev`, `cPrev`: (B, H); `cPrev` may be `c`.
/// - `packedWeights`: W_hh packed by `packLSTMWeights(for: .forward)`.
///
/// Bit-identical to `gemm(gates, hPrev, W_hh^T, beta: 1)` followed by `lstmCellForward`, for
/// any thread count. Allocates nothing.
public func lstmForwardStep(
    _ h: UnsafeMutablePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    _ gates: UnsafeMutablePointer<Float>,
    _ hPrev: UnsafePointer<Float>, _ cPrev: UnsafePointer<Float>,
    packedWeights: UnsafePointer<Float>, batch: Int, hidden: Int, workspace: GemmWorkspace
) {
    guard batch >= 0, hidden >= 1 else { fatalError("lstmForwardStep: batch \(batch) hidden \(hidden)") }
    let parts = stepShares(batch: batch, hidden: hidden, workspace: workspace)
    workspace.parallelFor(threads: parts, ForwardStep(
        h: h, c: c, gates: gates, hPrev: hPrev, cPrev: cPrev, packed: packedWeights,
        batch: batch, hidden: hidden, parts: parts, workspace: workspace))
}

private struct ForwardStep: ParallelJob {
    let h: UnsafeMutablePointer<Float>, c: UnsafeMutablePointer<Float>
    let gates: UnsafeMutablePointer<Float>
    let hPrev: UnsafePointer<Float>, cPrev: UnsafePointer<Float>, packed: UnsafePointer<Float>
    let batch: Int, hidden: Int, parts: Int
    let workspace: GemmWorkspace

    func run(part: Int) {
        let tiles = evenSplit(units: (hidden + microCols - 1) / microCols, parts: parts, part: part)
        multiplyPrepacked(gates, ldc: 4 * hidden, Operand(base: hPrev, ld: hidden, transposed: false),
                          packed, m: batch, n: hidden, k: hidden, groups: 4, tiles: tiles,
                          alpha: 1, beta: 1, packA: workspace.packA(thread: part))
        lstmCellForward(h, c, gates, gates, cPrev, batch: batch, hidden: hidden,
                        units: units(tiles, hidden: hidden))
    }
}

/// One backward time step for a batch (steps run from the last to the first):
/// dh = dout + dgatesNext W_hh (the gradient reaching h_t from above and from step t+1), then
/// `lstmCellBackward`.
///
/// - `dgates`: (B, 4H), written: the gradient of step t's pre-activations.
/// - `dc`: (B, H), in: the gradient reaching c_t (zero at the last step); out: c_{t-1}'s.
/// - `dh`: (B, H) scratch, written with the gradient reaching h_t.
/// - `dout`: (B, H), the gradient of the output h_t.
/// - `dgatesNext`: (B, 4H), step t+1's `dgates`; nil at the last step (nothing flows back).
/// - `acts`, `cPrev`, `c`: as `lstmForwardStep` left them for step t.
/// - `packedWeights`: W_hh packed by `packLSTMWeights(for: .backward)`.
///
/// Bit-identical to `gemm(dhNext, dgatesNext, W_hh)`, dh = dout + dhNext and
/// `lstmCellBackward`, for any thread count. Allocates nothing.
public func lstmBackwardStep(
    _ dgates: UnsafeMutablePointer<Float>, _ dc: UnsafeMutablePointer<Float>,
    _ dh: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>,
    _ dgatesNext: UnsafePointer<Float>?,
    _ acts: UnsafePointer<Float>, _ cPrev: UnsafePointer<Float>, _ c: UnsafePointer<Float>,
    packedWeights: UnsafePointer<Float>, batch: Int, hidden: Int, workspace: GemmWorkspace
) {
    guard batch >= 0, hidden >= 1 else { fatalError("lstmBackwardStep: batch \(batch) hidden \(hidden)") }
    let parts = stepShares(batch: batch, hidden: hidden, workspace: workspace)
    workspace.parallelFor(threads: parts, BackwardStep(
        dgates: dgates, dc: dc, dh: dh, dout: dout, dgatesNext: dgatesNext, acts: acts,
        cPrev: cPrev, c: c, packed: packedWeights, batch: batch, hidden: hidden, parts: parts,
        workspace: workspace))
}

private struct BackwardStep: ParallelJob {
    let dgates: UnsafeMutablePointer<Float>, dc: UnsafeMutablePointer<Float>
    let dh: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>
    let dgatesNext: UnsafePointer<Float>?
    let acts: UnsafePointer<Float>, cPrev: UnsafePointer<Float>, c: UnsafePointer<Float>
    let packed: UnsafePointer<Float>
    let batch: Int, hidden: Int, parts: Int
    let workspace: GemmWorkspace

    func run(part: Int) {
        let tiles = evenSplit(units: (hidden + microCols - 1) / microCols, parts: parts, part: part)
        let share = units(tiles, hidden: hidden)
        if let dgatesNext {
            multiplyPrepacked(dh, ldc: hidden, Operand(base: dgatesNext, ld: 4 * hidden, transposed: false),
                              packed, m: batch, n: hidden, k: 4 * hidden, tiles: tiles,
                              alpha: 1, beta: 0, packA: workspace.packA(thread: part))
            for b in 0..<batch {
                let row = b * hidden + share.lowerBound
                addInPlace(dh + row, dout + row, count: share.count)
            }
        } else {
            for b in 0..<batch {
                (dh + b * hidden + share.lowerBound).update(from: dout + b * hidden + share.lowerBound,
                                                            count: share.count)
            }
        }
        lstmCellBackward(dgates, dc, dh, dc, acts, cPrev, c, batch: batch, hidden: hidden, units: share)
    }
}

/// Reference for `lstmForwardStep` from the unpacked W_hh (4H, H): `gemmReference` then
/// `lstmCellForwardReference` (Double inside each); `gates` is read, `acts` written.
public func lstmForwardStepReference(
    _ h: UnsafeMutablePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    _ acts: UnsafeMutablePointer<Float>, _ gates: UnsafePointer<Float>,
    _ hPrev: UnsafePointer<Float>, _ cPrev: UnsafePointer<Float>, _ whh: UnsafePointer<Float>,
    batch: Int, hidden: Int
) {
    let g = 4 * hidden
    let pre = UnsafeMutablePointer<Float>.allocate(capacity: max(1, batch * g))
    defer { pre.deallocate() }
    pre.update(from: gates, count: batch * g)
    gemmReference(pre, ldc: g, hPrev, lda: hidden, transA: .none, whh, ldb: hidden, transB: .transpose,
                  m: batch, n: g, k: hidden, beta: 1)
    lstmCellForwardReference(h, c, acts, pre, cPrev, batch: batch, hidden: hidden)
}

/// Reference for `lstmBackwardStep` from the unpacked W_hh (4H, H); `dcPrev` written, `dc` read.
public func lstmBackwardStepReference(
    _ dgates: UnsafeMutablePointer<Float>, _ dcPrev: UnsafeMutablePointer<Float>,
    _ dout: UnsafePointer<Float>, _ dc: UnsafePointer<Float>, _ dgatesNext: UnsafePointer<Float>?,
    _ acts: UnsafePointer<Float>, _ cPrev: UnsafePointer<Float>, _ c: UnsafePointer<Float>,
    _ whh: UnsafePointer<Float>, batch: Int, hidden: Int
) {
    let bh = batch * hidden
    let dh = UnsafeMutablePointer<Float>.allocate(capacity: max(1, bh))
    defer { dh.deallocate() }
    dh.update(from: dout, count: bh)
    if let dgatesNext {
        gemmReference(dh, ldc: hidden, dgatesNext, lda: 4 * hidden, transA: .none, whh, ldb: hidden,
                      transB: .none, m: batch, n: hidden, k: 4 * hidden, beta: 1)
    }
    lstmCellBackwardReference(dgates, dcPrev, dh, dc, acts, cPrev, c, batch: batch, hidden: hidden)
}

/// y[i] += x[i] for i in 0..<count, a `Lanes` vector at a time (a plain loop over two pointers
/// that may alias stayed scalar: `vaddss` in the disassembly). Elementwise, so the same bits.
func addInPlace(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
    var i = 0
    while i + Lanes.scalarCount <= count {
        let sum: Lanes = loadVector(y + i) + loadVector(x + i)
        storeVector(sum, y + i)
        i += Lanes.scalarCount
    }
    while i < count {
        y[i] += x[i]
        i += 1
    }
}
