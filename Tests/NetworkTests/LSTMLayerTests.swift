import Kernels
import Testing
@testable import Network

// One per use: tests run concurrently and a workspace serves one product at a time.
private var workspace: GemmWorkspace { GemmWorkspace(threads: 1) }

/// Runs `layer` over x (T, B, I) from a given state in one call; returns (output, h_T, c_T).
private func run<S: NetworkScalar>(_ layer: LSTMLayer<S>, _ x: [S], batch: Int, steps: Int,
                                   h0: [S], c0: [S]) -> ([S], [S], [S]) {
    let (arena, (cache, state)) = Arena<S>.build { a in
        (layer.makeCache(acts: a, grads: a, batch: batch, steps: steps), layer.makeState(a, batch: batch))
    }
    defer { withExtendedLifetime(arena) {} }
    state.h.update(from: h0, count: h0.count)
    state.c.update(from: c0, count: c0.count)
    layer.forward(cache, x, state: state, workspace: workspace)
    let n = steps * batch * layer.hidden
    return (Array(UnsafeBufferPointer(start: layer.output(cache), count: n)),
            Array(UnsafeBufferPointer(start: state.h, count: h0.count)),
            Array(UnsafeBufferPointer(start: state.c, count: c0.count)))
}

private func maxScaled<S: NetworkScalar>(_ a: [S], _ b: [S]) -> Double {
    a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in maxScaledError(pa, pb) } }
}

/// Full sequence == T single steps carrying the state; batch of B == B runs of batch 1.
@Test(arguments: [(1, 1, 1, 1), (3, 5, 7, 9), (4, 6, 17, 11)])
func lstmSequenceEqualsStepsAndBatchEqualsSingles(batch: Int, steps: Int, input: Int, hidden: Int) throws {
    let config = ModelConfig(vocabularySize: 2, embeddingSize: input, layers: [.lstm(hidden: hidden)])
    let store = try ParameterStore<Float>(config: config)
    store.initialize(seed: 3)
    let layer = LSTMLayer(store: store, prefix: "lstm0", input: input, hidden: hidden)
    let x: [Float] = randomValues(steps * batch * input, seed: 1, scale: 2)
    let h0: [Float] = randomValues(batch * hidden, seed: 2), c0: [Float] = randomValues(batch * hidden, seed: 3)
    let (out, hT, cT) = run(layer, x, batch: batch, steps: steps, h0: h0, c0: c0)

    var stepped: [Float] = []
    var h = h0, c = c0
    for t in 0..<steps {
        let xt = Array(x[(t * batch * input)..<((t + 1) * batch * input)])
        let (o, h1, c1) = run(layer, xt, batch: batch, steps: 1, h0: h, c0: c)
        stepped += o
        (h, c) = (h1, c1)
    }
    // The per-step products may take the vector path (B = 1) or sum in another order.
    #expect(maxScaled(stepped, out) <= 1e-6)
    #expect(maxScaled(h, hT) <= 1e-6 && maxScaled(c, cT) <= 1e-6)

    for b in 0..<batch {
        var xb: [Float] = []
        for t in 0..<steps { xb += x[((t * batch + b) * input)..<((t * batch + b + 1) * input)] }
        let hb = Array(h0[(b * hidden)..<((b + 1) * hidden)]), cb = Array(c0[(b * hidden)..<((b + 1) * hidden)])
        let (o, h1, c1) = run(layer, xb, batch: 1, steps: steps, h0: hb, c0: cb)
        var want: [Float] = []
        for t in 0..<steps { want += out[((t * batch + b) * hidden)..<((t * batch + b + 1) * hidden)] }
        #expect(maxScaled(o, want) <= 1e-6)
        #expect(maxScaled(h1, Array(hT[(b * hidden)..<((b + 1) * hidden)])) <= 1e-6)
        #expect(maxScaled(c1, Array(cT[(b * hidden)..<((b + 1) * hidden)])) <= 1e-6)
    }
}

/// The state carried across batches: two halves of a sequence == the whole sequence.
@Test func modelCarriesLSTMStateAcrossBatches() throws {
    let config = ModelConfig(vocabularySize: 13, embeddingSize: 5, layers: [.lstm(hidden: 7), .lstm(hidden: 6)])
    let model = try Model<Double>(config: config, seed: 1, threads: 1)
    model.training = false
    let tokens = randomTokens(8, v: 13, seed: 4), targets = randomTokens(8, v: 13, seed: 5)
    _ = try model.forward(tokens: tokens, targets: targets, batch: 1, steps: 8)
    let whole = Array(model.logits)
    model.resetState()
    _ = try model.forward(tokens: Array(tokens[0..<4]), targets: Array(targets[0..<4]), batch: 1, steps: 4)
    var halves = Array(model.logits)
    _ = try model.forward(tokens: Array(tokens[4...]), targets: Array(targets[4...]), batch: 1, steps: 4)
    halves += Array(model.logits)
    #expect(maxScaled(halves, whole) <= 1e-14)
}
