import Foundation
import Kernels

/// The adaptive softmax output layer (`AdaptiveSoftmaxConfig`): a head over the S most frequent
/// ids plus one token per tail cluster, and per cluster a projection to a narrower width and
/// a softmax over its members. log p(id) is the head's log-probability of the id (S ranks),
/// or of its cluster plus the cluster's log-probability of the id.
///
/// Parameters (PyTorch's `nn.AdaptiveLogSoftmaxWithLoss(C, V, cutoffs, div_value,
/// head_bias=True)` registered as `adaptive`):
///   `adaptive.head.weight` (S + K, C), `adaptive.head.bias` (S + K),
///   `adaptive.tail.{i}.0.weight` (h_i, C), `adaptive.tail.{i}.1.weight` (V_i, h_i).
///
/// Training: `loss` routes each row to the head and, when its target is rare, to its cluster;
/// a cluster's products run only over its own rows (gathered into its buffers), so the work
/// per row is the head plus the one cluster its target is in. Every buffer is sized for N
/// rows when the cache is made; nothing is allocated per call.
struct AdaptiveSoftmaxHead<Scalar: NetworkScalar> {
    let vocabulary: Int  // V
    let width: Int       // C
    let shortlist: Int   // S
    /// V_i ranks from `start`, projected to `hidden` wide.
    struct Cluster {
        let start: Int, size: Int, hidden: Int
        let projection: UnsafeMutablePointer<Scalar>, dprojection: UnsafeMutablePointer<Scalar>  // (h, C)
        let output: UnsafeMutablePointer<Scalar>, doutput: UnsafeMutablePointer<Scalar>          // (V_i, h)
    }
    let clusters: [Cluster]
    let weight: UnsafeMutablePointer<Scalar>, dweight: UnsafeMutablePointer<Scalar>  // (S + K, C)
    let bias: UnsafeMutablePointer<Scalar>, dbias: UnsafeMutablePointer<Scalar>      // (S + K)
    /// Rank of each id, and the id of each rank.
    let rankOf: [Int32], order: [Int32]
    var headWidth: Int { shortlist + clusters.count }

    init(store: ParameterStore<Scalar>, config: AdaptiveSoftmaxConfig, vocabulary: Int, width: Int) {
        self.vocabulary = vocabulary
        self.width = width
        shortlist = config.cutoffs[0]
        clusters = config.clusterRanges(vocabularySize: vocabulary).enumerated().map { i, range in
            Cluster(start: range.lowerBound, size: range.count, hidden: config.projectionWidth(cluster: i, width: width),
                    projection: store.value("adaptive.tail.\(i).0.weight"),
                    dprojection: store.gradient("adaptive.tail.\(i).0.weight"),
                    output: store.value("adaptive.tail.\(i).1.weight"),
                    doutput: store.gradient("adaptive.tail.\(i).1.weight"))
        }
        weight = store.value("adaptive.head.weight"); dweight = store.gradient("adaptive.head.weight")
        bias = store.value("adaptive.head.bias"); dbias = store.gradient("adaptive.head.bias")
        order = config.order
        var ranks = [Int32](repeating: 0, count: vocabulary)
        for (rank, id) in config.order.enumerated() { ranks[Int(id)] = Int32(rank) }
        rankOf = ranks
    }

    /// The tensors of `config` in arena order (see the table above).
    static func tensors(_ config: AdaptiveSoftmaxConfig, vocabulary: Int, width: Int) -> [(String, [Int])] {
        let ranges = config.clusterRanges(vocabularySize: vocabulary)
        var list: [(String, [Int])] = [("adaptive.head.weight", [config.cutoffs[0] + ranges.count, width]),
                                       ("adaptive.head.bias", [config.cutoffs[0] + ranges.count])]
        for (i, range) in ranges.enumerated() {
            let h = config.projectionWidth(cluster: i, width: width)
            list.append(("adaptive.tail.\(i).0.weight", [h, width]))
            list.append(("adaptive.tail.\(i).1.weight", [range.count, h]))
        }
        return list
    }

    /// Per-cluster buffers for up to N rows.
    struct ClusterCache {
        let rows: UnsafeMutableBufferPointer<Int32>     // which of the N rows are this cluster's
        let targets: UnsafeMutableBufferPointer<Int32>  // their targets, as ranks within the cluster
        let x: UnsafeMutablePointer<Scalar>             // (n_i, C) gathered inputs, then their gradient
        let projected: UnsafeMutablePointer<Scalar>     // (n_i, h)
        let dprojected: UnsafeMutablePointer<Scalar>    // (n_i, h)
        let logits: UnsafeMutablePointer<Scalar>        // (n_i, V_i), then the gradient of their mean loss
    }

