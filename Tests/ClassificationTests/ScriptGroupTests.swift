import Foundation
import Testing
@testable import Classification

/// `ScriptGroup`: which TF-IDF mixture weight a text gets.
@Test func textsWithAtLeastAsManyHanCharactersAsOtherLettersAreHan() {
    #expect(ScriptGroup.of("这本书写得太好了，强烈推荐".unicodeScalars) == .han)
    #expect(ScriptGroup.of("Terrible service, I want my money back.".unicodeScalars) == .other)
    // Mixed: two Han characters against two letters is Han; against three it is not.
    #expect(ScriptGroup.of("好书 ok".unicodeScalars) == .han)
    #expect(ScriptGroup.of("好书 wow".unicodeScalars) == .other)
    // Letters of other scripts count against Han; digits, punctuation and emoji count for neither.
    #expect(ScriptGroup.of("好 привет".unicodeScalars) == .other)
    #expect(ScriptGroup.of("好 123 !!! 😀😀".unicodeScalars) == .han)
    // An extension-A ideograph is Han; a text without letters is other.
    #expect(ScriptGroup.of("\u{3400}".unicodeScalars) == .han)
    #expect(ScriptGroup.of("".unicodeScalars) == .other)
    #expect(ScriptGroup.of("，。123".unicodeScalars) == .other)
}

@Test func theGroupOfIdsIsThatOfTheTextTheySpell() {
    let pieces = [Array("好".utf8), Array("ok".utf8), Array(" ".utf8), Array("w".utf8)]
    #expect(ScriptGroup.of(ids: [0, 0, 2, 1], pieces: pieces) == .han)
    #expect(ScriptGroup.of(ids: [0, 0, 2, 1, 3], pieces: pieces) == .other)
    // Ids outside the vocabulary (padding) spell nothing.
    #expect(ScriptGroup.of(ids: [0, -1, 99], pieces: pieces) == .han)
}

@Test func specsWrittenBeforeTheHanWeightUseOneWeightForBoth() throws {
    let old = #"{"labels":["a","b"],"max_tokens":8,"ngram_buckets":64,"ngram_order":2,"tfidf_weight":0.25,"model":{"dropout":0,"embedding_size":4,"layers":[{"hidden":4,"type":"lstm"}],"max_sequence_length":16,"tie_embeddings":false,"vocab_size":10}}"#
    var spec = try JSONDecoder().decode(ClassifierSpec.self, from: Data(old.utf8))
    #expect(spec.tfidfWeight(for: .han) == 0.25 && spec.tfidfWeight(for: .other) == 0.25)
    spec.tfidfWeight = 0
    #expect(spec.mixesTfidf)
    let again = try JSONDecoder().decode(ClassifierSpec.self, from: Data(try ClassifierFolder.json(spec).utf8))
    #expect(again == spec)
    spec.tfidfHanWeight = 1.5
    #expect(throws: ClassificationError.self) { try spec.validate() }
    spec.tfidfHanWeight = .nan
    #expect(throws: ClassificationError.self) { try spec.validate() }
    spec.tfidfHanWeight = 1
    spec.ngramBuckets = 0
    #expect(throws: ClassificationError.self) { try spec.validate() }
}

/// `--class-weights per-script`: classes are balanced within each script group, not across
/// the mixture, so a balanced Chinese corpus keeps its weights beside skewed English data.
@Test func perScriptWeightsBalanceTheClassesWithinEachGroup() {
    let pieces = [Array("好".utf8), Array("a".utf8)]
    let han: [Int32] = [0, 0], latin: [Int32] = [1, 1]
    let texts = [(han, 0), (han, 1), (han, 0), (han, 1), (latin, 0), (latin, 0), (latin, 0), (latin, 1)]
        .map { ClassifierTrainer.Encoded(ids: $0.0, label: $0.1) }
    func weightsOf(_ texts: [ClassifierTrainer.Encoded]) -> [Double] {
        let (groups, counts) = ClassifierTrainer.labelCounts(texts, classes: 2, pieces: pieces)
        return ClassifierTrainer.scriptBalancedWeights(texts, groups: groups, labelCounts: counts)
    }
    let counts = ClassifierTrainer.labelCounts(texts, classes: 2, pieces: pieces).counts
    #expect(counts == [.han: [2, 2], .other: [3, 1]])
    let weights = weightsOf(texts)
    #expect(weights[..<4].allSatisfy { $0 == 1 })
    #expect(weights[4..<7].allSatisfy { abs($0 - 4.0 / 6) < 1e-12 })
    #expect(weights[7] == 2)
    #expect(abs(weights.reduce(0, +) / Double(weights.count) - 1) < 1e-12)
    // A group with one class only: its texts weigh 1.
    let alone = weightsOf([.init(ids: han, label: 1), .init(ids: latin, label: 0)])
    #expect(alone == [1, 1])
}
