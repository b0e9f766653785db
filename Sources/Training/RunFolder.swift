import FileSupport
import Foundation
import Network
import SafeTensors
import Text

/// A training run on disk. Every file is written atomically (temporary file + rename):
///
/// | File | What |
/// |---|---|
/// | `run.json` | the `TrainingOptions` (what `--resume` continues with) |
/// | `vocab.vocab` | the vocabulary the model's ids refer to |
/// | `best.safetensors` | weights of the best validation loss so far (PyTorch names; the model configuration in the metadata) |
/// | `last.safetensors` | weights after the last evaluation or interruption |
/// | `last-state.safetensors` | what resuming needs beyond those weights: AdamW moments, the carried LSTM state, the `TrainingProgress` (metadata) |
/// | `metrics.jsonl` | one `Metrics` record per evaluation |
/// | `loss.svg` | training and validation loss against steps |
public struct RunFolder: Sendable {
    public let path: String

    public enum Checkpoint: String, Sendable { case best, last }

    public init(path: String) { self.path = path }

    public func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }
    public var optionsPath: String { file("run.json") }
    public var vocabularyPath: String { file("vocab.vocab") }
    public var metricsPath: String { file("metrics.jsonl") }
    public var chartPath: String { file("loss.svg") }
    public func weightsPath(_ checkpoint: Checkpoint) -> String { file("\(checkpoint.rawValue).safetensors") }
    public var statePath: String { file("last-state.safetensors") }

    /// Creates the folder (and its parents) if needed.
    public func create() throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw TrainingError.data("cannot create the run folder '\(path)': \(error.localizedDescription)")
        }
    }

    public var exists: Bool { FileManager.default.fileExists(atPath: optionsPath) }

    // MARK: options and vocabulary

    public func writeOptions(_ options: TrainingOptions) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let bytes = Array(try encoder.encode(options)) + [0x0A]
        try writeAtomically(path: optionsPath) { sink in try bytes.withUnsafeBytes { try sink($0) } }
    }

    public func readOptions() throws -> TrainingOptions {
        let bytes = try readOrExplain(optionsPath, what: "run options")
        do {
            return try JSONDecoder().decode(TrainingOptions.self, from: Data(bytes))
        } catch {
            throw TrainingError.mismatch("'\(optionsPath)' is not a valid run description: \(Self.explain(error))")
        }
    }

    public func writeVocabulary(_ vocabulary: Vocabulary) throws {
        try VocabularyFile.write(vocabulary, to: vocabularyPath)
    }

    public func readVocabulary() throws -> Vocabulary {
        guard exists else {
            throw TrainingError.mismatch("'\(path)' is not a run folder (no run.json)")
        }
        guard FileManager.default.fileExists(atPath: vocabularyPath) else {
            throw TrainingError.mismatch("'\(path)' has no vocabulary (vocab.vocab): not a complete run folder")
        }
        do { return try VocabularyFile.read(path: vocabularyPath) } catch {
            throw TrainingError.mismatch("the run's vocabulary '\(vocabularyPath)' is damaged: \(error)")
        }
    }

    // MARK: weights

    /// Writes the model's weights with its configuration (JSON) and `step` in the metadata.
    public func saveWeights(_ model: Model<Float>, _ checkpoint: Checkpoint, step: Int) throws {
        try model.parameters.save(to: URL(fileURLWithPath: weightsPath(checkpoint)),
                                  metadata: ["format": "bilingual-lm", "config": Self.configJSON(model.config),
                                             "step": String(step)])
    }

    /// A model built from the run's configuration and loaded with a checkpoint's weights.
    /// Refuses, with the reason, a missing, truncated or corrupted file and one whose
    /// configuration or vocabulary size does not match the run.
    public func loadModel(_ checkpoint: Checkpoint, threads: Int?) throws -> (model: Model<Float>, step: Int) {
        let options = try readOptions()
        let model = try Model<Float>(config: options.model, seed: options.seed, threads: threads)
        let step = try loadWeights(checkpoint, into: model.parameters, config: options.model)
        return (model, step)
    }

    /// Reads a checkpoint's weights into `store` (of a model configured as `config`) and
    /// returns the step they were saved at; the checks of `loadModel`.
    private func loadWeights(_ checkpoint: Checkpoint, into store: ParameterStore<Float>,
                             config expected: ModelConfig) throws -> Int {
        let weights = weightsPath(checkpoint)
        guard FileManager.default.fileExists(atPath: weights) else {
            throw TrainingError.mismatch("'\(path)' has no \(checkpoint.rawValue) checkpoint yet (\(weights))")
        }
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: weights)) } catch {
            throw TrainingError.mismatch("'\(weights)' is damaged: \(error)")
        }
        if let stored = file.metadata["config"] {
            let config: ModelConfig
            do { config = try JSONDecoder().decode(ModelConfig.self, from: Data(stored.utf8)) } catch {
                throw TrainingError.mismatch("'\(weights)' has an unreadable model configuration")
            }
            guard config == expected else {
                throw TrainingError.mismatch("'\(weights)' holds a model configured differently from run.json")
            }
        }
        do { try store.load(from: file) } catch {
            throw TrainingError.mismatch("'\(weights)': \(error)")
        }
        return Int(file.metadata["step"] ?? "") ?? 0
    }

    // MARK: resumable state

    /// Writes the optimizer's moments, the carried state and `progress`; the weights go to
    /// `last.safetensors` first, and both record `progress.step` so a mismatched pair (a crash
    /// between the two writes) is detected on resume.
    public func saveLast(_ model: Model<Float>, optimizer: AdamW, progress: TrainingProgress) throws {
        try saveWeights(model, .last, step: progress.step)
        let state = model.carriedState
        try writeSafeTensors([
            NamedTensor("adamw.m", shape: [optimizer.count], Array(optimizer.m)),
            NamedTensor("adamw.v", shape: [optimizer.count], Array(optimizer.v)),
            NamedTensor("carried_state", shape: [state.count], state),
        ], metadata: ["format": "bilingual-lm-state", "progress": try Self.json(progress),
                      "step": String(progress.step)],
           to: URL(fileURLWithPath: statePath))
    }

    /// Restores what `saveLast` wrote into `model` and `optimizer`, and returns the progress.
    public func loadLast(into model: Model<Float>, optimizer: AdamW, batch: Int, steps: Int) throws -> TrainingProgress {
        guard FileManager.default.fileExists(atPath: statePath) else {
            throw TrainingError.mismatch("'\(path)' has no resumable state (last-state.safetensors)")
        }
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: statePath)) } catch {
            throw TrainingError.mismatch("'\(statePath)' is damaged: \(error)")
        }
        guard let text = file.metadata["progress"],
              let progress = try? JSONDecoder().decode(TrainingProgress.self, from: Data(text.utf8)) else {
            throw TrainingError.mismatch("'\(statePath)' has no readable training progress")
        }
        let step = try loadWeights(.last, into: model.parameters, config: model.config)
        guard step == progress.step else {
            throw TrainingError.mismatch("last.safetensors is from step \(step) but last-state.safetensors from step \(progress.step) (interrupted while saving?)")
        }
        do {
            let m = try file.floats("adamw.m", requireFinite: true)
            let v = try file.floats("adamw.v", requireFinite: true)
            try optimizer.restore(step: progress.optimizerStep, m: m, v: v)
            let state = try file.floats("carried_state", requireFinite: true)
            if !state.isEmpty { try model.restoreCarriedState(state, batch: batch, steps: steps) }
        } catch let error as TrainingError {
            throw error
        } catch {
            throw TrainingError.mismatch("'\(statePath)': \(error)")
        }
        model.forwardCount = progress.forwardCount
        return progress
    }

    // MARK: helpers

    static func configJSON(_ config: ModelConfig) -> String {
        (try? json(config)) ?? "{}"
    }

    static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    private func readOrExplain(_ file: String, what: String) throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: file) else {
            throw TrainingError.mismatch("'\(path)' is not a run folder (no \((file as NSString).lastPathComponent))")
        }
        return try readWholeFile(path: file)
    }

    static func explain(_ error: Error) -> String {
        switch error {
        case let DecodingError.keyNotFound(key, _): "missing \"\(key.stringValue)\""
        case let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context):
            "bad value at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        case let DecodingError.dataCorrupted(context):
            context.debugDescription
        default: "\(error)"
        }
    }
}

