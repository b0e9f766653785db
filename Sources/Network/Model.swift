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
/// allocates nothing. A different (B, T) builds new arenas and resets the training state.
/// Decoding has its own arena, sized for max_sequence_length on the first `step`.
///
/// Activations are time-major: row t*B + b. `logits` is (T, B, V).
/// Not thread-safe: one forward/backward/step at a time.
public final class Model<Scalar: NetworkScalar> {
    public let config: ModelConfig
    /// Parameters and their gradients.
    public let parameters: ParameterStore<Scalar>
    /// Dropout is applied only while `training` is true (and `config.dropout > 0`).
    public var training = true
    /// Dropout masks are a function of (dropoutSeed, site, forwardCount): reproducible runs.
    public var dropoutSeed: UInt64
    /// Training forwards run so far; advances the dropout masks. Settable to replay a mask.
    public var forwardCount: UInt64 = 0

    private let workspace: GemmWorkspace
    private let embedding: EmbeddingLayer<Scalar>
    private let layers: [AnyLayer]
    private let head: OutputHead<Scalar>
    private var run: Run?
    private var decoder: Decoder?

    private enum AnyLayer {
        case lstm(LSTMLayer<Scalar>)
        case attention(AttentionLayer<Scalar>)
    }

    /// A model with freshly initialized parameters (`ParameterStore.initialize(seed:)`).
    /// - `threads`: GEMM worker threads (nil: every online core).
    /// Throws `NetworkError.invalidConfig` for an invalid configuration.
    public convenience init(config: ModelConfig, seed: UInt64, threads: Int? = nil) throws {
        try config.validate()
        let store = try ParameterStore<Scalar>(config: config)
        store.initialize(seed: seed)
        self.init(config: config, parameters: store,
                  dropoutSeed: SplitMix64.value(seed: seed, index: 1 << 32), threads: threads)
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
        head = OutputHead(store: parameters, tied: config.tieEmbeddings,
                          vocabulary: config.vocabularySize,
                          width: config.width(before: config.layers.count))
    }

    private var hasAttention: Bool {
        config.layers.contains { if case .attention = $0 { true } else { false } }
    }

    // MARK: - Training

    /// Buffers of one (B, T) forward/backward.
    private final class Run {
        let batch: Int, steps: Int
        let acts: Arena<Scalar>, grads: Arena<Scalar>, state: Arena<Scalar>
        let ids: UnsafeMutableBufferPointer<Int32>      // (T, B)
        let targets: UnsafeMutableBufferPointer<Int32>  // (T, B)
        let embedded: UnsafeMutablePointer<Scalar>      // (T, B, E)
        let dropped: [UnsafeMutablePointer<Scalar>]     // site s: (T, B, width) after dropout
        let lstmCaches: [LSTMLayer<Scalar>.Cache?]      // per layer
        let lstmStates: [LSTMLayer<Scalar>.State?]      // per layer, (B, H) each
        let attentionCaches: [AttentionLayer<Scalar>.Cache?]
        let headCache: OutputHead<Scalar>.Cache
        let dA: UnsafeMutablePointer<Scalar>, dB: UnsafeMutablePointer<Scalar>  // (T, B, max width)
        var inputs: [UnsafeMutablePointer<Scalar>]      // what layer k (and the head, k = L) read
        var canBackward = false
        var droppedOut = false
        var dropoutStep: UInt64 = 0

