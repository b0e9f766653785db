import Kernels

/// The whole network: embedding -> dropout -> [layer -> dropout]* -> output head -> loss.
///
/// Training: `forward(tokens:targets:batch:steps:)` runs a batch of B sequences of T tokens,
/// keeps every activation the backward needs, and returns the mean cross-entropy;
/// `backward()` then accumulates the gradient of that loss into `parameters.gradients`
/// (zero them with `parameters.zeroGradients()` first). The LSTM state (h, c) is carried from
/// one batch to the next (truncated BPTT: gradients stop at the batch boundary); attention sees
/// only the current batch's T positions. `resetState()` zeroes the state.
///
/// Inference: `step(tokens:)` feeds one token per sequence through the recurrent state and
/// the attention KV cache and returns the next-token logits; `resetState()` starts over.
///
/// Memory: parameters and gradients live in `parameters` (one arena each). The first forward
/// with a given (B, T) sizes one arena for all activations, one for the backward's scratch and
/// one for the recurrent state; every later forward and backward with the same (B, T)
/// allocates nothing. A different (B, T) builds new arenas and resets the training state
/// (unless `retainedShapes` keeps the earlier shape's buffers and state for when it returns).
/// `forwardFeatures` builds its arenas without the output head's (N, V) logits.
/// Decoding has its own arena, sized for max_sequence_length on the first `step`.
///
/// Activations are time-major: row t*B + b. `logits` is (T, B, V).
/// Not thread-safe: one forward/backward/step at a time.
public final class Model<Scalar: NetworkScalar> {
    public let config: ModelConfig
    /// Parameters and their gradients.
    public let parameters: ParameterStore<Scalar>
    /// Dropout is applied only while `training` is true (and `config.dropout > 0`). Setting it
    /// to true drops the inference gate table (`prepareForInference`).
    public var training = true {
        didSet { if training { gateTable = nil; inference = nil } }
    }
    /// Dropout masks are a function of (dropoutSeed, site, forwardCount): reproducible runs.
    public var dropoutSeed: UInt64
    /// Training forwards run so far; advances the dropout masks. Settable to replay a mask.
    public var forwardCount: UInt64 = 0

    /// The GEMM scratch and worker threads every kernel of this model runs on; the optimizer's
    /// update between two steps may use them too (one call at a time).
    public let workspace: GemmWorkspace
    let embedding: EmbeddingLayer<Scalar>
    let layers: [AnyLayer]
    private let head: OutputLayer<Scalar>
    /// Whether a first LSTM layer without dropout below it takes its input projection once per
    /// distinct id of a batch (`DistinctTokens`). Off only to compare with the per-position
    /// products in tests.
    var projectsDistinctTokens = true
    /// Buffers per (B, T) shape, least recently used first; the last is the current one.
    private var retained: [Run] = []
    private var run: Run? { retained.last }
    /// How many (B, T) shapes keep their buffers (see "Memory" above); 1 by default. A
    /// classifier that pads its batches to a few lengths raises it.
    public var retainedShapes = 1
    private var decoder: Decoder?
    /// (V, 4H): the first LSTM layer's input projection of every token, when prepared.
    private(set) var gateTable: GateTable<Scalar>?
    /// Whether `gateTable` is this model's own (filled by it) or shared (filled by its maker).
    private var ownsGateTable = false
    /// Buffers of `inferFeatures`, grown to the largest (B, T) asked for.
    var inference: InferenceRun?

    enum AnyLayer {
        case lstm(LSTMLayer<Scalar>)
        case attention(AttentionLayer<Scalar>)
    }

