import Kernels
import Testing

@Test func columnSumsMatchReferenceOnAnyNumberOfThreads() {
    // Odd widths (partial 8-lane vectors and 16-float shares); the last three are split.
    let shapes = [(1, 1), (3, 17), (17, 3), (65, 33), (2048, 40), (70, 5003), (1000, 1030)]
    for (index, (rows, cols)) in shapes.enumerated() {
        let x = randomArray(rows * cols, seed: UInt64(index))
        let start = randomArray(cols, seed: UInt64(100 + index))
        var ref = start
        addColumnSumsReference(&ref, x, rows: rows, cols: cols)
        var serial = start
        addColumnSums(&serial, x, rows: rows, cols: cols)
        // Float sums of `rows` terms in [-1, 1] against Double ones.
        #expect(maxScaledError(serial, ref) <= 1e-6 * Float(rows), "rows=\(rows) cols=\(cols)")
        for threads in [1, 2, 3] {
            var split = start
            addColumnSums(&split, x, rows: rows, cols: cols, workspace: GemmWorkspace(threads: threads))
            #expect(split == serial, "rows=\(rows) cols=\(cols) threads=\(threads)")
        }
    }
}

@Test func broadcastRowsFillsEveryRowOnAnyNumberOfThreads() {
    for (rows, cols) in [(1, 1), (3, 17), (2048, 40), (33, 5003)] {
        let row = randomArray(cols, seed: UInt64(cols))
        for threads in [nil, 1, 2] as [Int?] {
            var out = [Float](repeating: .nan, count: rows * cols)
            broadcastRows(&out, row, rows: rows, cols: cols, workspace: threads.map { GemmWorkspace(threads: $0) })
            #expect((0..<rows).allSatisfy { Array(out[($0 * cols)..<($0 * cols + cols)]) == row },
                    "rows=\(rows) cols=\(cols)")
        }
    }
}
