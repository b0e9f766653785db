import Kernels
import Testing
@testable import Network

// `inferFeatures` is the prediction path of `forwardFeatures`: the same values, bit for bit,
// from buffers that keep no backward state and serve every shape up to the largest asked for.

private func features(_ model: Model<Float>, _ tokens: [Int32], batch: Int, steps: Int, infer: Bool) throws -> [Float] {
    let width = model.config.width(before: model.config.layers.count)
    let p = infer ? try model.inferFeatures(tokens: tokens, batch: batch, steps: steps)
                  : try model.forwardFeatures(tokens: tokens, batch: batch, steps: steps)
    return Array(UnsafeBufferPointer(start: p, count: batch * steps * width))
}

@Test(arguments: [false, true])
func inferenceFeaturesEqualTheTrainingPathsInEveryShape(gateTable: Bool) throws {
    let config = ModelConfig(vocabularySize: 29, embeddingSize: 11, layers: [.lstm(hidden: 13), .lstm(hidden: 7)],
                             dropout: 0.3)
    let model = try Model<Float>(config: config, seed: 4, threads: 2)
    let reference = Model(sharingParametersOf: model, threads: 1)  // training false: no dropout
    if gateTable {
        model.prepareForInference()
        reference.prepareForInference()
    } else {
        model.training = false
    }
    // Largest first, then smaller batches and lengths in the same buffers, then larger again.
    for (b, t) in [(5, 9), (5, 9), (3, 4), (1, 1), (5, 2), (2, 9), (6, 12), (4, 3)] {
        let tokens = randomTokens(b * t, v: 29, seed: UInt64(b * 100 + t))
        let want = try features(reference, tokens, batch: b, steps: t, infer: false)
        #expect(try features(model, tokens, batch: b, steps: t, infer: true) == want, "B=\(b) T=\(t)")
    }
}

@Test func inferenceNeverAppliesDropoutOrCarriesState() throws {
    let config = ModelConfig(vocabularySize: 19, embeddingSize: 6, layers: [.lstm(hidden: 5)], dropout: 0.5)
    let model = try Model<Float>(config: config, seed: 8, threads: 1)
    #expect(model.training)
    let tokens = randomTokens(3 * 4, v: 19, seed: 3)
    let first = try features(model, tokens, batch: 3, steps: 4, infer: true)
    #expect(try features(model, tokens, batch: 3, steps: 4, infer: true) == first)
    model.training = false
    #expect(try features(model, tokens, batch: 3, steps: 4, infer: false) == first)
}

@Test func inferenceWithAttentionTakesTheFullPath() throws {
    let config = ModelConfig(vocabularySize: 23, embeddingSize: 8, layers: [.lstm(hidden: 8), .attention(heads: 2)],
                             dropout: 0.1, maxSequenceLength: 10)
    let model = try Model<Float>(config: config, seed: 6, threads: 1)
    let reference = Model(sharingParametersOf: model, threads: 1)
    let tokens = randomTokens(2 * 10, v: 23, seed: 5)
    let want = try features(reference, tokens, batch: 2, steps: 10, infer: false)
    #expect(try features(model, tokens, batch: 2, steps: 10, infer: true) == want)
    #expect(throws: NetworkError.self) { try model.inferFeatures(tokens: randomTokens(22, v: 23, seed: 1), batch: 2, steps: 11) }
}

@Test func inferenceRefusesABadShapeOrId() throws {
    let model = try Model<Float>(config: ModelConfig(vocabularySize: 9, embeddingSize: 4, layers: [.lstm(hidden: 3)]),
                                 seed: 1, threads: 1)
    #expect(throws: NetworkError.self) { try model.inferFeatures(tokens: [1, 2, 3], batch: 2, steps: 2) }
    #expect(throws: (any Error).self) { try model.inferFeatures(tokens: [1, 9], batch: 1, steps: 2) }
    model.prepareForInference()
    #expect(throws: (any Error).self) { try model.inferFeatures(tokens: [-1, 2], batch: 1, steps: 2) }
}

@Test func gateTableRowsAreFilledOnDemandAndDoNotDependOnTheirNeighbours() throws {
    let config = ModelConfig(vocabularySize: 37, embeddingSize: 11, layers: [.lstm(hidden: 13)])
    let model = try Model<Float>(config: config, seed: 3, threads: 2)
    let ids: [Int32] = [5, 9, 5, 36, 0, 9, 17]
    // All at once, against one id at a time in another order (a one-row product takes
    // another kernel path), against the whole vocabulary at once.
    let together = try #require(model.makeGateTable())
    try model.fillGateTable(together, for: [ids])
    #expect(together.filledRows == 5)
    let single = try #require(model.makeGateTable())
    for id in ids.reversed() { try model.fillGateTable(single, for: [[id]]) }
    #expect(single.filledRows == 5)
    let all = try #require(model.makeGateTable())
    try model.fillGateTable(all, for: [(0..<37).map { Int32($0) }])
    let g = 4 * 13
    for id in Set(ids) {
        let row = Int(id) * g..<(Int(id) + 1) * g
        #expect(Array(together.values[row]) == Array(single.values[row]), "id \(id)")
        #expect(Array(together.values[row]) == Array(all.values[row]), "id \(id)")
    }
    // Filling again computes nothing; an id outside the vocabulary gets no row (reading it is
    // refused, `inferenceRefusesABadShapeOrId`).
    try model.fillGateTable(together, for: [ids])
    try model.fillGateTable(together, for: [[-1, 37, 5]])
    #expect(together.filledRows == 5)
}

@Test func aCopyRefusesASharedGateTableThatLacksItsRows() throws {
    let config = ModelConfig(vocabularySize: 21, embeddingSize: 6, layers: [.lstm(hidden: 5)])
    let model = try Model<Float>(config: config, seed: 2, threads: 1)
    let table = try #require(model.makeGateTable())
    let copy = Model(sharingParametersOf: model, threads: 1)
    copy.prepareForInference(shared: table)
    try model.fillGateTable(table, for: [[1, 2, 3, 4]])
    _ = try copy.inferFeatures(tokens: [1, 2, 3, 4], batch: 2, steps: 2)
    #expect(throws: NetworkError.self) { try copy.inferFeatures(tokens: [1, 2, 3, 20], batch: 2, steps: 2) }
}
