import Kernels

/// A single-layer LSTM, PyTorch's `nn.LSTM(I, H)` with gate order (i, f, g, o):
///   gates_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh      (B, 4H)
///   i, f, o = sigmoid, g = tanh;  c_t = f c_{t-1} + i g;  h_t = o tanh(c_t)
///
/// Layout: time-major, x (T, B, I) and out (T, B, H) — row t*B + b — so that one time step
/// is a contiguous (B, ·) block for the per-step gemm and the fused cell kernel.
/// Parameters: W_ih (4H, I), W_hh (4H, H), b_ih, b_hh (4H), pointers into the arenas.
struct LSTMLayer<Scalar: NetworkScalar> {
    let input: Int   // I
    let hidden: Int  // H
    let wih: UnsafeMutablePointer<Scalar>, whh: UnsafeMutablePointer<Scalar>
    let bih: UnsafeMutablePointer<Scalar>, bhh: UnsafeMutablePointer<Scalar>
    let dwih: UnsafeMutablePointer<Scalar>, dwhh: UnsafeMutablePointer<Scalar>
    let dbih: UnsafeMutablePointer<Scalar>, dbhh: UnsafeMutablePointer<Scalar>

    init(store: ParameterStore<Scalar>, prefix: String, input: Int, hidden: Int) {
        self.input = input
        self.hidden = hidden
        wih = store.value("\(prefix).weight_ih_l0"); dwih = store.gradient("\(prefix).weight_ih_l0")
        whh = store.value("\(prefix).weight_hh_l0"); dwhh = store.gradient("\(prefix).weight_hh_l0")
        bih = store.value("\(prefix).bias_ih_l0"); dbih = store.gradient("\(prefix).bias_ih_l0")
        bhh = store.value("\(prefix).bias_hh_l0"); dbhh = store.gradient("\(prefix).bias_hh_l0")
    }

    /// The recurrent state carried from one batch to the next (truncated BPTT).
    struct State {
        let h: UnsafeMutablePointer<Scalar>  // (B, H)
        let c: UnsafeMutablePointer<Scalar>  // (B, H)
    }

    /// What the forward keeps for the backward, and the backward's scratch, for one (B, T).
    struct Cache {
        let batch: Int, steps: Int
        let h: UnsafeMutablePointer<Scalar>       // (T+1, B, H): h0, then the outputs h_1...h_T
        let c: UnsafeMutablePointer<Scalar>       // (T+1, B, H): c0, then c_1...c_T
        let acts: UnsafeMutablePointer<Scalar>    // (T, B, 4H): pre-activations, then activations
        let bias: UnsafeMutablePointer<Scalar>    // (4H): b_ih + b_hh
        let dgates: UnsafeMutablePointer<Scalar>  // (T, B, 4H)
        let dh: UnsafeMutablePointer<Scalar>      // (B, H)
        let dc: UnsafeMutablePointer<Scalar>      // (B, H)
        let dbias: UnsafeMutablePointer<Scalar>   // (4H): the column sums of dgates
        /// W_hh packed for the steps of the forward and of the backward; empty for T = 1
        /// (decoding), whose single step multiplies W_hh directly.
        let packedForward: UnsafeMutablePointer<Scalar>, packedBackward: UnsafeMutablePointer<Scalar>
    }

    func makeState(_ arena: Arena<Scalar>, batch: Int) -> State {
        State(h: arena.take(batch * hidden), c: arena.take(batch * hidden))
    }

    func makeCache(acts arena: Arena<Scalar>, grads: Arena<Scalar>, batch: Int, steps: Int) -> Cache {
        let bh = batch * hidden, g = 4 * hidden
        let packed = steps > 1 ? Scalar.lstmPackedWeightsCount(hidden: hidden) : 0
        return Cache(batch: batch, steps: steps,
                     h: arena.take((steps + 1) * bh), c: arena.take((steps + 1) * bh),
                     acts: arena.take(steps * batch * g), bias: arena.take(g),
                     dgates: grads.take(steps * batch * g), dh: grads.take(bh), dc: grads.take(bh),
                     dbias: grads.take(g), packedForward: arena.take(packed), packedBackward: grads.take(packed))
    }

    /// The output (T, B, H) inside `cache`.
    func output(_ cache: Cache) -> UnsafeMutablePointer<Scalar> {
        cache.h + cache.batch * hidden
    }