    /// A model with freshly initialized parameters (`ParameterStore.initialize(seed:)`).
    /// - `threads`: GEMM worker threads (nil: every online core).
    /// Throws `NetworkError.invalidConfig` for an invalid configuration.
    @_specialize(exported: true, where Scalar == Float)
    public convenience init(config: ModelConfig, seed: UInt64, threads: Int? = nil) throws {
        try config.validate()
        let store = try ParameterStore<Scalar>(config: config)
        store.initialize(seed: seed)
        self.init(config: config, parameters: store,
                  dropoutSeed: SplitMix64.value(seed: seed, index: 1 << 32), threads: threads)
    }

    /// A model whose parameters are all zero, for weights that are loaded next (drawing a
    /// random initialization first cost a tool that only predicts a tenth of its start-up).
    @_specialize(exported: true, where Scalar == Float)
    public convenience init(zeroed config: ModelConfig, threads: Int? = nil) throws {
        try config.validate()
        self.init(config: config, parameters: try ParameterStore<Scalar>(config: config),
                  dropoutSeed: SplitMix64.value(seed: 0, index: 1 << 32), threads: threads)
    }

    /// A second model over the same `ParameterStore` (values and gradients are shared, the
    /// activations, recurrent state and KV cache are its own): evaluation during training
    /// runs on it without disturbing the training model's carried state.
    public convenience init(sharingParametersOf other: Model, threads: Int? = nil) {
        self.init(config: other.config, parameters: other.parameters, dropoutSeed: other.dropoutSeed,
                  threads: threads)
        training = false
    }

    private init(config: ModelConfig, parameters store: ParameterStore<Scalar>, dropoutSeed: UInt64,
                 threads: Int?) {
        self.config = config
        parameters = store
        self.dropoutSeed = dropoutSeed
        workspace = GemmWorkspace(threads: threads)
        embedding = EmbeddingLayer(table: parameters.value("embedding.weight"),
                                   dtable: parameters.gradient("embedding.weight"),
                                   vocabulary: config.vocabularySize, width: config.embeddingSize)
        layers = config.layers.enumerated().map { k, layer in
            let width = config.width(before: k)
            switch layer {
            case let .lstm(hidden):
                return .lstm(LSTMLayer(store: store, prefix: "lstm\(k)", input: width, hidden: hidden))
            case let .attention(heads):
                return .attention(AttentionLayer(store: store, prefix: "attn\(k)", width: width,
                                                 heads: heads))
            }
        }
        head = OutputLayer(store: parameters, config: config)
    }

    private enum BackwardStart { case none, loss, features }

    var hasAttention: Bool {
        config.layers.contains { if case .attention = $0 { true } else { false } }
    }

    // MARK: - Training

    /// Buffers of one (B, T) forward/backward.
    private final class Run {
        let batch: Int, steps: Int
        /// Whether the output head's buffers exist: `forwardFeatures` runs without them.
        let hasHead: Bool
        let acts: Arena<Scalar>, grads: Arena<Scalar>, state: Arena<Scalar>
        let ids: UnsafeMutableBufferPointer<Int32>      // (T, B)
        let targets: UnsafeMutableBufferPointer<Int32>  // (T, B)
        let embedded: UnsafeMutablePointer<Scalar>      // (T, B, E)
        let dropped: [UnsafeMutablePointer<Scalar>]     // site s: (T, B, width) after dropout
        let lstmCaches: [LSTMLayer<Scalar>.Cache?]      // per layer
        let lstmStates: [LSTMLayer<Scalar>.State?]      // per layer, (B, H) each
        /// When layer 0 is an LSTM: its input projection per distinct id.
        let distinct: DistinctTokens<Scalar>?
        let attentionCaches: [AttentionLayer<Scalar>.Cache?]
        let headCache: OutputLayer<Scalar>.Cache
        let dA: UnsafeMutablePointer<Scalar>, dB: UnsafeMutablePointer<Scalar>  // (T, B, max width)
        var inputs: [UnsafeMutablePointer<Scalar>]      // what layer k (and the head, k = L) read
        /// What the last forward ended with: the backward starts there.
        var backwardFrom: BackwardStart = .none
        var droppedOut = false
        /// Whether the last forward took layer 0's input through `distinct`; `embedded` then
        /// holds the embedding rows of its ids, not of the positions.
        var usedDistinct = false
        var dropoutStep: UInt64 = 0

