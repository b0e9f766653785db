import Foundation
import Testing
@testable import Network

/// What scripts/network-parity.py writes: a PyTorch (float64) run of the same model.
private struct Fixture: Decodable {
    struct Batch: Decodable {
        let tokens: [Int32]   // (B, T)
        let targets: [Int32]  // (B, T)
        let loss: Double
    }
    let config: ModelConfig
    let batch: Int
    let steps: Int
    let batches: [Batch]
    let logits: [Double]                  // (T, B, V) of the last batch
    let parameters: [String: [Double]]
    let gradients: [String: [Double]]     // of the last batch's loss
}

private func loadFixture() throws -> Fixture {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/pytorch-parity.json")
    return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
}

/// Runs the fixture's two batches (state carried) and returns (losses, worst logit error,
/// worst gradient error per tensor), errors as |got - want| / (1 + |want|).
private func replay<S: NetworkScalar>(_: S.Type, _ fx: Fixture) throws -> ([Double], Double, [String: Double]) {
    let model = try Model<S>(config: fx.config, seed: 0, threads: 1)
    #expect(Set(model.parameters.tensors.map(\.name)) == Set(fx.parameters.keys))
    for tensor in model.parameters.tensors {
        let values = try #require(fx.parameters[tensor.name])
        try #require(values.count == tensor.count, "\(tensor.name)")
        let p = model.parameters.value(tensor.name)
        for i in 0..<tensor.count { p[i] = S(values[i]) }
    }
    var losses: [Double] = []
    for batch in fx.batches {
        model.parameters.zeroGradients()
        losses.append(Double(try model.forward(tokens: batch.tokens, targets: batch.targets,
                                               batch: fx.batch, steps: fx.steps)))
    }
    try model.backward()
    func error(_ got: UnsafeBufferPointer<S>, _ want: [Double]) -> Double {
        zip(got, want).map { abs(Double($0) - $1) / (1 + abs($1)) }.max() ?? 0
    }
    let logitError = error(model.logits, fx.logits)
    var gradientErrors: [String: Double] = [:]
    for tensor in model.parameters.tensors {
        gradientErrors[tensor.name] = error(
            UnsafeBufferPointer(start: model.parameters.gradient(tensor.name), count: tensor.count),
            fx.gradients[tensor.name]!)
    }
    return (losses, logitError, gradientErrors)
}

/// PyTorch's nn.Embedding, nn.LSTM, LayerNorm + causal attention and nn.Linear with the same
/// weights give the same losses, logits and gradients (names loaded by `state_dict` key).
@Test(arguments: [false, true])
func matchesPyTorch(single: Bool) throws {
    let fx = try loadFixture()
    let (losses, logitError, gradientErrors) = single
        ? try replay(Float.self, fx) : try replay(Double.self, fx)
    // Float64 agrees to rounding; Float32 to its precision on these tiny shapes.
    let tolerance = single ? 1e-5 : 1e-12
    for (got, want) in zip(losses, fx.batches.map(\.loss)) {
        #expect(abs(got - want) / (1 + abs(want)) <= tolerance, "loss \(got) vs \(want)")
    }
    #expect(logitError <= tolerance)
    for (name, err) in gradientErrors.sorted(by: { $0.key < $1.key }) {
        #expect(err <= tolerance, "\(name): \(err)")
    }
    print("PyTorch parity (\(single ? "Float" : "Double")): logits \(logitError), worst gradient",
          gradientErrors.values.max()!)
}
