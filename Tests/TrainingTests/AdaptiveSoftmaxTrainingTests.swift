import FileSupport
import Foundation
import Network
import Testing
import Text
@testable import Training

/// Character runs with an adaptive softmax (`trainlm --adaptive-softmax`): clusters ranked by
/// the training text's frequencies, the prior in the head's bias, and the same guarantees as
/// a full softmax: it learns, it resumes bit-identically, it reloads to the same scores.
@Suite struct AdaptiveSoftmaxTrainingTests {
    /// The fixture's ~70 characters (and 257 unused byte and special ids): the head holds the 16
    /// most frequent, the first cluster the next 48, the second the rest.
    func adaptiveOptions(_ path: String, _ vocabulary: Vocabulary, layers: [ModelConfig.Layer] = [.lstm(hidden: 24), .attention(heads: 2)],
                         dropout: Float = 0.1) throws -> TrainingOptions {
        var options = Fixture.options(path, vocabulary: vocabulary, layers: layers, dropout: dropout)
        options.characterLevel = true
        try options.useAdaptiveSoftmax(cutoffs: [16, 64], divValue: 4,
                                       trainTokens: try Fixture.corpus(options, vocabulary).train)
        return options
    }

    @Test func aSmallAdaptiveModelMemorizesASmallBilingualText() throws {
        let vocabulary = try Fixture.vocabulary()
        let path = try Fixture.file(copies: 8)
        try Fixture.expectMemorizes(adaptiveOptions(path, vocabulary, layers: [.lstm(hidden: 64)]), vocabulary)
    }

    @Test func clustersFollowTheTrainingFrequenciesAndTheHeadStartsFromThePrior() throws {
        let vocabulary = try Fixture.vocabulary()
        let path = try Fixture.file(copies: 2)
        var options = try adaptiveOptions(path, vocabulary)
        options.maxSteps = 1
        let adaptive = try #require(options.model.adaptiveSoftmax)
        #expect(!options.model.tieEmbeddings)
        let train = try Fixture.corpus(options, vocabulary).train
        let counts = Dictionary(train.dropFirst().map { ($0, 1) }, uniquingKeysWith: +)
        let ranked = adaptive.order.map { counts[$0] ?? 0 }
        #expect(ranked == ranked.sorted(by: >))
        #expect(counts[adaptive.order[0]] == counts.values.max())

        let trainer = try Fixture.trainer(options, vocabulary, folder: Fixture.folder())
        let prior = OutputPrior(tokens: train, vocabularySize: vocabulary.count).logPrior
        let bias = try trainer.model.parameters.tensor("adaptive.head.bias")
        let start = Array(trainer.model.parameters.values[bias.offset..<(bias.offset + bias.count)])
        #expect(start.count == 18)
        #expect(Array(start[..<16]) == adaptive.order[..<16].map { prior[Int($0)] })
        // The head's 18 classes carry the whole prior mass.
        let mass = start.reduce(0.0) { $0 + exp(Double($1)) }
        #expect(abs(mass - 1) < 1e-5)
    }

    @Test func anInterruptedAndResumedAdaptiveRunEndsBitIdentical() throws {
        let vocabulary = try Fixture.vocabulary()
        let path = try Fixture.file(copies: 8)
        var options = try adaptiveOptions(path, vocabulary)
        options.evaluateEvery = 5
        let whole = Fixture.folder("whole")
        #expect(try Fixture.trainer(options, vocabulary, folder: whole).run() == .finished)
        let parts = Fixture.folder("parts")
        var calls = 0
        #expect(try Fixture.trainer(options, vocabulary, folder: parts).run(shouldStop: { calls += 1; return calls == 13 }) == .interrupted)
        #expect(try Fixture.trainer(options, vocabulary, folder: parts, resume: true).run() == .finished)
        for checkpoint in [RunFolder.Checkpoint.last, .best] {
            let a = try readWholeFile(path: RunFolder(path: whole).weightsPath(checkpoint))
            let b = try readWholeFile(path: RunFolder(path: parts).weightsPath(checkpoint))
            #expect(a == b, "\(checkpoint) checkpoints differ")
        }
    }

    @Test func anAdaptiveCheckpointReloadsToIdenticalScores() throws {
        let vocabulary = try Fixture.vocabulary()
        let path = try Fixture.file(copies: 2)
        var options = try adaptiveOptions(path, vocabulary)
        options.maxSteps = 6
        let folder = RunFolder(path: Fixture.folder())
        let trainer = try Fixture.trainer(options, vocabulary, folder: folder.path)
        _ = try trainer.run()
        let (loaded, _) = try folder.loadModel(.last, threads: 1)
        #expect(loaded.config == trainer.model.config)
        let tokens = (0..<32).map { Int32($0 * 7 % vocabulary.count) }
        trainer.model.training = false
        trainer.model.resetState()
        loaded.training = false
        #expect(try trainer.model.forward(tokens: tokens, targets: tokens.reversed(), batch: 2, steps: 16)
                == loaded.forward(tokens: tokens, targets: tokens.reversed(), batch: 2, steps: 16))
        let reference = Model(sharingParametersOf: trainer.model, threads: 1)
        #expect(Array(try reference.step(tokens: [3])) == Array(try loaded.step(tokens: [3])))
    }

    @Test func cutoffsAreRanksOrTheWordSeen() {
        #expect(AdaptiveCutoff("seen") == .seen)
        #expect(AdaptiveCutoff(" 500") == .rank(500))
        #expect(AdaptiveCutoff("Seen") == nil)
        #expect(AdaptiveCutoff("5e2") == nil)
        #expect(AdaptiveCutoff("5 00") == nil)
        #expect(AdaptiveCutoff("seen ") == .seen)
        #expect(AdaptiveCutoff("") == nil)
    }

    /// `seen`: the head holds every id of the training text, one cluster the ids it never uses.
    @Test func theSeenCutoffPutsTheIdsTheTextNeverUsesInTheLastCluster() throws {
        let vocabulary = try Fixture.vocabulary()
        var options = Fixture.options(try Fixture.file(copies: 2), vocabulary: vocabulary, layers: [.lstm(hidden: 24)])
        options.characterLevel = true
        let train = try Fixture.corpus(options, vocabulary).train
        try options.useAdaptiveSoftmax(cutoffs: [.seen], divValue: 4, trainTokens: train)
        let adaptive = try #require(options.model.adaptiveSoftmax)
        let counts = OutputPrior.targetCounts(train, vocabularySize: vocabulary.count)
        let seen = counts.filter { $0 > 0 }.count
        #expect(seen > 20 && seen < vocabulary.count - 200)
        #expect(adaptive.cutoffs == [seen])
        #expect(adaptive.order[..<seen].allSatisfy { counts[Int($0)] > 0 })
        #expect(adaptive.order[seen...].allSatisfy { counts[Int($0)] == 0 })

        // Ranks and `seen` mix; a vocabulary the text uses whole leaves `seen` nothing.
        var mixed = Fixture.options(try Fixture.file(copies: 2), vocabulary: vocabulary, layers: [.lstm(hidden: 24)])
        try mixed.useAdaptiveSoftmax(cutoffs: [.rank(8), .seen], divValue: 2, trainTokens: train)
        #expect(mixed.model.adaptiveSoftmax?.cutoffs == [8, seen])
        let everything = (0..<vocabulary.count).map(Int32.init)
        #expect(throws: TrainingError.self) {
            try mixed.useAdaptiveSoftmax(cutoffs: [.seen], divValue: 4, trainTokens: everything + everything)
        }
    }
}