        init(model: Model, batch: Int, steps: Int, withHead: Bool) {
            self.batch = batch
            self.steps = steps
            hasHead = withHead
            let n = batch * steps
            let widths = (0...model.layers.count).map { model.config.width(before: $0) }
            let maxWidth = max(widths.max()!, model.config.embeddingSize)
            let distinctRows: Int
            if case let .lstm(first)? = model.layers.first {
                distinctRows = DistinctTokens<Scalar>.rows(positions: n, vocabulary: model.config.vocabularySize)
                    * 4 * first.hidden
            } else {
                distinctRows = 0
            }
            let (actsArena, (embedded, distinctGates, dropped, lstmCaches, attentionCaches, headCache)) = Arena.build { a in
                (a.take(n * model.config.embeddingSize),
                 (a.take(distinctRows), a.take(distinctRows)),
                 widths.map { a.take(n * $0) },
                 model.layers.map { layer -> LSTMLayer<Scalar>.Cache? in
                     if case let .lstm(l) = layer { return l.makeCache(acts: a, grads: a, batch: batch, steps: steps) }
                     return nil
                 },
                 model.layers.map { layer -> AttentionLayer<Scalar>.Cache? in
                     if case let .attention(l) = layer {
                         return l.makeCache(acts: a, grads: a, batch: batch, steps: steps, threads: model.workspace.threads)
                     }
                     return nil
                 },
                 model.head.makeCache(acts: a, grads: a, rows: withHead ? n : 0, decoding: false))
            }
            let (gradsArena, (dA, dB)) = Arena<Scalar>.build { g in (g.take(n * maxWidth), g.take(n * maxWidth)) }
            let (stateArena, states) = Arena<Scalar>.build { s in
                model.layers.map { layer -> LSTMLayer<Scalar>.State? in
                    if case let .lstm(l) = layer { return l.makeState(s, batch: batch) }
                    return nil
                }
            }
            acts = actsArena; grads = gradsArena; state = stateArena
            self.embedded = embedded; self.dropped = dropped
            self.lstmCaches = lstmCaches; self.attentionCaches = attentionCaches
            self.headCache = headCache; self.dA = dA; self.dB = dB
            lstmStates = states
            distinct = distinctRows == 0 ? nil
                : DistinctTokens(positions: n, vocabulary: model.config.vocabularySize,
                                 gates: distinctGates.0, dgates: distinctGates.1)
            ids = .allocate(capacity: n); ids.initialize(repeating: 0)
            targets = .allocate(capacity: n); targets.initialize(repeating: 0)
            inputs = Array(repeating: embedded, count: model.layers.count + 1)
        }

        deinit {
            ids.deallocate()
            targets.deallocate()
        }
    }

    /// Runs B sequences of T tokens and returns the mean cross-entropy against `targets`.
    /// - `tokens`, `targets`: (B, T) batch-major (row b is sequence b), ids in 0..<V; a target
    ///   may be `ignoreTarget` (-1) to leave that position out of the loss.
    /// Afterwards `logits` holds (T, B, V) and `backward()` may be called.
    /// Throws on a size mismatch, T > max_sequence_length with attention layers, or an id or
    /// target outside the vocabulary.
    // Specialized here for Float: a client module only sees the generic entry point, and the
    // unspecialized body would reach every primitive through the protocol witness table.
    @_specialize(exported: true, where Scalar == Float)
    public func forward(tokens: [Int32], targets: [Int32], batch: Int, steps: Int) throws -> Scalar {
        guard targets.count == batch * steps else {
            throw NetworkError.shapeMismatch(
                "forward: B=\(batch) T=\(steps) needs \(batch * steps) targets, got \(targets.count)")
        }
        let run = try start(tokens: tokens, batch: batch, steps: steps, withHead: true)
        Self.timeMajor(targets, into: run.targets, batch: batch, steps: steps)
        let x = try runLayers(run)
        let loss = try head.loss(run.headCache, x, run.targets.baseAddress!, workspace: workspace)
        run.backwardFrom = .loss
        return loss
    }