    /// Runs the sequence x (T, B, I) from `state` and leaves the final (h_T, c_T) in `state`.
    /// The output is `output(cache)` (T, B, H). Allocates nothing.
    func forward(_ cache: Cache, _ x: UnsafePointer<Scalar>, state: State, workspace: GemmWorkspace) {
        let b = cache.batch, t = cache.steps, g = 4 * hidden
        // Both biases, then the input projection of every time step at once added onto them:
        // (T*B, I) x (I, 4H).
        cache.bias.update(from: bih, count: g)
        Scalar.axpy(cache.bias, alpha: 1, bhh, count: g)
        Scalar.broadcastRows(cache.acts, cache.bias, rows: t * b, cols: g, workspace: workspace)
        Scalar.gemm(cache.acts, ldc: g, x, lda: input, transA: .none, wih, ldb: input, transB: .transpose,
                    m: t * b, n: g, k: input, alpha: 1, beta: 1, workspace: workspace)
        recur(cache, state: state, workspace: workspace)
    }

    /// `forward` for a first layer whose input is an embedding lookup, without the input
    /// product: row r of the projection is row ids[r] of `gateTable` (V, 4H), which holds
    /// embedding W_ih^T + b_ih + b_hh for every token in `ids` (`GateTable`). Inference only.
    func forward(_ cache: Cache, gateTable: UnsafePointer<Scalar>, ids: UnsafePointer<Int32>, vocabulary: Int,
                 state: State, workspace: GemmWorkspace) throws {
        try recur(cache, state: state, table: GateRows(rows: gateTable, ids: ids, vocabulary: vocabulary),
                  workspace: workspace)
    }

    /// `forward` for a first layer whose input is an embedding lookup without dropout: the
    /// input projection of each distinct id of the batch (`distinct`, collected), from its
    /// embedding rows `embedded` (U, I), gathered to the positions.
    func forward(_ cache: Cache, distinct: DistinctTokens<Scalar>, embedded: UnsafePointer<Scalar>,
                 state: State, workspace: GemmWorkspace) throws {
        gateRows(distinct.gates, inputs: embedded, n: distinct.count, workspace: workspace)
        try recur(cache, state: state,
                  table: GateRows(rows: distinct.gates, ids: distinct.slots.baseAddress!, vocabulary: distinct.count),
                  workspace: workspace)
    }

    /// What the first layer of an inference run reads: a sequence x (T, B, I), or the rows
    /// of a gate table (`GateTable`) for token ids (T, B).
    enum InferenceInput {
        case sequence(UnsafePointer<Scalar>)
        case gateTable(UnsafePointer<Scalar>, ids: UnsafePointer<Int32>, vocabulary: Int)
    }

    /// Buffer sizes of `infer` for up to B sequences of up to T steps.
    static func inferenceCounts(hidden: Int, batch: Int, steps: Int, fromGateTable: Bool)
        -> (h: Int, c: Int, gates: Int, packed: Int) {
        ((steps + 1) * batch * hidden, batch * hidden, (fromGateTable ? 1 : steps) * batch * 4 * hidden,
         Scalar.lstmPackedWeightsCount(hidden: hidden))
    }

    /// Inference over T steps from a zero state, keeping only what the next layer reads: the
    /// outputs `h` (T+1, B, H) (slot 0 the initial state), one cell state `c` (B, H), and the
    /// gates of one step (B, 4H) when they come from a gate table, else of all T steps.
    /// Sizes as `inferenceCounts`. Returns the output (T, B, H). Bit-identical to `forward`
    /// from a zero state; allocates nothing.
    func infer(_ source: InferenceInput, h: UnsafeMutablePointer<Scalar>, c: UnsafeMutablePointer<Scalar>,
               gates: UnsafeMutablePointer<Scalar>, packed: UnsafeMutablePointer<Scalar>,
               batch b: Int, steps t: Int, workspace: GemmWorkspace) throws -> UnsafeMutablePointer<Scalar> {
        let g = 4 * hidden, bh = b * hidden
        h.update(repeating: 0, count: bh)
        c.update(repeating: 0, count: bh)
        Scalar.packLSTMWeights(packed, whh, hidden: hidden, for: .forward, workspace: workspace)
        switch source {
        case let .sequence(x):
            gates.update(from: bih, count: g)
            Scalar.axpy(gates, alpha: 1, bhh, count: g)
            Scalar.broadcastRows(gates + g, gates, rows: t * b - 1, cols: g, workspace: workspace)
            Scalar.gemm(gates, ldc: g, x, lda: input, transA: .none, wih, ldb: input, transB: .transpose,
                        m: t * b, n: g, k: input, alpha: 1, beta: 1, workspace: workspace)
            Scalar.lstmForwardSequence(h, c, cStride: 0, gates, packedWeights: packed, batch: b, hidden: hidden,
                                       steps: t, workspace: workspace)
        case let .gateTable(table, ids, vocabulary):
            try Scalar.lstmForwardSequence(h, c, cStride: 0, gates, gatesStride: 0,
                                           table: GateRows(rows: table, ids: ids, vocabulary: vocabulary),
                                           packedWeights: packed, batch: b, hidden: hidden, steps: t,
                                           workspace: workspace)
        }
        return h + bh
    }

