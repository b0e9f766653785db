import Foundation
import Network
import Testing
@testable import Training

@Suite struct OutputPriorTests {
    @Test func thePriorIsTheSmoothedLogFrequencyOfEveryTarget() {
        // Targets (every token after the first): 1, 1, 2, 1; ids 0 and 3 never are.
        let prior = OutputPrior(tokens: [0, 1, 1, 2, 1], vocabularySize: 4)
        let total = 4 + OutputPrior.smoothing * 4
        let expected = [0.0, 3, 1, 0].map { Float(log(($0 + OutputPrior.smoothing) / total)) }
        #expect(prior.logPrior == expected)
        let mass = prior.logPrior.reduce(0.0) { $0 + exp(Double($1)) }
        #expect(abs(mass - 1) < 1e-6)
        #expect(OutputPrior.targetCounts([0, 1, 1, 2, 1], vocabularySize: 4) == [0, 3, 1, 0])
        // Ids outside the vocabulary (never produced by a tokenizer) are ignored, not a crash.
        #expect(OutputPrior(tokens: [0, 7, -1], vocabularySize: 2).logPrior.count == 2)
    }

    @Test func aNewCharacterRunStartsFromThePriorAndAFineTuneFromItsWeights() throws {
        let vocabulary = try Fixture.vocabulary()
        let path = try Fixture.file(copies: 2)
        var options = Fixture.options(path, vocabulary: vocabulary)
        options.characterLevel = true
        options.maxSteps = 1
        let folder = Fixture.folder()
        let trainer = try Fixture.trainer(options, vocabulary, folder: folder)
        let expected = OutputPrior(tokens: try Fixture.corpus(options, vocabulary).train,
                                   vocabularySize: vocabulary.count).logPrior
        let bias = try trainer.model.parameters.tensor("head.bias")
        let start = Array(trainer.model.parameters.values[bias.offset..<(bias.offset + bias.count)])
        #expect(start == expected)
        // The bytes this text lacks start far below its characters.
        #expect(expected.min()! < -7 && expected.max()! > -4)
        #expect(try trainer.run() == .finished)
        // One step, one evaluation: the best checkpoint holds the final weights.
        let trained = Array(trainer.model.parameters.values[bias.offset..<(bias.offset + bias.count)])
        #expect(trained != expected)

        // --init-from keeps the trained bias: the prior is only a new model's start.
        options.initialWeights = RunFolder(path: folder).weightsPath(.best)
        let fineTune = try Fixture.trainer(options, vocabulary, folder: Fixture.folder())
        let loaded = Array(fineTune.model.parameters.values[bias.offset..<(bias.offset + bias.count)])
        #expect(loaded == trained)

        // A subword run starts from the initializer's uniform bias.
        options.characterLevel = false
        options.initialWeights = nil
        let subword = try Fixture.trainer(options, vocabulary, folder: Fixture.folder())
        let uniform = Array(subword.model.parameters.values[bias.offset..<(bias.offset + bias.count)])
        #expect(uniform.allSatisfy { abs($0) <= 1 })
        #expect(uniform != expected)
    }
}
