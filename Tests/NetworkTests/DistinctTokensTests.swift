import Kernels
import Testing
@testable import Network

// A first LSTM layer without dropout below it takes its input projection once per distinct id
// of the batch (`DistinctTokens`). The tests pin it to the per-position products it replaces.

@Test func collectFindsDistinctIdsInFirstSeenOrder() throws {
    let (arena, (gates, dgates)) = Arena<Float>.build { a in (a.take(8), a.take(8)) }
    defer { withExtendedLifetime(arena) {} }
    let distinct = DistinctTokens<Float>(positions: 7, vocabulary: 10, gates: gates, dgates: dgates)
    let ids: [Int32] = [4, 9, 4, 0, 9, 9, 7]
    try ids.withUnsafeBufferPointer { try distinct.collect($0) }
    #expect(Array(distinct.ids.prefix(distinct.count)) == [4, 9, 0, 7])
    #expect(Array(distinct.slots) == [0, 1, 0, 2, 1, 1, 3])

    // An id outside the vocabulary is refused as the embedding refuses it, and leaves nothing
    // behind: the next batch is collected afresh.
    #expect(throws: KernelError.indexOutOfRange(what: "id", position: 2, index: 10, limit: 10)) {
        try [Int32]([3, 5, 10]).withUnsafeBufferPointer { try distinct.collect($0) }
    }
    #expect(distinct.count == 0)
    try [Int32]([5, 5, 3]).withUnsafeBufferPointer { try distinct.collect($0) }
    #expect(Array(distinct.ids.prefix(distinct.count)) == [5, 3])
    #expect(Array(distinct.slots.prefix(3)) == [0, 0, 1])
}

/// Loss, logits and every gradient as with one product per position, in Float64, over two
/// batches (the second from the carried state), tied and untied; ids repeat within a batch.
@Test(arguments: [false, true])
func distinctProjectionMatchesPerPositionProducts(tied: Bool) throws {
    let config = ModelConfig(vocabularySize: 7, embeddingSize: 5,
                             layers: [.lstm(hidden: 6), .attention(heads: 2), .lstm(hidden: 5)],
                             dropout: 0, tieEmbeddings: tied, maxSequenceLength: 8)
    let (b, t) = (3, 6)
    let distinct = try Model<Double>(config: config, seed: 5, threads: 1)
    let positions = try Model<Double>(config: config, seed: 5, threads: 1)
    positions.projectsDistinctTokens = false
    for batch in 0..<2 {
        let tokens = randomTokens(b * t, v: 7, seed: 10 + UInt64(batch))
        let targets = randomTokens(b * t, v: 7, seed: 20 + UInt64(batch))
        let ld = try distinct.forward(tokens: tokens, targets: targets, batch: b, steps: t)
        let lp = try positions.forward(tokens: tokens, targets: targets, batch: b, steps: t)
        #expect(abs(ld - lp) <= 1e-12)
        #expect(maxScaledError(distinct.logits, positions.logits) <= 1e-12)
        distinct.parameters.zeroGradients(); positions.parameters.zeroGradients()
        try distinct.backward(); try positions.backward()
        for tensor in distinct.parameters.tensors {
            let got = UnsafeBufferPointer(start: distinct.parameters.gradient(tensor.name), count: tensor.count)
            let want = UnsafeBufferPointer(start: positions.parameters.gradient(tensor.name), count: tensor.count)
            #expect(maxScaledError(got, want) <= 1e-12, "\(tensor.name)")
        }
    }
}

/// A frozen embedding (the backward stopping at layer 0) gets no gradient; layer 0 gets the
/// same as with one product per position. Evaluation (no dropout) takes the same path.
@Test func distinctProjectionUnderAFrozenEmbedding() throws {
    let config = ModelConfig(vocabularySize: 9, embeddingSize: 4, layers: [.lstm(hidden: 5)],
                             dropout: 0.3, tieEmbeddings: false)
    let (b, t) = (2, 7)
    let tokens = randomTokens(b * t, v: 9, seed: 3)
    let gradient: [Double] = randomValues(b * t * 5, seed: 4)
    var results: [[Double]] = []
    for projectsDistinct in [true, false] {
        let model = try Model<Double>(config: config, seed: 8, threads: 1)
        model.training = false  // no dropout: the distinct path applies
        model.projectsDistinctTokens = projectsDistinct
        let features = try model.forwardFeatures(tokens: tokens, batch: b, steps: t)
        var values = Array(UnsafeBufferPointer(start: features, count: b * t * 5))
        model.parameters.zeroGradients()
        try gradient.withUnsafeBufferPointer { try model.backward(featureGradient: $0.baseAddress!, lowestGroup: 1) }
        let embedding = UnsafeBufferPointer(start: model.parameters.gradient("embedding.weight"), count: 9 * 4)
        #expect(embedding.allSatisfy { $0 == 0 })
        for name in ["lstm0.weight_ih_l0", "lstm0.weight_hh_l0", "lstm0.bias_ih_l0"] {
            let tensor = try model.parameters.tensor(name)
            values += UnsafeBufferPointer(start: model.parameters.gradient(name), count: tensor.count)
        }
        results.append(values)
    }
    let worst = results[0].withUnsafeBufferPointer { d in
        results[1].withUnsafeBufferPointer { p in maxScaledError(d, p) }
    }
    #expect(worst <= 1e-12)
}
