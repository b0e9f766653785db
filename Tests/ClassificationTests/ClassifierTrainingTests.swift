import Foundation
import Network
import Testing
import Text
import Training
@testable import Classification

/// A small separable bilingual set: praise and complaints in Chinese and English.
enum Sentiment {
    static let positive = ["这本书写得太好了，强烈推荐", "服务很好，非常满意", "great product, love it", "wonderful and excellent",
                           "质量很好，值得购买", "I really enjoyed this, great", "非常喜欢，很好", "excellent service, very happy"]
    static let negative = ["太差了，不推荐", "服务很差，非常失望", "terrible product, hate it", "awful and disappointing",
                           "质量太差，浪费钱", "I want my money back, terrible", "非常失望，很差", "bad service, very angry"]

    static func examples(repeats: Int) -> [LabelledExample] {
        (0..<repeats).flatMap { _ in
            positive.map { LabelledExample(label: "positive", text: $0) } + negative.map { LabelledExample(label: "negative", text: $0) }
        }
    }

    /// A character vocabulary of every character above (and a few more).
    static func vocabulary() throws -> Vocabulary {
        let texts = (positive + negative).map { Array($0.utf8) } + [Array("abcdefghijklmnopqrstuvwxyz ,.!?".utf8)]
        return try LanguageModelData.characterVocabulary(texts, threads: 1)
    }

    static func classifier(seed: UInt64 = 1, ngramBuckets: Int = 0) throws -> Classifier {
        let vocabulary = try vocabulary()
        let config = ModelConfig(vocabularySize: vocabulary.count, embeddingSize: 16, layers: [.lstm(hidden: 16)], dropout: 0.1)
        return try ClassifierSetup.fromScratch(config: config, vocabulary: vocabulary, labels: ["negative", "positive"],
                                               maxTokens: 64, ngrams: TokenNgrams.table(buckets: ngramBuckets, order: 3, hanOrder: 2),
                                               seed: seed, threads: 1)
    }

    static func options() -> ClassifierTrainingOptions {
        var options = ClassifierTrainingOptions()
        options.epochs = 12
        options.batch = 8
        options.learningRate = 1e-2
        options.patience = 12
        return options
    }
}

