import Network

/// Everything that decides what a language-model run computes. Saved in the run folder as
/// `run.json` (snake_case keys), so that `--resume` continues with exactly the same settings.
public struct TrainingOptions: Codable, Equatable, Sendable {
    /// Training texts (each file's tail is held out unless `validationFiles` is given).
    public var train: [TokenCorpus.Source]
    public var validationFiles: [TokenCorpus.Source] = []
    public var validationFraction = 0.05
    /// The training texts alternate in blocks of about this many bytes instead of following
    /// one another (`TokenCorpus.interleaved`); nil: one after the other.
    public var interleaveBytes: Int?
    /// A character-level vocabulary built from the training texts instead of a BPE file.
    public var characterLevel = false
    /// The model; its `vocab_size` is the vocabulary's.
    public var model: ModelConfig
    /// B streams of T tokens per step (truncated BPTT over T, state carried across steps).
    public var batch = 32
    public var length = 64
    public var epochs = 10
    /// Stops after this many steps even if epochs remain (and shortens the schedule to it).
    public var maxSteps: Int?
    /// Stops after this many seconds of training steps (evaluation excluded); the cosine
    /// schedule then runs on the elapsed fraction of the budget instead of the step count.
    public var timeBudget: Double?
    public var learningRate: Float = 2e-3
    public var minLearningRate: Float = 2e-4
    public var warmupSteps = 100
    public var optimizer = AdamW.Settings()
    /// Gradient-norm clipping threshold (0: none).
    public var clip: Float = 1
    public var seed: UInt64 = 1
    /// Also evaluate (and checkpoint) every this many steps; always at the end of an epoch.
    public var evaluateEvery: Int?
    /// Stop when this many evaluations in a row did not improve the best validation loss.
    public var patience: Int? = 3
    /// Before each batch, each stream's carried state is zeroed with this probability, so that
    /// the model also learns to start from nothing, as it does from a prompt or in a window
    /// evaluation; the draws depend only on the seed, the step and the stream, so a resumed
    /// run repeats them. nil (a run.json written before the option existed) or 0: never, the
    /// state is zeroed only at the start of each epoch.
    public var stateReset: Double?
    /// Streams of the validation evaluation (the stream protocol, T tokens per chunk).
    public var evaluationStreams = 16
    /// Weights (a safetensors file of a model configured as `model`) that a new run starts
    /// from instead of a random initialization: fine-tuning a trained model on other text.
    public var initialWeights: String?

    public init(train: [TokenCorpus.Source], model: ModelConfig) {
        self.train = train
        self.model = model
    }

    enum CodingKeys: String, CodingKey {
        case train, validationFiles = "validation_files", validationFraction = "validation_fraction"
        case characterLevel = "character_level", model, batch, length, epochs
        case maxSteps = "max_steps", timeBudget = "time_budget", learningRate = "learning_rate"
        case minLearningRate = "min_learning_rate", warmupSteps = "warmup_steps", optimizer, clip, seed
        case evaluateEvery = "evaluate_every", patience, evaluationStreams = "evaluation_streams"
        case initialWeights = "initial_weights", interleaveBytes = "interleave_bytes"
        case stateReset = "state_reset"
    }

    /// Throws `TrainingError.data` naming the first setting out of range.
    public func validate() throws {
        func fail(_ message: String) -> TrainingError { .data(message) }
        guard batch >= 1, length >= 1 else { throw fail("batch size and sequence length must be at least 1") }
        guard epochs >= 1 else { throw fail("--epochs must be at least 1") }
        if let maxSteps, maxSteps < 1 { throw fail("--max-steps must be at least 1") }
        if let timeBudget, !(timeBudget > 0) { throw fail("--time-budget must be positive") }
        guard learningRate > 0, minLearningRate >= 0, minLearningRate <= learningRate else {
            throw fail("learning rates must satisfy 0 <= min <= peak, peak > 0")
        }
        guard warmupSteps >= 0, clip >= 0 else { throw fail("warm-up steps and clip must be >= 0") }
        guard validationFiles.isEmpty ? validationFraction > 0 && validationFraction < 1 : true else {
            throw fail("the validation fraction must be in (0, 1)")
        }
        if let evaluateEvery, evaluateEvery < 1 { throw fail("--eval-every must be at least 1") }
        if let patience, patience < 1 { throw fail("--patience must be at least 1") }
        if let interleaveBytes, interleaveBytes < 1 { throw fail("--interleave-bytes must be at least 1") }
        if let stateReset, !(stateReset >= 0 && stateReset <= 1) { throw fail("--state-reset must be in [0, 1]") }
        guard evaluationStreams >= 1 else { throw fail("evaluation streams must be at least 1") }
        do { try model.validate() } catch { throw fail("\(error)") }
        let hasAttention = model.layers.contains { if case .attention = $0 { true } else { false } }
        if hasAttention && length > model.maxSequenceLength {
            throw fail("sequence length \(length) exceeds the attention context \(model.maxSequenceLength)")
        }
    }
}

/// A cutoff of an adaptive softmax as a user gives it: a frequency rank, or `seen`, the number
/// of ids that occur in the training tokens. With `seen` last, the ids that never occur (a
/// character vocabulary's byte fallback for the characters the text lacks, 192 of the 257 ids
/// of tiny Shakespeare's) share one cluster that costs nothing in training, and the head is as
/// wide as the text's alphabet plus one, instead of the whole vocabulary.
public enum AdaptiveCutoff: Equatable, Sendable {
    case rank(Int)
    case seen

    /// "seen" or a rank; nil for anything else.
    public init?(_ text: some StringProtocol) {
        var word = Substring(String(text))
        while word.first == " " { word.removeFirst() }
        while word.last == " " { word.removeLast() }
        if word == "seen" {
            self = .seen
        } else if let rank = Int(word) {
            self = .rank(rank)
        } else {
            return nil
        }
    }
}

extension TrainingOptions {
    /// Gives the model an adaptive softmax (untied) whose clusters follow the frequency of the
    /// ids among `trainTokens`, the training text's tokens (see `AdaptiveSoftmaxConfig`).
    /// Throws for cutoffs that do not fit the vocabulary.
    public mutating func useAdaptiveSoftmax(cutoffs: [Int], divValue: Double, trainTokens: [Int32]) throws {
        try useAdaptiveSoftmax(cutoffs: cutoffs.map(AdaptiveCutoff.rank), divValue: divValue, trainTokens: trainTokens)
    }

    /// The same, `.seen` standing for the number of ids that occur in `trainTokens`.
    public mutating func useAdaptiveSoftmax(cutoffs: [AdaptiveCutoff], divValue: Double, trainTokens: [Int32]) throws {
        let counts = OutputPrior.targetCounts(trainTokens, vocabularySize: model.vocabularySize)
        let seen = counts.count(where: { $0 > 0 })
        if cutoffs.contains(.seen) && seen == model.vocabularySize {
            throw TrainingError.data("every id of the vocabulary occurs in the training text: 'seen' leaves no ids for a cluster")
        }
        model.tieEmbeddings = false
        model.adaptiveSoftmax = AdaptiveSoftmaxConfig(
            cutoffs: cutoffs.map { if case .rank(let r) = $0 { r } else { seen } },
            divValue: divValue, order: AdaptiveSoftmaxConfig.frequencyOrder(counts: counts))
        try validate()
    }
}
