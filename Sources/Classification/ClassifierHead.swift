import Foundation
import Kernels
import Network

/// The classification head on the encoder's output: concat pooling (ULMFiT) and a linear layer
/// with a softmax, plus an optional linear model over hashed token n-grams (wide and deep).
///
///   features (T, B, C), time-major; sequence b has lengths[b] valid steps (1...T)
///   pooled (B, 3C) = [h at the last valid step | mean over valid steps | max over valid steps]
///   logits (B, K) = pooled W^T + bias + (1/sqrt(|G_b|)) sum_{g in G_b} U[g]
///       W (K, 3C) `classifier.weight`, bias (K) `classifier.bias`,
///       U (buckets, K) `ngrams.weight`, G_b the n-gram rows of sequence b (`TokenNgrams`)
///   loss = sum_b w[y_b] * -log softmax(logits_b)[y_b] / sum_b w[y_b]   (class weights w)
///
/// The n-gram term is what a bag-of-n-grams classifier (fastText, TF-IDF + logistic
/// regression) learns: which words and phrases mark a class, wherever they stand. The encoder
/// adds what such models cannot see (order, negation, context); the two train together. The
/// 1/sqrt(count) scale is the L2 norm of a text's n-gram count vector, so long and short texts
/// weigh their n-grams alike. U starts at zero.
///
/// Positions past a sequence's length take no part, so right padding changes nothing (the
/// layers are causal). The parameters live in one flat buffer (weight, bias, n-gram table)
/// with a gradient buffer of the same layout, for the optimizer. Buffers for a batch grow to the
/// largest (B, T) seen and are reused; nothing is allocated per batch after that.
public final class ClassifierHead<Scalar: NetworkScalar> {
    public let width: Int    // C
    public let classes: Int  // K
    /// Rows of the n-gram table (0: no n-gram term).
    public let ngramBuckets: Int
    /// (K * 3C + K + buckets * K): the weight (K, 3C) row-major, the bias (K), the n-gram table.
    public let values: UnsafeMutableBufferPointer<Scalar>
    public let gradients: UnsafeMutableBufferPointer<Scalar>
    /// Names and shapes of the two tensors in `values`, PyTorch's `nn.Linear(3C, K)` as `classifier`.
    public var tensors: [(name: String, shape: [Int], range: Range<Int>)] {
        let linear = classes * 3 * width
        let list = [("classifier.weight", [classes, 3 * width], 0..<linear),
                    ("classifier.bias", [classes], linear..<(linear + classes))]
        return ngramBuckets == 0 ? list : list + [("ngrams.weight", [ngramBuckets, classes], (linear + classes)..<values.count)]
    }

    private let workspace = GemmWorkspace(threads: 1)
    private var capacity = (rows: 0, steps: 0)
    private var pooled: UnsafeMutablePointer<Scalar>?    // (B, 3C)
    private var argmax: UnsafeMutablePointer<Int32>?     // (B, C): the step of each max
    private var logitRows: UnsafeMutablePointer<Scalar>? // (B, K)
    private var dlogits: UnsafeMutablePointer<Scalar>?   // (B, K)
    private var dpooled: UnsafeMutablePointer<Scalar>?   // (B, 3C)
    private var dfeatures: UnsafeMutablePointer<Scalar>? // (T, B, C)
    private var shape = (batch: 0, steps: 0)
    private var lengths: [Int] = []
    private var ngramRows: [[Int32]] = []

    /// The head whose weights this one reads (`init(predictingWith:)`), kept alive by this
    /// reference; nil when the weights are this head's own.
    private let weightsOwner: ClassifierHead?

    /// A head with every weight zero.
    public init(width: Int, classes: Int, ngramBuckets: Int = 0) {
        self.width = width
        self.classes = classes
        self.ngramBuckets = ngramBuckets
        let count = classes * 3 * width + classes + ngramBuckets * classes
        values = ZeroedMemory.allocate(Scalar.self, count: count)
        gradients = ZeroedMemory.allocate(Scalar.self, count: count)
        weightsOwner = nil
    }

