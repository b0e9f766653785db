import Dispatch
import FileSupport
import Foundation
import Kernels
import Network
import SafeTensors
import Text

/// Trains a next-token model on a `TokenCorpus` and keeps its run folder up to date:
/// streams of the training text in batches (state carried across batches, reset at each
/// epoch), AdamW with warm-up and cosine decay, gradient clipping, an evaluation of the
/// validation stream at the end of every epoch (and every `evaluateEvery` steps), best and
/// last checkpoints, the metrics log and the loss chart; early stopping after `patience`
/// evaluations without improvement.
///
/// A non-finite loss, gradient or updated parameter rolls the run back to its last
/// checkpoint (weights, optimizer, carried state) with half the learning rate; the fifth time
/// without a good evaluation in between stops the run with `TrainingError.nonFiniteLoss`.
/// The checkpoints on disk are never written from a non-finite state.
///
/// Repeatable: with the same options, data and thread count, a run gives the same weights
/// bit for bit, and so does a run interrupted (`shouldStop`) and resumed, as long as it is
/// limited by steps or epochs (a time budget depends on the clock).
public final class LanguageModelTrainer {
    public let options: TrainingOptions
    public let folder: RunFolder
    public let model: Model<Float>
    public private(set) var progress: TrainingProgress
    public let batcher: StreamBatcher
    public let totalSteps: Int

    /// Called after every step (from the training thread).
    public var onStep: ((StepReport) -> Void)?
    /// Called after every evaluation with its record.
    public var onEvaluation: ((Metrics) -> Void)?

    public struct StepReport: Sendable {
        public var step: Int, totalSteps: Int, epoch: Double, loss: Float, learningRate: Float
        public var tokensPerSecond: Double, trainSeconds: Double, timeBudget: Double?
    }

    /// How a call to `run` ended.
    public enum Outcome: String, Sendable {
        case finished, earlyStopped = "early-stopped", timeBudget = "time-budget", interrupted
    }

    private let corpus: TokenCorpus
    private let optimizer: AdamW
    private let evaluator: Evaluator
    private let schedule: LearningRateSchedule
    private let metrics: MetricsLog
    private var history: [Metrics]
    private var failuresSinceEvaluation = 0

    /// Starts a new run in `folder` (which must not hold one), or resumes the one there when
    /// `resume` is true (the folder's options are used; the data must be the same).
    public init(options: TrainingOptions, vocabulary: Vocabulary, corpus: TokenCorpus, folder: RunFolder,
                threads: Int, resume: Bool) throws {
        try options.validate()
        guard options.model.vocabularySize == vocabulary.count else {
            throw TrainingError.mismatch("the model has \(options.model.vocabularySize) ids, the vocabulary \(vocabulary.count)")
        }
        self.options = options
        self.folder = folder
        self.corpus = corpus
        batcher = try StreamBatcher(tokens: corpus.train, batch: options.batch, length: options.length)
        var total = options.epochs * batcher.batchesPerEpoch
        if let maxSteps = options.maxSteps { total = min(total, maxSteps) }
        totalSteps = total
        schedule = LearningRateSchedule(peak: options.learningRate, floor: options.minLearningRate,
                                        warmupSteps: min(options.warmupSteps, max(1, total / 5)), totalSteps: total)
        model = try Model<Float>(config: options.model, seed: options.seed, threads: threads)
        let parameters = model.parameters
        // Matrices take weight decay; biases, norms and the embedding table do not.
        let decay = parameters.tensors.filter { $0.shape.count > 1 && $0.name != "embedding.weight" }
            .map { $0.offset..<($0.offset + $0.count) }
        optimizer = AdamW(count: parameters.count, settings: options.optimizer, decay: decay)
        evaluator = Evaluator(sharing: model, vocabulary: vocabulary, threads: threads)
        let digest = Self.digest(corpus.train)
        if resume {
            let saved = try folder.readOptions()
            guard saved == options else {
                throw TrainingError.mismatch("the options differ from the run's run.json")
            }
            progress = try folder.loadLast(into: model, optimizer: optimizer, batch: options.batch, steps: options.length)
            guard progress.dataDigest == digest else {
                throw TrainingError.mismatch("the training data differ from the data this run was trained on")
            }
            guard !progress.finished else {
                throw TrainingError.mismatch("the run in '\(folder.path)' has already finished (\(progress.stopReason ?? "done"))")
            }
            // Records written after the saved state (an evaluation after the last save) go.
            let savedStep = progress.step
            history = ((try? MetricsLog.read(path: folder.metricsPath)) ?? []).filter { $0.step <= savedStep }
        } else {
            guard !folder.exists else {
                throw TrainingError.data("'\(folder.path)' already holds a run (resume it with --resume, or choose another folder)")
            }
            if let initial = options.initialWeights {
                try Self.load(initial, into: model)
            } else if options.characterLevel {
                try OutputPrior(tokens: corpus.train, vocabularySize: options.model.vocabularySize)
                    .initializeBias(model.parameters, adaptive: options.model.adaptiveSoftmax)
            }
            try folder.create()
            try folder.writeVocabulary(vocabulary)
            try folder.writeOptions(options)
            progress = TrainingProgress()
            progress.dataDigest = digest
            history = []
            try? FileManager.default.removeItem(atPath: folder.metricsPath)
            // A first resumable state: what a non-finite loss early on rolls back to.
            try folder.saveLast(model, optimizer: optimizer, progress: progress)
        }
        if resume { try MetricsLog.rewrite(path: folder.metricsPath, history) }
        metrics = try MetricsLog(path: folder.metricsPath)
    }

