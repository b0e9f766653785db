import Dispatch
import FileSupport
import Foundation
import Kernels
import Network
import Training

/// Fine-tunes a `Classifier` on labelled texts, ULMFiT-style when its encoder comes from a
/// language model: gradual unfreezing (the head first, then one parameter group more per
/// stage, top down), discriminative learning rates (each group below the head at the rate of
/// the one above / `layerFactor`), class-weighted cross-entropy, warm-up then cosine decay,
/// gradient clipping, AdamW with a moment buffer per group. It validates every epoch (and
/// every `evaluateEvery` steps), keeps the weights of the best validation macro F1, writes
/// them to the folder, logs every validation to `metrics.jsonl`, and stops after `patience`
/// validations without improvement.
///
/// With `averageDecay` above 0, validation scores (and the folder keeps) a moving average of
/// the weights (`WeightAverage`) rather than the last step's.
///
/// With `clauseWeight` above 0, every epoch also trains on each clause (`Clauses`) of every
/// training text of two or more, labelled as its text, its loss scaled by that weight.
///
/// Batches hold texts of similar length (sorted within shuffled pools of 50 batches), so
/// padding costs little. A non-finite loss or gradient skips the step and halves the rate;
/// ten in a row stop the run. Repeatable: the same data, options and thread count give the
/// same weights bit for bit.
public final class ClassifierTrainer {
    public let classifier: Classifier
    public let options: ClassifierTrainingOptions
    public let folder: ClassifierFolder
    /// Whether the encoder is pretrained (gradual unfreezing and discriminative rates apply).
    public let pretrained: Bool
    public let stepsPerEpoch: Int
    public let totalSteps: Int
    public let classWeights: [Double]
    public private(set) var records: [ClassifierMetrics] = []
    public private(set) var best: ClassifierMetrics?

    /// Called after every step.
    public var onStep: ((StepReport) -> Void)?
    /// Called after every validation.
    public var onEvaluation: ((ClassifierMetrics) -> Void)?

    public struct StepReport: Sendable {
        public var step: Int, totalSteps: Int, epoch: Double, loss: Double, textsPerSecond: Double
    }

    public enum Outcome: String, Sendable { case finished, earlyStopped = "early-stopped", interrupted }

    private let train: [Sample]
    /// The first `textCount` of `train` are the whole texts (the clauses follow).
    private let textCount: Int
    private let validation: [Encoded]
    private let groups: [Group]
    private let headOptimizer: AdamW
    private var rng: SplitMix64
    private var snapshot: (encoder: [Float], head: [Float])
    private var average: WeightAverage?
    /// Every trained value: the encoder's, then the head's (buffers fixed for the model's life).
    private let weights: [UnsafeMutableBufferPointer<Float>]

    struct Encoded {
        let ids: [Int32]
        let label: Int
    }

    /// One text of a batch: a training text (weight 1) or a clause of one.
    struct Sample {
        let ids: [Int32]
        let label: Int
        let weight: Double
    }

    /// A parameter group of the encoder: its slice of the parameter buffer and its optimizer.
    private struct Group {
        let range: Range<Int>
        let optimizer: AdamW
    }

