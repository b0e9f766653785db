import Testing
import Kernels

/// One checked product: random op(A), op(B), C with padded leading dimensions, `gemm` against
/// `gemmReference` (Double accumulation). Returns max |got - ref| / (1 + |ref|), or +inf if
/// anything outside the (m, n) block of C was touched.
private func gemmError(m: Int, n: Int, k: Int, transA: Transpose, transB: Transpose,
                       alpha: Float, beta: Float, pad: Int, workspace: GemmWorkspace,
                       seed: UInt64) -> Float {
    let aRows = transA == .transpose ? k : m, aCols = transA == .transpose ? m : k
    let bRows = transB == .transpose ? n : k, bCols = transB == .transpose ? k : n
    let lda = max(1, aCols) + pad, ldb = max(1, bCols) + 2 * pad, ldc = max(1, n) + 3 * pad
    let a = randomArray(max(1, aRows * lda), seed: seed)
    let b = randomArray(max(1, bRows * ldb), seed: seed &+ 1)
    var c = randomArray(max(1, m * ldc), seed: seed &+ 2)
    var ref = c
    gemm(&c, ldc: ldc, a, lda: lda, transA: transA, b, ldb: ldb, transB: transB,
         m: m, n: n, k: k, alpha: alpha, beta: beta, workspace: workspace)
    gemmReference(&ref, ldc: ldc, a, lda: lda, transA: transA, b, ldb: ldb, transB: transB,
                  m: m, n: n, k: k, alpha: alpha, beta: beta)
    var worst: Float = 0
    for i in 0..<c.count {
        let e = abs(c[i] - ref[i]) / (1 + abs(ref[i]))
        if !(e <= worst) { worst = e.isNaN ? .infinity : e }
    }
    return worst
}

// Float32 accumulation over k terms of size <= 1 against a Double reference: the product
// probe measured 2.7e-5 at k = 512, so 1e-4 per 1024 terms leaves margin without hiding bugs
// (a wrong index gives errors of order 1).
private func tolerance(k: Int) -> Float { 1e-4 * max(1, Float(k) / 1024) }

private let transposes: [(Transpose, Transpose)] = [
    (.none, .none), (.none, .transpose), (.transpose, .none), (.transpose, .transpose),
]
private let scalings: [(Float, Float)] = [(1, 0), (0.5, 1), (-1.5, -0.75)]

@Test func gemmSmallShapesAllTransposes() {
    let sizes = [0, 1, 3, 7, 17, 33, 65, 127]
    let workspace = GemmWorkspace(threads: 1)
    var worst: Float = 0
    var index = 0
    for (ta, tb) in transposes {
        for m in sizes {
            for n in sizes {
                for k in sizes {
                    let (alpha, beta) = scalings[index % scalings.count]
                    let e = gemmError(m: m, n: n, k: k, transA: ta, transB: tb,
                                      alpha: alpha, beta: beta, pad: index % 3,
                                      workspace: workspace, seed: UInt64(index))
                    #expect(e <= tolerance(k: k), "m=\(m) n=\(n) k=\(k) \(ta) \(tb) alpha=\(alpha) beta=\(beta)")
                    worst = max(worst, e)
                    index += 1
                }
            }
        }
    }
    print("gemm small shapes: \(index) products, worst scaled error \(worst)")
}

@Test(arguments: [1, 2])
func gemmLargerShapesThreads(threads: Int) {
    // Large enough to be split across threads and to cross the kc/mc/nc block edges, plus the
    // vector-matrix shapes (M == 1 or N == 1, the last two large enough to be split) and a
    // tall-skinny one split along M.
    let shapes: [(Int, Int, Int)] = [
        (70, 300, 129), (300, 70, 129), (257, 1100, 300), (130, 17, 600), (5, 2000, 260),
        (32, 1024, 256), (1, 1030, 300), (1030, 1, 300), (1, 4099, 70), (2000, 20, 40),
        (1, 5000, 300), (3000, 1, 400),
    ]
    let workspace = GemmWorkspace(threads: threads)
    for (index, (m, n, k)) in shapes.enumerated() {
        for (t, (ta, tb)) in transposes.enumerated() {
            let (alpha, beta) = scalings[(index + t) % scalings.count]
            let e = gemmError(m: m, n: n, k: k, transA: ta, transB: tb, alpha: alpha, beta: beta,
                              pad: (index + t) % 3, workspace: workspace,
                              seed: UInt64(1000 + 10 * index + t))
            #expect(e <= tolerance(k: k), "m=\(m) n=\(n) k=\(k) \(ta) \(tb) threads=\(threads)")
        }
    }
}

