import Kernels

/// The element type of a model: the few tensor primitives the layers are written against.
///
/// Design: the layer code (the LSTM time loop, attention's per-head products, the model's
/// wiring and every backward) is written once, generic over `NetworkScalar`, and every loop
/// over elements lives in these primitives. `Float` implements them with the SIMD kernels of
/// `Kernels` (the training and inference path); `Double` implements them as plain scalar loops
/// (`NetworkScalar+Double.swift`) and exists for the gradient checks, which need Float64 to
/// compare against central differences at ~1e-6. So the checks prove the same layer code that
/// trains, and a separate test compares `Model<Float>` with `Model<Double>` on the same weights.
///
/// All buffers belong to the caller; no primitive allocates. Sizes and argument order follow
/// the `Kernels` functions of the same name (outputs first, then inputs, then sizes).
public protocol NetworkScalar: BinaryFloatingPoint, Sendable, BitwiseCopyable {
    /// C = alpha op(A) op(B) + beta C, row-major with leading dimensions (see `Kernels.gemm`).
    static func gemm(
        _ c: UnsafeMutablePointer<Self>, ldc: Int,
        _ a: UnsafePointer<Self>, lda: Int, transA: Transpose,
        _ b: UnsafePointer<Self>, ldb: Int, transB: Transpose,
        m: Int, n: Int, k: Int, alpha: Self, beta: Self, workspace: GemmWorkspace)
    /// y[i] += alpha * x[i] for i in 0..<count.
    static func axpy(_ y: UnsafeMutablePointer<Self>, alpha: Self, _ x: UnsafePointer<Self>,
                     count: Int)
    /// See `Kernels.lstmCellForward`: h, c (B, H), acts (B, 4H) written; acts may alias gates.
    static func lstmCellForward(
        _ h: UnsafeMutablePointer<Self>, _ c: UnsafeMutablePointer<Self>,
        _ acts: UnsafeMutablePointer<Self>, _ gates: UnsafePointer<Self>,
        _ cPrev: UnsafePointer<Self>, batch: Int, hidden: Int)
    /// Scalars of W_hh (4H, H) prepared by `packLSTMWeights` for either use.
    static func lstmPackedWeightsCount(hidden: Int) -> Int
    /// See `Kernels.packLSTMWeights`: W_hh (4H, H) prepared for `lstmForwardStep` or
    /// `lstmBackwardStep`.
    static func packLSTMWeights(_ dst: UnsafeMutablePointer<Self>, _ whh: UnsafePointer<Self>,
                                hidden: Int, for use: LSTMWeightsUse, workspace: GemmWorkspace)
    /// See `Kernels.lstmForwardSequence`: the recurrence over T steps, h (T+1, B, H) from slot
    /// 0, c likewise (`cStride` B*H) or in place (0); `gates` (T, B, 4H) holds the gate
    /// pre-activations, which the activations replace.
    static func lstmForwardSequence(
        _ h: UnsafeMutablePointer<Self>, _ c: UnsafeMutablePointer<Self>, cStride: Int,
        _ gates: UnsafeMutablePointer<Self>, packedWeights: UnsafePointer<Self>,
        batch: Int, hidden: Int, steps: Int, workspace: GemmWorkspace)
    /// The same with each step's gate pre-activations gathered first from the rows of `table`
    /// (ids (T, B)) into `gates` (`gatesStride` B*4H, or 0 for one step's buffer).
    static func lstmForwardSequence(
        _ h: UnsafeMutablePointer<Self>, _ c: UnsafeMutablePointer<Self>, cStride: Int,
        _ gates: UnsafeMutablePointer<Self>, gatesStride: Int, table: GateRows<Self>,
        packedWeights: UnsafePointer<Self>, batch: Int, hidden: Int, steps: Int, workspace: GemmWorkspace) throws
    /// See `Kernels.lstmBackwardSequence`: dgates (T, B, 4H) and dh (B, H) written, dc (B, H)
    /// carried from c_T's gradient back to c_0's.
    static func lstmBackwardSequence(
        _ dgates: UnsafeMutablePointer<Self>, _ dc: UnsafeMutablePointer<Self>,
        _ dh: UnsafeMutablePointer<Self>, _ dout: UnsafePointer<Self>,
        _ acts: UnsafePointer<Self>, _ c: UnsafePointer<Self>,
        packedWeights: UnsafePointer<Self>, batch: Int, hidden: Int, steps: Int, workspace: GemmWorkspace)
    /// See `Kernels.layerNormForward` (eps 1e-5).
    static func layerNormForward(
        _ out: UnsafeMutablePointer<Self>, _ mean: UnsafeMutablePointer<Self>,
        _ rstd: UnsafeMutablePointer<Self>, _ inp: UnsafePointer<Self>,
        _ weight: UnsafePointer<Self>, _ bias: UnsafePointer<Self>, n: Int, c: Int)
    /// See `Kernels.layerNormBackward`: accumulates into dinp, dweight, dbias.
    static func layerNormBackward(
        _ dinp: UnsafeMutablePointer<Self>, _ dweight: UnsafeMutablePointer<Self>,
        _ dbias: UnsafeMutablePointer<Self>, _ dout: UnsafePointer<Self>,
        _ inp: UnsafePointer<Self>, _ weight: UnsafePointer<Self>,
        _ mean: UnsafePointer<Self>, _ rstd: UnsafePointer<Self>, n: Int, c: Int)
    /// See `Kernels.causalSoftmaxForward`.
    static func causalSoftmaxForward(
        _ out: UnsafeMutablePointer<Self>, _ inp: UnsafePointer<Self>,
        rows: Int, cols: Int, offset: Int, scale: Self)
    /// See `Kernels.causalSoftmaxBackward`.
    static func causalSoftmaxBackward(
        _ dinp: UnsafeMutablePointer<Self>, _ dout: UnsafePointer<Self>,
        _ out: UnsafePointer<Self>, rows: Int, cols: Int, offset: Int, scale: Self)
    /// See `Kernels.softmaxCrossEntropy`: mean loss over counted rows; dlogits (N, V) written.
    static func softmaxCrossEntropy(
        _ dlogits: UnsafeMutablePointer<Self>, _ logits: UnsafePointer<Self>,
        _ targets: UnsafePointer<Int32>, n: Int, v: Int, workspace: GemmWorkspace) throws -> Self
    /// See `Kernels.broadcastRows`: every row of out (rows, cols) set to bias (cols), split
    /// across the workspace's threads by rows.
    static func broadcastRows(_ out: UnsafeMutablePointer<Self>, _ bias: UnsafePointer<Self>,
                              rows: Int, cols: Int, workspace: GemmWorkspace)
    /// See `Kernels.addColumnSums`: dbias[j] += sum over rows of x[r, j], the gradient of a bias
    /// added to every row; split across the workspace's threads by columns.
    static func addColumnSums(_ dbias: UnsafeMutablePointer<Self>, _ x: UnsafePointer<Self>,
                              rows: Int, cols: Int, workspace: GemmWorkspace)
    /// See `Kernels.embeddingForward`.
    static func embeddingForward(
        _ out: UnsafeMutablePointer<Self>, _ ids: UnsafePointer<Int32>,
        _ table: UnsafePointer<Self>, n: Int, c: Int, v: Int) throws
    /// See `Kernels.embeddingBackward`: accumulates into dtable.
    static func embeddingBackward(
        _ dtable: UnsafeMutablePointer<Self>, _ dout: UnsafePointer<Self>,
        _ ids: UnsafePointer<Int32>, n: Int, c: Int, v: Int) throws
    /// See `Kernels.dropoutForward` (same mask for the same seed, offset and probability).
    static func dropoutForward(
        _ out: UnsafeMutablePointer<Self>, _ inp: UnsafePointer<Self>,
        count: Int, probability: Float, seed: UInt64, offset: UInt64) throws
}

