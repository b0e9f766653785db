import Kernels

/// A named view into the parameter (and gradient) arena: `count` scalars from `offset`,
/// row-major with `shape`.
public struct ParameterTensor: Equatable, Sendable {
    public let name: String
    public let offset: Int
    public let shape: [Int]
    public var count: Int { shape.reduce(1, *) }
}

/// All parameters of a model in one contiguous buffer, all their gradients in a second one of
/// the same layout, and the table of named tensors (llm.c's parameter arena; the table is what
/// a checkpoint header lists).
///
/// Names, shapes and layouts are PyTorch's, so that a PyTorch module built with the same
/// submodule names loads them with `load_state_dict` (k is the layer's position in
/// `ModelConfig.layers`, counted over all layers; I is the layer's input width):
///
/// | Name | Shape | PyTorch module |
/// |---|---|---|
/// | `embedding.weight` | (V, E) | `nn.Embedding(V, E)` |
/// | `lstm{k}.weight_ih_l0` | (4H, I) | `nn.LSTM(I, H)` (rows: gates i, f, g, o) |
/// | `lstm{k}.weight_hh_l0` | (4H, H) | |
/// | `lstm{k}.bias_ih_l0`, `lstm{k}.bias_hh_l0` | (4H) | |
/// | `attn{k}.norm.weight`, `attn{k}.norm.bias` | (C) | `nn.LayerNorm(C)` (eps 1e-5) |
/// | `attn{k}.qkv.weight` | (3C, C) | `nn.Linear(C, 3C)`: rows q, then k, then v; head h owns columns h*D..<(h+1)*D of each |
/// | `attn{k}.qkv.bias` | (3C) | |
/// | `attn{k}.proj.weight` | (C, C) | `nn.Linear(C, C)` |
/// | `attn{k}.proj.bias` | (C) | |
/// | `head.weight` | (V, C) | `nn.Linear(C, V)`; absent when embeddings are tied |
/// | `head.bias` | (V) | present unless the softmax is adaptive |
/// | `adaptive.head.weight`, `adaptive.head.bias`, `adaptive.tail.{i}.0.weight`, `adaptive.tail.{i}.1.weight` | see `AdaptiveSoftmaxHead` | `nn.AdaptiveLogSoftmaxWithLoss` (with `adaptive_softmax`, instead of `head.*`) |
///
/// With `tie_embeddings` the head multiplies by `embedding.weight`; in PyTorch set
/// `head.weight = embedding.weight` and load with `strict=False` (the `head.weight` key is not
/// stored). There is no final LayerNorm.
///
/// Memory: the store owns both buffers and frees them on deinit; pointers into them are valid
/// while the store lives. Gradients accumulate; `zeroGradients()` clears them in one pass.
public final class ParameterStore<Scalar: NetworkScalar> {
    /// The tensors in arena order.
    public let tensors: [ParameterTensor]
    /// Total number of parameters.
    public let count: Int
    /// (count) parameter values.
    public let values: UnsafeMutableBufferPointer<Scalar>
    /// (count) gradients, same layout as `values`.
    public let gradients: UnsafeMutableBufferPointer<Scalar>
    private let index: [String: Int]

    /// The layout of `config` (see the table above), all values zero.
    @_specialize(exported: true, where Scalar == Float)
    public init(config: ModelConfig) throws {
        try config.validate()
        var list: [ParameterTensor] = []
        var offset = 0
        func add(_ name: String, _ shape: [Int]) {
            list.append(ParameterTensor(name: name, offset: offset, shape: shape))
            offset += shape.reduce(1, *)
        }
        let v = config.vocabularySize, e = config.embeddingSize
        add("embedding.weight", [v, e])
        for (k, layer) in config.layers.enumerated() {
            let width = config.width(before: k)
            switch layer {
            case let .lstm(h):
                add("lstm\(k).weight_ih_l0", [4 * h, width])
                add("lstm\(k).weight_hh_l0", [4 * h, h])
                add("lstm\(k).bias_ih_l0", [4 * h])
                add("lstm\(k).bias_hh_l0", [4 * h])
            case .attention:
                add("attn\(k).norm.weight", [width])
                add("attn\(k).norm.bias", [width])
                add("attn\(k).qkv.weight", [3 * width, width])
                add("attn\(k).qkv.bias", [3 * width])
                add("attn\(k).proj.weight", [width, width])
                add("attn\(k).proj.bias", [width])
            }
        }
        let c = config.width(before: config.layers.count)
        if let adaptive = config.adaptiveSoftmax {
            for (name, shape) in AdaptiveSoftmaxHead<Scalar>.tensors(adaptive, vocabulary: v, width: c) { add(name, shape) }
        } else {
            if !config.tieEmbeddings { add("head.weight", [v, c]) }
            add("head.bias", [v])
        }

        tensors = list
        count = offset
        // Zeroed pages cost nothing until used: a model loaded to predict never touches its
        // gradients.
        values = ZeroedMemory.allocate(Scalar.self, count: max(1, offset))
        gradients = ZeroedMemory.allocate(Scalar.self, count: max(1, offset))
        var index: [String: Int] = [:]
        for (i, t) in list.enumerated() { index[t.name] = i }
        self.index = index
    }

