import Kernels

// The per-(sequence, head) part of attention's forward and backward: independent tasks,
// task = sequence * heads + head, spread over the workspace's threads by `forEachTask`.

/// Where one task's head reads and writes in a `Cache`. Its q (and dq) start `offset` into
/// qkv (and dqkv), k and v C and 2C further: T rows of D columns with row stride `ld`, time
/// major; its slice of y (and dy) has row stride `ldy`; its attention weights are a (T, T)
/// block of att.
private struct Head<Scalar: NetworkScalar> {
    let q: UnsafeMutablePointer<Scalar>, k: UnsafeMutablePointer<Scalar>, v: UnsafeMutablePointer<Scalar>
    let offset: Int, ld: Int, ldy: Int, yOffset: Int, att: UnsafeMutablePointer<Scalar>
    let t: Int, d: Int

    init(task: Int, layer: AttentionLayer<Scalar>, cache: AttentionLayer<Scalar>.Cache) {
        let b = cache.batch, c = layer.width
        t = cache.steps
        d = layer.headSize
        let bi = task / layer.heads, h = task % layer.heads
        ld = b * 3 * c
        ldy = b * c
        offset = bi * 3 * c + h * d
        q = cache.qkv + offset; k = q + c; v = q + 2 * c
        yOffset = bi * c + h * d
        att = cache.att + task * t * t
    }
}

/// Scores, causal softmax and the weighted sum of values: att and y of the task's head.
struct HeadsForward<Scalar: NetworkScalar>: IndependentTasks {
    let layer: AttentionLayer<Scalar>
    let cache: AttentionLayer<Scalar>.Cache

    func run(task: Int, thread: Int, lane: GemmWorkspace) {
        let h = Head(task: task, layer: layer, cache: cache), t = h.t, d = h.d
        // All T x T scores, future ones included: the masked half is never read.
        Scalar.gemm(h.att, ldc: t, h.q, lda: h.ld, transA: .none, h.k, ldb: h.ld, transB: .transpose,
                    m: t, n: t, k: d, alpha: 1, beta: 0, workspace: lane)
        Scalar.causalSoftmaxForward(h.att, h.att, rows: t, cols: t, offset: 0, scale: layer.scale)
        Scalar.gemm(cache.y + h.yOffset, ldc: h.ldy, h.att, lda: t, transA: .none, h.v, ldb: h.ld,
                    transB: .none, m: t, n: d, k: t, alpha: 1, beta: 0, workspace: lane)
    }
}

/// dq, dk, dv of the task's head from dy; the attention gradient in the thread's own scratch.
struct HeadsBackward<Scalar: NetworkScalar>: IndependentTasks {
    let layer: AttentionLayer<Scalar>
    let cache: AttentionLayer<Scalar>.Cache

    func run(task: Int, thread: Int, lane: GemmWorkspace) {
        let h = Head(task: task, layer: layer, cache: cache), t = h.t, d = h.d, c = layer.width
        let dq = cache.dqkv + h.offset, dk = dq + c, dv = dq + 2 * c
        let dyh = cache.dy + h.yOffset, datt = cache.datt + thread * t * t
        Scalar.gemm(datt, ldc: t, dyh, lda: h.ldy, transA: .none, h.v, ldb: h.ld,
                    transB: .transpose, m: t, n: t, k: d, alpha: 1, beta: 0, workspace: lane)
        Scalar.gemm(dv, ldc: h.ld, h.att, lda: t, transA: .transpose, dyh, ldb: h.ldy,
                    transB: .none, m: t, n: d, k: t, alpha: 1, beta: 0, workspace: lane)
        Scalar.causalSoftmaxBackward(datt, datt, h.att, rows: t, cols: t, offset: 0, scale: layer.scale)
        Scalar.gemm(dq, ldc: h.ld, datt, lda: t, transA: .none, h.k, ldb: h.ld,
                    transB: .none, m: t, n: d, k: t, alpha: 1, beta: 0, workspace: lane)
        Scalar.gemm(dk, ldc: h.ld, datt, lda: t, transA: .transpose, h.q, ldb: h.ld,
                    transB: .none, m: t, n: d, k: t, alpha: 1, beta: 0, workspace: lane)
    }
}