extension NetworkScalar {
    /// Backward of `dropoutForward`: the same mask and scale applied to the gradient.
    static func dropoutBackward(
        _ dinp: UnsafeMutablePointer<Self>, _ dout: UnsafePointer<Self>,
        count: Int, probability: Float, seed: UInt64, offset: UInt64
    ) throws {
        try dropoutForward(dinp, dout, count: count, probability: probability, seed: seed,
                           offset: offset)
    }
}

extension Float: NetworkScalar {
    public static func gemm(
        _ c: UnsafeMutablePointer<Float>, ldc: Int,
        _ a: UnsafePointer<Float>, lda: Int, transA: Transpose,
        _ b: UnsafePointer<Float>, ldb: Int, transB: Transpose,
        m: Int, n: Int, k: Int, alpha: Float, beta: Float, workspace: GemmWorkspace
    ) {
        Kernels.gemm(c, ldc: ldc, a, lda: lda, transA: transA, b, ldb: ldb, transB: transB,
                     m: m, n: n, k: k, alpha: alpha, beta: beta, workspace: workspace)
    }

    public static func axpy(_ y: UnsafeMutablePointer<Float>, alpha: Float,
                            _ x: UnsafePointer<Float>, count: Int) {
        let av = SIMD8<Float>(repeating: alpha)
        var i = 0
        while i + 8 <= count {
            let yv = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
            let xv = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(y + i).storeBytes(of: yv.addingProduct(av, xv),
                                                      as: SIMD8<Float>.self)
            i += 8
        }
        while i < count { y[i] = y[i].addingProduct(alpha, x[i]); i += 1 }
    }

