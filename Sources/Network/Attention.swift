#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Kernels

/// Pre-LayerNorm causal multi-head self-attention with a residual connection:
///   y = x + proj(attention(norm(x)))
/// with NH heads of size D = C / NH; head h of position t attends to positions 0...t with
/// softmax(q k^T / sqrt(D)). There are no positional embeddings: position information comes
/// from the LSTM layers below (or from causality alone).
///
/// Layout: time-major, x and y (T, B, C), row t*B + b; a head's q, k, v for batch entry b are
/// the strided rows of `qkv` (T, B, 3C) at columns h*D, C + h*D, 2C + h*D (PyTorch's
/// `qkv.weight` rows: all q, then all k, then all v, each split into heads in order).
struct AttentionLayer<Scalar: NetworkScalar> {
    let width: Int  // C
    let heads: Int  // NH
    var headSize: Int { width / heads }  // D
    var scale: Scalar { 1 / Scalar(Double(headSize).squareRoot()) }
    let normW: UnsafeMutablePointer<Scalar>, normB: UnsafeMutablePointer<Scalar>
    let qkvW: UnsafeMutablePointer<Scalar>, qkvB: UnsafeMutablePointer<Scalar>
    let projW: UnsafeMutablePointer<Scalar>, projB: UnsafeMutablePointer<Scalar>
    let dnormW: UnsafeMutablePointer<Scalar>, dnormB: UnsafeMutablePointer<Scalar>
    let dqkvW: UnsafeMutablePointer<Scalar>, dqkvB: UnsafeMutablePointer<Scalar>
    let dprojW: UnsafeMutablePointer<Scalar>, dprojB: UnsafeMutablePointer<Scalar>

    init(store: ParameterStore<Scalar>, prefix: String, width: Int, heads: Int) {
        self.width = width
        self.heads = heads
        normW = store.value("\(prefix).norm.weight"); dnormW = store.gradient("\(prefix).norm.weight")
        normB = store.value("\(prefix).norm.bias"); dnormB = store.gradient("\(prefix).norm.bias")
        qkvW = store.value("\(prefix).qkv.weight"); dqkvW = store.gradient("\(prefix).qkv.weight")
        qkvB = store.value("\(prefix).qkv.bias"); dqkvB = store.gradient("\(prefix).qkv.bias")
        projW = store.value("\(prefix).proj.weight"); dprojW = store.gradient("\(prefix).proj.weight")
        projB = store.value("\(prefix).proj.bias"); dprojB = store.gradient("\(prefix).proj.bias")
    }

    /// Activations of one (B, T) forward and the backward's scratch.
    struct Cache {
        let batch: Int, steps: Int
        let ln: UnsafeMutablePointer<Scalar>     // (T, B, C) normalized input
        let mean: UnsafeMutablePointer<Scalar>   // (T, B)
        let rstd: UnsafeMutablePointer<Scalar>   // (T, B)
        let qkv: UnsafeMutablePointer<Scalar>    // (T, B, 3C)
        let att: UnsafeMutablePointer<Scalar>    // (B, NH, T, T) attention weights
        let y: UnsafeMutablePointer<Scalar>      // (T, B, C) heads concatenated, before proj
        let out: UnsafeMutablePointer<Scalar>    // (T, B, C) the layer's output
        let dln: UnsafeMutablePointer<Scalar>    // (T, B, C)
        let dqkv: UnsafeMutablePointer<Scalar>   // (T, B, 3C)
        let datt: UnsafeMutablePointer<Scalar>   // (threads, T, T) one head at a time per thread
        let dy: UnsafeMutablePointer<Scalar>     // (T, B, C)
    }