    /// Runs the embedding and the layers, without the output head, on B sequences of T tokens
    /// from a zero state (every sequence starts afresh: classification) and returns the last
    /// layer's output (T, B, C), time-major, after its dropout when training. Valid until the
    /// next forward; `backward(featureGradient:lowestGroup:)` may follow.
    @_specialize(exported: true, where Scalar == Float)
    public func forwardFeatures(tokens: [Int32], batch: Int, steps: Int) throws -> UnsafePointer<Scalar> {
        let run = try start(tokens: tokens, batch: batch, steps: steps, withHead: false)
        run.state.zero()
        let x = try runLayers(run)
        run.backwardFrom = .features
        return UnsafePointer(x)
    }

    /// Checks the shape, builds or reuses the buffers and copies the ids in, time-major.
    private func start(tokens: [Int32], batch: Int, steps: Int, withHead: Bool) throws -> Run {
        guard batch >= 1, steps >= 1, tokens.count == batch * steps else {
            throw NetworkError.shapeMismatch(
                "forward: B=\(batch) T=\(steps) needs \(batch * steps) tokens, got \(tokens.count)")
        }
        if hasAttention && steps > config.maxSequenceLength {
            throw NetworkError.sequenceTooLong(length: steps, limit: config.maxSequenceLength)
        }
        let run = run(batch: batch, steps: steps, withHead: withHead)
        run.backwardFrom = .none
        Self.timeMajor(tokens, into: run.ids, batch: batch, steps: steps)
        return run
    }

    /// Batch-major (B, T) ids as time-major (T, B): row t*B + b.
    static func timeMajor(_ ids: [Int32], into out: UnsafeMutableBufferPointer<Int32>, batch: Int, steps: Int) {
        for b in 0..<batch {
            for t in 0..<steps { out[t * batch + b] = ids[b * steps + t] }
        }
    }

    /// Embedding -> dropout -> [layer -> dropout]*; returns what the head reads.
    private func runLayers(_ run: Run) throws -> UnsafeMutablePointer<Scalar> {
        let n = run.batch * run.steps
        let dropout = training && config.dropout > 0
        run.droppedOut = dropout
        run.dropoutStep = forwardCount
        if training { forwardCount &+= 1 }

        var x = run.embedded
        let tableReady = gateTable != nil && !training
        let distinct = tableReady || dropout || !projectsDistinctTokens ? nil : run.distinct
        run.usedDistinct = false
        if let distinct {
            try distinct.collect(UnsafeBufferPointer(run.ids))
            try embedding.forward(run.embedded, distinct.ids.baseAddress!, n: distinct.count)
            run.usedDistinct = true
        } else if !tableReady {
            try embedding.forward(run.embedded, run.ids.baseAddress!, n: n)
            x = try dropoutForward(run, site: 0, run.embedded, width: config.embeddingSize)
        }
        for k in 0..<layers.count {
            run.inputs[k] = x
            switch layers[k] {
            case let .lstm(layer):
                if k == 0, tableReady, let gateTable {
                    try gateTableRows(for: UnsafeBufferPointer(run.ids))
                    try layer.forward(run.lstmCaches[k]!, gateTable: gateTable.values.baseAddress!,
                                      ids: run.ids.baseAddress!, vocabulary: config.vocabularySize,
                                      state: run.lstmStates[k]!, workspace: workspace)
                } else if k == 0, let distinct {
                    try layer.forward(run.lstmCaches[k]!, distinct: distinct, embedded: run.embedded,
                                      state: run.lstmStates[k]!, workspace: workspace)
                } else {
                    layer.forward(run.lstmCaches[k]!, x, state: run.lstmStates[k]!, workspace: workspace)
                }
                x = layer.output(run.lstmCaches[k]!)
            case let .attention(layer):
                layer.forward(run.attentionCaches[k]!, x, workspace: workspace)
                x = run.attentionCaches[k]!.out
            }
            x = try dropoutForward(run, site: k + 1, x, width: config.width(before: k + 1))
        }
        run.inputs[layers.count] = x
        return x
    }