    /// Starts a fine-tuning run from a trained model's weights.
    private static func load(_ path: String, into model: Model<Float>) throws {
        do {
            try model.parameters.load(from: SafeTensorsFile(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw TrainingError.mismatch("the initial weights '\(path)' do not fit the model: \(error)")
        }
    }

    /// Trains until the schedule, early stopping or the time budget ends the run, or
    /// `shouldStop` returns true (checked after every step; the state is then saved for
    /// `--resume`). Returns how it ended.
    public func run(shouldStop: () -> Bool = { false }) throws -> Outcome {
        let parameters = model.parameters
        let b = options.batch, t = options.length
        var inputs = [Int32](repeating: 0, count: b * t)
        var targets = [Int32](repeating: 0, count: b * t)
        var windowStart = DispatchTime.now().uptimeNanoseconds, windowTokens = 0
        recentTokensPerSecond = 0

        while progress.step < totalSteps {
            if let budget = options.timeBudget, progress.trainSeconds >= budget {
                return try finish(.timeBudget)
            }
            let step = progress.step
            let k = step % batcher.batchesPerEpoch
            let started = DispatchTime.now().uptimeNanoseconds
            if k == 0 {
                model.resetState()  // each epoch reads the streams from their start
            } else if let p = options.stateReset, p > 0 {
                model.resetState(sequences: Self.streamsToReset(step: step, batch: b, probability: p,
                                                                seed: options.seed))
            }
            inputs.withUnsafeMutableBufferPointer { i in
                targets.withUnsafeMutableBufferPointer { o in
                    batcher.fill(batch: k, inputs: i.baseAddress!, targets: o.baseAddress!)
                }
            }
            let loss = try model.forward(tokens: inputs, targets: targets, batch: b, steps: t)
            parameters.zeroGradients()
            try model.backward()
            let norm = options.clip > 0 ? clipGradientNorm(parameters.gradients, maxNorm: options.clip)
                                        : clipGradientNorm(parameters.gradients, maxNorm: .infinity)
            let lr = learningRate(step: step) * progress.learningRateScale
            if loss.isFinite && norm.isFinite {
                optimizer.update(parameters.values, UnsafeBufferPointer(parameters.gradients), lr: lr,
                                 workspace: model.workspace)
            }
            guard loss.isFinite && norm.isFinite && Self.allFinite(parameters.values) else {
                try rollBack(step: step, loss: loss)
                continue
            }
            progress.lossSum += Double(loss)
            progress.lossCount += 1
            progress.step += 1
            progress.optimizerStep = optimizer.step
            progress.forwardCount = model.forwardCount
            let now = DispatchTime.now().uptimeNanoseconds
            progress.trainSeconds += Double(now - started) * 1e-9
            windowTokens += b * t
            if now - windowStart > 1_000_000_000 || recentTokensPerSecond == 0 {
                recentTokensPerSecond = Double(windowTokens) / (Double(now - windowStart) * 1e-9)
                windowStart = now
                windowTokens = 0
            }
            onStep?(StepReport(step: progress.step, totalSteps: totalSteps,
                               epoch: Double(progress.step) / Double(batcher.batchesPerEpoch), loss: loss,
                               learningRate: lr, tokensPerSecond: recentTokensPerSecond, trainSeconds: progress.trainSeconds,
                               timeBudget: options.timeBudget))

            let endOfEpoch = k == batcher.batchesPerEpoch - 1
            let scheduled = options.evaluateEvery.map { progress.step % $0 == 0 } ?? false
            if endOfEpoch || scheduled || progress.step == totalSteps {
                if try evaluate(lr: lr, tokensPerSecond: recentTokensPerSecond) { return try finish(.earlyStopped) }
                windowStart = DispatchTime.now().uptimeNanoseconds
                windowTokens = 0
            }
            if shouldStop() {
                try folder.saveLast(model, optimizer: optimizer, progress: progress)
                return .interrupted
            }
        }
        return try finish(.finished)
    }

    /// The streams whose carried state is zeroed before `step` (`TrainingOptions.stateReset`):
    /// stream s when the (step × batch + s)-th draw of a generator seeded from `seed`, as a
    /// uniform number in [0, 1), is below `probability`.
    static func streamsToReset(step: Int, batch: Int, probability: Double,
                               seed: UInt64) -> LazyFilterSequence<Range<Int>> {
        // Index 3 << 32 of the seed's stream: clear of the parameters' initialization (below
        // 1 << 32) and of the dropout seed (1 << 32), so the resets draw numbers of their own.
        let streamSeed = SplitMix64.value(seed: seed, index: 3 << 32)
        return (0..<batch).lazy.filter { s in
            let bits = SplitMix64.value(seed: streamSeed, index: UInt64(step) &* UInt64(batch) &+ UInt64(s))
            return Double(bits >> 11) * 0x1p-53 < probability
        }
    }

    /// After a non-finite loss, gradient or update: back to the last checkpoint with half the
    /// learning rate; the fifth time since the last good evaluation ends the run.
    private func rollBack(step: Int, loss: Float) throws {
        failuresSinceEvaluation += 1
        guard failuresSinceEvaluation < 5 else { throw TrainingError.nonFiniteLoss(step: step, loss: loss) }
        let skipped = progress.skippedBatches + 1, scale = progress.learningRateScale * 0.5
        model.resetState()
        progress = try folder.loadLast(into: model, optimizer: optimizer, batch: options.batch, steps: options.length)
        progress.skippedBatches = skipped
        progress.learningRateScale = scale
    }

    /// Whether every value is finite: x·0 is 0 for a finite x and NaN for an infinite or NaN
    /// one, so the sum of the products is 0 exactly when all are finite (and it vectorizes).
    static func allFinite(_ values: UnsafeMutableBufferPointer<Float>) -> Bool {
        var acc = SIMD8<Float>()
        let vectors = values.count / 8
        let base = UnsafeRawPointer(values.baseAddress!)
        for i in 0..<vectors {
            acc += base.loadUnaligned(fromByteOffset: i * 32, as: SIMD8<Float>.self) * 0
        }
        var tail: Float = 0
        for i in (vectors * 8)..<values.count { tail += values[i] * 0 }
        return (acc.sum() + tail) == 0
    }

    /// Evaluates the validation stream, logs it, writes the checkpoints; returns true when
    /// early stopping says to stop.
    private func evaluate(lr: Float, tokensPerSecond: Double) throws -> Bool {
        let result = try evaluator.evaluate(corpus.validation, protocol: .stream,
                                            streams: options.evaluationStreams, length: options.length)
        let loss = result.natsPerToken
        var record = Metrics(step: progress.step, epoch: Double(progress.step) / Double(batcher.batchesPerEpoch),
                             trainLoss: progress.lossCount > 0 ? Float(progress.lossSum / Double(progress.lossCount)) : nil,
                             validationLoss: loss.isFinite ? Float(loss) : nil, learningRate: lr,
                             tokensPerSecond: tokensPerSecond)
        record.validationNatsPerCharacter = result.natsPerCharacter.isFinite ? result.natsPerCharacter : nil
        failuresSinceEvaluation = 0
        record.trainSeconds = progress.trainSeconds
        progress.lossSum = 0
        progress.lossCount = 0
        var stop = false
        if loss.isFinite && loss < (progress.bestValidationLoss ?? .infinity) {
            progress.bestValidationLoss = loss
            progress.bestStep = progress.step
            progress.evaluationsWithoutImprovement = 0
            try folder.saveWeights(model, .best, step: progress.step)
        } else {
            progress.evaluationsWithoutImprovement += 1
            if let patience = options.patience, progress.evaluationsWithoutImprovement >= patience { stop = true }
        }
        try folder.saveLast(model, optimizer: optimizer, progress: progress)
        try metrics.append(record)
        history.append(record)
        try writeChart()
        onEvaluation?(record)
        return stop
    }

    /// The training speed over the last second of steps, for the record a stop writes.
    private var recentTokensPerSecond = 0.0

    private func finish(_ outcome: Outcome) throws -> Outcome {
        // A run cut short by its time budget ends with an evaluation too, so that it has a
        // best checkpoint even when the budget ended before the first epoch did.
        if progress.step > 0 && history.last?.step != progress.step {
            _ = try evaluate(lr: learningRate(step: progress.step) * progress.learningRateScale,
                             tokensPerSecond: recentTokensPerSecond)
        }
        progress.finished = true
        progress.stopReason = outcome.rawValue
        try folder.saveLast(model, optimizer: optimizer, progress: progress)
        return outcome
    }

    /// The scheduled rate: by step, or by the elapsed share of the time budget.
    private func learningRate(step: Int) -> Float {
        if let budget = options.timeBudget, step >= schedule.warmupSteps {
            let fraction = min(1, progress.trainSeconds / budget)
            let virtual = schedule.warmupSteps + Int(fraction * Double(max(1, totalSteps - schedule.warmupSteps)))
            return schedule.rate(at: virtual)
        }
        return schedule.rate(at: step)
    }

    private func writeChart() throws {
        let svg = Array(LossChart.svg(history, title: "\((folder.path as NSString).lastPathComponent): loss").utf8)
        try writeAtomically(path: folder.chartPath) { sink in try svg.withUnsafeBytes { try sink($0) } }
    }

    static func digest(_ ids: [Int32]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for id in ids {
            hash = (hash ^ UInt64(UInt32(bitPattern: id))) &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }
}