    /// `threads`: those of the workspace the layer will run on.
    func makeCache(acts arena: Arena<Scalar>, grads: Arena<Scalar>, batch: Int, steps: Int, threads: Int) -> Cache {
        let n = batch * steps, c = width
        return Cache(batch: batch, steps: steps,
                     ln: arena.take(n * c), mean: arena.take(n), rstd: arena.take(n),
                     qkv: arena.take(n * 3 * c), att: arena.take(batch * heads * steps * steps),
                     y: arena.take(n * c), out: arena.take(n * c),
                     dln: grads.take(n * c), dqkv: grads.take(n * 3 * c),
                     datt: grads.take(threads * steps * steps), dy: grads.take(n * c))
    }

    /// cache.out (T, B, C) = x + proj(attention(norm(x))) for x (T, B, C). Allocates nothing.
    func forward(_ cache: Cache, _ x: UnsafePointer<Scalar>, workspace: GemmWorkspace) {
        let b = cache.batch, n = b * cache.steps, c = width
        Scalar.layerNormForward(cache.ln, cache.mean, cache.rstd, x, normW, normB, n: n, c: c)
        Scalar.broadcastRows(cache.qkv, qkvB, rows: n, cols: 3 * c, workspace: workspace)
        Scalar.gemm(cache.qkv, ldc: 3 * c, cache.ln, lda: c, transA: .none, qkvW, ldb: c,
                    transB: .transpose, m: n, n: 3 * c, k: c, alpha: 1, beta: 1, workspace: workspace)
        workspace.forEachTask(b * heads, HeadsForward(layer: self, cache: cache))
        cache.out.update(from: x, count: n * c)
        for r in 0..<n { Scalar.axpy(cache.out + r * c, alpha: 1, projB, count: c) }
        Scalar.gemm(cache.out, ldc: c, cache.y, lda: c, transA: .none, projW, ldb: c,
                    transB: .transpose, m: n, n: c, k: c, alpha: 1, beta: 1, workspace: workspace)
    }

    /// dx (T, B, C) written from dout (T, B, C); every parameter gradient accumulated.
    /// x is the forward's input. Allocates nothing.
    func backward(_ dx: UnsafeMutablePointer<Scalar>, _ cache: Cache, _ dout: UnsafePointer<Scalar>,
                  _ x: UnsafePointer<Scalar>, workspace: GemmWorkspace) {
        let b = cache.batch, n = b * cache.steps, c = width
        Scalar.gemm(cache.dy, ldc: c, dout, lda: c, transA: .none, projW, ldb: c, transB: .none,
                    m: n, n: c, k: c, alpha: 1, beta: 0, workspace: workspace)
        Scalar.gemm(dprojW, ldc: c, dout, lda: c, transA: .transpose, cache.y, ldb: c,
                    transB: .none, m: c, n: c, k: n, alpha: 1, beta: 1, workspace: workspace)
        Scalar.addColumnSums(dprojB, dout, rows: n, cols: c, workspace: workspace)
        workspace.forEachTask(b * heads, HeadsBackward(layer: self, cache: cache))
        Scalar.gemm(dqkvW, ldc: c, cache.dqkv, lda: 3 * c, transA: .transpose, cache.ln, ldb: c,
                    transB: .none, m: 3 * c, n: c, k: n, alpha: 1, beta: 1, workspace: workspace)
        Scalar.addColumnSums(dqkvB, cache.dqkv, rows: n, cols: 3 * c, workspace: workspace)
        Scalar.gemm(cache.dln, ldc: c, cache.dqkv, lda: 3 * c, transA: .none, qkvW, ldb: c,
                    transB: .none, m: n, n: c, k: 3 * c, alpha: 1, beta: 0, workspace: workspace)
        dx.update(from: dout, count: n * c)
        Scalar.layerNormBackward(dx, dnormW, dnormB, cache.dln, x, normW, cache.mean, cache.rstd,
                                 n: n, c: c)
    }