    /// Tokenizes the data; refuses a validation label the training data lacks.
    public init(classifier: Classifier, train: [LabelledExample], validation: [LabelledExample],
                options: ClassifierTrainingOptions, folder: ClassifierFolder, pretrained: Bool) throws {
        try options.validate()
        self.classifier = classifier
        self.options = options
        self.folder = folder
        self.pretrained = pretrained
        let index = Dictionary(uniqueKeysWithValues: classifier.labels.enumerated().map { ($1, $0) })
        func encode(_ examples: [LabelledExample], _ what: String) throws -> [Encoded] {
            let labels = try examples.map { example in
                guard let label = index[example.label] else {
                    throw ClassificationError.data("the \(what) data has the label '\(example.label)', which the training data does not (labels: \(classifier.labels.joined(separator: ", ")))")
                }
                return label
            }
            return zip(try classifier.tokens(examples.map(\.text)), labels).map { Encoded(ids: $0, label: $1) }
        }
        let texts = try encode(train, "training")
        let (textGroups, labelCounts) = Self.labelCounts(texts, classes: classifier.labels.count,
                                                     pieces: classifier.tokenizer.vocabulary.tokens)
        try classifier.recordLabelCounts(Dictionary(uniqueKeysWithValues: labelCounts.map { ($0.rawValue, $1) }))
        let textWeights = options.classWeights == .perScript
            ? Self.scriptBalancedWeights(texts, groups: textGroups, labelCounts: labelCounts)
            : [Double](repeating: 1, count: texts.count)
        var samples = zip(texts, textWeights).map { Sample(ids: $0.ids, label: $0.label, weight: $1) }
        if options.clauseWeight > 0 {
            var clauses: [String] = [], labels: [Int] = [], weights: [Double] = []
            for ((example, text), weight) in zip(zip(texts, train), textWeights) {
                let parts = Clauses.split(text.text)
                guard parts.count > 1 else { continue }
                clauses += parts.map(String.init)
                labels += repeatElement(example.label, count: parts.count)
                weights += repeatElement(weight * Double(options.clauseWeight), count: parts.count)
            }
            for ((ids, label), weight) in zip(zip(try classifier.tokens(clauses), labels), weights) {
                samples.append(Sample(ids: ids, label: label, weight: weight))
            }
        }
        self.train = samples
        textCount = texts.count
        self.validation = try encode(validation, "validation")
        guard !self.train.isEmpty, !self.validation.isEmpty else {
            throw ClassificationError.data("training and validation data must both hold examples")
        }
        var counts = [Int](repeating: 0, count: classifier.labels.count)
        for example in texts { counts[example.label] += 1 }
        if let missing = counts.firstIndex(of: 0) {
            throw ClassificationError.data("the training data has no example of '\(classifier.labels[missing])'")
        }
        let n = Double(texts.count), k = Double(counts.count)
        classWeights = options.classWeights == .balanced ? counts.map { n / (k * Double($0)) } : counts.map { _ in 1 }
        stepsPerEpoch = (self.train.count + options.batch - 1) / options.batch
        totalSteps = stepsPerEpoch * options.epochs

        let model = classifier.model
        var settings = AdamW.Settings()
        settings.weightDecay = options.weightDecay
        groups = (0..<model.groupCount).map { g in
            let tensors = model.tensors(inGroup: g)
            let range = tensors.map(\.offset).min()!..<tensors.map { $0.offset + $0.count }.max()!
            // Matrices take weight decay; biases, norms and the embedding table do not.
            let decay = tensors.filter { $0.shape.count > 1 && g > 0 }
                .map { ($0.offset - range.lowerBound)..<($0.offset - range.lowerBound + $0.count) }
            return Group(range: range, optimizer: AdamW(count: range.count, settings: settings, decay: decay))
        }
        let head = classifier.head
        headOptimizer = AdamW(count: head.values.count, settings: settings, decay: [head.tensors[0].range])
        rng = SplitMix64(seed: options.seed)
        snapshot = (Array(model.parameters.values), Array(head.values))
        weights = [model.parameters.values, head.values]
        if options.averageDecay > 0 {
            average = WeightAverage(decay: options.averageDecay, weights: weights)
        }
    }


    /// The lowest parameter group that trains in `epoch` (0-based): `groupCount` means none
    /// (the head alone).
    public func lowestTrainableGroup(epoch: Int) -> Int {
        let g = classifier.model.groupCount
        guard pretrained, options.unfreezeEpochs > 0 else { return 0 }
        return max(0, g - epoch / options.unfreezeEpochs)
    }

    /// The head's rate at `step` (warm-up, then cosine to a tenth).
    public func learningRate(at step: Int) -> Float {
        let warmup = max(1, Int(Float(totalSteps) * options.warmupFraction))
        let schedule = LearningRateSchedule(peak: options.learningRate, floor: options.learningRate / 10,
                                            warmupSteps: warmup, totalSteps: totalSteps)
        return schedule.rate(at: step)
    }

