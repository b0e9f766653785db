// The LSTM recurrence over a whole sequence, split across the workspace's threads by batch rows.
//
// Why by rows: the sequences of a batch never meet, so a thread that owns rows r0..<r1 runs
// all T steps of them with no other thread in sight. Split by hidden units instead
// (`lstmForwardStep`), the threads must meet after every step, because each needs all of
// h_{t-1}: 2 x T x layers meetings per training step, each waiting for the slower thread. The
// price is that every thread streams the whole packed W_hh (1 MB at H = 256) per step rather
// than its half, with half the rows to reuse each panel on, which small batches cannot afford; `kernelbench lstmseq` and
// `trainbench` measure both (Kernels/README.md).
//
// The products and the cell compute each element exactly as the per-step functions do (the
// same K blocks and FMA chains: which row panel a row falls in does not change its sums), so a
// sequence gives the same bits whichever way it is split and however many threads run it.

/// Rows a thread must get before splitting a sequence by rows beats splitting every step by
/// hidden units: `kernelbench lstmseq 2 B 256 64` on a Zen 5, forward, best GFLOP/s split by
/// rows against by units: 174 against 308 at B = 4 (2 rows a thread), 342 against 365 at B = 8
/// (4), 399 against 378 at B = 12 (6), 376 against 231 at B = 16 (8).
private let lstmRowsPerShare = 6

/// Parts of a sequence split by rows; 1 when the batch is too small to split (then each step
/// is split by hidden units, `lstmForwardStep`, if it is large enough).
private func rowShares(batch: Int, hidden: Int, workspace: GemmWorkspace) -> Int {
    guard batch * 4 * hidden * hidden >= parallelThreshold else { return 1 }
    return max(1, min(workspace.threads, batch / lstmRowsPerShare))
}

/// Where a first LSTM layer's gate pre-activations come from when they are gathered rather
/// than computed: for step t and sequence b, row `ids[t * B + b]` of `rows` (V, 4H), a table of
/// x W_ih^T + biases per token (the input projection of an embedding lookup).
public struct LSTMGateTable {
    public let rows: UnsafePointer<Float>
    public let ids: UnsafePointer<Int32>  // (T, B)
    public let vocabulary: Int            // V

    public init(rows: UnsafePointer<Float>, ids: UnsafePointer<Int32>, vocabulary: Int) {
        self.rows = rows
        self.ids = ids
        self.vocabulary = vocabulary
    }
}

/// The forward recurrence of T steps for a batch: for each step t in 0..<T, gates_t +=
/// h_{t-1} W_hh^T and the cell (`lstmForwardStep`).
///
/// - `h`: (T+1, B, H): slot 0 holds h_0 (read); slots 1...T are written with h_1...h_T.
/// - `c`: with `cStride` B*H, (T+1, B, H) like `h` (slot 0 read, the rest written); with
///   `cStride` 0, one (B, H) buffer holding c_0 on entry and c_T on return.
/// - `gates`: with `gatesStride` B*4H, (T, B, 4H), in: each step's x_t W_ih^T + biases; out:
///   the activations `lstmBackwardSequence` reads. With `gatesStride` 0 (only with a gate
///   table), one step's (B, 4H) of scratch.
/// - `packedWeights`: W_hh packed by `packLSTMWeights(for: .forward)`.
///
/// Bit-identical to `lstmForwardStep` over the steps, for any thread count. Allocates nothing.
public func lstmForwardSequence(
    _ h: UnsafeMutablePointer<Float>, _ c: UnsafeMutablePointer<Float>, cStride: Int,
    _ gates: UnsafeMutablePointer<Float>, packedWeights: UnsafePointer<Float>,
    batch: Int, hidden: Int, steps: Int, workspace: GemmWorkspace
) {
    forwardSequence(h, c, cStride: cStride, gates, gatesStride: batch * 4 * hidden, table: nil,
                    packedWeights: packedWeights, batch: batch, hidden: hidden, steps: steps,
                    workspace: workspace)
}

