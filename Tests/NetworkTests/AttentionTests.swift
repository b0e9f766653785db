import Kernels
import Testing
@testable import Network

// One per use: tests run concurrently and a workspace serves one product at a time.
private var workspace: GemmWorkspace { GemmWorkspace(threads: 1) }

/// Incremental decoding with the KV cache gives the full causal forward's outputs.
private func decodeMatchesFull<S: NetworkScalar>(_: S.Type, batch b: Int, steps t: Int, width c: Int,
                                                 heads: Int) throws -> Double {
    let config = ModelConfig(vocabularySize: 2, embeddingSize: c, layers: [.attention(heads: heads)])
    let store = try ParameterStore<S>(config: config)
    store.initialize(seed: 21)
    let layer = AttentionLayer(store: store, prefix: "attn0", width: c, heads: heads)
    let (arena, (cache, decode)) = Arena<S>.build { a in
        (layer.makeCache(acts: a, grads: a, batch: b, steps: t, threads: 1),
         layer.makeDecodeCache(a, batch: b, capacity: t + 3))
    }
    defer { withExtendedLifetime(arena) {} }
    let x: [S] = randomValues(t * b * c, seed: 5, scale: 2)
    layer.forward(cache, x, workspace: workspace)
    var worst = 0.0
    for pos in 0..<t {
        x.withUnsafeBufferPointer { layer.step(decode, $0.baseAddress! + pos * b * c, position: pos, workspace: workspace) }
        worst = max(worst, maxScaledError(UnsafeBufferPointer(start: decode.out, count: b * c),
                                          UnsafeBufferPointer(start: cache.out + pos * b * c, count: b * c)))
    }
    return worst
}

@Test(arguments: [(1, 1, 4, 1), (2, 7, 6, 3), (3, 9, 16, 2)])
func attentionDecodeEqualsFullForward(batch: Int, steps: Int, width: Int, heads: Int) throws {
    let errDouble = try decodeMatchesFull(Double.self, batch: batch, steps: steps, width: width, heads: heads)
    #expect(errDouble <= 1e-14)
    let errFloat = try decodeMatchesFull(Float.self, batch: batch, steps: steps, width: width, heads: heads)
    #expect(errFloat <= 1e-6)
}

/// Position t's output does not depend on later inputs.
@Test func attentionIsCausal() throws {
    let (b, t, c) = (2, 6, 8)
    let config = ModelConfig(vocabularySize: 2, embeddingSize: c, layers: [.attention(heads: 2)])
    let store = try ParameterStore<Double>(config: config)
    store.initialize(seed: 4)
    let layer = AttentionLayer(store: store, prefix: "attn0", width: c, heads: 2)
    let (arena, cache) = Arena<Double>.build { a in layer.makeCache(acts: a, grads: a, batch: b, steps: t, threads: 1) }
    defer { withExtendedLifetime(arena) {} }
    var x: [Double] = randomValues(t * b * c, seed: 1)
    layer.forward(cache, x, workspace: workspace)
    let before = Array(UnsafeBufferPointer(start: cache.out, count: 3 * b * c))
    for i in (3 * b * c)..<x.count { x[i] += 10 }
    layer.forward(cache, x, workspace: workspace)
    #expect(Array(UnsafeBufferPointer(start: cache.out, count: 3 * b * c)) == before)
}
