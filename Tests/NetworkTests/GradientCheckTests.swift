import Kernels
import Testing
@testable import Network

// Gradient checks in Float64: the generic layer code run with the `Double` primitives, every
// parameter tensor (sampled entries) and the layer input, against central differences with
// step 1e-5 of loss = sum(out * w) for fixed random weights w.

// One per use: tests run concurrently and a workspace serves one product at a time.
private var workspace: GemmWorkspace { GemmWorkspace(threads: 1) }

/// sum(out * w) over n values.
private func weighted(_ out: UnsafePointer<Double>, _ w: [Double]) -> Double {
    var total = 0.0
    for i in 0..<w.count { total += out[i] * w[i] }
    return total
}

@Test func lstmLayerGradients() throws {
    let (b, t, i, h) = (2, 4, 5, 3)
    let config = ModelConfig(vocabularySize: 2, embeddingSize: i, layers: [.lstm(hidden: h)])
    let store = try ParameterStore<Double>(config: config)
    store.initialize(seed: 11)
    let layer = LSTMLayer(store: store, prefix: "lstm0", input: i, hidden: h)
    let (arena, (cache, state)) = Arena<Double>.build { a in
        (layer.makeCache(acts: a, grads: a, batch: b, steps: t), layer.makeState(a, batch: b))
    }
    defer { withExtendedLifetime(arena) {} }
    var x: [Double] = randomValues(t * b * i, seed: 1, scale: 1.5)
    let h0: [Double] = randomValues(b * h, seed: 2), c0: [Double] = randomValues(b * h, seed: 3)
    let w: [Double] = randomValues(t * b * h, seed: 4)
    func loss() -> Double {
        state.h.update(from: h0, count: b * h)
        state.c.update(from: c0, count: b * h)
        x.withUnsafeBufferPointer { layer.forward(cache, $0.baseAddress!, state: state, workspace: workspace) }
        return weighted(layer.output(cache), w)
    }
    _ = loss()
    var dx = [Double](repeating: 0, count: x.count)
    store.zeroGradients()
    layer.backward(&dx, cache, w, x, workspace: workspace)

    var report: [String] = []
    for name in ["lstm0.weight_ih_l0", "lstm0.weight_hh_l0", "lstm0.bias_ih_l0", "lstm0.bias_hh_l0"] {
        let tensor = try store.tensor(name)
        let err = centralDifferenceError(store.value(name), count: tensor.count,
                                         analytic: store.gradient(name), seed: 5, loss: loss)
        report.append("\(name) \(err)")
        #expect(err < 1e-6, "\(name): \(err)")
    }
    let errX = x.withUnsafeMutableBufferPointer { xp in
        centralDifferenceError(xp.baseAddress!, count: xp.count, analytic: dx, seed: 6, loss: loss)
    }
    report.append("x \(errX)")
    #expect(errX < 1e-6)
    print("gradient check LSTM layer:", report.joined(separator: ", "))
}

/// On one thread and on three: the (sequence, head) tasks run on the workspace's threads, each
/// with its own scratch for the attention gradient.
@Test(arguments: [1, 3])
func attentionLayerGradients(threads: Int) throws {
    let workspace = GemmWorkspace(threads: threads)
    let (b, t, c, heads) = (2, 5, 6, 2)
    let config = ModelConfig(vocabularySize: 2, embeddingSize: c, layers: [.attention(heads: heads)])
    let store = try ParameterStore<Double>(config: config)
    store.initialize(seed: 12)
    // LayerNorm starts at weight 1, bias 0: perturb them so their gradients are generic.
    for name in ["attn0.norm.weight", "attn0.norm.bias"] {
        let values: [Double] = randomValues(c, seed: 99, scale: 0.5)
        for j in 0..<c { store.value(name)[j] += values[j] }
    }
    let layer = AttentionLayer(store: store, prefix: "attn0", width: c, heads: heads)
    let (arena, cache) = Arena<Double>.build { a in
        layer.makeCache(acts: a, grads: a, batch: b, steps: t, threads: threads)
    }
    defer { withExtendedLifetime(arena) {} }
    var x: [Double] = randomValues(t * b * c, seed: 1, scale: 2)
    let w: [Double] = randomValues(t * b * c, seed: 4)
    func loss() -> Double {
        x.withUnsafeBufferPointer { layer.forward(cache, $0.baseAddress!, workspace: workspace) }
        return weighted(cache.out, w)
    }
    _ = loss()
    var dx = [Double](repeating: 0, count: x.count)
    store.zeroGradients()
    layer.backward(&dx, cache, w, x, workspace: workspace)

    var report: [String] = []
    for tensor in store.tensors where tensor.name.hasPrefix("attn0") {
        let err = centralDifferenceError(store.value(tensor.name), count: tensor.count,
                                         analytic: store.gradient(tensor.name), seed: 5, loss: loss)
        report.append("\(tensor.name) \(err)")
        #expect(err < 1e-6, "\(tensor.name): \(err)")
    }
    let errX = x.withUnsafeMutableBufferPointer { xp in
        centralDifferenceError(xp.baseAddress!, count: xp.count, analytic: dx, samples: 16, seed: 6,
                               loss: loss)
    }
    report.append("x \(errX)")
    #expect(errX < 1e-6)
    print("gradient check attention layer, \(threads) threads:", report.joined(separator: ", "))
}