    final class Cache {
        let rows: Int  // N
        let headLogits: UnsafeMutablePointer<Scalar>      // (N, S + K), then their gradient
        let headTargets: UnsafeMutableBufferPointer<Int32>
        let clusters: [ClusterCache]
        /// Rows of each cluster in the last `loss`, and rows counted in its mean.
        var counts: [Int]
        var counted = 0
        /// (N, V) log-probabilities in id order, for decoding; nil in training caches.
        let logProbabilities: UnsafeMutablePointer<Scalar>?

        init(head: AdaptiveSoftmaxHead, arena a: Arena<Scalar>, rows n: Int, decoding: Bool) {
            rows = n
            headLogits = a.take(n * head.headWidth)
            headTargets = .allocate(capacity: n); headTargets.initialize(repeating: ignoreTarget)
            clusters = head.clusters.map { c in
                let rows = UnsafeMutableBufferPointer<Int32>.allocate(capacity: n), targets = UnsafeMutableBufferPointer<Int32>.allocate(capacity: n)
                rows.initialize(repeating: 0); targets.initialize(repeating: 0)
                return ClusterCache(rows: rows, targets: targets, x: a.take(n * head.width),
                                    projected: a.take(n * c.hidden), dprojected: a.take(n * c.hidden),
                                    logits: a.take(n * c.size))
            }
            counts = Array(repeating: 0, count: head.clusters.count)
            logProbabilities = decoding ? a.take(n * head.vocabulary) : nil
        }

        deinit {
            headTargets.deallocate()
            for c in clusters { c.rows.deallocate(); c.targets.deallocate() }
        }
    }

    func makeCache(acts: Arena<Scalar>, rows: Int, decoding: Bool) -> Cache {
        Cache(head: self, arena: acts, rows: rows, decoding: decoding)
    }

    /// The mean over the rows whose target is not `ignoreTarget` of -log p(target | x), x (N, C);
    /// keeps what `backward` needs. Throws if a target is outside 0..<V.
    func loss(_ cache: Cache, _ x: UnsafePointer<Scalar>, _ targets: UnsafePointer<Int32>,
              workspace: GemmWorkspace) throws -> Scalar {
        let n = cache.rows, hw = headWidth
        for i in clusters.indices { cache.counts[i] = 0 }
        var counted = 0
        defer { cache.counted = counted }
        for r in 0..<n {
            let t = Int(targets[r])
            if t == Int(ignoreTarget) { cache.headTargets[r] = ignoreTarget; continue }
            guard t >= 0, t < vocabulary else {
                throw KernelError.indexOutOfRange(what: "target", position: r, index: t, limit: vocabulary)
            }
            counted += 1
            let rank = Int(rankOf[t])
            if rank < shortlist { cache.headTargets[r] = Int32(rank); continue }
            var i = clusters.count - 1
            while rank < clusters[i].start { i -= 1 }
            cache.headTargets[r] = Int32(shortlist + i)
            let c = cache.clusters[i], j = cache.counts[i]
            c.rows[j] = Int32(r)
            c.targets[j] = Int32(rank - clusters[i].start)
            cache.counts[i] = j + 1
        }
        Scalar.broadcastRows(cache.headLogits, bias, rows: n, cols: hw, workspace: workspace)
        Scalar.gemm(cache.headLogits, ldc: hw, x, lda: width, transA: .none, weight, ldb: width, transB: .transpose,
                    m: n, n: hw, k: width, alpha: 1, beta: 1, workspace: workspace)
        guard counted > 0 else {
            cache.headLogits.update(repeating: 0, count: n * hw)
            return 0
        }
        // Each softmax's gradient comes back as the mean over its own rows; every row must
        // weigh 1 / counted in the total, so `backward` scales a cluster's by rows / counted.
        var total = Double(try Scalar.softmaxCrossEntropy(cache.headLogits, cache.headLogits,
                                                          cache.headTargets.baseAddress!, n: n, v: hw,
                                                          workspace: workspace))
        for (i, cluster) in clusters.enumerated() where cache.counts[i] > 0 {
            let c = cache.clusters[i], rows = cache.counts[i]
            for j in 0..<rows { (c.x + j * width).update(from: x + Int(c.rows[j]) * width, count: width) }
            project(cluster, c, input: c.x, rows: rows, workspace: workspace)
            let mean = try Scalar.softmaxCrossEntropy(c.logits, c.logits, c.targets.baseAddress!, n: rows,
                                                      v: cluster.size, workspace: workspace)
            total += Double(mean) * Double(rows) / Double(counted)
        }
        return Scalar(total)
    }

    /// logits (rows, V_i) = (input P_i^T) W_i^T, input (rows, C).
    private func project(_ cluster: Cluster, _ c: ClusterCache, input: UnsafePointer<Scalar>, rows: Int,
                         workspace: GemmWorkspace) {
        Scalar.gemm(c.projected, ldc: cluster.hidden, input, lda: width, transA: .none, cluster.projection, ldb: width,
                    transB: .transpose, m: rows, n: cluster.hidden, k: width, alpha: 1, beta: 0, workspace: workspace)
        Scalar.gemm(c.logits, ldc: cluster.size, c.projected, lda: cluster.hidden, transA: .none, cluster.output,
                    ldb: cluster.hidden, transB: .transpose, m: rows, n: cluster.size, k: cluster.hidden,
                    alpha: 1, beta: 0, workspace: workspace)
    }