    /// A head for prediction that reads `other`'s weights, as they are at each call, with
    /// buffers of its own (prediction workers run one each); it has no gradients, and
    /// `backward` must not be called on it.
    public init(predictingWith other: ClassifierHead) {
        width = other.width
        classes = other.classes
        ngramBuckets = other.ngramBuckets
        values = other.values
        gradients = UnsafeMutableBufferPointer(start: nil, count: 0)
        weightsOwner = other
    }

    deinit {
        if weightsOwner == nil {
            ZeroedMemory.deallocate(values)
            ZeroedMemory.deallocate(gradients)
        }
        for p in [pooled, logitRows, dlogits, dpooled, dfeatures] { p?.deallocate() }
        argmax?.deallocate()
    }

    private var weight: UnsafeMutablePointer<Scalar> { values.baseAddress! }
    private var bias: UnsafeMutablePointer<Scalar> { values.baseAddress! + classes * 3 * width }
    private var ngramTable: UnsafeMutablePointer<Scalar> { bias + classes }

    /// nn.Linear's initialization, uniform(-1/sqrt(3C), 1/sqrt(3C)) from a seeded stream, for
    /// the linear layer. The n-gram table keeps its values: zero in a new head (writing the
    /// zeros again would touch every page of a table that prediction reads a few rows of).
    public func initialize(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let bound = 1 / Float(3 * width).squareRoot()
        let linear = classes * 3 * width + classes
        for i in 0..<linear { values[i] = Scalar((rng.nextUnitFloat() * 2 - 1) * bound) }
    }

    /// Pools `features` (T, B, C) and returns the logits (B, K), valid until the next call.
    /// `lengths` (B) are the valid steps of each sequence, each in 1...T; `ngrams` (B, or empty
    /// when the head has no n-gram table) the n-gram rows of each sequence, each in 0..<buckets.
    public func forward(_ features: UnsafePointer<Scalar>, lengths: [Int], steps: Int,
                        ngrams: [[Int32]] = []) -> UnsafeBufferPointer<Scalar> {
        let b = lengths.count, c = width
        precondition(ngrams.count == (ngramBuckets > 0 ? b : 0), "ClassifierHead: \(ngrams.count) n-gram lists for \(b) sequences")
        reserve(rows: b, steps: steps)
        shape = (b, steps)
        self.lengths = lengths
        ngramRows = ngrams
        let pooled = pooled!, argmax = argmax!
        for row in 0..<b {
            let n = lengths[row]
            precondition(n >= 1 && n <= steps, "ClassifierHead: length \(n) outside 1...\(steps)")
            let last = pooled + row * 3 * c, mean = last + c, top = mean + c
            last.update(from: features + ((n - 1) * b + row) * c, count: c)
            mean.update(repeating: 0, count: c)
            top.update(from: features + row * c, count: c)
            (argmax + row * c).update(repeating: 0, count: c)
            for t in 0..<n {
                let h = features + (t * b + row) * c
                for j in 0..<c {
                    mean[j] += h[j]
                    if h[j] > top[j] { top[j] = h[j]; argmax[row * c + j] = Int32(t) }
                }
            }
            let scale = 1 / Scalar(n)
            for j in 0..<c { mean[j] *= scale }
        }
        Scalar.broadcastRows(logitRows!, bias, rows: b, cols: classes, workspace: workspace)
        Scalar.gemm(logitRows!, ldc: classes, pooled, lda: 3 * c, transA: .none, weight, ldb: 3 * c,
                    transB: .transpose, m: b, n: classes, k: 3 * c, alpha: 1, beta: 1, workspace: workspace)
        for (row, rows) in ngrams.enumerated() where !rows.isEmpty {
            let z = logitRows! + row * classes, scale = Self.ngramScale(rows.count)
            for g in rows {
                precondition(g >= 0 && Int(g) < ngramBuckets, "ClassifierHead: n-gram row \(g) outside 0..<\(ngramBuckets)")
                Scalar.axpy(z, alpha: scale, ngramTable + Int(g) * classes, count: classes)
            }
        }
        return UnsafeBufferPointer(start: logitRows, count: b * classes)
    }