/// `lstmForwardSequence` whose gate pre-activations are rows of `table`, gathered into `gates`
/// step by step (`gatesStride` as there: B*4H keeps every step's activations, 0 reuses one
/// step's buffer). An id outside the table throws before anything is written.
public func lstmForwardSequence(
    _ h: UnsafeMutablePointer<Float>, _ c: UnsafeMutablePointer<Float>, cStride: Int,
    _ gates: UnsafeMutablePointer<Float>, gatesStride: Int, table: LSTMGateTable,
    packedWeights: UnsafePointer<Float>, batch: Int, hidden: Int, steps: Int, workspace: GemmWorkspace
) throws {
    for i in 0..<(steps * batch) where table.ids[i] < 0 || Int(table.ids[i]) >= table.vocabulary {
        throw KernelError.indexOutOfRange(what: "id", position: i, index: Int(table.ids[i]), limit: table.vocabulary)
    }
    forwardSequence(h, c, cStride: cStride, gates, gatesStride: gatesStride, table: table,
                    packedWeights: packedWeights, batch: batch, hidden: hidden, steps: steps,
                    workspace: workspace)
}

private func forwardSequence(
    _ h: UnsafeMutablePointer<Float>, _ c: UnsafeMutablePointer<Float>, cStride: Int,
    _ gates: UnsafeMutablePointer<Float>, gatesStride: Int, table: LSTMGateTable?,
    packedWeights: UnsafePointer<Float>, batch: Int, hidden: Int, steps: Int, workspace: GemmWorkspace
) {
    let bh = batch * hidden, g = 4 * hidden
    guard batch >= 0, hidden >= 1, steps >= 0, cStride == 0 || cStride == bh,
          gatesStride == batch * g || (gatesStride == 0 && table != nil) else {
        fatalError("lstmForwardSequence: batch \(batch) hidden \(hidden) steps \(steps) cStride \(cStride) gatesStride \(gatesStride)")
    }
    let job = ForwardRows(h: h, c: c, cStride: cStride, gates: gates, gatesStride: gatesStride, table: table,
                          packed: packedWeights, batch: batch, hidden: hidden, steps: steps,
                          parts: rowShares(batch: batch, hidden: hidden, workspace: workspace),
                          workspace: workspace)
    guard job.parts > 1 else {
        for s in 0..<steps {
            job.gather(step: s, rows: 0..<batch)
            lstmForwardStep(h + (s + 1) * bh, c + (s + 1) * cStride, gates + s * gatesStride, h + s * bh,
                            c + s * cStride, packedWeights: packedWeights, batch: batch, hidden: hidden,
                            workspace: workspace)
        }
        return
    }
    workspace.parallelFor(threads: job.parts, job)
}

private struct ForwardRows: ParallelJob {
    let h: UnsafeMutablePointer<Float>, c: UnsafeMutablePointer<Float>, cStride: Int
    let gates: UnsafeMutablePointer<Float>, gatesStride: Int, table: LSTMGateTable?
    let packed: UnsafePointer<Float>
    let batch: Int, hidden: Int, steps: Int, parts: Int
    let workspace: GemmWorkspace

    /// Copies step s's table rows for `rows` into the gates (nothing without a table).
    func gather(step s: Int, rows: Range<Int>) {
        guard let table else { return }
        let g = 4 * hidden, out = gates + s * gatesStride
        for r in rows {
            (out + r * g).update(from: table.rows + Int(table.ids[s * batch + r]) * g, count: g)
        }
    }

    func run(part: Int) {
        let rows = evenSplit(units: batch, parts: parts, part: part)
        let r0 = rows.lowerBound, n = rows.count, bh = batch * hidden, g = 4 * hidden
        let allUnits = 0..<((hidden + microCols - 1) / microCols)
        let packA = workspace.packA(thread: part)
        for s in 0..<steps {
            gather(step: s, rows: rows)
            let gatesRows = gates + s * gatesStride + r0 * g
            multiplyPrepacked(gatesRows, ldc: g, Operand(base: h + s * bh + r0 * hidden, ld: hidden, transposed: false),
                              packed, m: n, n: hidden, k: hidden, groups: 4, tiles: allUnits,
                              alpha: 1, beta: 1, packA: packA)
            lstmCellForward(h + (s + 1) * bh + r0 * hidden, c + (s + 1) * cStride + r0 * hidden, gatesRows,
                            gatesRows, c + s * cStride + r0 * hidden, batch: n, hidden: hidden, units: 0..<hidden)
        }
    }
}