    /// Accumulates the gradient of the last `forward`'s loss into `parameters.gradients`.
    /// Throws `NetworkError.noForward` if there was no successful forward since the last reset.
    @_specialize(exported: true, where Scalar == Float)
    public func backward() throws {
        guard let run, run.backwardFrom == .loss else { throw NetworkError.noForward }
        head.backward(run.dA, run.headCache, run.inputs[layers.count], workspace: workspace)
        try backwardLayers(run, lowestGroup: 0)
    }

    /// Accumulates into `parameters.gradients` the gradient of a loss whose gradient with respect
    /// to the last `forwardFeatures` output is `featureGradient` (T, B, C). Parameter groups are
    /// numbered bottom up: 0 the embedding, k + 1 layer k; the backward stops below
    /// `lowestGroup`, so frozen lower groups cost nothing and receive no gradient.
    @_specialize(exported: true, where Scalar == Float)
    public func backward(featureGradient: UnsafePointer<Scalar>, lowestGroup: Int = 0) throws {
        guard let run, run.backwardFrom == .features else { throw NetworkError.noForward }
        run.dA.update(from: featureGradient, count: run.batch * run.steps * config.width(before: layers.count))
        try backwardLayers(run, lowestGroup: lowestGroup)
    }

    /// Parameter groups: the embedding and one per layer (see `backward(featureGradient:)`).
    public var groupCount: Int { layers.count + 1 }

    /// The tensors of parameter group g (0: the embedding, k + 1: layer k).
    public func tensors(inGroup g: Int) -> [ParameterTensor] {
        let prefix: String
        if g == 0 {
            prefix = "embedding."
        } else if case .lstm = config.layers[g - 1] {
            prefix = "lstm\(g - 1)."
        } else {
            prefix = "attn\(g - 1)."
        }
        return parameters.tensors.filter { $0.name.hasPrefix(prefix) }
    }

    /// Backward from run.dA (the gradient of the head's input) through the layers.
    private func backwardLayers(_ run: Run, lowestGroup: Int) throws {
        let n = run.batch * run.steps
        var dout = run.dA, dx = run.dB
        for k in stride(from: layers.count - 1, through: 0, by: -1) where k + 1 >= lowestGroup {
            try dropoutBackward(run, site: k + 1, dout, width: config.width(before: k + 1))
            switch layers[k] {
            case let .lstm(layer):
                if k == 0, run.usedDistinct, let distinct = run.distinct {
                    try layer.backward(run.lstmCaches[k]!, dout, distinct: distinct, embedded: run.embedded,
                                       dEmbedded: lowestGroup == 0 ? dx : nil, workspace: workspace)
                } else {
                    layer.backward(dx, run.lstmCaches[k]!, dout, run.inputs[k], workspace: workspace)
                }
            case let .attention(layer):
                layer.backward(dx, run.attentionCaches[k]!, dout, run.inputs[k], workspace: workspace)
            }
            swap(&dout, &dx)
        }
        guard lowestGroup == 0 else { return }
        if run.usedDistinct, let distinct = run.distinct {
            try embedding.backward(dout, distinct.ids.baseAddress!, n: distinct.count)
            return
        }
        try dropoutBackward(run, site: 0, dout, width: config.embeddingSize)
        try embedding.backward(dout, run.ids.baseAddress!, n: n)
    }