    public static func lstmCellForward(
        _ h: UnsafeMutablePointer<Float>, _ c: UnsafeMutablePointer<Float>,
        _ acts: UnsafeMutablePointer<Float>, _ gates: UnsafePointer<Float>,
        _ cPrev: UnsafePointer<Float>, batch: Int, hidden: Int
    ) {
        Kernels.lstmCellForward(h, c, acts, gates, cPrev, batch: batch, hidden: hidden)
    }

    public static func lstmPackedWeightsCount(hidden: Int) -> Int {
        Kernels.lstmPackedWeightsCount(hidden: hidden)
    }

    public static func packLSTMWeights(_ dst: UnsafeMutablePointer<Float>, _ whh: UnsafePointer<Float>,
                                       hidden: Int, for use: LSTMWeightsUse, workspace: GemmWorkspace) {
        Kernels.packLSTMWeights(dst, whh, hidden: hidden, for: use, workspace: workspace)
    }

    public static func lstmForwardSequence(
        _ h: UnsafeMutablePointer<Float>, _ c: UnsafeMutablePointer<Float>, cStride: Int,
        _ gates: UnsafeMutablePointer<Float>, packedWeights: UnsafePointer<Float>,
        batch: Int, hidden: Int, steps: Int, workspace: GemmWorkspace
    ) {
        Kernels.lstmForwardSequence(h, c, cStride: cStride, gates, packedWeights: packedWeights,
                                    batch: batch, hidden: hidden, steps: steps, workspace: workspace)
    }

    public static func lstmForwardSequence(
        _ h: UnsafeMutablePointer<Float>, _ c: UnsafeMutablePointer<Float>, cStride: Int,
        _ gates: UnsafeMutablePointer<Float>, gatesStride: Int, table: GateRows<Float>,
        packedWeights: UnsafePointer<Float>, batch: Int, hidden: Int, steps: Int, workspace: GemmWorkspace
    ) throws {
        try Kernels.lstmForwardSequence(
            h, c, cStride: cStride, gates, gatesStride: gatesStride,
            table: LSTMGateTable(rows: table.rows, ids: table.ids, vocabulary: table.vocabulary),
            packedWeights: packedWeights, batch: batch, hidden: hidden, steps: steps, workspace: workspace)
    }

