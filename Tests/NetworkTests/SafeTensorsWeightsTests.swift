import Foundation
import SafeTensors
import Testing
@testable import Network

@Suite struct SafeTensorsWeightsTests {
    let config = ModelConfig(vocabularySize: 19, embeddingSize: 8, layers: [.lstm(hidden: 6), .attention(heads: 2), .lstm(hidden: 8)],
                             tieEmbeddings: true, maxSequenceLength: 16)

    func temporaryFile() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("weights-\(UUID().uuidString).safetensors")
    }

    @Test func weightsRoundTripWithPyTorchNames() throws {
        let a = try Model<Float>(config: config, seed: 1)
        let b = try Model<Float>(config: config, seed: 2)
        let url = temporaryFile()
        defer { try? FileManager.default.removeItem(at: url) }
        try a.parameters.save(to: url, metadata: ["config": "test"])
        let file = try SafeTensorsFile(contentsOf: url)
        #expect(file.metadata["config"] == "test")
        #expect(Set(file.tensors.map(\.name)).isSuperset(of: ["embedding.weight", "lstm0.weight_ih_l0", "lstm0.weight_hh_l0",
                                                            "lstm0.bias_ih_l0", "lstm0.bias_hh_l0", "attn1.qkv.weight", "head.bias"]))
        #expect(file.info("lstm0.weight_ih_l0")?.shape == [24, 8])  // (4H, I), gates i, f, g, o
        try b.parameters.load(from: url)
        #expect(Array(a.parameters.values) == Array(b.parameters.values))
    }

    @Test func mismatchedFilesAreRefusedAndLeaveTheModelUnchanged() throws {
        let model = try Model<Float>(config: config, seed: 1)
        let before = Array(model.parameters.values)
        var tensors = model.parameters.namedTensors()
        func refused(_ tensors: [NamedTensor]) throws -> Bool {
            let url = temporaryFile()
            defer { try? FileManager.default.removeItem(at: url) }
            try writeSafeTensors(tensors, to: url)
            do { try model.parameters.load(from: url) } catch is NetworkError { return true } catch { return false }
            return false
        }
        #expect(try refused(Array(tensors.dropLast())))                                  // a tensor missing
        #expect(try refused(tensors + [NamedTensor("extra.weight", shape: [1], [0])]))   // one too many
        tensors[1] = NamedTensor(tensors[1].name, shape: [tensors[1].shape.reduce(1, *)], tensors[1].values)
        #expect(try refused(tensors))                                                     // wrong shape
        var poisoned = model.parameters.namedTensors()
        if case .float32(var v) = poisoned[0].values { v[3] = .nan; poisoned[0].values = .float32(v) }
        let url = temporaryFile()
        defer { try? FileManager.default.removeItem(at: url) }
        try writeSafeTensors(poisoned, to: url)
        #expect(throws: SafeTensorsError.self) { try model.parameters.load(from: url) }   // NaN
        #expect(Array(model.parameters.values) == before)
    }
}