        init(model: Model, batch: Int, steps: Int) {
            self.batch = batch
            self.steps = steps
            let n = batch * steps
            let widths = (0...model.layers.count).map { model.config.width(before: $0) }
            let maxWidth = max(widths.max()!, model.config.embeddingSize)
            let (actsArena, (embedded, dropped, lstmCaches, attentionCaches, headCache)) = Arena.build { a in
                (a.take(n * model.config.embeddingSize),
                 widths.map { a.take(n * $0) },
                 model.layers.map { layer -> LSTMLayer<Scalar>.Cache? in
                     if case let .lstm(l) = layer { return l.makeCache(acts: a, grads: a, batch: batch, steps: steps) }
                     return nil
                 },
                 model.layers.map { layer -> AttentionLayer<Scalar>.Cache? in
                     if case let .attention(l) = layer { return l.makeCache(acts: a, grads: a, batch: batch, steps: steps) }
                     return nil
                 },
                 model.head.makeCache(acts: a, grads: a, rows: n))
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
        guard batch >= 1, steps >= 1, tokens.count == batch * steps, targets.count == batch * steps else {
            throw NetworkError.shapeMismatch(
                "forward: B=\(batch) T=\(steps) needs \(batch * steps) tokens and targets, got \(tokens.count) and \(targets.count)")
        }
        if hasAttention && steps > config.maxSequenceLength {
            throw NetworkError.sequenceTooLong(length: steps, limit: config.maxSequenceLength)
        }
        let run = run(batch: batch, steps: steps)
        run.canBackward = false
        let n = batch * steps
        for b in 0..<batch {
            for t in 0..<steps {
                run.ids[t * batch + b] = tokens[b * steps + t]
                run.targets[t * batch + b] = targets[b * steps + t]
            }
        }
        let dropout = training && config.dropout > 0
        run.droppedOut = dropout
        run.dropoutStep = forwardCount
        if training { forwardCount &+= 1 }

        try embedding.forward(run.embedded, run.ids.baseAddress!, n: n)
        var x = try dropoutForward(run, site: 0, run.embedded, width: config.embeddingSize)
        for k in 0..<layers.count {
            run.inputs[k] = x
            switch layers[k] {
            case let .lstm(layer):
                layer.forward(run.lstmCaches[k]!, x, state: run.lstmStates[k]!, workspace: workspace)
                x = layer.output(run.lstmCaches[k]!)
            case let .attention(layer):
                layer.forward(run.attentionCaches[k]!, x, workspace: workspace)
                x = run.attentionCaches[k]!.out
            }
            x = try dropoutForward(run, site: k + 1, x, width: config.width(before: k + 1))
        }
        run.inputs[layers.count] = x
        head.forward(run.headCache, x, workspace: workspace)
        let loss = try head.loss(run.headCache, run.targets.baseAddress!)
        run.canBackward = true
        return loss
    }

    /// Accumulates the gradient of the last `forward`'s loss into `parameters.gradients`.
    /// Throws `NetworkError.noForward` if there was no successful forward since the last reset.
    @_specialize(exported: true, where Scalar == Float)
    public func backward() throws {
        guard let run, run.canBackward else { throw NetworkError.noForward }
        let n = run.batch * run.steps
        var dout = run.dA, dx = run.dB
        head.backward(dout, run.headCache, run.inputs[layers.count], workspace: workspace)
        for k in stride(from: layers.count - 1, through: 0, by: -1) {
            try dropoutBackward(run, site: k + 1, dout, width: config.width(before: k + 1))
            switch layers[k] {
            case let .lstm(layer):
                layer.backward(dx, run.lstmCaches[k]!, dout, run.inputs[k], workspace: workspace)
            case let .attention(layer):
                layer.backward(dx, run.attentionCaches[k]!, dout, run.inputs[k], workspace: workspace)
            }
            swap(&dout, &dx)
        }
        try dropoutBackward(run, site: 0, dout, width: config.embeddingSize)
        try embedding.backward(dout, run.ids.baseAddress!, n: n)
    }

    /// The logits of the last `forward`: (T, B, V), time-major (row t*B + b); empty before.
    public var logits: UnsafeBufferPointer<Scalar> {
        guard let run else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: run.headCache.logits,
                                   count: run.batch * run.steps * config.vocabularySize)
    }

    /// Zeroes the recurrent state of training and decoding and empties the KV cache.
    public func resetState() {
        run?.state.zero()
        if let decoder {
            decoder.state.zero()
            decoder.position = 0
        }
    }

    /// The recurrent state carried from one training batch to the next (every LSTM layer's h
    /// and c for the current batch size), for a resumable checkpoint; empty before the first
    /// training forward.
    public var carriedState: [Scalar] { run.map { Array($0.state.contents) } ?? [] }

    /// Restores a `carriedState` saved from batches of (batch, steps).
    public func restoreCarriedState(_ values: [Scalar], batch: Int, steps: Int) throws {
        let state = run(batch: batch, steps: steps).state.contents
        guard values.count == state.count else {
            throw NetworkError.shapeMismatch("carried state has \(values.count) values, the model needs \(state.count)")
        }
        _ = state.update(fromContentsOf: values)
    }

    /// The buffers for (batch, steps), built on first use or when the shape changes.
    private func run(batch: Int, steps: Int) -> Run {
        if let run, run.batch == batch, run.steps == steps { return run }
        let fresh = Run(model: self, batch: batch, steps: steps)
        run = fresh
        return fresh
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
        let headCache: OutputHead<Scalar>.Cache     // (B, V)
        var position = 0

        init(model: Model, batch: Int) {
            self.batch = batch
            let (arena, (embedded, lstmCaches, headCache)) = Arena<Scalar>.build { a in
                (a.take(batch * model.config.embeddingSize),
                 model.layers.map { layer -> LSTMLayer<Scalar>.Cache? in
                     if case let .lstm(l) = layer { return l.makeCache(acts: a, grads: a, batch: batch, steps: 1) }
                     return nil
                 },
                 model.head.makeCache(acts: a, grads: a, rows: batch))
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
    /// next-token logits (B, V), valid until the next call. Dropout is never applied. The first
    /// call, or a call with a different B, starts from a zero state and an empty KV cache.
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
        head.forward(dec.headCache, x, workspace: workspace)
        dec.position += 1
        return UnsafeBufferPointer(start: dec.headCache.logits, count: dec.batch * config.vocabularySize)
    }
}
