import FileSupport
import Foundation
import Network
import Text
import Training

/// Building a classifier to train: from a language-model run (transfer) or from scratch, and
/// the optional ULMFiT step between the two (fine-tuning the language model on the
/// classification texts themselves).
public enum ClassifierSetup {
    /// The classes of `examples`, sorted; throws unless there are at least two.
    public static func labels(of examples: [LabelledExample]) throws -> [String] {
        let labels = Set(examples.map(\.label)).sorted()
        guard labels.count >= 2 else {
            throw ClassificationError.data("the training data has a single label ('\(labels.first ?? "")'); a classifier needs at least 2")
        }
        return labels
    }

    /// A classifier whose encoder is the language model of `run` (its `checkpoint` weights),
    /// with `dropout` in place of the language model's, and a fresh head (with a hashed n-gram
    /// table when `ngrams` is given). `encoderLayers` keeps only the embedding and the lowest
    /// layers: fewer layers predict faster, and the lowest ones carry most of what a
    /// sentiment label needs.
    public static func fromLanguageModel(run: RunFolder, checkpoint: RunFolder.Checkpoint = .best, labels: [String],
                                         dropout: Float, maxTokens: Int, encoderLayers: Int? = nil,
                                         ngrams: TokenNgrams? = nil, seed: UInt64, threads: Int?) throws -> Classifier {
        let vocabulary = try run.readVocabulary()
        let (languageModel, _) = try run.loadModel(checkpoint, threads: threads)
        var config = languageModel.config
        let available = config.layers.count
        if let encoderLayers {
            guard (1...available).contains(encoderLayers) else {
                throw ClassificationError.data("the language model has \(available) layer(s); cannot keep \(encoderLayers)")
            }
            config.layers = Array(config.layers.prefix(encoderLayers))
            // The output head is never used; untie it when the top width no longer fits it.
            if config.width(before: encoderLayers) != config.embeddingSize { config.tieEmbeddings = false }
        }
        config.dropout = dropout
        config.adaptiveSoftmax = nil
        let model = try Model<Float>(config: config, seed: seed, threads: threads)
        // The language model's output head (full or adaptive) has no use in a classifier (and a
        // kept stack's top width may not fit it).
        do {
            try model.parameters.copyValues(from: languageModel.parameters) {
                !$0.name.hasPrefix("head.") && !$0.name.hasPrefix("adaptive.")
            }
        } catch {
            throw ClassificationError.model("the language model of '\(run.path)' does not fit the encoder: \(error)")
        }
        let spec = ClassifierSpec(labels: labels, model: config, maxTokens: maxTokens, languageModel: run.path,
                                  ngrams: ngrams)
        return try Classifier(spec: spec, model: model, tokenizer: try Tokenizer(vocabulary: vocabulary), seed: seed, threads: threads)
    }

    /// A classifier with a freshly initialized encoder of `config` over `vocabulary`.
    public static func fromScratch(config: ModelConfig, vocabulary: Vocabulary, labels: [String], maxTokens: Int,
                                   ngrams: TokenNgrams? = nil, seed: UInt64, threads: Int?) throws -> Classifier {
        let model = try Model<Float>(config: config, seed: seed, threads: threads)
        let spec = ClassifierSpec(labels: labels, model: config, maxTokens: maxTokens, languageModel: nil,
                                  ngrams: ngrams)
        return try Classifier(spec: spec, model: model, tokenizer: try Tokenizer(vocabulary: vocabulary), seed: seed, threads: threads)
    }

    /// ULMFiT's second step: continues training the language model of `run` on `texts` (one
    /// per line) and the text files `moreTextFiles` (`validationTexts` held out) for `epochs`,
    /// in a new run folder `into`, and returns that folder. `configure` may adjust the options
    /// (rate, batch, budget).
    public static func fineTuneLanguageModel(run: RunFolder, texts: [String], moreTextFiles: [String] = [],
                                             validationTexts: [String], into: RunFolder,
                                             epochs: Int, threads: Int,
                                             configure: (inout TrainingOptions) -> Void = { _ in },
                                             onEvaluation: ((Metrics) -> Void)? = nil,
                                             shouldStop: () -> Bool = { false }) throws -> RunFolder {
        let original = try run.readOptions()
        let vocabulary = try run.readVocabulary()
        try FileManager.default.createDirectory(atPath: into.path, withIntermediateDirectories: true)
        let trainPath = into.file("texts-train.txt"), validPath = into.file("texts-valid.txt")
        try write(texts, to: trainPath)
        try write(validationTexts, to: validPath)
        var options = TrainingOptions(train: ([trainPath] + moreTextFiles).map { TokenCorpus.Source(path: $0) },
                                      model: original.model)
        options.validationFiles = [TokenCorpus.Source(path: validPath)]
        options.characterLevel = original.characterLevel
        options.batch = original.batch
        options.length = original.length
        options.epochs = epochs
        options.learningRate = original.learningRate / 4
        options.minLearningRate = min(original.minLearningRate, options.learningRate)
        options.warmupSteps = 20
        options.optimizer = original.optimizer
        options.clip = original.clip
        // No state resets (whatever the run used): fine-tuning with them lowered the
        // classifier on text from other sources (scripts/MEASUREMENTS.md, the sentiment classifier).
        options.stateReset = nil
        options.seed = original.seed
        options.patience = 2
        options.initialWeights = run.weightsPath(.best)
        configure(&options)
        let tokenizer = try Tokenizer(vocabulary: vocabulary)
        let corpus = try TokenCorpus.load(train: options.train, validationFiles: options.validationFiles,
                                          validationFraction: options.validationFraction,
                                          interleaveBytes: options.interleaveBytes, tokenizer: tokenizer,
                                          threads: threads)
        let trainer = try LanguageModelTrainer(options: options, vocabulary: vocabulary, corpus: corpus, folder: into,
                                               threads: threads, resume: false)
        trainer.onEvaluation = onEvaluation
        _ = try trainer.run(shouldStop: shouldStop)
        return into
    }

    private static func write(_ texts: [String], to path: String) throws {
        let bytes = Array(texts.map { $0 + "\n" }.joined().utf8)
        try writeAtomically(path: path) { sink in try bytes.withUnsafeBytes { try sink($0) } }
    }
}