    /// Trains until the last epoch, early stopping or `shouldStop` (checked after every step).
    /// The classifier ends with the best weights, which are also in the folder.
    public func run(shouldStop: () -> Bool = { false }) throws -> Outcome {
        let model = classifier.model, head = classifier.head
        var step = 0, skippedInARow = 0, rateScale: Float = 1
        var lossSum = 0.0, lossCount = 0, sinceBest = 0
        var windowStart = DispatchTime.now().uptimeNanoseconds, windowTexts = 0, rate = 0.0
        var outcome = Outcome.finished
        let started = DispatchTime.now().uptimeNanoseconds
        var trainSeconds = 0.0
        training: for epoch in 0..<options.epochs {
            let lowest = lowestTrainableGroup(epoch: epoch)
            for batch in batches() {
                let stepStart = DispatchTime.now().uptimeNanoseconds
                model.training = true
                model.parameters.zeroGradients()
                head.gradients.update(repeating: 0)
                _ = try classifier.forward(batch.map(\.ids))
                let loss = head.loss(labels: batch.map(\.label), classWeights: classWeights,
                                     exampleWeights: batch.map(\.weight))
                let dfeatures = head.backward()
                if lowest < model.groupCount {
                    try model.backward(featureGradient: dfeatures, lowestGroup: lowest)
                }
                let norm = clip(from: lowest)
                if loss.isFinite && norm.isFinite {
                    skippedInARow = 0
                    let lr = learningRate(at: step) * rateScale
                    headOptimizer.update(head.values, UnsafeBufferPointer(head.gradients), lr: lr, workspace: model.workspace)
                    for g in lowest..<groups.count {
                        let range = groups[g].range
                        let groupRate = pretrained ? lr / pow(options.layerFactor, Float(groups.count - g)) : lr
                        groups[g].optimizer.update(UnsafeMutableBufferPointer(rebasing: model.parameters.values[range]),
                                                   UnsafeBufferPointer(rebasing: model.parameters.gradients[range]),
                                                   lr: groupRate, workspace: model.workspace)
                    }
                    average?.update(step: step + 1, weights: weights)
                    lossSum += loss
                    lossCount += 1
                } else {
                    skippedInARow += 1
                    rateScale /= 2
                    if skippedInARow >= 10 {
                        restoreSnapshot()
                        throw ClassificationError.data("the loss stayed non-finite for 10 steps in a row (step \(step)); lower --lr")
                    }
                }
                step += 1
                trainSeconds += Double(DispatchTime.now().uptimeNanoseconds - stepStart) / 1e9
                windowTexts += batch.count
                let now = DispatchTime.now().uptimeNanoseconds
                if now - windowStart > 1_000_000_000 {
                    rate = Double(windowTexts) / (Double(now - windowStart) / 1e9)
                    windowStart = now
                    windowTexts = 0
                }
                onStep?(StepReport(step: step, totalSteps: totalSteps, epoch: Double(step) / Double(stepsPerEpoch),
                                   loss: lossCount > 0 ? lossSum / Double(lossCount) : .nan, textsPerSecond: rate))
                let endOfEpoch = step % stepsPerEpoch == 0
                if endOfEpoch || options.evaluateEvery.map({ step % $0 == 0 }) == true {
                    let improved = try evaluate(step: step, epoch: Double(step) / Double(stepsPerEpoch),
                                                trainLoss: lossCount > 0 ? lossSum / Double(lossCount) : nil,
                                                lowest: lowest, trainSeconds: trainSeconds,
                                                seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
                    lossSum = 0
                    lossCount = 0
                    sinceBest = improved ? 0 : sinceBest + 1
                    if sinceBest >= options.patience {
                        outcome = .earlyStopped
                        break training
                    }
                }
                if shouldStop() {
                    outcome = .interrupted
                    break training
                }
            }
        }
        restoreSnapshot()
        return outcome
    }

    /// Each text's script group, and how many texts of each group had each label (every group
    /// present, with zeros where it has no text).
    static func labelCounts(_ texts: [Encoded], classes: Int,
                            pieces: [[UInt8]]) -> (groups: [ScriptGroup], counts: [ScriptGroup: [Int]]) {
        let groups = texts.map { ScriptGroup.of(ids: $0.ids, pieces: pieces) }
        var counts = Dictionary(uniqueKeysWithValues: ScriptGroup.allCases.map { ($0, [Int](repeating: 0, count: classes)) })
        for (text, group) in zip(texts, groups) { counts[group]![text.label] += 1 }
        return (groups, counts)
    }

    /// Each text's weight under `ClassWeighting.perScript`: N_g / (K_g · N_gc) for a text of
    /// script group g and class c (their mean over all texts is 1), from `labelCounts`.
    static func scriptBalancedWeights(_ texts: [Encoded], groups: [ScriptGroup],
                                      labelCounts: [ScriptGroup: [Int]]) -> [Double] {
        zip(texts, groups).map { text, group in
            let row = labelCounts[group]!
            let present = Double(row.count(where: { $0 > 0 })), total = Double(row.reduce(0, +))
            return total / (present * Double(row[text.label]))
        }
    }

    /// What `fitTfidf` chose, by validation macro F1.
    public struct TfidfChoice: Sendable {
        /// The inverse regularization strength of the TF-IDF model, and its macro F1 alone.
        public var c: Double
        public var tfidfMacroF1: Double
        /// The mixture weights of other and of Han texts (`ScriptGroup`; 0: the network
        /// alone), and the macro F1 of the network alone and of the mixture, over all of
        /// validation.
        public var weight: Double
        public var hanWeight: Double
        public var networkMacroF1: Double
        public var mixtureMacroF1: Double
    }

    /// Validation texts a script group needs for a weight of its own; fewer (a macro F1 over
    /// a handful of texts says little) take the weight chosen over all of validation.
    public static let textsPerGroupWeight = 100

    /// After `run`: fits a `TfidfModel` to the whole training texts (not the clauses), with
    /// each C of `cs` (ascending, each fit starting from the last) and keeps the best alone on
    /// validation; then mixes it with the trained network at the weight in 0, 0.05, ..., 1
    /// with the best validation macro F1 (ties: the smaller weight), chosen for Han texts and
    /// for the rest apart (`ScriptGroup`), each on its own validation texts, and saves the
    /// folder. The classifier keeps the network alone when no weight above 0 beats it.
    /// `report` hears each fit.
    public func fitTfidf(cs: [Double] = [1, 3, 10, 30, 100], iterations: Int = 100,
                         report: (String) -> Void = { _ in }) throws -> TfidfChoice? {
        guard let ngrams = classifier.spec.ngrams else { return nil }
        try classifier.useTfidf(nil, weight: 0)
        let texts = train[..<textCount].map(\.ids), labels = train[..<textCount].map(\.label)
        let rows = classifier.ngramRows(texts)
        var model = TfidfModel(buckets: ngrams.buckets, classes: classifier.labels.count,
                               idf: TfidfModel.inverseDocumentFrequency(rows, buckets: ngrams.buckets))
        let features = rows.map { model.features($0) }
        let validationFeatures = classifier.ngramRows(validation.map(\.ids)).map { model.features($0) }
        let gold = validation.map(\.label), labelNames = classifier.labels
        func macroF1(_ probabilities: [[Float]], of texts: [Int]? = nil) -> Double {
            let texts = texts ?? Array(gold.indices)
            let predicted = texts.map { i in probabilities[i].indices.max { probabilities[i][$0] < probabilities[i][$1] }! }
            return ClassificationReport(labels: labelNames, gold: texts.map { gold[$0] }, predicted: predicted).macroF1
        }
        var best: (model: TfidfModel, c: Double, f1: Double, logits: [[Float]])?
        for c in cs.sorted() {
            // Each C starts from the last one's optimum (weaker regularization, larger weights).
            model.fit(features, labels: labels, classWeights: classWeights, c: c, iterations: iterations)
            let candidate = model
            let logits = validationFeatures.map { candidate.logits($0) }
            let f1 = macroF1(logits.map { Classifier.softmax($0[...]) })
            report(String(format: "TF-IDF + logistic regression, C %g: validation macro F1 %.4f", c, f1))
            if best == nil || f1 > best!.f1 { best = (candidate, c, f1, logits) }
        }
        guard let best else { return nil }
        model = best.model
        let network = try classifier.probabilities(validation.map(\.ids))
        let networkLogits = network.map { p in p.map { Float(log(max(Double($0), 1e-30))) } }
        let weights = (0...20).map { Double($0) / 20 }
        let mixtures = weights.map { weight in
            zip(networkLogits, best.logits).map { TfidfModel.mixture($0, $1, weight: weight) }
        }
        // The weight with the best macro F1 over `texts` (nil: all), the smallest of ties.
        func bestWeight(of texts: [Int]? = nil) -> Int {
            let scores = mixtures.map { macroF1($0, of: texts) }
            return scores.indices.max { scores[$0] < scores[$1] || (scores[$0] == scores[$1] && $0 > $1) }!
        }
        let overall = bestWeight()
        let pieces = classifier.tokenizer.vocabulary.tokens
        let groups = validation.map { ScriptGroup.of(ids: $0.ids, pieces: pieces) }
        func chosen(_ group: ScriptGroup) -> Int {
            let members = groups.indices.filter { groups[$0] == group }
            return members.count >= Self.textsPerGroupWeight ? bestWeight(of: members) : overall
        }
        let han = chosen(.han), other = chosen(.other)
        let mixed = validation.indices.map { mixtures[groups[$0] == .han ? han : other][$0] }
        var choice = TfidfChoice(c: best.c, tfidfMacroF1: best.f1, weight: weights[other], hanWeight: weights[han],
                                 networkMacroF1: macroF1(network), mixtureMacroF1: macroF1(mixed))
        if choice.mixtureMacroF1 < choice.networkMacroF1 {
            (choice.weight, choice.hanWeight, choice.mixtureMacroF1) = (0, 0, choice.networkMacroF1)
        }
        report(String(format: "mixture with the network: weight %.2f for Han texts, %.2f for others, validation macro F1 %.4f (network alone %.4f)",
                      choice.hanWeight, choice.weight, choice.mixtureMacroF1, choice.networkMacroF1))
        try classifier.useTfidf(model, weight: choice.weight, hanWeight: choice.hanWeight)
        try folder.save(classifier)
        return choice
    }

    /// Validates, logs, and keeps (in memory and in the folder) weights that improve the
    /// best macro F1 (ties: lower loss). Returns whether they did.
    private func evaluate(step: Int, epoch: Double, trainLoss: Double?, lowest: Int, trainSeconds: Double,
                          seconds: Double) throws -> Bool {
        guard average != nil else {
            return try evaluateWeights(step: step, epoch: epoch, trainLoss: trainLoss, lowest: lowest,
                                       trainSeconds: trainSeconds, seconds: seconds)
        }
        defer { classifier.weightsChanged() }
        return try average!.withAverage(in: weights) {
            classifier.weightsChanged()
            return try evaluateWeights(step: step, epoch: epoch, trainLoss: trainLoss, lowest: lowest,
                                       trainSeconds: trainSeconds, seconds: seconds)
        }
    }

    /// `evaluate` on the weights in place.
    private func evaluateWeights(step: Int, epoch: Double, trainLoss: Double?, lowest: Int, trainSeconds: Double,
                                 seconds: Double) throws -> Bool {
        let result = try ClassifierEvaluation.evaluate(classifier, sequences: validation.map(\.ids),
                                                       gold: validation.map(\.label))
        let report = result.report, loss = result.loss
        var record = ClassifierMetrics(step: step, epoch: epoch, trainLoss: trainLoss, validationLoss: loss,
                                       accuracy: report.accuracy, macroF1: report.macroF1,
                                       f1: Dictionary(uniqueKeysWithValues: report.classes.map { ($0.label, $0.f1) }),
                                       learningRate: learningRate(at: max(0, step - 1)),
                                       trainableGroups: classifier.model.groupCount - lowest,
                                       trainSeconds: trainSeconds, seconds: seconds)
        let improved = best.map { record.macroF1 > $0.macroF1 || (record.macroF1 == $0.macroF1 && loss < $0.validationLoss) } ?? true
        record.best = improved
        if improved {
            best = record
            snapshot = (Array(classifier.model.parameters.values), Array(classifier.head.values))
            try folder.save(classifier)
        }
        records.append(record)
        try writeLog()
        onEvaluation?(record)
        return improved
    }

    /// Puts the best weights (or the initial ones, before any validation) back.
    private func restoreSnapshot() {
        _ = classifier.model.parameters.values.update(fromContentsOf: snapshot.encoder)
        _ = classifier.head.values.update(fromContentsOf: snapshot.head)
        classifier.weightsChanged()
    }

    /// Clips the global norm of the head's and the trainable groups' gradients; returns the norm
    /// before clipping (non-finite if any gradient is).
    private func clip(from lowest: Int) -> Float {
        let encoder = classifier.model.parameters.gradients
        let trainable = lowest < groups.count ? groups[lowest].range.lowerBound..<groups.last!.range.upperBound : 0..<0
        return clipGradientNorm([classifier.head.gradients, UnsafeMutableBufferPointer(rebasing: encoder[trainable])],
                                maxNorm: options.clip)
    }

    /// One epoch's batches: the texts and clauses shuffled, sorted by length within pools of 50
    /// batches, cut into batches, and the batches shuffled.
    private func batches() -> [[Sample]] {
        let samples = train
        var order = Array(samples.indices)
        shuffle(&order)
        let pool = options.batch * 50
        var result: [[Sample]] = []
        var start = 0
        while start < order.count {
            let sorted = order[start..<min(order.count, start + pool)].sorted {
                (samples[$0].ids.count, $0) < (samples[$1].ids.count, $1)
            }.map { samples[$0] }
            var s = 0
            while s < sorted.count {
                result.append(Array(sorted[s..<min(sorted.count, s + options.batch)]))
                s += options.batch
            }
            start += pool
        }
        shuffle(&result)
        return result
    }

    private func shuffle<T>(_ values: inout [T]) {
        guard values.count > 1 else { return }
        for i in stride(from: values.count - 1, to: 0, by: -1) {
            values.swapAt(i, Int(rng.next() % UInt64(i + 1)))
        }
    }

    private func writeLog() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var bytes: [UInt8] = []
        for record in records { bytes += try encoder.encode(record) + [0x0A] }
        try writeAtomically(path: folder.metricsPath) { sink in try bytes.withUnsafeBytes { try sink($0) } }
    }
}

/// One validation during classifier training (a line of `metrics.jsonl`).
public struct ClassifierMetrics: Codable, Equatable, Sendable {
    public var step: Int
    public var epoch: Double
    /// Mean class-weighted training loss since the previous validation.
    public var trainLoss: Double?
    /// Mean cross-entropy (unweighted) on the validation texts.
    public var validationLoss: Double
    public var accuracy: Double
    public var macroF1: Double
    /// F1 of each class.
    public var f1: [String: Double]
    public var learningRate: Float
    /// Groups training at this point (the head not counted).
    public var trainableGroups: Int
    public var trainSeconds: Double
    public var seconds: Double
    /// Whether this validation improved on the best so far (its weights were saved).
    public var best = false

    enum CodingKeys: String, CodingKey {
        case step, epoch, trainLoss = "train_loss", validationLoss = "validation_loss", accuracy
        case macroF1 = "macro_f1", f1, learningRate = "learning_rate", trainableGroups = "trainable_groups"
        case trainSeconds = "train_seconds", seconds, best
    }
}
