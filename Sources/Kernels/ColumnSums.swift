// Bias gradients: the column sums of a (rows, cols) gradient, split across threads by columns.
// Each column is summed over the rows in order whatever the split, so the result does not
// depend on the thread count; the rows are read sequentially (each thread a stripe of every
// row), which matters because the output head's (N, V) gradient is tens of megabytes.

/// dst[j] += sum over r of x[r * cols + j] for j in 0..<cols, rows added in order.
///
/// - `dst`: (cols), accumulated.  `x`: (rows, cols).
/// Allocates nothing.
public func addColumnSums(_ dst: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                          rows: Int, cols: Int, workspace: GemmWorkspace? = nil) {
    guard rows >= 0, cols >= 0 else { fatalError("addColumnSums: rows \(rows) cols \(cols)") }
    let parts = rows * cols < parallelThreshold / 4 ? 1 : lineParts(count: cols, threshold: 0, workspace: workspace)
    runParts(ColumnSums(dst: dst, x: x, rows: rows, cols: cols, parts: parts), parts: parts, workspace: workspace)
}

private struct ColumnSums: ParallelJob {
    let dst: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>
    let rows: Int, cols: Int, parts: Int

    func run(part: Int) {
        let share = lineShare(count: cols, parts: parts, part: part)
        let out = dst + share.lowerBound, width = share.count, vectorWidth = width / 8 * 8
        for r in 0..<rows {
            let row = x + r * cols + share.lowerBound
            var j = 0
            while j < vectorWidth {
                store8(load8(out + j) + load8(row + j), out + j)
                j += 8
            }
            while j < width {
                out[j] += row[j]
                j += 1
            }
        }
    }
}

/// Reference for `addColumnSums`: each column summed in Double, then added to dst.
public func addColumnSumsReference(_ dst: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                                   rows: Int, cols: Int) {
    for j in 0..<cols {
        var sum = Double(dst[j])
        for r in 0..<rows { sum += Double(x[r * cols + j]) }
        dst[j] = Float(sum)
    }
}
