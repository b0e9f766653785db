import Kernels

/// The output projection and the loss: logits = x W^T + b, then the fused softmax
/// cross-entropy of `Kernels` (mean over the rows whose target is not `ignoreTarget`).
///   x: (N, C)  W: (V, C) — `head.weight`, or `embedding.weight` when tied  b: (V)
struct OutputHead<Scalar: NetworkScalar> {
    let vocabulary: Int  // V
    let width: Int       // C
    let weight: UnsafeMutablePointer<Scalar>, dweight: UnsafeMutablePointer<Scalar>
    let bias: UnsafeMutablePointer<Scalar>, dbias: UnsafeMutablePointer<Scalar>

    init(store: ParameterStore<Scalar>, tied: Bool, vocabulary: Int, width: Int) {
        self.vocabulary = vocabulary
        self.width = width
        let name = tied ? "embedding.weight" : "head.weight"
        weight = store.value(name); dweight = store.gradient(name)
        bias = store.value("head.bias"); dbias = store.gradient("head.bias")
    }

    struct Cache {
        let rows: Int                               // N
        let logits: UnsafeMutablePointer<Scalar>    // (N, V)
        let dlogits: UnsafeMutablePointer<Scalar>   // (N, V), written by `loss`
    }

    func makeCache(acts: Arena<Scalar>, grads: Arena<Scalar>, rows: Int) -> Cache {
        Cache(rows: rows, logits: acts.take(rows * vocabulary), dlogits: grads.take(rows * vocabulary))
    }

    /// cache.logits (N, V) = x (N, C) W^T + b.
    func forward(_ cache: Cache, _ x: UnsafePointer<Scalar>, workspace: GemmWorkspace) {
        Scalar.broadcastRows(cache.logits, bias, rows: cache.rows, cols: vocabulary, workspace: workspace)
        Scalar.gemm(cache.logits, ldc: vocabulary, x, lda: width, transA: .none, weight, ldb: width,
                    transB: .transpose, m: cache.rows, n: vocabulary, k: width, alpha: 1, beta: 1,
                    workspace: workspace)
    }

    /// The mean cross-entropy of the logits against targets (N); writes cache.dlogits, the
    /// gradient the backward reads. Throws if a target is outside 0..<V (and not ignored).
    func loss(_ cache: Cache, _ targets: UnsafePointer<Int32>, workspace: GemmWorkspace) throws -> Scalar {
        try Scalar.softmaxCrossEntropy(cache.dlogits, cache.logits, targets, n: cache.rows, v: vocabulary,
                                       workspace: workspace)
    }

    /// dx (N, C) written; dW, db accumulated. x is the forward's input.
    func backward(_ dx: UnsafeMutablePointer<Scalar>, _ cache: Cache, _ x: UnsafePointer<Scalar>,
                  workspace: GemmWorkspace) {
        let n = cache.rows
        Scalar.gemm(dweight, ldc: width, cache.dlogits, lda: vocabulary, transA: .transpose, x, ldb: width,
                    transB: .none, m: vocabulary, n: width, k: n, alpha: 1, beta: 1, workspace: workspace)
        Scalar.addColumnSums(dbias, cache.dlogits, rows: n, cols: vocabulary, workspace: workspace)
        Scalar.gemm(dx, ldc: width, cache.dlogits, lda: vocabulary, transA: .none, weight, ldb: width,
                    transB: .none, m: n, n: width, k: vocabulary, alpha: 1, beta: 0, workspace: workspace)
    }
}
