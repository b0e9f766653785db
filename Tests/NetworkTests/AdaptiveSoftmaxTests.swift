import Foundation
import Kernels
import Testing
@testable import Network

// The adaptive softmax: its gradient (Float64, central differences), its loss against the
// log-probabilities decoding returns, Float against Double, and its configuration's checks.

/// V = 11 in three parts: the head scores ranks 0..<3 and two clusters, ranks 3..<7 and 7..<11,
/// projected to C / 2 and C / 4; the ranks are a shuffled order of the ids.
private func adaptiveConfig(layers: [ModelConfig.Layer] = [.lstm(hidden: 8), .attention(heads: 2)],
                            dropout: Float = 0.25) -> ModelConfig {
    let order: [Int32] = [7, 2, 9, 0, 10, 4, 1, 8, 3, 6, 5]
    return ModelConfig(vocabularySize: 11, embeddingSize: 6, layers: layers, dropout: dropout,
                       maxSequenceLength: 8,
                       adaptiveSoftmax: AdaptiveSoftmaxConfig(cutoffs: [3, 7], divValue: 2, order: order))
}

@Test func adaptiveSoftmaxModelGradients() throws {
    let (b, t) = (3, 5)
    var targets = randomTokens(b * t, v: 11, seed: 2)
    targets[3] = ignoreTarget
    // Every part gets rows: ranks 0 (head), 4 (first cluster) and 9 (second) by id.
    targets[0] = 7; targets[1] = 10; targets[2] = 6
    try checkModelGradients(adaptiveConfig(), tokens: randomTokens(b * t, v: 11, seed: 1), targets: targets,
                            batch: b, steps: t, label: "adaptive softmax")
}

@Test func adaptiveSoftmaxLossIsTheMeanNegativeLogProbabilityDecodingReturns() throws {
    let config = adaptiveConfig(layers: [.lstm(hidden: 8)], dropout: 0)
    let model = try Model<Double>(config: config, seed: 3, threads: 1)
    let (b, t) = (2, 6)
    let tokens = randomTokens(b * t, v: 11, seed: 4), targets = randomTokens(b * t, v: 11, seed: 5)
    let loss = try model.forward(tokens: tokens, targets: targets, batch: b, steps: t)

    let decoder = Model(sharingParametersOf: model, threads: 1)
    var total = 0.0
    for step in 0..<t {
        let scores = try decoder.step(tokens: (0..<b).map { tokens[$0 * t + step] })
        for row in 0..<b {
            let logp = Array(scores[(row * 11)..<((row + 1) * 11)])
            let mass = logp.reduce(0) { $0 + exp($1) }
            #expect(abs(mass - 1) < 1e-12, "probabilities sum to \(mass)")
            total -= logp[Int(targets[row * t + step])]
        }
    }
    #expect(abs(total / Double(b * t) - loss) < 1e-12, "\(total / Double(b * t)) vs \(loss)")
}

@Test func adaptiveSoftmaxInFloatMatchesDouble() throws {
    let config = adaptiveConfig(dropout: 0)
    let double = try Model<Double>(config: config, seed: 9, threads: 1)
    let float = try Model<Float>(config: config, seed: 9, threads: 2)
    let (b, t) = (4, 8)
    let tokens = randomTokens(b * t, v: 11, seed: 6), targets = randomTokens(b * t, v: 11, seed: 7)
    let want = try double.forward(tokens: tokens, targets: targets, batch: b, steps: t)
    let got = try float.forward(tokens: tokens, targets: targets, batch: b, steps: t)
    #expect(abs(Double(got) - want) < 1e-5 * abs(want))
    double.parameters.zeroGradients(); float.parameters.zeroGradients()
    try double.backward(); try float.backward()
    for tensor in double.parameters.tensors where tensor.name.hasPrefix("adaptive.") {
        let scale = (0..<tensor.count).map { abs(double.parameters.gradients[tensor.offset + $0]) }.max()!
        for i in 0..<tensor.count {
            let diff = abs(Double(float.parameters.gradients[tensor.offset + i]) - double.parameters.gradients[tensor.offset + i])
            #expect(diff <= 1e-5 * max(scale, 1e-3), "\(tensor.name)[\(i)]")
        }
    }
}

@Test func adaptiveSoftmaxRefusesATargetOutsideTheVocabulary() throws {
    let model = try Model<Float>(config: adaptiveConfig(dropout: 0), seed: 1, threads: 1)
    #expect(throws: KernelError.self) {
        try model.forward(tokens: [1, 2], targets: [3, 11], batch: 1, steps: 2)
    }
    #expect(model.logits.isEmpty)  // an adaptive softmax never forms the full (N, V) logits
}

@Test func adaptiveSoftmaxParametersHavePyTorchNamesAndShapes() throws {
    let store = try ParameterStore<Float>(config: adaptiveConfig(dropout: 0))
    let shapes = Dictionary(uniqueKeysWithValues: store.tensors.map { ($0.name, $0.shape) })
    #expect(shapes["adaptive.head.weight"] == [5, 8])  // 3 ids + 2 clusters, C = 8
    #expect(shapes["adaptive.head.bias"] == [5])
    #expect(shapes["adaptive.tail.0.0.weight"] == [4, 8])
    #expect(shapes["adaptive.tail.0.1.weight"] == [4, 4])
    #expect(shapes["adaptive.tail.1.0.weight"] == [2, 8])
    #expect(shapes["adaptive.tail.1.1.weight"] == [4, 2])
    #expect(shapes["head.weight"] == nil && shapes["head.bias"] == nil)
}

@Test func adaptiveSoftmaxConfigurationIsChecked() throws {
    func config(cutoffs: [Int] = [3, 7], div: Double = 2, order: [Int32] = Array(0..<11), tied: Bool = false) -> ModelConfig {
        ModelConfig(vocabularySize: 11, embeddingSize: 6, layers: [.lstm(hidden: 6)], tieEmbeddings: tied,
                    adaptiveSoftmax: AdaptiveSoftmaxConfig(cutoffs: cutoffs, divValue: div, order: order))
    }
    try config().validate()
    for bad in [config(tied: true), config(cutoffs: []), config(cutoffs: [0, 5]), config(cutoffs: [7, 3]),
                config(cutoffs: [3, 11]), config(div: 8), config(div: 0.5),
                config(order: Array(0..<10)), config(order: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9])] {
        #expect(throws: NetworkError.self) { try bad.validate() }
    }
    // Stored as JSON beside the weights; a configuration without the key has a full softmax.
    let json = try JSONEncoder().encode(config())
    #expect(try JSONDecoder().decode(ModelConfig.self, from: json) == config())
    #expect(String(decoding: json, as: UTF8.self).contains("\"adaptive_softmax\""))
    let plain = ModelConfig(vocabularySize: 11, embeddingSize: 6, layers: [.lstm(hidden: 6)])
    #expect(!String(decoding: try JSONEncoder().encode(plain), as: UTF8.self).contains("adaptive"))
}

@Test func frequencyOrderRanksByCountThenId() {
    #expect(AdaptiveSoftmaxConfig.frequencyOrder(counts: [1, 0, 3, 1, 0]) == [2, 0, 3, 1, 4])
}