private func temporaryFolder() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("classify-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

private func train(seed: UInt64 = 1, ngramBuckets: Int = 0, averageDecay: Float = 0) throws -> (ClassifierTrainer, ClassifierFolder) {
    let folder = ClassifierFolder(path: try temporaryFolder())
    let classifier = try Sentiment.classifier(seed: seed, ngramBuckets: ngramBuckets)
    var options = Sentiment.options()
    options.averageDecay = averageDecay
    let trainer = try ClassifierTrainer(classifier: classifier, train: Sentiment.examples(repeats: 4),
                                        validation: Sentiment.examples(repeats: 1), options: options,
                                        folder: folder, pretrained: false)
    _ = try trainer.run()
    return (trainer, folder)
}

@Test(arguments: [0, 256])
func learnsASeparableSetPerfectlyAndRepeatably(ngramBuckets: Int) throws {
    let (trainer, folder) = try train(ngramBuckets: ngramBuckets)
    let result = try ClassifierEvaluation.evaluate(trainer.classifier, on: Sentiment.examples(repeats: 1))
    #expect(result.report.accuracy == 1, "\(result.report.table)")
    #expect(trainer.best?.accuracy == 1)
    let log = try String(contentsOfFile: folder.metricsPath, encoding: .utf8)
    #expect(log.split(separator: "\n").count == trainer.records.count)

    // Same seed, same data: the same weights bit for bit; predictions repeat.
    let (again, _) = try train(ngramBuckets: ngramBuckets)
    #expect(Array(again.classifier.model.parameters.values) == Array(trainer.classifier.model.parameters.values))
    #expect(Array(again.classifier.head.values) == Array(trainer.classifier.head.values))
    let texts = try Sentiment.positive.map { try trainer.classifier.tokens($0) }
    #expect(try trainer.classifier.probabilities(texts) == (try trainer.classifier.probabilities(texts)))

    // Saved and loaded, it predicts the same probabilities.
    let loaded = try folder.load(threads: 1)
    #expect(loaded.labels == ["negative", "positive"])
    #expect(loaded.spec == trainer.classifier.spec)
    #expect(try loaded.probabilities(texts) == (try trainer.classifier.probabilities(texts)))
    for p in try loaded.probabilities(texts) {
        #expect(abs(p.reduce(0, +) - 1) < 1e-5)
        #expect(p.allSatisfy { $0 >= 0 && $0 <= 1 })
    }
}

/// With weight averaging, validation sees (and the folder keeps) the average, not the last
/// step's weights, and training goes on from the weights themselves.
@Test func withWeightAveragingTheAverageIsValidatedAndKept() throws {
    let (plain, _) = try train(ngramBuckets: 256)
    let (averaged, folder) = try train(ngramBuckets: 256, averageDecay: 0.9)
    #expect(averaged.best?.accuracy == 1)
    #expect(Array(averaged.classifier.model.parameters.values) != Array(plain.classifier.model.parameters.values))
    let texts = try Sentiment.negative.map { try averaged.classifier.tokens($0) }
    #expect(try folder.load(threads: 1).probabilities(texts) == (try averaged.classifier.probabilities(texts)))
}

@Test func aWeightAverageFollowsTheWeightsEveryIntervalAndPutsThemBack() {
    let weights = UnsafeMutableBufferPointer<Float>.allocate(capacity: 3)
    defer { weights.deallocate() }
    _ = weights.initialize(from: [1, 2, 3])
    var average = WeightAverage(decay: 0.99, weights: [weights])
    _ = weights.update(fromContentsOf: [5, 6, 7])
    for step in 1..<average.interval { average.update(step: step, weights: [weights]) }
    #expect(average.withAverage(in: [weights]) { Array(weights) } == [1, 2, 3], "no update before the interval")
    #expect(Array(weights) == [5, 6, 7], "the weights are put back")
    // The first update's decay is 2/11 (warm-up), below 0.99^8: 1 + (9/11) * 4.
    average.update(step: average.interval, weights: [weights])
    let first = average.withAverage(in: [weights]) { Array(weights) }
    #expect(abs(first[0] - (1 + 4 * 9 / 11)) < 1e-6 && abs(first[2] - (3 + 4 * 9 / 11)) < 1e-6)
    for step in 2...200 { average.update(step: step * average.interval, weights: [weights]) }
    #expect(average.withAverage(in: [weights]) { Array(weights) }.elementsEqual([5, 6, 7]) { abs($0 - $1) < 1e-5 })
}

@Test func everyEpochAlsoTrainsOnTheClausesOfEachLongerText() throws {
    // 14 of the 16 texts have two clauses: 4 x 16 texts + 4 x 14 x 2 clauses = 176 samples,
    // 22 batches of 8; with the weight at 0, 64 texts in 8 batches.
    func steps(clauseWeight: Float) throws -> Int {
        var options = Sentiment.options()
        options.clauseWeight = clauseWeight
        return try ClassifierTrainer(classifier: try Sentiment.classifier(), train: Sentiment.examples(repeats: 4),
                                     validation: Sentiment.examples(repeats: 1), options: options,
                                     folder: ClassifierFolder(path: try temporaryFolder()), pretrained: false).stepsPerEpoch
    }
    #expect(try steps(clauseWeight: 0.2) == 22)
    #expect(try steps(clauseWeight: 0) == 8)
    var options = Sentiment.options()
    options.clauseWeight = -1
    #expect(throws: ClassificationError.self) { try options.validate() }
}

@Test func batchingDoesNotChangeProbabilities() throws {
    let classifier = try Sentiment.classifier()
    let texts = try (Sentiment.positive + Sentiment.negative).map { try classifier.tokens($0) }
    let together = try classifier.probabilities(texts)
    classifier.batchSize = 3
    let apart = try texts.map { try classifier.probabilities([$0])[0] }
    for (a, b) in zip(together, apart) {
        for (x, y) in zip(a, b) { #expect(abs(x - y) < 1e-5) }
    }
    #expect(try classifier.probabilities(texts).elementsEqual(together) { zip($0, $1).allSatisfy { abs($0 - $1) < 1e-5 } })
}

@Test func aTextsProbabilitiesDoNotDependOnWhatCameBefore() throws {
    // The gate table computes a token's row when a batch first holds it: here a text's rows
    // come from one product, then from one product per token, and must be the same bits.
    let classifier = try Sentiment.classifier()
    let text = try classifier.tokens(Sentiment.positive[0])
    let first = try classifier.probabilities([text])
    classifier.weightsChanged()  // a fresh, empty gate table
    for id in text.reversed() { _ = try classifier.probabilities([[id]]) }
    #expect(try classifier.probabilities([text]) == first)
}

@Test func unfreezesOneGroupPerStageFromTheTop() throws {
    let classifier = try Sentiment.classifier()
    var options = Sentiment.options()
    options.unfreezeEpochs = 2
    let trainer = try ClassifierTrainer(classifier: classifier, train: Sentiment.examples(repeats: 1),
                                        validation: Sentiment.examples(repeats: 1), options: options,
                                        folder: ClassifierFolder(path: try temporaryFolder()), pretrained: true)
    // Groups: 0 the embedding, 1 the LSTM; 2 means the head alone.
    #expect((0..<6).map { trainer.lowestTrainableGroup(epoch: $0) } == [2, 2, 1, 1, 0, 0])
    let scratch = try ClassifierTrainer(classifier: classifier, train: Sentiment.examples(repeats: 1),
                                        validation: Sentiment.examples(repeats: 1), options: options,
                                        folder: ClassifierFolder(path: try temporaryFolder()), pretrained: false)
    #expect(scratch.lowestTrainableGroup(epoch: 0) == 0)
}

@Test func refusesDataItCannotLearnFrom() throws {
    func message(_ body: () throws -> Void) -> String {
        do { try body() } catch { return "\(error)" }
        return "no error"
    }
    #expect(message { _ = try ClassifierSetup.labels(of: [LabelledExample(label: "a", text: "x")]) }.contains("single label"))
    let classifier = try Sentiment.classifier()
    let unseen = message {
        _ = try ClassifierTrainer(classifier: classifier, train: Sentiment.examples(repeats: 1),
                                  validation: [LabelledExample(label: "neutral", text: "so so")], options: Sentiment.options(),
                                  folder: ClassifierFolder(path: try temporaryFolder()), pretrained: false)
    }
    #expect(unseen.contains("'neutral'"))
    #expect(message { _ = try ClassifierEvaluation.evaluate(classifier, on: [LabelledExample(label: "x", text: "y")]) }.contains("'x'"))
}

@Test func refusesMissingAndDamagedModels() throws {
    let (_, folder) = try train()
    func message(_ body: () throws -> Void) -> String {
        do { try body() } catch { return "\(error)" }
        return "no error"
    }
    #expect(message { _ = try ClassifierFolder(path: "/nonexistent/model").load(threads: 1) }.contains("not a classifier folder"))
    let weights = try Data(contentsOf: URL(fileURLWithPath: folder.weightsPath))
    try weights.prefix(weights.count / 2).write(to: URL(fileURLWithPath: folder.weightsPath))
    #expect(message { _ = try folder.load(threads: 1) }.contains("model.safetensors"))
    try Data("{".utf8).write(to: URL(fileURLWithPath: folder.specPath))
    #expect(message { _ = try folder.load(threads: 1) }.contains("damaged"))
}

@Test func everyLineGetsAVerdict() throws {
    let classifier = try Sentiment.classifier()
    let lines: [[UInt8]] = [Array("很好".utf8), [], Array("   ".utf8), [0x61, 0xFF], Array("ok\r".utf8), [0x61, 0, 0x62],
                            Array(String(repeating: "x", count: 100).utf8)]
    let verdicts = try LineClassifier(classifier: classifier, maxLineBytes: 50).classify(lines)
    #expect(verdicts.count == lines.count)
    guard case let .probabilities(p) = verdicts[0] else { Issue.record("\(verdicts[0])"); return }
    #expect(abs(p.reduce(0, +) - 1) < 1e-5)
    #expect(verdicts[1] == .noText && verdicts[2] == .noText)
    #expect(verdicts[3] == .error("invalid UTF-8 at byte 1"))
    if case .probabilities = verdicts[4] {} else { Issue.record("\(verdicts[4])") }
    #expect(verdicts[5] == .error("NUL byte at offset 1: binary data"))
    #expect(verdicts[6] == .error("line of 100 bytes exceeds the limit of 50"))
}

/// After training, a TF-IDF model is fitted and mixed in at the weights that validate best
/// (one for Han texts, one for the rest); the folder keeps it, and a loaded classifier
/// predicts the same probabilities. A folder whose spec asks for the mixture but lacks its
/// tensors is refused.
@Test func aTfidfModelIsFittedMixedInAndSaved() throws {
    let (trainer, folder) = try train(ngramBuckets: 256)
    let choice = try #require(try trainer.fitTfidf(cs: [1, 10]))
    #expect(choice.tfidfMacroF1 == 1)
    #expect(choice.mixtureMacroF1 >= choice.networkMacroF1)
    #expect((choice.weight > 0 || choice.hanWeight > 0) == (trainer.classifier.tfidf != nil))
    #expect(trainer.classifier.spec.tfidfWeight == choice.weight)
    #expect(trainer.classifier.spec.tfidfHanWeight == choice.hanWeight)
    let texts = try (Sentiment.positive + Sentiment.negative).map { try trainer.classifier.tokens($0) }
    let loaded = try folder.load(threads: 1)
    #expect(loaded.spec == trainer.classifier.spec)
    #expect(loaded.tfidf == trainer.classifier.tfidf)
    #expect(try loaded.probabilities(texts) == (try trainer.classifier.probabilities(texts)))

    // Forced in at a weight of 1, predictions are the TF-IDF model's alone.
    let model = try #require(trainer.classifier.tfidf ?? {
        var m = TfidfModel(buckets: 256, classes: 2, idf: [Float](repeating: 1, count: 256))
        m.bias = [0.3, -0.3]
        return m
    }())
    try loaded.useTfidf(model, weight: 1)
    let rows = loaded.ngramRows(texts)
    #expect(rows.count == texts.count)
    for (p, r) in zip(try loaded.probabilities(texts), rows) {
        let q = Classifier.softmax(model.logits(model.features(r))[...])
        for (a, b) in zip(p, q) { #expect(abs(a - b) < 1e-6) }
    }

    // At weight 1 for Han texts and 0 for the rest: the TF-IDF model's for the Chinese
    // texts, the network's alone for the English ones.
    try loaded.useTfidf(nil, weight: 0)
    let network = try loaded.probabilities(texts)
    try loaded.useTfidf(model, weight: 0, hanWeight: 1)
    for (i, (p, text)) in zip(try loaded.probabilities(texts), Sentiment.positive + Sentiment.negative).enumerated() {
        let han = ScriptGroup.of(text.unicodeScalars) == .han
        #expect(han == text.unicodeScalars.contains { $0.value >= 0x4E00 })
        let q = han ? Classifier.softmax(model.logits(model.features(rows[i]))[...]) : network[i]
        for (a, b) in zip(p, q) { #expect(abs(a - b) < 1e-6) }
    }
    // A weight outside [0, 1] is refused and changes nothing.
    #expect(throws: ClassificationError.self) { try loaded.useTfidf(model, weight: 0.5, hanWeight: 1.5) }
    #expect(throws: ClassificationError.self) { try loaded.useTfidf(model, weight: -0.1, hanWeight: 0.5) }
    #expect(loaded.spec.tfidfWeight == 0 && loaded.spec.tfidfHanWeight == 1)

    // A spec with a weight but no tensors: a clear refusal.
    try folder.save(trainer.classifier)
    var spec = try JSONDecoder().decode(ClassifierSpec.self, from: Data(contentsOf: URL(fileURLWithPath: folder.specPath)))
    if !spec.mixesTfidf {
        spec.tfidfHanWeight = 0.5
        try ClassifierFolder.json(spec).write(toFile: folder.specPath, atomically: true, encoding: .utf8)
        #expect(throws: ClassificationError.self) { _ = try folder.load(threads: 1) }
    }
}
