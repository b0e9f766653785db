import Foundation

/// The blueprint of a model: vocabulary, embedding, the stack of layers, dropout, weight tying
/// and the attention context length. Stored as JSON with snake_case keys:
///
/// ```json
/// {"vocab_size": 8000, "embedding_size": 256,
///  "layers": [{"type": "lstm", "hidden": 512}, {"type": "attention", "heads": 4}],
///  "dropout": 0.1, "tie_embeddings": false, "max_sequence_length": 256}
/// ```
///
/// Widths: the embedding has width E; an LSTM layer outputs its `hidden` size; an attention
/// layer keeps the width of its input (residual), which must be divisible by `heads`. The
/// output head reads the last width C. Call `validate()` (the model's initializer does).
public struct ModelConfig: Codable, Equatable, Sendable {
    /// One layer of the stack.
    public enum Layer: Codable, Equatable, Sendable {
        /// A single-layer LSTM (PyTorch `nn.LSTM(input, hidden)`), gate order i, f, g, o.
        case lstm(hidden: Int)
        /// Pre-LayerNorm causal multi-head self-attention with a residual connection.
        case attention(heads: Int)

        private enum CodingKeys: String, CodingKey { case type, hidden, heads }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            switch try c.decode(String.self, forKey: .type) {
            case "lstm": self = .lstm(hidden: try c.decode(Int.self, forKey: .hidden))
            case "attention": self = .attention(heads: try c.decode(Int.self, forKey: .heads))
            case let other:
                throw DecodingError.dataCorruptedError(
                    forKey: .type, in: c,
                    debugDescription: "unknown layer type \"\(other)\" (expected \"lstm\" or \"attention\")")
            }
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            switch self {
            case let .lstm(hidden):
                try c.encode("lstm", forKey: .type)
                try c.encode(hidden, forKey: .hidden)
            case let .attention(heads):
                try c.encode("attention", forKey: .type)
                try c.encode(heads, forKey: .heads)
            }
        }
    }

    /// V: number of token ids.
    public var vocabularySize: Int
    /// E: width of the token embedding.
    public var embeddingSize: Int
    /// The layers, applied in order; their position k names their parameters (`lstm{k}.*`,
    /// `attn{k}.*`).
    public var layers: [Layer]
    /// Dropout probability after the embedding and after every layer, in [0, 1).
    public var dropout: Float
    /// When true the output head uses `embedding.weight` (V, E) as its weight; the last width
    /// must then equal E.
    public var tieEmbeddings: Bool
    /// Longest sequence an attention layer sees: the training T and the decoding KV cache.
    public var maxSequenceLength: Int
    /// An adaptive softmax instead of the full one over V (see `AdaptiveSoftmaxConfig`); its
    /// head has its own weights, so it cannot be tied to the embedding.
    public var adaptiveSoftmax: AdaptiveSoftmaxConfig?

    private enum CodingKeys: String, CodingKey {
        case vocabularySize = "vocab_size"
        case embeddingSize = "embedding_size"
        case layers
        case dropout
        case tieEmbeddings = "tie_embeddings"
        case maxSequenceLength = "max_sequence_length"
        case adaptiveSoftmax = "adaptive_softmax"
    }

    public init(vocabularySize: Int, embeddingSize: Int, layers: [Layer], dropout: Float = 0,
                tieEmbeddings: Bool = false, maxSequenceLength: Int = 256,
                adaptiveSoftmax: AdaptiveSoftmaxConfig? = nil) {
        self.vocabularySize = vocabularySize
        self.embeddingSize = embeddingSize
        self.layers = layers
        self.dropout = dropout
        self.tieEmbeddings = tieEmbeddings
        self.maxSequenceLength = maxSequenceLength
        self.adaptiveSoftmax = adaptiveSoftmax
    }

    /// The stack described by a comma-separated list of layer types, bottom first ("lstm",
    /// "attention" or "attn"), each LSTM of `hidden` units and each attention of `heads` heads.
    public static func layers(_ list: String, hidden: Int, heads: Int) throws -> [Layer] {
        try list.split(separator: ",").map { name in
            switch name.trimmingCharacters(in: .whitespaces) {
            case "lstm": return .lstm(hidden: hidden)
            case "attention", "attn": return .attention(heads: heads)
            default: throw NetworkError.invalidConfig("unknown layer type '\(name)' (lstm or attention)")
            }
        }
    }

    /// Input width of layer k (k == layers.count gives the output head's input width C).
    public func width(before k: Int) -> Int {
        var width = embeddingSize
        for layer in layers.prefix(k) {
            if case let .lstm(hidden) = layer { width = hidden }
        }
        return width
    }

    /// Throws `NetworkError.invalidConfig` naming the first problem found.
    public func validate() throws {
        func fail(_ message: String) -> NetworkError { .invalidConfig(message) }
        guard vocabularySize >= 1 else { throw fail("vocab_size must be >= 1, got \(vocabularySize)") }
        guard embeddingSize >= 1 else { throw fail("embedding_size must be >= 1, got \(embeddingSize)") }
        guard dropout >= 0 && dropout < 1 else {
            throw fail("dropout must be in [0, 1), got \(dropout)")
        }
        guard maxSequenceLength >= 1 else {
            throw fail("max_sequence_length must be >= 1, got \(maxSequenceLength)")
        }
        for (k, layer) in layers.enumerated() {
            switch layer {
            case let .lstm(hidden):
                guard hidden >= 1 else { throw fail("layer \(k): lstm hidden must be >= 1, got \(hidden)") }
            case let .attention(heads):
                let width = self.width(before: k)
                guard heads >= 1 else { throw fail("layer \(k): attention heads must be >= 1, got \(heads)") }
                guard width % heads == 0 else {
                    throw fail("layer \(k): attention width \(width) is not divisible by \(heads) heads")
                }
            }
        }
        let last = width(before: layers.count)
        guard !tieEmbeddings || last == embeddingSize else {
            throw fail("tie_embeddings needs the last layer's width (\(last)) to equal embedding_size (\(embeddingSize))")
        }
        if let adaptiveSoftmax {
            guard !tieEmbeddings else { throw fail("an adaptive softmax cannot be tied to the embedding (set tie_embeddings false)") }
            try adaptiveSoftmax.validate(vocabularySize: vocabularySize, width: last)
        }
    }
}

/// Errors of the network: bad configurations and inputs that do not fit the model.
public enum NetworkError: Error, Equatable, CustomStringConvertible {
    case invalidConfig(String)
    /// An input's size does not match what the call expects.
    case shapeMismatch(String)
    /// A sequence is longer than `max_sequence_length` (attention context or KV cache full).
    case sequenceTooLong(length: Int, limit: Int)
    /// No parameter tensor has this name.
    case unknownParameter(String)
    /// `backward()` was called without a preceding training `forward`.
    case noForward

    public var description: String {
        switch self {
        case let .invalidConfig(message): return "invalid model config: \(message)"
        case let .shapeMismatch(message): return "shape mismatch: \(message)"
        case let .sequenceTooLong(length, limit):
            return "sequence length \(length) exceeds max_sequence_length \(limit); reset the state or raise the limit"
        case let .unknownParameter(name): return "no parameter named \"\(name)\""
        case .noForward: return "backward() needs a forward(tokens:targets:...) with targets first"
        }
    }
}