    /// Rows of a gate table: out (n, 4H) = x (n, I) W_ih^T + b_ih + b_hh, x being embedding rows.
    func gateRows(_ out: UnsafeMutablePointer<Scalar>, inputs x: UnsafePointer<Scalar>, n: Int,
                  workspace: GemmWorkspace) {
        let g = 4 * hidden
        // The two biases summed once in row 0, then copied to the other rows.
        out.update(from: bih, count: g)
        Scalar.axpy(out, alpha: 1, bhh, count: g)
        Scalar.broadcastRows(out + g, out, rows: n - 1, cols: g, workspace: workspace)
        Scalar.gemm(out, ldc: g, x, lda: input, transA: .none, wih, ldb: input, transB: .transpose,
                    m: n, n: g, k: input, alpha: 1, beta: 1, workspace: workspace)
    }

    /// The recurrence over cache.acts, which holds the input projection plus biases.
    private func recur(_ cache: Cache, state: State, workspace: GemmWorkspace) {
        start(cache, state: state)
        if cache.steps == 1 {
            decodeStep(cache, workspace: workspace)
        } else {
            Scalar.packLSTMWeights(cache.packedForward, whh, hidden: hidden, for: .forward, workspace: workspace)
            Scalar.lstmForwardSequence(cache.h, cache.c, cStride: cache.batch * hidden, cache.acts,
                                       packedWeights: cache.packedForward, batch: cache.batch, hidden: hidden,
                                       steps: cache.steps, workspace: workspace)
        }
        finish(cache, state: state)
    }

    /// The recurrence over the rows of a gate table, gathered into cache.acts step by step.
    private func recur(_ cache: Cache, state: State, table: GateRows<Scalar>, workspace: GemmWorkspace) throws {
        start(cache, state: state)
        let b = cache.batch, g = 4 * hidden
        if cache.steps == 1 {
            try Scalar.embeddingForward(cache.acts, table.ids, table.rows, n: b, c: g, v: table.vocabulary)
            decodeStep(cache, workspace: workspace)
        } else {
            Scalar.packLSTMWeights(cache.packedForward, whh, hidden: hidden, for: .forward, workspace: workspace)
            try Scalar.lstmForwardSequence(cache.h, cache.c, cStride: b * hidden, cache.acts, gatesStride: b * g,
                                           table: table, packedWeights: cache.packedForward, batch: b,
                                           hidden: hidden, steps: cache.steps, workspace: workspace)
        }
        finish(cache, state: state)
    }

    private func start(_ cache: Cache, state: State) {
        cache.h.update(from: state.h, count: cache.batch * hidden)
        cache.c.update(from: state.c, count: cache.batch * hidden)
    }

    private func finish(_ cache: Cache, state: State) {
        let bh = cache.batch * hidden
        state.h.update(from: cache.h + cache.steps * bh, count: bh)
        state.c.update(from: cache.c + cache.steps * bh, count: bh)
    }

    /// A single step (decoding, where B = 1 takes the vector-matrix path) multiplies W_hh
    /// directly instead of packing it.
    private func decodeStep(_ cache: Cache, workspace: GemmWorkspace) {
        let b = cache.batch, h = hidden, g = 4 * hidden, bh = b * h
        Scalar.gemm(cache.acts, ldc: g, cache.h, lda: h, transA: .none, whh, ldb: h,
                    transB: .transpose, m: b, n: g, k: h, alpha: 1, beta: 1, workspace: workspace)
        Scalar.lstmCellForward(cache.h + bh, cache.c + bh, cache.acts, cache.acts, cache.c, batch: b, hidden: h)
    }