/// Where a run stands: everything beyond weights and optimizer moments that resuming needs
/// to continue bit-identically.
public struct TrainingProgress: Codable, Equatable, Sendable {
    /// Steps completed.
    public var step = 0
    public var optimizerStep = 0
    /// Dropout masks are a function of the model's forward count.
    public var forwardCount: UInt64 = 0
    /// Multiplies the scheduled rate; halved after a non-finite loss.
    public var learningRateScale: Float = 1
    public var skippedBatches = 0
    public var bestValidationLoss: Double?
    public var bestStep: Int?
    public var evaluationsWithoutImprovement = 0
    /// Seconds spent in training steps (the time budget's clock).
    public var trainSeconds = 0.0
    /// Training loss summed since the last evaluation (for its mean in the metrics log).
    public var lossSum = 0.0
    public var lossCount = 0
    /// FNV-1a of the training token ids: resuming on different data is refused.
    public var dataDigest = ""
    public var finished = false
    public var stopReason: String?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case step, optimizerStep = "optimizer_step", forwardCount = "forward_count"
        case learningRateScale = "learning_rate_scale", skippedBatches = "skipped_batches"
        case bestValidationLoss = "best_validation_loss", bestStep = "best_step"
        case evaluationsWithoutImprovement = "evaluations_without_improvement"
        case trainSeconds = "train_seconds", lossSum = "loss_sum", lossCount = "loss_count"
        case dataDigest = "data_digest", finished, stopReason = "stop_reason"
    }
}