    public static func lstmBackwardSequence(
        _ dgates: UnsafeMutablePointer<Float>, _ dc: UnsafeMutablePointer<Float>,
        _ dh: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>,
        _ acts: UnsafePointer<Float>, _ c: UnsafePointer<Float>,
        packedWeights: UnsafePointer<Float>, batch: Int, hidden: Int, steps: Int, workspace: GemmWorkspace
    ) {
        Kernels.lstmBackwardSequence(dgates, dc, dh, dout, acts, c, packedWeights: packedWeights,
                                     batch: batch, hidden: hidden, steps: steps, workspace: workspace)
    }

    public static func layerNormForward(
        _ out: UnsafeMutablePointer<Float>, _ mean: UnsafeMutablePointer<Float>,
        _ rstd: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
        _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>, n: Int, c: Int
    ) {
        Kernels.layerNormForward(out, mean, rstd, inp, weight, bias, n: n, c: c)
    }

    public static func layerNormBackward(
        _ dinp: UnsafeMutablePointer<Float>, _ dweight: UnsafeMutablePointer<Float>,
        _ dbias: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>,
        _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
        _ mean: UnsafePointer<Float>, _ rstd: UnsafePointer<Float>, n: Int, c: Int
    ) {
        Kernels.layerNormBackward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, n: n, c: c)
    }

    public static func causalSoftmaxForward(
        _ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
        rows: Int, cols: Int, offset: Int, scale: Float
    ) {
        Kernels.causalSoftmaxForward(out, inp, rows: rows, cols: cols, offset: offset, scale: scale)
    }

    public static func causalSoftmaxBackward(
        _ dinp: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>,
        _ out: UnsafePointer<Float>, rows: Int, cols: Int, offset: Int, scale: Float
    ) {
        Kernels.causalSoftmaxBackward(dinp, dout, out, rows: rows, cols: cols, offset: offset,
                                      scale: scale)
    }

    public static func softmaxCrossEntropy(
        _ dlogits: UnsafeMutablePointer<Float>, _ logits: UnsafePointer<Float>,
        _ targets: UnsafePointer<Int32>, n: Int, v: Int, workspace: GemmWorkspace
    ) throws -> Float {
        try Kernels.softmaxCrossEntropy(dlogits, logits, targets, n: n, v: v, workspace: workspace)
    }

    public static func broadcastRows(_ out: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>,
                                     rows: Int, cols: Int, workspace: GemmWorkspace) {
        Kernels.broadcastRows(out, bias, rows: rows, cols: cols, workspace: workspace)
    }

    public static func addColumnSums(_ dbias: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                                     rows: Int, cols: Int, workspace: GemmWorkspace) {
        Kernels.addColumnSums(dbias, x, rows: rows, cols: cols, workspace: workspace)
    }

    public static func embeddingForward(
        _ out: UnsafeMutablePointer<Float>, _ ids: UnsafePointer<Int32>,
        _ table: UnsafePointer<Float>, n: Int, c: Int, v: Int
    ) throws {
        try Kernels.embeddingForward(out, ids, table, n: n, c: c, v: v)
    }

    public static func embeddingBackward(
        _ dtable: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>,
        _ ids: UnsafePointer<Int32>, n: Int, c: Int, v: Int
    ) throws {
        try Kernels.embeddingBackward(dtable, dout, ids, n: n, c: c, v: v)
    }

    public static func dropoutForward(
        _ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
        count: Int, probability: Float, seed: UInt64, offset: UInt64
    ) throws {
        try Kernels.dropoutForward(out, inp, count: count, probability: probability, seed: seed,
                                   offset: offset)
    }
}

/// Rows of a table of gate pre-activations per token (V, 4H), read at ids (T, B): what a first
/// LSTM layer gathers instead of computing its input projection (`GateTable`, `DistinctTokens`).
public struct GateRows<Scalar: NetworkScalar> {
    let rows: UnsafePointer<Scalar>
    let ids: UnsafePointer<Int32>
    let vocabulary: Int
}
