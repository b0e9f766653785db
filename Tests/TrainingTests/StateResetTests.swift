import Foundation
import Network
import Testing
@testable import Training

/// `--state-reset P`: before each batch, each stream's carried state is zeroed with
/// probability P, drawn from the seed, the step and the stream alone.
@Suite struct StateResetTests {
    @Test func theDrawsDependOnlyOnTheSeedTheStepAndTheStream() {
        func draws(_ p: Double, seed: UInt64 = 1, steps: Range<Int> = 0..<4000) -> [[Int]] {
            steps.map { Array(LanguageModelTrainer.streamsToReset(step: $0, batch: 16, probability: p, seed: seed)) }
        }
        let never = draws(0).allSatisfy(\.isEmpty), always = draws(1).allSatisfy { $0 == Array(0..<16) }
        #expect(never && always)
        let quarter = draws(0.25)
        let share = Double(quarter.map(\.count).reduce(0, +)) / Double(4000 * 16)
        #expect(abs(share - 0.25) < 0.01, "\(share)")
        #expect(quarter == draws(0.25))
        #expect(Array(quarter[1000..<1010]) == draws(0.25, steps: 1000..<1010))
        #expect(quarter != draws(0.25, seed: 2))
        // Every stream is drawn: none is always kept or always reset.
        for s in 0..<16 {
            let sometimesReset = quarter.contains { $0.contains(s) }, sometimesKept = quarter.contains { !$0.contains(s) }
            #expect(sometimesReset && sometimesKept, "stream \(s)")
        }
    }

    /// (A resumed run repeats the draws: `LanguageModelTrainerTests` resumes with resets too.)
    @Test func theResetsChangeTheRun() throws {
        let vocabulary = try Fixture.vocabulary()
        let path = try Fixture.file(copies: 8)
        func lastWeights(stateReset: Double?) throws -> Data {
            var options = Fixture.options(path, vocabulary: vocabulary, layers: [.lstm(hidden: 24)])
            options.stateReset = stateReset
            let folder = Fixture.folder("reset-\(stateReset ?? 0)")
            #expect(try Fixture.trainer(options, vocabulary, folder: folder).run() == .finished)
            return try Data(contentsOf: URL(fileURLWithPath: RunFolder(path: folder).weightsPath(.last)))
        }
        #expect(try lastWeights(stateReset: 0.5) != lastWeights(stateReset: nil))
        #expect(try lastWeights(stateReset: 0) == lastWeights(stateReset: nil))
    }

    @Test func runFilesWithoutTheOptionReadAsNoResetsAndOutOfRangeValuesAreRefused() throws {
        var options = TrainingOptions(train: [.init(path: "a")],
                                      model: ModelConfig(vocabularySize: 10, embeddingSize: 4, layers: [.lstm(hidden: 4)]))
        options.stateReset = 0.2
        let (written, old) = try Fixture.readWithout("state_reset", options)
        #expect(written as? Double == 0.2)
        #expect(old.stateReset == nil)
        for bad in [-0.1, 1.5, .nan] {
            options.stateReset = bad
            #expect(throws: TrainingError.self) { try options.validate() }
        }
        options.stateReset = 1
        try options.validate()
    }
}
