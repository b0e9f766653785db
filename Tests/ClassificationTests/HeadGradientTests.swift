import Kernels
import Network
import Testing
@testable import Classification

// Gradient checks in Float64 against central differences (step 1e-5): the head alone (its
// weight, bias and the features it pools, with padded sequences), and the whole classifier
// (encoder parameters through `forwardFeatures` / `backward(featureGradient:)`).

private func values(_ count: Int, seed: UInt64, scale: Double = 1) -> [Double] {
    var rng = SplitMix64(seed: seed)
    return (0..<count).map { _ in (Double(rng.nextUnitFloat()) * 2 - 1) * scale }
}

private func relativeError(_ a: Double, _ n: Double) -> Double { abs(a - n) / max(abs(a), abs(n), 1e-4) }

/// The worst relative error of `analytic` against central differences of `loss` over the
/// entries of `x` (all of them, or every `stride`-th).
private func worstError(_ x: UnsafeMutablePointer<Double>, count: Int, analytic: [Double], stride: Int = 1,
                        loss: () throws -> Double) rethrows -> Double {
    var worst = 0.0
    for i in Swift.stride(from: 0, to: count, by: stride) {
        let saved = x[i]
        x[i] = saved + 1e-5
        let up = try loss()
        x[i] = saved - 1e-5
        let down = try loss()
        x[i] = saved
        worst = max(worst, relativeError(analytic[i], (up - down) / 2e-5))
    }
    return worst
}