    deinit {
        ZeroedMemory.deallocate(values)
        ZeroedMemory.deallocate(gradients)
    }

    /// The tensor called `name`; throws `NetworkError.unknownParameter`.
    public func tensor(_ name: String) throws -> ParameterTensor {
        guard let i = index[name] else { throw NetworkError.unknownParameter(name) }
        return tensors[i]
    }

    /// Pointer to the values of `name` (the store must know it: names come from `tensors`).
    public func value(_ name: String) -> UnsafeMutablePointer<Scalar> {
        values.baseAddress! + tensorOrDie(name).offset
    }

    /// Pointer to the gradients of `name`.
    public func gradient(_ name: String) -> UnsafeMutablePointer<Scalar> {
        gradients.baseAddress! + tensorOrDie(name).offset
    }

    /// Sets every gradient to zero.
    public func zeroGradients() { gradients.update(repeating: 0) }

    /// Seeded PyTorch-like initialization, drawn in tensor order from one `SplitMix64(seed)`
    /// stream of Floats (so `Float` and `Double` stores initialized with the same seed hold the
    /// same values): `embedding.weight` uniform(-0.1, 0.1) when tied to the head (PyTorch's
    /// word language model example; `nn.Embedding`'s N(0, 1) is too large for a tied head),
    /// otherwise uniform(-sqrt(3), sqrt(3)), `nn.Embedding`'s unit variance (a small untied
    /// embedding starves the first layer: character models learn far slower); LSTM weights and
    /// biases uniform(-1/sqrt(H), 1/sqrt(H)) (`nn.LSTM`); Linear weights and biases
    /// uniform(-1/sqrt(in), 1/sqrt(in)) (`nn.Linear`); LayerNorm weight 1, bias 0.
    public func initialize(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        for t in tensors {
            let p = values.baseAddress! + t.offset
            let bound: Float
            if t.name == "embedding.weight" {
                let tied = index["head.weight"] == nil && index["adaptive.head.weight"] == nil
                bound = tied ? 0.1 : Float(3).squareRoot()
            } else if t.name.hasPrefix("lstm") {
                bound = 1 / Float(t.shape[0] / 4).squareRoot()
            } else if t.name.hasSuffix("norm.weight") {
                p.update(repeating: 1, count: t.count)
                continue
            } else if t.name.hasSuffix("norm.bias") {
                p.update(repeating: 0, count: t.count)
                continue
            } else {
                // Linear layers: the input width is the weight's second dimension; a bias uses
                // its weight's (the tensor just before it in the table).
                let weightName = t.name.hasSuffix(".bias")
                    ? String(t.name.dropLast(5)) + ".weight" : t.name
                let fanIn = (try? tensor(weightName))?.shape[1]
                    ?? (try? tensor("embedding.weight"))!.shape[1]
                bound = 1 / Float(fanIn).squareRoot()
            }
            for i in 0..<t.count { p[i] = Scalar((rng.nextUnitFloat() * 2 - 1) * bound) }
        }
    }

    /// Copies, converting the precision, every tensor of this store that `include` accepts
    /// from the tensor of the same name in `other`, which may hold more (a deeper model whose
    /// lowest layers this one keeps). Throws, naming it, for a tensor `other` lacks or holds in
    /// another shape; nothing is changed unless all are found.
    public func copyValues<Other: NetworkScalar>(from other: ParameterStore<Other>,
                                                 where include: (ParameterTensor) -> Bool = { _ in true }) throws {
        let pairs = try tensors.filter(include).map { mine in
            let theirs = try other.tensor(mine.name)
            guard theirs.shape == mine.shape else {
                throw NetworkError.shapeMismatch("'\(mine.name)' is \(theirs.shape) in the source, \(mine.shape) here")
            }
            return (mine, theirs)
        }
        for (mine, theirs) in pairs {
            for i in 0..<mine.count { values[mine.offset + i] = Scalar(other.values[theirs.offset + i]) }
        }
    }

    private func tensorOrDie(_ name: String) -> ParameterTensor {
        guard let i = index[name] else { fatalError("ParameterStore: no tensor \"\(name)\"") }
        return tensors[i]
    }
}