@Test func gemmBetaZeroIgnoresNaNAndPaddingIsUntouched() {
    let m = 9, n = 20, k = 5, ldc = 23
    let a = randomArray(m * k, seed: 7), b = randomArray(k * n, seed: 8)
    var c = [Float](repeating: .nan, count: m * ldc)
    for i in 0..<m { for j in n..<ldc { c[i * ldc + j] = 42 } }
    gemm(&c, ldc: ldc, a, lda: k, transA: .none, b, ldb: n, transB: .none,
         m: m, n: n, k: k, workspace: GemmWorkspace(threads: 1))
    for i in 0..<m {
        for j in 0..<n { #expect(c[i * ldc + j].isFinite) }
        for j in n..<ldc { #expect(c[i * ldc + j] == 42) }
    }
    // k == 0: C = beta * C.
    var d: [Float] = [1, 2, 3, 4]
    gemm(&d, ldc: 2, a, lda: 1, transA: .none, b, ldb: 2, transB: .none,
         m: 2, n: 2, k: 0, alpha: 3, beta: 0.5, workspace: GemmWorkspace(threads: 1))
    #expect(d == [0.5, 1, 1.5, 2])
}

@Test func gemmResultsDoNotDependOnTheThreadCount() {
    // Threads split C into disjoint blocks and every element is summed in the same order, so
    // one and two threads must agree bit for bit (training runs are reproducible on any core count).
    // 122 rows split along M: one thread ends with a 2-row block (a partial 4-row panel),
    // two threads with a 56-row share (two full 4-row panels); K > 384 accumulates onto C.
    let shapes: [(Int, Int, Int)] = [(70, 300, 129), (300, 70, 129), (1, 5000, 300), (3000, 1, 400),
                                     (122, 20, 400), (32, 1024, 400)]
    let one = GemmWorkspace(threads: 1), two = GemmWorkspace(threads: 2)
    for (m, n, k) in shapes {
        for (ta, tb) in transposes {
            for (alpha, beta) in [(Float(1), Float(0)), (-1.5, 0.75)] {
                let a = randomArray(m * k, seed: 1), b = randomArray(k * n, seed: 2)
                var c1 = randomArray(m * n, seed: 3), c2 = c1
                let lda = ta == .transpose ? m : k, ldb = tb == .transpose ? k : n
                gemm(&c1, ldc: n, a, lda: lda, transA: ta, b, ldb: ldb, transB: tb,
                     m: m, n: n, k: k, alpha: alpha, beta: beta, workspace: one)
                gemm(&c2, ldc: n, a, lda: lda, transA: ta, b, ldb: ldb, transB: tb,
                     m: m, n: n, k: k, alpha: alpha, beta: beta, workspace: two)
                let differing = zip(c1, c2).filter { $0.0 != $0.1 }.count
                #expect(differing == 0, "m=\(m) n=\(n) k=\(k) \(ta) \(tb) beta=\(beta)")
            }
        }
    }
}

@Test func columnsGetTheSameBitsWhicheverTilePairingTheyFallIn() {
    // AVX-512 builds multiply 16-column tiles of C in pairs and an odd last tile alone. The
    // products of B's columns 16..<48 as all of a 48-column C (tiles (0, 1) paired, 2 alone) and
    // as a 32-column C of their own (their two tiles paired, the first now on the left) must
    // agree bit for bit, and so must columns 32..<48 as a 16-column C. Rows 32 (6- and 4-row
    // panels), k 400 (two K blocks), beta 0.75 (C read and accumulated onto).
    let m = 32, k = 400, n = 48
    let workspace = GemmWorkspace(threads: 1)
    for (ta, tb) in transposes {
        let a = randomArray(m * k, seed: 11), b = randomArray(k * n, seed: 12)
        let lda = ta == .transpose ? m : k, ldb = tb == .transpose ? k : n
        let start = randomArray(m * n, seed: 13)
        var whole = start
        gemm(&whole, ldc: n, a, lda: lda, transA: ta, b, ldb: ldb, transB: tb,
             m: m, n: n, k: k, alpha: -1.5, beta: 0.75, workspace: workspace)
        for first in [16, 32] {
            // op(B)'s columns from `first` on: B's columns (or rows, transposed) from there.
            var part = start
            b.withUnsafeBufferPointer { bp in
                part.withUnsafeMutableBufferPointer { cp in
                    gemm(cp.baseAddress! + first, ldc: n, a, lda: lda, transA: ta,
                         bp.baseAddress! + (tb == .transpose ? first * ldb : first), ldb: ldb, transB: tb,
                         m: m, n: n - first, k: k, alpha: -1.5, beta: 0.75, workspace: workspace)
                }
            }
            var differing = 0
            for i in 0..<m { for j in first..<n where part[i * n + j] != whole[i * n + j] { differing += 1 } }
            #expect(differing == 0, "columns \(first)..<\(n), \(ta) \(tb)")
        }
    }
}