    /// Inference speed-up for a first LSTM layer: its input projection of each token (4H
    /// scalars) is computed once, the first time the token turns up (`GateTable`), so that
    /// `inferFeatures` and `forward` read a row per token instead of multiplying. A snapshot of
    /// the current weights: call again after changing them; setting `training` to true
    /// discards it. Does nothing unless layer 0 is an LSTM.
    /// `shared`: a table that `makeGateTable()` of a model over the same parameters made, used
    /// instead of one of this model's own (prediction workers share one). This model then only
    /// reads it: the table's maker fills the rows of a batch (`fillGateTable`) before this
    /// model runs it.
    public func prepareForInference(shared: GateTable<Scalar>? = nil) {
        training = false
        if let shared, shared.count == gateTableCount {
            gateTable = shared
            ownsGateTable = false
        } else {
            gateTable = makeGateTable()
            ownsGateTable = true
        }
        inference = nil  // its layout depends on whether the table is there
    }

    /// An empty gate table for the first LSTM layer under the current weights; nil unless
    /// layer 0 is an LSTM. Changes nothing in the model, so a model in training can make one
    /// for its inference copies.
    public func makeGateTable() -> GateTable<Scalar>? {
        guard case let .lstm(layer)? = layers.first else { return nil }
        return GateTable<Scalar>(vocabulary: config.vocabularySize, width: 4 * layer.hidden)
    }

    /// Computes the rows of `table` (from `makeGateTable()`) that `ids` need and it lacks, on
    /// this model's threads. Ids outside the vocabulary are skipped: reading them is refused.
    public func fillGateTable(_ table: GateTable<Scalar>, for ids: UnsafeBufferPointer<Int32>) throws {
        guard case let .lstm(layer)? = layers.first, table.count == gateTableCount else { return }
        let new = table.missing(ids)
        guard !new.isEmpty else { return }
        // Two rows at least: a one-row product takes the vector-matrix path, whose sums are
        // ordered differently, and a row's values must not depend on the ids beside it.
        let rows = new.count == 1 ? [new[0], new[0]] : new
        let e = config.embeddingSize, g = table.width
        let x = UnsafeMutablePointer<Scalar>.allocate(capacity: rows.count * e)
        let out = UnsafeMutablePointer<Scalar>.allocate(capacity: rows.count * g)
        defer { x.deallocate(); out.deallocate() }
        try rows.withUnsafeBufferPointer { try embedding.forward(x, $0.baseAddress!, n: rows.count) }
        layer.gateRows(out, inputs: x, n: rows.count, workspace: workspace)
        for (r, id) in new.enumerated() {
            (table.values.baseAddress! + Int(id) * g).update(from: out + r * g, count: g)
        }
        table.markFilled(new)
    }

    /// `fillGateTable` for every id of `sequences`.
    public func fillGateTable(_ table: GateTable<Scalar>, for sequences: [[Int32]]) throws {
        try Array(sequences.joined()).withUnsafeBufferPointer { try fillGateTable(table, for: $0) }
    }

    /// Makes the gate table ready for `ids`: an own table gets its missing rows, a shared one
    /// must have them already (its owner fills it before the workers run).
    func gateTableRows(for ids: UnsafeBufferPointer<Int32>) throws {
        guard let gateTable else { return }
        if ownsGateTable {
            try fillGateTable(gateTable, for: ids)
        } else if !gateTable.hasRows(for: ids) {
            throw NetworkError.shapeMismatch("the shared gate table lacks rows of this batch (fill it before the workers run)")
        }
    }

    private var gateTableCount: Int {
        guard case let .lstm(layer)? = layers.first else { return 0 }
        return config.vocabularySize * 4 * layer.hidden
    }

    /// The logits of the last `forward`: (T, B, V), time-major (row t*B + b); empty before, and
    /// with an adaptive softmax (which computes only the clusters of the targets).
    public var logits: UnsafeBufferPointer<Scalar> {
        guard let run, run.hasHead, let logits = OutputLayer.logits(run.headCache) else {
            return UnsafeBufferPointer(start: nil, count: 0)
        }
        return UnsafeBufferPointer(start: logits,
                                   count: run.batch * run.steps * config.vocabularySize)
    }

