#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The target value that marks a row to ignore (it adds nothing to the loss or the gradient).
public let ignoreTarget: Int32 = -1

/// Fused softmax + cross-entropy: returns the mean over the counted rows of
/// `-log softmax(logits[row])[target[row]]` and writes its gradient with respect to the logits,
/// `(softmax - onehot) / count`, where count is the number of rows whose target is not
/// `ignoreTarget` (PyTorch's `reduction="mean"` with `ignore_index=-1`; count = N when
/// nothing is ignored). Ignored rows get a zero gradient. With count = 0 the loss is 0.
///
/// - `dlogits`: (N, V), written; may be the same buffer as `logits`.
/// - `logits`: (N, V).
/// - `targets`: (N), each in `0..<V` or `ignoreTarget`; anything else throws before any write.
///
/// Numerically stable: each row is shifted by its maximum before exponentiating, and the loss
/// is `logsumexp - logit[target]`. Per row: one pass for the maximum, one that writes the
/// exponentials and sums them, one that scales them into the gradient.
///
/// With a `workspace`, large inputs are split across its threads by rows. The loss is summed
/// per fixed block of rows and the block sums in order, so it is the same for any split.
public func softmaxCrossEntropy(
    _ dlogits: UnsafeMutablePointer<Float>,
    _ logits: UnsafePointer<Float>,
    _ targets: UnsafePointer<Int32>,
    n: Int, v: Int, workspace: GemmWorkspace? = nil
) throws -> Float {
    let count = try countTargets(targets, n: n, v: v)
    guard count > 0 else {
        dlogits.update(repeating: 0, count: n * v)
        return 0
    }
    let blocks = min(n, lossBlocks)
    let threads = n * v < parallelThreshold / 4 ? 1 : min(workspace?.threads ?? 1, blocks)
    // 64 Doubles: on the stack, so the step allocates nothing.
    return withUnsafeTemporaryAllocation(of: Double.self, capacity: lossBlocks) { sums in
        let job = SoftmaxRows(dlogits: dlogits, logits: logits, targets: targets, n: n, v: v,
                              invCount: 1 / Float(count), blocks: blocks, threads: threads,
                              sums: sums.baseAddress!)
        runParts(job, parts: threads, workspace: workspace)
        var total = 0.0
        for b in 0..<blocks { total += sums[b] }
        return Float(total / Double(count))
    }
}

/// Row blocks whose losses are summed separately (then in order): fixed, so the loss does not
/// depend on how many threads shared the rows.
private let lossBlocks = 64

/// Thread t's share of `softmaxCrossEntropy`: a contiguous run of the row blocks.
private struct SoftmaxRows: ParallelJob {
    let dlogits: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>
    let targets: UnsafePointer<Int32>
    let n: Int, v: Int, invCount: Float, blocks: Int, threads: Int
    let sums: UnsafeMutablePointer<Double>

    func run(part: Int) {
        for block in evenSplit(units: blocks, parts: threads, part: part) {
            var total = 0.0
            for row in evenSplit(units: n, parts: blocks, part: block) {
                total += softmaxRow(dlogits + row * v, logits + row * v, target: Int(targets[row]),
                                    v: v, invCount: invCount)
            }
            sums[block] = total
        }
    }
}

/// One row: writes its gradient into `g` and returns its loss (0 for an ignored row).
private func softmaxRow(_ g: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, target: Int,
                        v: Int, invCount: Float) -> Double {
    if target < 0 {
        g.update(repeating: 0, count: v)
        return 0
    }
    let xt = x[target]  // read before an in-place call overwrites it
    let m = rowMax(x, count: v)
    let sum = expScaledShiftedSum(g, x, scale: 1, shift: m, count: v)
    let scale = SIMD8<Float>(repeating: invCount / sum)
    var j = 0
    while j + 8 <= v {
        store8(load8(g + j) * scale, g + j)
        j += 8
    }
    while j < v {
        g[j] *= scale[0]
        j += 1
    }
    g[target] -= invCount
    return Double(m) + log(Double(sum)) - Double(xt)
}

/// Number of rows whose target is not ignored; throws on a target outside `0..<v`.
private func countTargets(_ targets: UnsafePointer<Int32>, n: Int, v: Int) throws -> Int {
    var count = 0
    for row in 0..<n {
        let t = Int(targets[row])
        if t == Int(ignoreTarget) { continue }
        guard t >= 0 && t < v else {
            throw KernelError.indexOutOfRange(what: "target", position: row, index: t, limit: v)
        }
        count += 1
    }
    return count
}

/// Largest of `count >= 1` floats.
private func rowMax(_ x: UnsafePointer<Float>, count: Int) -> Float {
    var best = SIMD8<Float>(repeating: -.infinity)
    var j = 0
    while j + 8 <= count {
        let v = load8(x + j)
        best = best.replacing(with: v, where: v .> best)
        j += 8
    }
    var m = best.max()
    while j < count {
        m = max(m, x[j])
        j += 1
    }
    return m
}

/// Reference for `softmaxCrossEntropy`: the same definition computed row by row in Double
/// (not in place: `dlogits` must not alias `logits`).
public func softmaxCrossEntropyReference(
    _ dlogits: UnsafeMutablePointer<Float>,  // (N, V)
    _ logits: UnsafePointer<Float>,          // (N, V)
    _ targets: UnsafePointer<Int32>,         // (N)
    n: Int, v: Int
) throws -> Float {
    let count = try countTargets(targets, n: n, v: v)
    var total = 0.0
    for row in 0..<n {
        let x = logits + row * v
        let t = Int(targets[row])
        if t < 0 || count == 0 {
            for j in 0..<v { dlogits[row * v + j] = 0 }
            continue
        }
        var m = -Double.infinity
        for j in 0..<v { m = max(m, Double(x[j])) }
        var sum = 0.0
        for j in 0..<v { sum += exp(Double(x[j]) - m) }
        total += m + log(sum) - Double(x[t])
        for j in 0..<v {
            let p = exp(Double(x[j]) - m) / sum
            dlogits[row * v + j] = Float((p - (j == t ? 1 : 0)) / Double(count))
        }
    }
    return count == 0 ? 0 : Float(total / Double(count))
}