    /// The key/value cache and scratch of incremental decoding for a batch of B sequences.
    struct DecodeCache {
        let batch: Int, capacity: Int               // B, max_sequence_length
        let keys: UnsafeMutablePointer<Scalar>      // (capacity, B, C)
        let values: UnsafeMutablePointer<Scalar>    // (capacity, B, C)
        let ln: UnsafeMutablePointer<Scalar>        // (B, C)
        let mean: UnsafeMutablePointer<Scalar>      // (B)
        let rstd: UnsafeMutablePointer<Scalar>      // (B)
        let qkv: UnsafeMutablePointer<Scalar>       // (B, 3C)
        let scores: UnsafeMutablePointer<Scalar>    // (capacity)
        let y: UnsafeMutablePointer<Scalar>         // (B, C)
        let out: UnsafeMutablePointer<Scalar>       // (B, C) the step's output
    }

    func makeDecodeCache(_ arena: Arena<Scalar>, batch: Int, capacity: Int) -> DecodeCache {
        let c = width
        return DecodeCache(batch: batch, capacity: capacity,
                           keys: arena.take(capacity * batch * c), values: arena.take(capacity * batch * c),
                           ln: arena.take(batch * c), mean: arena.take(batch), rstd: arena.take(batch),
                           qkv: arena.take(batch * 3 * c), scores: arena.take(capacity),
                           y: arena.take(batch * c), out: arena.take(batch * c))
    }

    /// One new token per sequence at position `position` (0-based; the cache holds positions
    /// 0..<position): x (B, C) -> cache.out (B, C), and its key and value appended to the cache.
    /// Cost: the projections of one token plus one pass over the cached keys and values.
    /// The caller checks position < capacity. Allocates nothing.
    func step(_ cache: DecodeCache, _ x: UnsafePointer<Scalar>, position pos: Int,
              workspace: GemmWorkspace) {
        let b = cache.batch, c = width, d = headSize
        Scalar.layerNormForward(cache.ln, cache.mean, cache.rstd, x, normW, normB, n: b, c: c)
        Scalar.broadcastRows(cache.qkv, qkvB, rows: b, cols: 3 * c, workspace: workspace)
        Scalar.gemm(cache.qkv, ldc: 3 * c, cache.ln, lda: c, transA: .none, qkvW, ldb: c,
                    transB: .transpose, m: b, n: 3 * c, k: c, alpha: 1, beta: 1, workspace: workspace)
        for bi in 0..<b {
            (cache.keys + (pos * b + bi) * c).update(from: cache.qkv + bi * 3 * c + c, count: c)
            (cache.values + (pos * b + bi) * c).update(from: cache.qkv + bi * 3 * c + 2 * c, count: c)
        }
        for bi in 0..<b {
            for h in 0..<heads {
                let q = cache.qkv + bi * 3 * c + h * d
                let keys = cache.keys + bi * c + h * d, values = cache.values + bi * c + h * d
                Scalar.gemm(cache.scores, ldc: pos + 1, q, lda: d, transA: .none, keys, ldb: b * c,
                            transB: .transpose, m: 1, n: pos + 1, k: d, alpha: 1, beta: 0,
                            workspace: workspace)
                Scalar.causalSoftmaxForward(cache.scores, cache.scores, rows: 1, cols: pos + 1,
                                            offset: pos, scale: scale)
                Scalar.gemm(cache.y + bi * c + h * d, ldc: c, cache.scores, lda: pos + 1,
                            transA: .none, values, ldb: b * c, transB: .none, m: 1, n: d, k: pos + 1,
                            alpha: 1, beta: 0, workspace: workspace)
            }
        }
        cache.out.update(from: x, count: b * c)
        for r in 0..<b { Scalar.axpy(cache.out + r * c, alpha: 1, projB, count: c) }
        Scalar.gemm(cache.out, ldc: c, cache.y, lda: c, transA: .none, projW, ldb: c,
                    transB: .transpose, m: b, n: c, k: c, alpha: 1, beta: 1, workspace: workspace)
    }
}