    /// Zeroes the recurrent state of training and decoding and empties the KV cache.
    public func resetState() {
        for kept in retained { kept.state.zero() }
        if let decoder {
            decoder.state.zero()
            decoder.position = 0
        }
    }

    /// Zeroes the carried training state (every LSTM layer's h and c) of the given sequences
    /// of the current batch only: the next `forward` starts them afresh and continues the
    /// others. Does nothing before the first training forward.
    public func resetState(sequences: some Sequence<Int>) {
        guard let run else { return }
        for b in sequences {
            precondition(b >= 0 && b < run.batch, "sequence \(b) outside the batch of \(run.batch)")
            for (layer, state) in zip(layers, run.lstmStates) {
                guard case let .lstm(lstm) = layer, let state else { continue }
                (state.h + b * lstm.hidden).update(repeating: 0, count: lstm.hidden)
                (state.c + b * lstm.hidden).update(repeating: 0, count: lstm.hidden)
            }
        }
    }

    /// The recurrent state carried from one training batch to the next (every LSTM layer's h
    /// and c for the current batch size), for a resumable checkpoint; empty before the first
    /// training forward.
    public var carriedState: [Scalar] { run.map { Array($0.state.contents) } ?? [] }

    /// Restores a `carriedState` saved from batches of (batch, steps).
    public func restoreCarriedState(_ values: [Scalar], batch: Int, steps: Int) throws {
        let state = run(batch: batch, steps: steps, withHead: true).state.contents
        guard values.count == state.count else {
            throw NetworkError.shapeMismatch("carried state has \(values.count) values, the model needs \(state.count)")
        }
        _ = state.update(fromContentsOf: values)
    }

    /// The buffers for (batch, steps), built on first use or when the shape changes.
    /// With `retainedShapes` above 1, up to that many shapes keep their buffers (and their
    /// own recurrent state) for reuse, the least recently used dropped first.
    private func run(batch: Int, steps: Int, withHead: Bool) -> Run {
        func fits(_ r: Run) -> Bool { r.batch == batch && r.steps == steps && (r.hasHead || !withHead) }
        if let run, fits(run) { return run }
        if let i = retained.firstIndex(where: fits) {
            retained.append(retained.remove(at: i))
        } else {
            retained.append(Run(model: self, batch: batch, steps: steps, withHead: withHead))
            if retained.count > max(1, retainedShapes) { retained.removeFirst() }
        }
        return retained.last!
    }

    private func dropoutSeed(site: Int, step: UInt64) -> UInt64 {
        SplitMix64.value(seed: dropoutSeed &+ UInt64(site) &* 0x1_0000_0001, index: step)
    }

    private func dropoutForward(_ run: Run, site: Int, _ x: UnsafeMutablePointer<Scalar>,
                                width: Int) throws -> UnsafeMutablePointer<Scalar> {
        guard run.droppedOut else { return x }
        try Scalar.dropoutForward(run.dropped[site], x, count: run.batch * run.steps * width,
                                  probability: config.dropout,
                                  seed: dropoutSeed(site: site, step: run.dropoutStep), offset: 0)
        return run.dropped[site]
    }

    private func dropoutBackward(_ run: Run, site: Int, _ d: UnsafeMutablePointer<Scalar>,
                                 width: Int) throws {
        guard run.droppedOut else { return }
        try Scalar.dropoutBackward(d, d, count: run.batch * run.steps * width,
                                   probability: config.dropout,
                                   seed: dropoutSeed(site: site, step: run.dropoutStep), offset: 0)
    }

    // MARK: - Decoding