/// The whole model's loss against every parameter tensor (embedding, LSTM and attention
/// layers, head, dropout on), with and without tied embeddings.
@Test(arguments: [false, true])
func modelGradients(tied: Bool) throws {
    let config = ModelConfig(
        vocabularySize: 11, embeddingSize: 6,
        layers: [.lstm(hidden: 8), .attention(heads: 2), .lstm(hidden: 6)],
        dropout: 0.25, tieEmbeddings: tied, maxSequenceLength: 8)
    let (b, t) = (2, 5)
    var targets = randomTokens(b * t, v: 11, seed: 2)
    targets[3] = ignoreTarget
    try checkModelGradients(config, tokens: randomTokens(b * t, v: 11, seed: 1), targets: targets, batch: b, steps: t,
                            label: "model (tied: \(tied))")
}

/// Without dropout the first LSTM layer projects each distinct id once (`DistinctTokens`):
/// the same check on that path, with ids repeating within the batch.
@Test func modelGradientsThroughDistinctTokens() throws {
    let config = ModelConfig(vocabularySize: 5, embeddingSize: 6, layers: [.lstm(hidden: 7), .lstm(hidden: 6)],
                             dropout: 0, tieEmbeddings: true)
    let (b, t) = (3, 5)
    try checkModelGradients(config, tokens: randomTokens(b * t, v: 5, seed: 3), targets: randomTokens(b * t, v: 5, seed: 4),
                            batch: b, steps: t, label: "model through distinct tokens")
}

/// Every parameter tensor of a `config` model against central differences of its mean loss
/// on one batch (dropout masks fixed).
func checkModelGradients(_ config: ModelConfig, tokens: [Int32], targets: [Int32], batch b: Int, steps t: Int,
                         label: String) throws {
    let model = try Model<Double>(config: config, seed: 7, threads: 1)
    // Weights of order 1 instead of the initialization's small ones: with those, many
    // gradients of the mean loss are ~1e-7, below what central differences resolve to 1e-6
    // (their rounding error is ~1e-16 |loss| / h = 3e-11).
    let values: [Double] = randomValues(model.parameters.count, seed: 98, scale: 1)
    for i in 0..<model.parameters.count { model.parameters.values[i] = values[i] }
    func loss() throws -> Double {
        model.resetState()
        model.forwardCount = 0  // the same dropout masks every time
        return try model.forward(tokens: tokens, targets: targets, batch: b, steps: t)
    }
    _ = try loss()
    model.parameters.zeroGradients()
    try model.backward()

    var report: [String] = []
    for tensor in model.parameters.tensors {
        let err = try centralDifferenceError(
            model.parameters.value(tensor.name), count: tensor.count,
            analytic: model.parameters.gradient(tensor.name), samples: 6, seed: 5, loss: loss)
        report.append("\(tensor.name) \(err)")
        #expect(err < 1e-6, "\(label), \(tensor.name): \(err)")
    }
    print("gradient check \(label):", report.joined(separator: ", "))
}
