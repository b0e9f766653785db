import FileSupport
import Foundation

/// One evaluation or progress record of a training run.
public struct Metrics: Codable, Equatable, Sendable {
    public var step: Int
    public var epoch: Double
    public var trainLoss: Float?
    public var validationLoss: Float?
    public var learningRate: Float?
    public var tokensPerSecond: Double?
    /// The validation loss in nats per character (characters the predicted tokens stand for).
    public var validationNatsPerCharacter: Double?
    /// Seconds spent in training steps so far.
    public var trainSeconds: Double?

    enum CodingKeys: String, CodingKey {
        case step, epoch
        case trainLoss = "train_loss"
        case validationLoss = "validation_loss"
        case learningRate = "learning_rate"
        case tokensPerSecond = "tokens_per_second"
        case validationNatsPerCharacter = "validation_nats_per_char"
        case trainSeconds = "train_seconds"
    }

    public init(step: Int, epoch: Double, trainLoss: Float? = nil, validationLoss: Float? = nil,
                learningRate: Float? = nil, tokensPerSecond: Double? = nil) {
        self.step = step; self.epoch = epoch; self.trainLoss = trainLoss
        self.validationLoss = validationLoss; self.learningRate = learningRate
        self.tokensPerSecond = tokensPerSecond
    }

    /// Perplexity of the validation loss (nats per token).
    public var validationPerplexity: Double? { validationLoss.map { exp(Double($0)) } }
    /// Bits per character of the validation loss.
    public var validationBitsPerCharacter: Double? { validationNatsPerCharacter.map { $0 / log(2) } }
}

/// Appends metrics to a JSON-lines file, one object per line, flushed on every record so
/// that `tail -f` and a crash both see everything written so far.
public final class MetricsLog {
    private let handle: FileHandle
    private let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()

    public init(path: String) throws {
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
        }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw TrainingError.data("cannot write the metrics log '\(path)'")
        }
        handle.seekToEndOfFile()
        self.handle = handle
    }

    deinit { try? handle.close() }

    public func append(_ metrics: Metrics) throws {
        var line = try encoder.encode(metrics)
        line.append(0x0A)
        handle.write(line)
        try handle.synchronize()
    }

    /// Replaces the log atomically with `records` (a resumed run drops what came after its
    /// checkpoint). Open a `MetricsLog` on the path only afterwards: the rename replaces the file.
    public static func rewrite(path: String, _ records: [Metrics]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var bytes: [UInt8] = []
        for record in records { bytes += Array(try encoder.encode(record)) + [0x0A] }
        try writeAtomically(path: path) { sink in try bytes.withUnsafeBytes { try sink($0) } }
    }

    /// Every record of a log file, in order (lines that do not parse are an error naming them).
    public static func read(path: String) throws -> [Metrics] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        let decoder = JSONDecoder()
        return try data.split(separator: 0x0A).enumerated().map { (k, line) in
            do { return try decoder.decode(Metrics.self, from: Data(line)) } catch {
                throw TrainingError.data("metrics log line \(k + 1) is not a metrics record")
            }
        }
    }
}
