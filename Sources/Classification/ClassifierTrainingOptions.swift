/// How a training text's loss is weighted by its class.
public enum ClassWeighting: String, Codable, CaseIterable, Sendable {
    /// Every text alike.
    case none
    /// A text of class c weighs N / (K · N_c): rare classes count as much as common ones.
    case balanced
    /// Classes balanced within each script (`ScriptGroup`): a text of group g and class c
    /// weighs N_g / (K_g · N_gc), K_g being the classes group g has. A mixture of a balanced
    /// corpus in one language and a skewed one in another is then evened out in the skewed
    /// one alone.
    case perScript = "per-script"
}

/// The settings of a classifier's training.
public struct ClassifierTrainingOptions: Codable, Equatable, Sendable {
    public var epochs = 6
    /// Texts per step.
    public var batch = 32
    /// Peak rate of the head; see `layerFactor`.
    public var learningRate: Float = 3e-3
    /// Discriminative fine-tuning (ULMFiT): each parameter group below the head trains at the
    /// rate of the group above divided by this (1: one rate for all).
    public var layerFactor: Float = 1.5
    /// Gradual unfreezing: the first `unfreezeEpochs` epochs train the head alone, each further
    /// stage of that many epochs unfreezes the next group down, until all train. 0: everything
    /// trains from the first step (always so without a language model).
    public var unfreezeEpochs = 0
    /// Linear warm-up over this share of the steps, then cosine decay to a tenth of the peak.
    public var warmupFraction: Float = 0.06
    public var weightDecay: Float = 0.01
    /// Gradient-norm clipping threshold (0: none).
    public var clip: Float = 1
    public var classWeights = ClassWeighting.balanced
    /// Stop after this many validations in a row without a better macro F1.
    public var patience = 3
    /// Also validate every this many steps (always at the end of an epoch).
    public var evaluateEvery: Int?
    /// Each epoch also trains on every clause of each text of two or more, labelled as its
    /// text, its loss scaled by this (0: whole texts only); see `Clauses`.
    public var clauseWeight: Float = 0.2
    /// Validate and keep an exponential moving average of the weights (Polyak averaging)
    /// instead of the weights themselves: the average's horizon is about 1 / (1 - decay)
    /// steps (0: off).
    public var averageDecay: Float = 0
    public var seed: UInt64 = 1

    public init() {}

    enum CodingKeys: String, CodingKey {
        case epochs, batch, learningRate = "learning_rate", layerFactor = "layer_factor"
        case unfreezeEpochs = "unfreeze_epochs", warmupFraction = "warmup_fraction"
        case weightDecay = "weight_decay", clip, classWeights = "class_weights", patience
        case evaluateEvery = "evaluate_every", clauseWeight = "clause_weight", averageDecay = "average_decay", seed
    }

    /// Throws `ClassificationError.data` naming the first setting out of range.
    public func validate() throws {
        func fail(_ message: String) -> ClassificationError { .data(message) }
        guard epochs >= 1 else { throw fail("--epochs must be at least 1") }
        guard batch >= 1 else { throw fail("--batch must be at least 1") }
        guard learningRate > 0, learningRate.isFinite else { throw fail("--lr must be positive") }
        guard layerFactor >= 1 else { throw fail("--layer-factor must be at least 1") }
        guard unfreezeEpochs >= 0 else { throw fail("--unfreeze-epochs must be at least 0") }
        guard warmupFraction >= 0, warmupFraction < 1 else { throw fail("the warm-up share must be in [0, 1)") }
        guard weightDecay >= 0, clip >= 0 else { throw fail("weight decay and clip must be at least 0") }
        guard clauseWeight >= 0, clauseWeight.isFinite else { throw fail("--clause-weight must be at least 0") }
        guard averageDecay >= 0, averageDecay < 1 else { throw fail("--average-decay must be in [0, 1)") }
        guard patience >= 1 else { throw fail("--patience must be at least 1") }
        if let evaluateEvery, evaluateEvery < 1 { throw fail("--eval-every must be at least 1") }
    }
}
