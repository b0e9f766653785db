import Foundation
import Network
import Text

/// What a classifier is, stored as `classifier.json` beside its weights.
public struct ClassifierSpec: Codable, Equatable, Sendable {
    /// Class names; a class's index is its position.
    public var labels: [String]
    /// The encoder (the language model's configuration; its output head is not used).
    public var model: ModelConfig
    /// Longer texts are cut to their first `maxTokens` tokens.
    public var maxTokens: Int
    /// The language-model run the encoder started from, if any (provenance only).
    public var languageModel: String?

    public init(labels: [String], model: ModelConfig, maxTokens: Int, languageModel: String?) {
        self.labels = labels
        self.model = model
        self.maxTokens = maxTokens
        self.languageModel = languageModel
    }

    enum CodingKeys: String, CodingKey {
        case labels, model, maxTokens = "max_tokens", languageModel = "language_model"
    }
}

/// A text classifier: tokenizer -> encoder (embedding and LSTM/attention layers of a
/// `Model`) -> `ClassifierHead` (concat pooling, linear, softmax).
///
/// Every text is encoded as a line of the language model's training text would be: a line
/// break, then the text (cut to `spec.maxTokens` tokens), and runs from a zero state. Texts of a
/// batch are sorted by length and padded to a few lengths (`paddedLength`), so padding costs
/// little and the model keeps one set of buffers per padded shape. Not thread-safe.
public final class Classifier {
    public let spec: ClassifierSpec
    public let model: Model<Float>
    public let head: ClassifierHead<Float>
    public let tokenizer: Tokenizer
    /// Texts per forward when predicting.
    public var batchSize = 32

    public var labels: [String] { spec.labels }

    /// A classifier over `model` (whose weights it uses as they are) with a fresh head.
    public init(spec: ClassifierSpec, model: Model<Float>, tokenizer: Tokenizer, seed: UInt64) throws {
        guard spec.labels.count >= 2 else {
            throw ClassificationError.data("a classifier needs at least 2 labels, got \(spec.labels.count)")
        }
        guard tokenizer.vocabulary.count == spec.model.vocabularySize else {
            throw ClassificationError.model("the vocabulary has \(tokenizer.vocabulary.count) tokens, the model \(spec.model.vocabularySize)")
        }
        guard spec.maxTokens >= 2 else { throw ClassificationError.data("max tokens must be at least 2") }
        self.spec = spec
        self.model = model
        self.tokenizer = tokenizer
        head = ClassifierHead(width: spec.model.width(before: spec.model.layers.count), classes: spec.labels.count)
        head.initialize(seed: seed ^ 0x636C_6173_7369_6679)
        // Every padded length keeps its buffers (see `paddedLength`).
        model.retainedShapes = 32
    }

    /// The padded length of a batch whose longest text has n tokens: multiples of 8 up to 64,
    /// then of 32 — at most 14 shapes up to 256 tokens, and under 1/3 of a batch padding.
    public static func paddedLength(_ n: Int) -> Int {
        n <= 64 ? (n + 7) / 8 * 8 : (n + 31) / 32 * 32
    }

    /// The token ids the encoder reads for `text`: a line break, then the text's tokens, cut
    /// to `spec.maxTokens`.
    public func tokens(_ text: String) throws -> [Int32] {
        let ids = try tokenizer.encode("\n" + text).ids
        return ids.count > spec.maxTokens ? Array(ids[..<spec.maxTokens]) : ids
    }

    /// The probability of every class (K per text, in `labels` order) for token sequences
    /// from `tokens(_:)`, in their order. Runs in inference mode (no dropout).
    public func probabilities(_ sequences: [[Int32]]) throws -> [[Float]] {
        if model.training { model.prepareForInference() }
        var result = [[Float]](repeating: [], count: sequences.count)
        let order = sequences.indices.sorted { sequences[$0].count < sequences[$1].count }
        var start = 0
        while start < order.count {
            let batch = Array(order[start..<min(order.count, start + batchSize)])
            let logits = try forward(batch.map { sequences[$0] })
            let k = labels.count
            for (row, index) in batch.enumerated() {
                result[index] = Self.softmax(Array(logits[(row * k)..<((row + 1) * k)])[...])
            }
            start += batchSize
        }
        return result
    }

    /// Encoder and head on one batch: the logits (B, K), valid until the next forward.
    /// Pads every sequence to `paddedLength` of the longest.
    func forward(_ batch: [[Int32]]) throws -> UnsafeBufferPointer<Float> {
        let lengths = batch.map { max(1, $0.count) }
        let steps = Self.paddedLength(lengths.max()!)
        var ids = [Int32](repeating: 0, count: batch.count * steps)
        for (b, sequence) in batch.enumerated() {
            for (t, id) in sequence.enumerated() { ids[b * steps + t] = id }
        }
        let features = try model.forwardFeatures(tokens: ids, batch: batch.count, steps: steps)
        return head.forward(features, lengths: lengths, steps: steps)
    }

    /// A numerically stable softmax in Double, returned as Float probabilities summing to 1.
    static func softmax(_ z: ArraySlice<Float>) -> [Float] {
        let top = Double(z.max()!)
        let e = z.map { exp(Double($0) - top) }
        let sum = e.reduce(0, +)
        return e.map { Float($0 / sum) }
    }
}
