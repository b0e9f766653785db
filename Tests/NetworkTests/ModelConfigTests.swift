import Foundation
import Testing
@testable import Network

@Test func configRoundTripsThroughSnakeCaseJSON() throws {
    let json = """
    {"vocab_size": 100, "embedding_size": 16, "dropout": 0.1, "tie_embeddings": true,
     "max_sequence_length": 64,
     "layers": [{"type": "lstm", "hidden": 32}, {"type": "attention", "heads": 4},
                {"type": "lstm", "hidden": 16}]}
    """
    let config = try JSONDecoder().decode(ModelConfig.self, from: Data(json.utf8))
    #expect(config == ModelConfig(vocabularySize: 100, embeddingSize: 16,
                                  layers: [.lstm(hidden: 32), .attention(heads: 4), .lstm(hidden: 16)],
                                  dropout: 0.1, tieEmbeddings: true, maxSequenceLength: 64))
    try config.validate()
    let encoded = try JSONEncoder().encode(config)
    #expect(try JSONDecoder().decode(ModelConfig.self, from: encoded) == config)
    let text = String(decoding: encoded, as: UTF8.self)
    #expect(text.contains("\"vocab_size\"") && text.contains("\"tie_embeddings\"")
            && text.contains("\"max_sequence_length\"") && text.contains("\"type\":\"attention\""))

    let bad = json.replacingOccurrences(of: "\"attention\"", with: "\"gru\"")
    #expect(throws: DecodingError.self) { try JSONDecoder().decode(ModelConfig.self, from: Data(bad.utf8)) }
}

@Test func invalidConfigsThrowClearErrors() {
    func message(_ config: ModelConfig) -> String? {
        do { try config.validate(); return nil } catch { return "\(error)" }
    }
    let ok = ModelConfig(vocabularySize: 10, embeddingSize: 8, layers: [.lstm(hidden: 6), .attention(heads: 3)])
    #expect(message(ok) == nil)
    var c = ok; c.vocabularySize = 0
    #expect(message(c)?.contains("vocab_size") == true)
    c = ok; c.layers = [.lstm(hidden: 6), .attention(heads: 4)]
    #expect(message(c)?.contains("width 6 is not divisible by 4 heads") == true)
    c = ok; c.tieEmbeddings = true
    #expect(message(c)?.contains("tie_embeddings") == true)
    c = ok; c.dropout = 1
    #expect(message(c)?.contains("dropout") == true)
    c = ok; c.layers = [.lstm(hidden: 0)]
    #expect(message(c)?.contains("hidden") == true)
    c = ok; c.maxSequenceLength = 0
    #expect(message(c)?.contains("max_sequence_length") == true)
    #expect(throws: NetworkError.self) { try Model<Float>(config: c, seed: 1) }
}

@Test func parameterNamesAndShapesArePyTorchs() throws {
    let config = ModelConfig(vocabularySize: 10, embeddingSize: 4,
                             layers: [.lstm(hidden: 6), .attention(heads: 2), .lstm(hidden: 4)])
    let store = try ParameterStore<Float>(config: config)
    let table = store.tensors.map { "\($0.name) \($0.shape)" }
    #expect(table == [
        "embedding.weight [10, 4]",
        "lstm0.weight_ih_l0 [24, 4]", "lstm0.weight_hh_l0 [24, 6]",
        "lstm0.bias_ih_l0 [24]", "lstm0.bias_hh_l0 [24]",
        "attn1.norm.weight [6]", "attn1.norm.bias [6]",
        "attn1.qkv.weight [18, 6]", "attn1.qkv.bias [18]",
        "attn1.proj.weight [6, 6]", "attn1.proj.bias [6]",
        "lstm2.weight_ih_l0 [16, 6]", "lstm2.weight_hh_l0 [16, 4]",
        "lstm2.bias_ih_l0 [16]", "lstm2.bias_hh_l0 [16]",
        "head.weight [10, 4]", "head.bias [10]",
    ])
    // Contiguous, in order, covering the whole arena.
    var offset = 0
    for t in store.tensors { #expect(t.offset == offset); offset += t.count }
    #expect(offset == store.count)

    var tied = config; tied.tieEmbeddings = true
    let tiedStore = try ParameterStore<Float>(config: tied)
    #expect(!tiedStore.tensors.contains { $0.name == "head.weight" })
    #expect(throws: NetworkError.unknownParameter("nope")) { try store.tensor("nope") }
}

