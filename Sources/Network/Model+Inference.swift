import Kernels

/// Features for prediction only (classification): the layers' output without anything the
/// backward would need.
///
/// `forwardFeatures` keeps every activation of every step (and sizes the backward's scratch)
/// for one exact (B, T); a classifier that predicts batches of many lengths built a new set of
/// buffers, tens of megabytes zeroed page by page, for each. Here an LSTM layer keeps only its
/// outputs and one cell state, the first layer reads its gates a step at a time from the gate
/// table (`prepareForInference`), and one set of buffers, grown to the largest (B, T) asked
/// for, serves every smaller batch and length.
extension Model {
    /// The buffers of `inferFeatures` for up to `batch` sequences of up to `steps` tokens.
    final class InferenceRun {
        let batch: Int, steps: Int, fromGateTable: Bool
        let arena: Arena<Scalar>
        let ids: UnsafeMutableBufferPointer<Int32>  // (T, B)
        let embedded: UnsafeMutablePointer<Scalar>  // (T, B, E); unused when the table is
        /// Per LSTM layer: outputs (T+1, B, H), cell state, gates, packed W_hh.
        let lstm: [(h: UnsafeMutablePointer<Scalar>, c: UnsafeMutablePointer<Scalar>,
                    gates: UnsafeMutablePointer<Scalar>, packed: UnsafeMutablePointer<Scalar>)?]

        init(model: Model, batch: Int, steps: Int, fromGateTable: Bool) {
            self.batch = batch
            self.steps = steps
            self.fromGateTable = fromGateTable
            (arena, (embedded, lstm)) = Arena.build { a in
                (a.take(fromGateTable ? 0 : steps * batch * model.config.embeddingSize),
                 model.layers.enumerated().map { k, layer in
                     guard case let .lstm(l) = layer else { return nil }
                     let n = LSTMLayer<Scalar>.inferenceCounts(hidden: l.hidden, batch: batch, steps: steps,
                                                               fromGateTable: k == 0 && fromGateTable)
                     return (a.take(n.h), a.take(n.c), a.take(n.gates), a.take(n.packed))
                 })
            }
            ids = .allocate(capacity: batch * steps)
            ids.initialize(repeating: 0)
        }

        deinit { ids.deallocate() }

        /// Every buffer is a prefix of length (T or T+1) x B x width, which fits in one sized
        /// for a larger B and T.
        func fits(batch b: Int, steps t: Int, fromGateTable table: Bool) -> Bool {
            b <= batch && t <= steps && table == fromGateTable
        }
    }

    /// Runs the embedding and the layers in inference mode (no dropout) on B sequences of T
    /// tokens from a zero state and returns the last layer's output (T, B, C), time-major,
    /// valid until the next forward of any kind; no backward may follow. Same values as
    /// `forwardFeatures` with `training` false. A model with attention layers takes the
    /// `forwardFeatures` path.
    @_specialize(exported: true, where Scalar == Float)
    public func inferFeatures(tokens: [Int32], batch: Int, steps: Int) throws -> UnsafePointer<Scalar> {
        guard !hasAttention else {
            let wasTraining = training
            training = false
            defer { training = wasTraining }
            return try forwardFeatures(tokens: tokens, batch: batch, steps: steps)
        }
        guard batch >= 1, steps >= 1, tokens.count == batch * steps else {
            throw NetworkError.shapeMismatch(
                "inferFeatures: B=\(batch) T=\(steps) needs \(batch * steps) tokens, got \(tokens.count)")
        }
        reserveInference(batch: batch, steps: steps)
        let run = inference!
        Self.timeMajor(tokens, into: run.ids, batch: batch, steps: steps)
        let ids = UnsafePointer(run.ids.baseAddress!)
        var x = UnsafeMutablePointer(run.embedded)
        if !run.fromGateTable { try embedding.forward(run.embedded, ids, n: batch * steps) }
        for k in layers.indices {
            guard case let .lstm(layer) = layers[k], let buffers = run.lstm[k] else { continue }
            let input: LSTMLayer<Scalar>.InferenceInput
            if k == 0, run.fromGateTable, let gateTable {
                try gateTableRows(for: UnsafeBufferPointer(start: ids, count: batch * steps))
                input = .gateTable(gateTable.values.baseAddress!, ids: ids, vocabulary: config.vocabularySize)
            } else {
                input = .sequence(x)
            }
            x = try layer.infer(input, h: buffers.h, c: buffers.c, gates: buffers.gates, packed: buffers.packed,
                                batch: batch, steps: steps, workspace: workspace)
        }
        return UnsafePointer(x)
    }

    /// Sizes the buffers of `inferFeatures` for B sequences of T tokens ahead of time (a caller
    /// that knows its longest batch avoids growing them step by step).
    public func reserveInference(batch: Int, steps: Int) {
        let table = gateTable != nil && !training
        if let run = inference, run.fits(batch: batch, steps: steps, fromGateTable: table) { return }
        inference = InferenceRun(model: self, batch: max(batch, inference?.batch ?? 0),
                                 steps: max(steps, inference?.steps ?? 0), fromGateTable: table)
    }
}