    /// Backward through the sequence: dx (T, B, I) written; dW_ih, dW_hh, db_ih, db_hh
    /// accumulated. dout (T, B, H) is the gradient of the output. No gradient flows into the
    /// initial state (truncated BPTT). Allocates nothing.
    func backward(_ dx: UnsafeMutablePointer<Scalar>, _ cache: Cache, _ dout: UnsafePointer<Scalar>,
                  _ x: UnsafePointer<Scalar>, workspace: GemmWorkspace) {
        backThroughTime(cache, dout, workspace: workspace)
        inputGradients(cache.dgates, rows: cache.steps * cache.batch, x, dx: dx, cache: cache, workspace: workspace)
    }

    /// `backward` after `forward(_:distinct:embedded:state:workspace:)`: the positions' gate
    /// gradients are summed per distinct id, then dW_ih, the biases' gradients and
    /// `dEmbedded` (U, I) (when not nil) come from those U rows.
    func backward(_ cache: Cache, _ dout: UnsafePointer<Scalar>, distinct: DistinctTokens<Scalar>,
                  embedded: UnsafePointer<Scalar>, dEmbedded: UnsafeMutablePointer<Scalar>?,
                  workspace: GemmWorkspace) throws {
        backThroughTime(cache, dout, workspace: workspace)
        let u = distinct.count, g = 4 * hidden
        distinct.dgates.update(repeating: 0, count: u * g)
        try Scalar.embeddingBackward(distinct.dgates, cache.dgates, distinct.slots.baseAddress!,
                                     n: cache.steps * cache.batch, c: g, v: u)
        inputGradients(distinct.dgates, rows: u, embedded, dx: dEmbedded, cache: cache, workspace: workspace)
    }

    /// The gate gradients of every step (cache.dgates) and dW_hh.
    private func backThroughTime(_ cache: Cache, _ dout: UnsafePointer<Scalar>, workspace: GemmWorkspace) {
        let b = cache.batch, t = cache.steps, h = hidden, g = 4 * hidden, bh = b * h
        cache.dc.update(repeating: 0, count: bh)
        if t > 1 {
            Scalar.packLSTMWeights(cache.packedBackward, whh, hidden: h, for: .backward, workspace: workspace)
        }
        Scalar.lstmBackwardSequence(cache.dgates, cache.dc, cache.dh, dout, cache.acts, cache.c,
                                    packedWeights: cache.packedBackward, batch: b, hidden: h, steps: t,
                                    workspace: workspace)
        // Over all steps at once: h_{t-1} for every t is slots 0..<T of cache.h.
        Scalar.gemm(dwhh, ldc: h, cache.dgates, lda: g, transA: .transpose, cache.h, ldb: h,
                    transB: .none, m: g, n: h, k: t * b, alpha: 1, beta: 1, workspace: workspace)
    }

    /// From the gate gradients `dgates` (rows, 4H) of inputs x (rows, I): dW_ih and both
    /// biases' gradients accumulated, dx (rows, I) written when not nil.
    private func inputGradients(_ dgates: UnsafePointer<Scalar>, rows n: Int, _ x: UnsafePointer<Scalar>,
                                dx: UnsafeMutablePointer<Scalar>?, cache: Cache, workspace: GemmWorkspace) {
        let g = 4 * hidden
        Scalar.gemm(dwih, ldc: input, dgates, lda: g, transA: .transpose, x, ldb: input,
                    transB: .none, m: g, n: input, k: n, alpha: 1, beta: 1, workspace: workspace)
        // Both biases get the same gradient, the column sums of dgates: one pass over them.
        cache.dbias.update(repeating: 0, count: g)
        Scalar.addColumnSums(cache.dbias, dgates, rows: n, cols: g, workspace: workspace)
        Scalar.axpy(dbih, alpha: 1, cache.dbias, count: g)
        Scalar.axpy(dbhh, alpha: 1, cache.dbias, count: g)
        if let dx {
            Scalar.gemm(dx, ldc: input, dgates, lda: g, transA: .none, wih, ldb: input,
                        transB: .none, m: n, n: input, k: g, alpha: 1, beta: 0, workspace: workspace)
        }
    }
}
