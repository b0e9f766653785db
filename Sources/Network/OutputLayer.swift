import Kernels

/// What the model's last layer feeds: a full softmax over the vocabulary (`OutputHead`) or an
/// adaptive one (`AdaptiveSoftmaxHead`), as the configuration says.
enum OutputLayer<Scalar: NetworkScalar> {
    case full(OutputHead<Scalar>)
    case adaptive(AdaptiveSoftmaxHead<Scalar>)

    enum Cache {
        case full(OutputHead<Scalar>.Cache)
        case adaptive(AdaptiveSoftmaxHead<Scalar>.Cache)
    }

    init(store: ParameterStore<Scalar>, config: ModelConfig) {
        let width = config.width(before: config.layers.count)
        if let adaptive = config.adaptiveSoftmax {
            self = .adaptive(AdaptiveSoftmaxHead(store: store, config: adaptive, vocabulary: config.vocabularySize,
                                                 width: width))
        } else {
            self = .full(OutputHead(store: store, tied: config.tieEmbeddings, vocabulary: config.vocabularySize,
                                    width: width))
        }
    }

    /// Buffers for N rows; `decoding`: also the (N, V) scores `scores` returns.
    func makeCache(acts: Arena<Scalar>, grads: Arena<Scalar>, rows: Int, decoding: Bool) -> Cache {
        switch self {
        case let .full(head): .full(head.makeCache(acts: acts, grads: grads, rows: rows))
        case let .adaptive(head): .adaptive(head.makeCache(acts: acts, rows: rows, decoding: decoding))
        }
    }

    /// The mean cross-entropy of x (N, C) against targets; keeps what `backward` needs.
    func loss(_ cache: Cache, _ x: UnsafePointer<Scalar>, _ targets: UnsafePointer<Int32>,
              workspace: GemmWorkspace) throws -> Scalar {
        switch (self, cache) {
        case let (.full(head), .full(c)):
            head.forward(c, x, workspace: workspace)
            return try head.loss(c, targets, workspace: workspace)
        case let (.adaptive(head), .adaptive(c)):
            return try head.loss(c, x, targets, workspace: workspace)
        default: fatalError("OutputLayer: cache of another kind")
        }
    }

    /// dx (N, C) written, parameter gradients accumulated, after `loss`.
    func backward(_ dx: UnsafeMutablePointer<Scalar>, _ cache: Cache, _ x: UnsafePointer<Scalar>,
                  workspace: GemmWorkspace) {
        switch (self, cache) {
        case let (.full(head), .full(c)): head.backward(dx, c, x, workspace: workspace)
        case let (.adaptive(head), .adaptive(c)): head.backward(dx, c, x, workspace: workspace)
        default: fatalError("OutputLayer: cache of another kind")
        }
    }

    /// (N, V) scores whose softmax is the next-token distribution: logits, or the adaptive
    /// softmax's log-probabilities. The cache must be a decoding one.
    func scores(_ cache: Cache, _ x: UnsafePointer<Scalar>, workspace: GemmWorkspace) -> UnsafeMutablePointer<Scalar> {
        switch (self, cache) {
        case let (.full(head), .full(c)):
            head.forward(c, x, workspace: workspace)
            return c.logits
        case let (.adaptive(head), .adaptive(c)):
            return head.logProbabilities(c, x, workspace: workspace)
        default: fatalError("OutputLayer: cache of another kind")
        }
    }

    /// The training forward's (N, V) logits: a full softmax only.
    static func logits(_ cache: Cache) -> UnsafeMutablePointer<Scalar>? {
        if case let .full(c) = cache { return c.logits }
        return nil
    }
}