    /// dx (N, C) written; the parameters' gradients accumulated. x is the `loss` call's input.
    func backward(_ dx: UnsafeMutablePointer<Scalar>, _ cache: Cache, _ x: UnsafePointer<Scalar>,
                  workspace: GemmWorkspace) {
        let n = cache.rows, hw = headWidth
        Scalar.gemm(dweight, ldc: width, cache.headLogits, lda: hw, transA: .transpose, x, ldb: width,
                    transB: .none, m: hw, n: width, k: n, alpha: 1, beta: 1, workspace: workspace)
        Scalar.addColumnSums(dbias, cache.headLogits, rows: n, cols: hw, workspace: workspace)
        Scalar.gemm(dx, ldc: width, cache.headLogits, lda: hw, transA: .none, weight, ldb: width,
                    transB: .none, m: n, n: width, k: hw, alpha: 1, beta: 0, workspace: workspace)
        for (i, cluster) in clusters.enumerated() where cache.counts[i] > 0 {
            let c = cache.clusters[i], rows = cache.counts[i], h = cluster.hidden
            // c.logits holds the gradient of the cluster's own mean (see `loss`).
            let share = Scalar(rows) / Scalar(cache.counted)
            Scalar.gemm(cluster.doutput, ldc: h, c.logits, lda: cluster.size, transA: .transpose, c.projected,
                        ldb: h, transB: .none, m: cluster.size, n: h, k: rows, alpha: share, beta: 1, workspace: workspace)
            Scalar.gemm(c.dprojected, ldc: h, c.logits, lda: cluster.size, transA: .none, cluster.output, ldb: h,
                        transB: .none, m: rows, n: h, k: cluster.size, alpha: share, beta: 0, workspace: workspace)
            Scalar.gemm(cluster.dprojection, ldc: width, c.dprojected, lda: h, transA: .transpose, c.x, ldb: width,
                        transB: .none, m: h, n: width, k: rows, alpha: 1, beta: 1, workspace: workspace)
            // The gathered inputs are no longer needed: their buffer takes their gradient.
            Scalar.gemm(c.x, ldc: width, c.dprojected, lda: h, transA: .none, cluster.projection, ldb: width,
                        transB: .none, m: rows, n: width, k: h, alpha: 1, beta: 0, workspace: workspace)
            for j in 0..<rows {
                Scalar.axpy(dx + Int(c.rows[j]) * width, alpha: 1, c.x + j * width, count: width)
            }
        }
    }

    /// The log-probability of every id, (N, V) in id order, for inputs x (N, C) (decoding).
    func logProbabilities(_ cache: Cache, _ x: UnsafePointer<Scalar>, workspace: GemmWorkspace) -> UnsafeMutablePointer<Scalar> {
        guard let out = cache.logProbabilities else { fatalError("AdaptiveSoftmaxHead: a training cache has no log-probabilities") }
        let n = cache.rows, hw = headWidth
        Scalar.broadcastRows(cache.headLogits, bias, rows: n, cols: hw, workspace: workspace)
        Scalar.gemm(cache.headLogits, ldc: hw, x, lda: width, transA: .none, weight, ldb: width, transB: .transpose,
                    m: n, n: hw, k: width, alpha: 1, beta: 1, workspace: workspace)
        for r in 0..<n { Self.logSoftmax(cache.headLogits + r * hw, count: hw) }
        for r in 0..<n {
            for s in 0..<shortlist { out[r * vocabulary + Int(order[s])] = cache.headLogits[r * hw + s] }
        }
        for (i, cluster) in clusters.enumerated() {
            let c = cache.clusters[i]
            project(cluster, c, input: x, rows: n, workspace: workspace)
            for r in 0..<n {
                let row = c.logits + r * cluster.size
                Self.logSoftmax(row, count: cluster.size)
                let base = cache.headLogits[r * hw + shortlist + i]
                for j in 0..<cluster.size { out[r * vocabulary + Int(order[cluster.start + j])] = base + row[j] }
            }
        }
        return out
    }

    /// x -= logsumexp(x), in Double.
    private static func logSoftmax(_ x: UnsafeMutablePointer<Scalar>, count: Int) {
        var top = x[0]
        for j in 1..<count where x[j] > top { top = x[j] }
        var sum = 0.0
        for j in 0..<count { sum += Foundation.exp(Double(x[j] - top)) }
        let shift = top + Scalar(Foundation.log(sum))
        for j in 0..<count { x[j] -= shift }
    }
}