@Test(arguments: [0, 7])
func headGradientsMatchCentralDifferences(ngramBuckets: Int) throws {
    let (t, c, k) = (5, 4, 3)
    let lengths = [5, 2, 1, 4]
    let b = lengths.count
    let head = ClassifierHead<Double>(width: c, classes: k, ngramBuckets: ngramBuckets)
    head.initialize(seed: 3)
    // The table starts at zero; give it values so that its gradient is checked away from 0.
    let table = head.tensors.first { $0.name == "ngrams.weight" }?.range ?? 0..<0
    for (i, v) in zip(table, values(table.count, seed: 5)) { head.values[i] = v }
    // Rows repeat within a text (bucket 3 twice) and across texts; one text has none.
    let ngrams: [[Int32]] = ngramBuckets == 0 ? [] : [[0, 3, 3, 6], [1], [], [3, 5, 2]]
    var features = values(t * b * c, seed: 4)
    let labels = [2, 0, 1, 2], weights = [0.5, 2.0, 1.25], exampleWeights = [1, 0.3, 2, 0.5]
    func loss() -> Double {
        features.withUnsafeBufferPointer { _ = head.forward($0.baseAddress!, lengths: lengths, steps: t, ngrams: ngrams) }
        return head.loss(labels: labels, classWeights: weights, exampleWeights: exampleWeights)
    }
    _ = loss()
    head.gradients.update(repeating: 0)
    let dfeatures = Array(UnsafeBufferPointer(start: head.backward(), count: t * b * c))
    let dvalues = Array(head.gradients)
    let parameterError = worstError(head.values.baseAddress!, count: head.values.count, analytic: dvalues, loss: loss)
    let featureError = features.withUnsafeMutableBufferPointer {
        worstError($0.baseAddress!, count: $0.count, analytic: dfeatures, loss: loss)
    }
    #expect(parameterError < 1e-6)
    #expect(featureError < 1e-6)
    // Padded positions (t >= length) take no part.
    for row in 0..<b {
        for step in lengths[row]..<t {
            for j in 0..<c { #expect(dfeatures[(step * b + row) * c + j] == 0) }
        }
    }
}

@Test func encoderGradientsThroughTheHeadMatchCentralDifferences() throws {
    let config = ModelConfig(vocabularySize: 7, embeddingSize: 5,
                             layers: [.lstm(hidden: 6), .attention(heads: 2), .lstm(hidden: 4)])
    let model = try Model<Double>(config: config, seed: 5, threads: 1)
    let head = ClassifierHead<Double>(width: 4, classes: 2)
    head.initialize(seed: 6)
    let (b, t) = (3, 4)
    let lengths = [4, 1, 3]
    let tokens: [Int32] = [1, 2, 3, 4, 5, 0, 0, 0, 6, 1, 2, 0]
    let labels = [1, 0, 1], weights = [1.0, 1.5]
    func loss() throws -> Double {
        let features = try model.forwardFeatures(tokens: tokens, batch: b, steps: t)
        _ = head.forward(features, lengths: lengths, steps: t)
        return head.loss(labels: labels, classWeights: weights)
    }
    _ = try loss()
    model.parameters.zeroGradients()
    try model.backward(featureGradient: head.backward())
    let analytic = Array(model.parameters.gradients)
    for tensor in model.parameters.tensors where !tensor.name.hasPrefix("head.") {
        let error = try worstError(model.parameters.values.baseAddress! + tensor.offset, count: tensor.count,
                                   analytic: Array(analytic[tensor.offset..<(tensor.offset + tensor.count)]),
                                   stride: max(1, tensor.count / 40), loss: loss)
        #expect(error < 1e-6, "\(tensor.name): \(error)")
    }
}

@Test func frozenGroupsReceiveNoGradient() throws {
    let config = ModelConfig(vocabularySize: 9, embeddingSize: 4, layers: [.lstm(hidden: 4), .lstm(hidden: 4)])
    let model = try Model<Float>(config: config, seed: 1, threads: 1)
    let (b, t) = (2, 3)
    let features = try model.forwardFeatures(tokens: [1, 2, 3, 4, 5, 6], batch: b, steps: t)
    _ = features
    let gradient = [Float](repeating: 0.5, count: t * b * 4)
    model.parameters.zeroGradients()
    try model.backward(featureGradient: gradient, lowestGroup: 2)
    func norm(_ group: Int) -> Float {
        model.tensors(inGroup: group).reduce(0) { sum, tensor in
            (0..<tensor.count).reduce(sum) { $0 + abs(model.parameters.gradients[tensor.offset + $1]) }
        }
    }
    #expect(norm(0) == 0)
    #expect(norm(1) == 0)
    #expect(norm(2) > 0)
}

@Test func theInferenceGateTableGivesTheSameFeatures() throws {
    let config = ModelConfig(vocabularySize: 50, embeddingSize: 24, layers: [.lstm(hidden: 17), .lstm(hidden: 9)],
                             dropout: 0.2)
    let model = try Model<Float>(config: config, seed: 2, threads: 1)
    model.training = false
    let tokens = (0..<(3 * 11)).map { Int32(($0 * 7) % 50) }
    let plain = Array(UnsafeBufferPointer(start: try model.forwardFeatures(tokens: tokens, batch: 3, steps: 11), count: 3 * 11 * 9))
    model.prepareForInference()
    let fast = Array(UnsafeBufferPointer(start: try model.forwardFeatures(tokens: tokens, batch: 3, steps: 11), count: 3 * 11 * 9))
    for (a, b) in zip(plain, fast) { #expect(abs(a - b) <= 1e-5 * (1 + abs(a))) }
    model.training = true  // discards the table: training uses the embedding again
    model.training = false
    let again = Array(UnsafeBufferPointer(start: try model.forwardFeatures(tokens: tokens, batch: 3, steps: 11), count: 3 * 11 * 9))
    #expect(again == plain)
}

@Test func aSharedGateTableGivesEveryCopyTheOwnersFeatures() throws {
    let config = ModelConfig(vocabularySize: 40, embeddingSize: 13, layers: [.lstm(hidden: 11)], dropout: 0.1)
    let model = try Model<Float>(config: config, seed: 5, threads: 2)
    let tokens = (0..<(5 * 7)).map { Int32(($0 * 11) % 40) }
    let own = Model(sharingParametersOf: model, threads: 1)
    own.prepareForInference()
    let expected = Array(UnsafeBufferPointer(start: try own.forwardFeatures(tokens: tokens, batch: 5, steps: 7), count: 5 * 7 * 11))
    // Made and filled by the training model (which stays in training), read by two copies.
    let table = try #require(model.makeGateTable())
    try model.fillGateTable(table, for: [tokens])
    #expect(model.training)
    for _ in 0..<2 {
        let copy = Model(sharingParametersOf: model, threads: 1)
        copy.prepareForInference(shared: table)
        let features = Array(UnsafeBufferPointer(start: try copy.forwardFeatures(tokens: tokens, batch: 5, steps: 7), count: 5 * 7 * 11))
        #expect(features == expected)
    }
    // A table of another shape is not used: the copy builds its own.
    let other = try Model<Float>(config: ModelConfig(vocabularySize: 40, embeddingSize: 13, layers: [.lstm(hidden: 12)]), seed: 1)
    let copy = Model(sharingParametersOf: model, threads: 1)
    copy.prepareForInference(shared: try #require(other.makeGateTable()))
    let features = Array(UnsafeBufferPointer(start: try copy.forwardFeatures(tokens: tokens, batch: 5, steps: 7), count: 5 * 7 * 11))
    #expect(features == expected)
}

@Test func exampleWeightsScaleTheirRowsButNotTheNormalizer() {
    let (t, c, k) = (2, 3, 2)
    let lengths = [2, 2, 1]
    let head = ClassifierHead<Double>(width: c, classes: k)
    head.initialize(seed: 2)
    let features = values(t * lengths.count * c, seed: 8)
    let labels = [1, 0, 1], classWeights = [1.0, 3.0]
    func loss(_ exampleWeights: [Double]?) -> Double {
        features.withUnsafeBufferPointer { _ = head.forward($0.baseAddress!, lengths: lengths, steps: t) }
        return head.loss(labels: labels, classWeights: classWeights, exampleWeights: exampleWeights)
    }
    // Row r alone (the others weighted 0) gives its term over the batch's class-weight sum.
    let rows = (0..<3).map { r in loss((0..<3).map { $0 == r ? 1 : 0 }) }
    #expect(abs(loss(nil) - rows.reduce(0, +)) < 1e-12)
    #expect(abs(loss([1, 1, 1]) - loss(nil)) < 1e-12)
    #expect(abs(loss([0.5, 2, 0.25]) - (0.5 * rows[0] + 2 * rows[1] + 0.25 * rows[2])) < 1e-12)
}
