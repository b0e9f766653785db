// A bias added to every row of a (rows, cols) activation: the forward's broadcast (which a
// product with beta = 1 then adds onto) and the gradient's column sums, both split across the
// workspace's threads. They stream whole matrices (the output head's are tens of megabytes),
// so on one thread they were a serial gap between parallel products.

/// Every row of `out` (rows, cols) set to `row` (cols). Allocates nothing.
public func broadcastRows(_ out: UnsafeMutablePointer<Float>, _ row: UnsafePointer<Float>,
                          rows: Int, cols: Int, workspace: GemmWorkspace? = nil) {
    guard rows >= 0, cols >= 0 else { fatalError("broadcastRows: rows \(rows) cols \(cols)") }
    let parts = rows * cols < parallelThreshold / 4 ? 1 : max(1, min(workspace?.threads ?? 1, rows))
    runParts(Broadcast(out: out, row: row, rows: rows, cols: cols, parts: parts), parts: parts,
             workspace: workspace)
}

private struct Broadcast: ParallelJob {
    let out: UnsafeMutablePointer<Float>, row: UnsafePointer<Float>
    let rows: Int, cols: Int, parts: Int

    func run(part: Int) {
        for r in evenSplit(units: rows, parts: parts, part: part) {
            (out + r * cols).update(from: row, count: cols)
        }
    }
}

// The column sums: split by columns, each column summed over the rows in order whatever the
// split, so the result does not depend on the thread count; each thread reads a stripe of
// every row, sequentially.

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