@Test func initializationIsSeededAndInRange() throws {
    let config = ModelConfig(vocabularySize: 10, embeddingSize: 4, layers: [.lstm(hidden: 16), .attention(heads: 2)])
    let a = try ParameterStore<Float>(config: config), b = try ParameterStore<Float>(config: config)
    a.initialize(seed: 5); b.initialize(seed: 5)
    #expect(Array(a.values) == Array(b.values))
    b.initialize(seed: 6)
    #expect(Array(a.values) != Array(b.values))
    let wih = try a.tensor("lstm0.weight_ih_l0")
    let values = a.values[wih.offset..<(wih.offset + wih.count)]
    #expect(values.allSatisfy { abs($0) <= 0.25 } && values.contains { abs($0) > 0.2 })
    let norm = try a.tensor("attn1.norm.weight")
    #expect(a.values[norm.offset..<(norm.offset + norm.count)].allSatisfy { $0 == 1 })
}

/// An untied embedding starts at `nn.Embedding`'s unit variance; one tied to the output layer
/// stays small, or the initial logits would be huge.
@Test func embeddingScaleDependsOnTying() throws {
    func embedding(tied: Bool) throws -> [Float] {
        let store = try ParameterStore<Float>(config: ModelConfig(vocabularySize: 500, embeddingSize: 16,
                                                                  layers: [.lstm(hidden: 16)], tieEmbeddings: tied))
        store.initialize(seed: 3)
        let t = try store.tensor("embedding.weight")
        return Array(store.values[t.offset..<(t.offset + t.count)])
    }
    let untied = try embedding(tied: false), tied = try embedding(tied: true)
    let variance = untied.reduce(0) { $0 + Double($1 * $1) } / Double(untied.count)
    #expect(abs(variance - 1) < 0.05, "\(variance)")
    #expect(untied.allSatisfy { abs($0) <= Float(3).squareRoot() })
    #expect(tied.allSatisfy { abs($0) <= 0.1 } && tied.contains { abs($0) > 0.09 })
}

@Test func copyingValuesByNameKeepsTheLowestLayersOfADeeperModel() throws {
    let deep = try ParameterStore<Float>(config: ModelConfig(vocabularySize: 11, embeddingSize: 4,
                                                             layers: [.lstm(hidden: 4), .lstm(hidden: 6)]))
    deep.initialize(seed: 1)
    let shallow = try ParameterStore<Double>(config: ModelConfig(vocabularySize: 11, embeddingSize: 4,
                                                                 layers: [.lstm(hidden: 4)], tieEmbeddings: true))
    try shallow.copyValues(from: deep) { !$0.name.hasPrefix("head.") }
    for t in shallow.tensors {
        let source = try deep.tensor(t.name)
        let copied = (0..<t.count).map { shallow.values[t.offset + $0] }
        let expected = t.name.hasPrefix("head.") ? [Double](repeating: 0, count: t.count)
                                                 : (0..<t.count).map { Double(deep.values[source.offset + $0]) }
        #expect(copied == expected, "\(t.name)")
    }
    // A tensor the source lacks, or holds in another shape, is refused by name; nothing changes.
    let deepBefore = Array(deep.values), shallowBefore = Array(shallow.values)
    #expect(throws: NetworkError.unknownParameter("lstm1.weight_ih_l0")) { try deep.copyValues(from: shallow) }
    let wide = try ParameterStore<Float>(config: ModelConfig(vocabularySize: 11, embeddingSize: 4, layers: [.lstm(hidden: 5)]))
    wide.initialize(seed: 2)
    do {
        try shallow.copyValues(from: wide)
        Issue.record("a layer of another width was copied")
    } catch {
        #expect("\(error)".contains("lstm0.weight_ih_l0"), "\(error)")
    }
    #expect(Array(deep.values) == deepBefore)
    #expect(Array(shallow.values) == shallowBefore)
}
