import Foundation
import Testing
@testable import Classification

// The class prior of a classifier's probabilities: as trained, or uniform (the training
// labels' frequencies within the text's script group divided out).

@Test func aUniformPriorDividesOutTheTrainingFrequencies() {
    // Trained on 30 negative and 10 positive texts (add-one: 31 and 11 of 42): an even
    // verdict under the training prior leans positive once that prior is divided out.
    let even: [Float] = [0.5, 0.5]
    #expect(LabelPrior.training.adjust(even, counts: [30, 10]) == even)
    let uniform = LabelPrior.uniform.adjust(even, counts: [30, 10])
    #expect(abs(uniform[0] - 11.0 / 42) < 1e-6 && abs(uniform[1] - 31.0 / 42) < 1e-6)
    // Balanced training data changes nothing; a text's probabilities still sum to 1.
    #expect(LabelPrior.uniform.adjust([0.8, 0.2], counts: [7, 7]) == [0.8, 0.2])
    let p = LabelPrior.uniform.adjust([0.7, 0.2, 0.1], counts: [100, 0, 5])
    #expect(abs(p.reduce(0, +) - 1) < 1e-6)
    #expect(p[1] > p[0])  // a label never seen in training gets add-one's small prior, a large boost
    // Without counts (or mismatched ones), probabilities are left as they are.
    #expect(LabelPrior.uniform.adjust([0.8, 0.2], counts: nil) == [0.8, 0.2])
    #expect(LabelPrior.uniform.adjust([0.8, 0.2], counts: [1, 2, 3]) == [0.8, 0.2])
}

/// Training records the labels' counts per script group; prediction under the uniform prior
/// is the training prior's probabilities adjusted by them, and the counts survive saving.
@Test func trainingRecordsLabelCountsPerScriptAndPredictionUsesThem() throws {
    let folder = ClassifierFolder(path: FileManager.default.temporaryDirectory
        .appendingPathComponent("prior-\(UUID().uuidString)").path)
    defer { try? FileManager.default.removeItem(atPath: folder.path) }
    let classifier = try Sentiment.classifier()
    // Imbalanced on purpose: every English complaint three times, the rest once.
    let english = { (text: String) in text.unicodeScalars.allSatisfy { $0.value < 0x80 } }
    let train = Sentiment.examples(repeats: 1)
        + Sentiment.negative.filter(english).flatMap { Array(repeating: LabelledExample(label: "negative", text: $0), count: 2) }
    var options = Sentiment.options()
    options.epochs = 2
    let trainer = try ClassifierTrainer(classifier: classifier, train: train, validation: Sentiment.examples(repeats: 1),
                                        options: options, folder: folder, pretrained: false)
    let englishNegative = Sentiment.negative.filter(english).count, englishPositive = Sentiment.positive.filter(english).count
    #expect(classifier.spec.labelCounts == ["other": [3 * englishNegative, englishPositive],
                                            "han": [Sentiment.negative.count - englishNegative, Sentiment.positive.count - englishPositive]])
    _ = try trainer.run()

    let texts = try (Sentiment.positive + Sentiment.negative).map { try classifier.tokens($0) }
    #expect(classifier.prior == .training)
    let asTrained = try classifier.probabilities(texts)
    classifier.prior = .uniform
    let uniform = try classifier.probabilities(texts)
    for (i, text) in (Sentiment.positive + Sentiment.negative).enumerated() {
        let group = english(text) ? "other" : "han"
        let want = LabelPrior.uniform.adjust(asTrained[i], counts: classifier.spec.labelCounts?[group])
        for (a, b) in zip(uniform[i], want) { #expect(abs(a - b) < 1e-6) }
        if english(text) { #expect(uniform[i][1] > asTrained[i][1]) }  // English leaned negative
    }
    let loaded = try folder.load(threads: 1)
    #expect(loaded.spec.labelCounts == classifier.spec.labelCounts)
}

@Test func labelCountsThatDoNotFitAreRefused() throws {
    let classifier = try Sentiment.classifier()
    #expect(throws: ClassificationError.self) { try classifier.recordLabelCounts(["other": [1, 2, 3]]) }
    #expect(throws: ClassificationError.self) { try classifier.recordLabelCounts(["latin": [1, 2]]) }
    #expect(throws: ClassificationError.self) { try classifier.recordLabelCounts(["han": [1, -2]]) }
    #expect(classifier.spec.labelCounts == nil)
    // A classifier without counts refuses the uniform prior instead of ignoring it.
    classifier.prior = .uniform
    #expect(throws: ClassificationError.self) { try classifier.probabilities([[1, 2]]) }
}