/// The backward recurrence of T steps for a batch, from the last step to the first
/// (`lstmBackwardStep` at each): the gradient of every step's pre-activations.
///
/// - `dgates`: (T, B, 4H), written.
/// - `dc`: (B, H), in: the gradient reaching c_T (zero for a truncated sequence); out: c_0's.
/// - `dh`: (B, H) scratch.
/// - `dout`: (T, B, H), the gradient of the outputs h_1...h_T.
/// - `acts`: (T, B, 4H) and `c`: (T+1, B, H), as `lstmForwardSequence` left them (c with
///   `cStride` B*H).
/// - `packedWeights`: W_hh packed by `packLSTMWeights(for: .backward)`.
///
/// Bit-identical to `lstmBackwardStep` over the steps, for any thread count. Allocates nothing.
public func lstmBackwardSequence(
    _ dgates: UnsafeMutablePointer<Float>, _ dc: UnsafeMutablePointer<Float>,
    _ dh: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>,
    _ acts: UnsafePointer<Float>, _ c: UnsafePointer<Float>, packedWeights: UnsafePointer<Float>,
    batch: Int, hidden: Int, steps: Int, workspace: GemmWorkspace
) {
    guard batch >= 0, hidden >= 1, steps >= 0 else {
        fatalError("lstmBackwardSequence: batch \(batch) hidden \(hidden) steps \(steps)")
    }
    let parts = rowShares(batch: batch, hidden: hidden, workspace: workspace)
    guard parts > 1 else {
        let bh = batch * hidden, g = 4 * hidden
        for s in stride(from: steps - 1, through: 0, by: -1) {
            lstmBackwardStep(dgates + s * batch * g, dc, dh, dout + s * bh,
                             s == steps - 1 ? nil : dgates + (s + 1) * batch * g, acts + s * batch * g,
                             c + s * bh, c + (s + 1) * bh, packedWeights: packedWeights,
                             batch: batch, hidden: hidden, workspace: workspace)
        }
        return
    }
    workspace.parallelFor(threads: parts, BackwardRows(
        dgates: dgates, dc: dc, dh: dh, dout: dout, acts: acts, c: c, packed: packedWeights,
        batch: batch, hidden: hidden, steps: steps, parts: parts, workspace: workspace))
}

private struct BackwardRows: ParallelJob {
    let dgates: UnsafeMutablePointer<Float>, dc: UnsafeMutablePointer<Float>
    let dh: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>
    let acts: UnsafePointer<Float>, c: UnsafePointer<Float>, packed: UnsafePointer<Float>
    let batch: Int, hidden: Int, steps: Int, parts: Int
    let workspace: GemmWorkspace

    func run(part: Int) {
        let rows = evenSplit(units: batch, parts: parts, part: part)
        let r0 = rows.lowerBound, n = rows.count, bh = batch * hidden, g = 4 * hidden
        let allUnits = 0..<((hidden + microCols - 1) / microCols)
        let packA = workspace.packA(thread: part)
        let dhRows = dh + r0 * hidden, dcRows = dc + r0 * hidden
        for s in stride(from: steps - 1, through: 0, by: -1) {
            let doutRows = dout + s * bh + r0 * hidden
            if s == steps - 1 {
                dhRows.update(from: doutRows, count: n * hidden)
            } else {
                multiplyPrepacked(dhRows, ldc: hidden,
                                  Operand(base: dgates + (s + 1) * batch * g + r0 * g, ld: g, transposed: false),
                                  packed, m: n, n: hidden, k: g, tiles: allUnits,
                                  alpha: 1, beta: 0, packA: packA)
                addInPlace(dhRows, doutRows, count: n * hidden)
            }
            lstmCellBackward(dgates + s * batch * g + r0 * g, dcRows, dhRows, dcRows, acts + s * batch * g + r0 * g,
                             c + s * bh + r0 * hidden, c + (s + 1) * bh + r0 * hidden,
                             batch: n, hidden: hidden, units: 0..<hidden)
        }
    }
}
