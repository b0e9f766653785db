/// Embedding lookup: out[i] = table[ids[i]] for i in 0..<N.
///
/// - `out`: (N, C), written.
/// - `ids`: (N), each in `0..<V`; an id outside throws before anything is written.
/// - `table`: (V, C).
public func embeddingForward(
    _ out: UnsafeMutablePointer<Float>,
    _ ids: UnsafePointer<Int32>,
    _ table: UnsafePointer<Float>,
    n: Int, c: Int, v: Int
) throws {
    try checkIds(ids, n: n, v: v)
    for i in 0..<n {
        (out + i * c).update(from: table + Int(ids[i]) * c, count: c)
    }
}

/// Embedding backward: dtable[ids[i]] += dout[i] for i in 0..<N (repeated ids accumulate).
///
/// - `dtable`: (V, C), accumulated into; the caller zeroes it when starting a new gradient.
/// - `dout`: (N, C).
/// - `ids`: (N), each in `0..<V`; an id outside throws before anything is written.
public func embeddingBackward(
    _ dtable: UnsafeMutablePointer<Float>,
    _ dout: UnsafePointer<Float>,
    _ ids: UnsafePointer<Int32>,
    n: Int, c: Int, v: Int
) throws {
    try checkIds(ids, n: n, v: v)
    for i in 0..<n {
        let dst = dtable + Int(ids[i]) * c
        let src = dout + i * c
        var j = 0
        while j + 8 <= c {
            store8(load8(dst + j) + load8(src + j), dst + j)
            j += 8
        }
        while j < c {
            dst[j] += src[j]
            j += 1
        }
    }
}

private func checkIds(_ ids: UnsafePointer<Int32>, n: Int, v: Int) throws {
    for i in 0..<n where ids[i] < 0 || Int(ids[i]) >= v {
        throw KernelError.indexOutOfRange(what: "id", position: i, index: Int(ids[i]), limit: v)
    }
}

/// Reference for `embeddingBackward`: element by element, same accumulation order.
public func embeddingBackwardReference(
    _ dtable: UnsafeMutablePointer<Float>,  // (V, C)
    _ dout: UnsafePointer<Float>,           // (N, C)
    _ ids: UnsafePointer<Int32>,            // (N)
    n: Int, c: Int, v: Int
) throws {
    try checkIds(ids, n: n, v: v)
    for i in 0..<n {
        for j in 0..<c { dtable[Int(ids[i]) * c + j] += dout[i * c + j] }
    }
}