    /// Buffers of incremental decoding for B sequences: LSTM states, KV caches, one step's
    /// activations.
    private final class Decoder {
        let batch: Int
        let arena: Arena<Scalar>, state: Arena<Scalar>
        let ids: UnsafeMutableBufferPointer<Int32>  // (B)
        let embedded: UnsafeMutablePointer<Scalar>  // (B, E)
        let lstmCaches: [LSTMLayer<Scalar>.Cache?]  // T = 1
        let lstmStates: [LSTMLayer<Scalar>.State?]
        let attentionCaches: [AttentionLayer<Scalar>.DecodeCache?]  // KV caches live in `state`
        let headCache: OutputLayer<Scalar>.Cache    // (B, V)
        var position = 0

        init(model: Model, batch: Int) {
            self.batch = batch
            let (arena, (embedded, lstmCaches, headCache)) = Arena<Scalar>.build { a in
                (a.take(batch * model.config.embeddingSize),
                 model.layers.map { layer -> LSTMLayer<Scalar>.Cache? in
                     if case let .lstm(l) = layer { return l.makeCache(acts: a, grads: a, batch: batch, steps: 1) }
                     return nil
                 },
                 model.head.makeCache(acts: a, grads: a, rows: batch, decoding: true))
            }
            let (state, (states, attention)) = Arena<Scalar>.build { s in
                (model.layers.map { layer -> LSTMLayer<Scalar>.State? in
                    if case let .lstm(l) = layer { return l.makeState(s, batch: batch) }
                    return nil
                 },
                 model.layers.map { layer -> AttentionLayer<Scalar>.DecodeCache? in
                    if case let .attention(l) = layer {
                        return l.makeDecodeCache(s, batch: batch, capacity: model.config.maxSequenceLength)
                    }
                    return nil
                 })
            }
            self.arena = arena; self.state = state
            self.embedded = embedded; self.lstmCaches = lstmCaches; self.headCache = headCache
            lstmStates = states; attentionCaches = attention
            ids = .allocate(capacity: batch); ids.initialize(repeating: 0)
        }

        deinit { ids.deallocate() }
    }

    /// Feeds one token per sequence (B = tokens.count) at the next position and returns the
    /// next-token logits (B, V) (with an adaptive softmax, log-probabilities), valid until the
    /// next call. Dropout is never applied. The first call, or a call with a different B,
    /// starts from a zero state and an empty KV cache.
    /// Throws when an attention layer's KV cache already holds max_sequence_length positions
    /// (call `resetState()`), or for an id outside the vocabulary.
    @_specialize(exported: true, where Scalar == Float)
    public func step(tokens: [Int32]) throws -> UnsafeBufferPointer<Scalar> {
        guard !tokens.isEmpty else { throw NetworkError.shapeMismatch("step: no tokens") }
        if decoder == nil || decoder!.batch != tokens.count {
            decoder = Decoder(model: self, batch: tokens.count)
        }
        let dec = decoder!
        if hasAttention && dec.position >= config.maxSequenceLength {
            throw NetworkError.sequenceTooLong(length: dec.position + 1, limit: config.maxSequenceLength)
        }
        for b in 0..<dec.batch { dec.ids[b] = tokens[b] }
        try embedding.forward(dec.embedded, dec.ids.baseAddress!, n: dec.batch)
        var x = dec.embedded
        for k in 0..<layers.count {
            switch layers[k] {
            case let .lstm(layer):
                layer.forward(dec.lstmCaches[k]!, x, state: dec.lstmStates[k]!, workspace: workspace)
                x = layer.output(dec.lstmCaches[k]!)
            case let .attention(layer):
                layer.step(dec.attentionCaches[k]!, x, position: dec.position, workspace: workspace)
                x = dec.attentionCaches[k]!.out
            }
        }
        let scores = head.scores(dec.headCache, x, workspace: workspace)
        dec.position += 1
        return UnsafeBufferPointer(start: scores, count: dec.batch * config.vocabularySize)
    }
}