    /// The class-weighted mean cross-entropy of the last forward's logits against `labels` (B)
    /// with weights `classWeights` (K); writes the gradient the backward starts from. Computed
    /// in Double whatever the scalar: K is small and the loss is summed once per batch.
    /// `exampleWeights` (B) scale each row's term but not the normalizer (the sum of the rows'
    /// class weights), so a batch of down-weighted examples moves the weights less.
    public func loss(labels: [Int], classWeights: [Double], exampleWeights: [Double]? = nil) -> Double {
        let b = shape.batch, k = classes
        let logits = logitRows!, d = dlogits!
        var total = 0.0, weightSum = 0.0
        for row in 0..<b { weightSum += classWeights[labels[row]] }
        let norm = weightSum > 0 ? 1 / weightSum : 0
        for row in 0..<b {
            let z = logits + row * k
            var top = -Double.infinity
            for j in 0..<k { top = max(top, Double(z[j])) }
            var sum = 0.0
            for j in 0..<k { sum += exp(Double(z[j]) - top) }
            let logSum = top + log(sum)
            let y = labels[row], w = classWeights[y] * (exampleWeights?[row] ?? 1)
            total += w * (logSum - Double(z[y]))
            for j in 0..<k {
                let p = exp(Double(z[j]) - logSum)
                d[row * k + j] = Scalar(w * norm * (p - (j == y ? 1 : 0)))
            }
        }
        return total * norm
    }

    /// After `loss`: accumulates the weight and bias gradients and returns the gradient of the
    /// loss with respect to the features (T, B, C) (zero at padded positions), valid until the
    /// next call.
    public func backward() -> UnsafePointer<Scalar> {
        precondition(weightsOwner == nil, "ClassifierHead: a prediction head has no gradients")
        let (b, steps) = shape, c = width, k = classes
        let dpooled = dpooled!, dfeatures = dfeatures!, argmax = argmax!
        Scalar.gemm(gradients.baseAddress!, ldc: 3 * c, dlogits!, lda: k, transA: .transpose, pooled!, ldb: 3 * c,
                    transB: .none, m: k, n: 3 * c, k: b, alpha: 1, beta: 1, workspace: workspace)
        Scalar.addColumnSums(gradients.baseAddress! + k * 3 * c, dlogits!, rows: b, cols: k, workspace: workspace)
        let dtable = gradients.baseAddress! + k * 3 * c + k
        for (row, rows) in ngramRows.enumerated() where !rows.isEmpty {
            let scale = Self.ngramScale(rows.count)
            for g in rows { Scalar.axpy(dtable + Int(g) * k, alpha: scale, dlogits! + row * k, count: k) }
        }
        Scalar.gemm(dpooled, ldc: 3 * c, dlogits!, lda: k, transA: .none, weight, ldb: 3 * c,
                    transB: .none, m: b, n: 3 * c, k: k, alpha: 1, beta: 0, workspace: workspace)
        dfeatures.update(repeating: 0, count: steps * b * c)
        for row in 0..<b {
            let n = lengths[row]
            let dlast = dpooled + row * 3 * c, dmean = dlast + c, dtop = dmean + c
            let scale = 1 / Scalar(n)
            for t in 0..<n {
                let d = dfeatures + (t * b + row) * c
                for j in 0..<c { d[j] += dmean[j] * scale }
            }
            Scalar.axpy(dfeatures + ((n - 1) * b + row) * c, alpha: 1, dlast, count: c)
            for j in 0..<c {
                let t = Int(argmax[row * c + j])
                dfeatures[(t * b + row) * c + j] += dtop[j]
            }
        }
        return UnsafePointer(dfeatures)
    }

    private static func ngramScale(_ count: Int) -> Scalar { 1 / Scalar(Double(count).squareRoot()) }

    private func reserve(rows: Int, steps: Int) {
        guard rows > capacity.rows || steps > capacity.steps else { return }
        let r = max(rows, capacity.rows), t = max(steps, capacity.steps)
        for p in [pooled, logitRows, dlogits, dpooled, dfeatures] { p?.deallocate() }
        argmax?.deallocate()
        pooled = .allocate(capacity: r * 3 * width)
        argmax = .allocate(capacity: r * width)
        logitRows = .allocate(capacity: r * classes)
        dlogits = .allocate(capacity: r * classes)
        dpooled = .allocate(capacity: r * 3 * width)
        dfeatures = .allocate(capacity: t * r * width)
        capacity = (r, t)
    }
}
