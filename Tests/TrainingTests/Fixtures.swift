import Foundation
import Network
import Testing
import Text
@testable import Training

/// A small bilingual text, a character vocabulary of it, and temporary run folders.
enum Fixture {
    static let text = """
        春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。
        The quick brown fox jumps over the lazy dog.
        床前明月光，疑是地上霜。举头望明月，低头思故乡。
        To be, or not to be, that is the question.

        """

    static func folder(_ name: String = "run") -> String {
        let root = FileManager.default.temporaryDirectory
            .appendingPathComponent("training-tests-\(getpid())-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        return root.appendingPathComponent(name).path
    }

    /// `options` written as run.json and read back, then read back again without `key`, as a
    /// run.json from before that option existed would be: (the value written, the old reading).
    static func readWithout(_ key: String, _ options: TrainingOptions) throws -> (written: Any?, old: TrainingOptions) {
        let data = try JSONEncoder().encode(options)
        #expect(try JSONDecoder().decode(TrainingOptions.self, from: data) == options)
        var json = try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let written = json.removeValue(forKey: key)
        let old = try JSONDecoder().decode(TrainingOptions.self, from: JSONSerialization.data(withJSONObject: json))
        return (written, old)
    }

    /// Writes `text` repeated `copies` times to a temporary file and returns its path.
    static func file(_ text: String = Fixture.text, copies: Int = 1) throws -> String {
        let path = folder("text.txt")
        try String(repeating: text, count: copies).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func vocabulary() throws -> Vocabulary {
        try LanguageModelData.characterVocabulary([Array(text.utf8)], threads: 1)
    }

    /// Options for a tiny LSTM (+ attention) model over `path`.
    static func options(_ path: String, vocabulary: Vocabulary, layers: [ModelConfig.Layer] = [.lstm(hidden: 24), .attention(heads: 2)],
                        dropout: Float = 0.1) -> TrainingOptions {
        let config = ModelConfig(vocabularySize: vocabulary.count, embeddingSize: 16, layers: layers,
                                 dropout: dropout, tieEmbeddings: false, maxSequenceLength: 32)
        var options = TrainingOptions(train: [TokenCorpus.Source(path: path)], model: config)
        options.batch = 4
        options.length = 16
        options.epochs = 3
        options.warmupSteps = 2
        options.validationFraction = 0.2
        options.patience = nil
        options.evaluationStreams = 2
        return options
    }

    static func corpus(_ options: TrainingOptions, _ vocabulary: Vocabulary) throws -> TokenCorpus {
        try TokenCorpus.load(train: options.train, validationFiles: options.validationFiles,
                             validationFraction: options.validationFraction,
                             tokenizer: Tokenizer(vocabulary: vocabulary), threads: 1)
    }

    static func trainer(_ options: TrainingOptions, _ vocabulary: Vocabulary, folder: String,
                        resume: Bool = false, threads: Int = 1) throws -> LanguageModelTrainer {
        try LanguageModelTrainer(options: options, vocabulary: vocabulary, corpus: corpus(options, vocabulary),
                                 folder: RunFolder(path: folder), threads: threads, resume: resume)
    }

    /// Trains a small model (embedding 32, no dropout, 60 epochs at 1e-2) on `options`' text,
    /// a few lines repeated, and checks that it learned them: the validation lines occur in
    /// training too, so both losses fall far below the uniform log(V).
    static func expectMemorizes(_ options: TrainingOptions, _ vocabulary: Vocabulary) throws {
        var options = options
        options.model.embeddingSize = 32
        options.model.dropout = 0
        options.epochs = 60
        options.learningRate = 1e-2
        options.minLearningRate = 1e-3
        let trainer = try Fixture.trainer(options, vocabulary, folder: Fixture.folder())
        var last: Metrics?
        trainer.onEvaluation = { last = $0 }
        #expect(try trainer.run() == .finished)
        let final = try #require(last)
        #expect(try #require(final.trainLoss) < 0.15)
        #expect(try #require(final.validationLoss) < 0.15)
    }
}
