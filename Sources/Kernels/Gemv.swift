// Vector-matrix products: the M == 1 (and N == 1) case of `gemm`, which an LSTM step hits
// when decoding one sequence at a time.

/// Vector-matrix products over a matrix smaller than this (512 KiB) run on one thread: they
/// take a few microseconds, about what handing half to a worker costs. At 4 MiB, the LSTM
/// decoding step's 256 x 1024 product (1 MiB, 12 us) stayed on one thread: split, it runs
/// 1.9x faster (`kernelbench gemm 2 1 1024 256`, AVX2 build, Zen 5), and batch-1 decoding of
/// configuration a (`trainbench decode --threads 2`) went from 8.5-10.9k to 12.8-15.6k tokens/s.
let gemvParallelThreshold = 1 << 17

@inline(__always)
private func storeOut(_ y: UnsafeMutablePointer<Float>, _ value: Float, alpha: Float, beta: Float) {
    y.pointee = beta == 0 ? alpha * value : alpha * value + beta * y.pointee
}

/// y (1, n) = alpha * x (1, k) * op(M) (k, n) + beta * y, with y[j] at `y[j * incY]` and
/// x[p] at `x[p * incX]`. Requires k <= blockM * blockK when incX != 1 (x is gathered into
/// the workspace). Splits the columns over the workspace's threads when the product is large.
func gemvRow(
    _ y: UnsafeMutablePointer<Float>, incY: Int,
    x: UnsafePointer<Float>, incX: Int,
    matrix: Operand, k: Int, n: Int, alpha: Float, beta: Float,
    workspace: GemmWorkspace
) {
    var xs = x
    if incX != 1 {
        let scratch = workspace.packA(thread: 0)
        for p in 0..<k { scratch[p] = x[p * incX] }
        xs = UnsafePointer(scratch)
    }
    // Shares are whole 64-column chunks so that every thread runs the wide loop.
    let chunks = (n + 63) / 64
    let threads = k * n < gemvParallelThreshold ? 1 : min(workspace.threads, chunks)
    workspace.parallelFor(threads: threads, GemvShares(
        y: y, incY: incY, x: xs, matrix: matrix, k: k, n: n, alpha: alpha, beta: beta,
        chunks: chunks, threads: threads, workspace: workspace))
}

/// Thread t's share of a vector-matrix product: an equal run of 64-column chunks.
private struct GemvShares: ParallelJob {
    let y: UnsafeMutablePointer<Float>, incY: Int
    let x: UnsafePointer<Float>
    let matrix: Operand
    let k: Int, n: Int, alpha: Float, beta: Float
    let chunks: Int, threads: Int
    let workspace: GemmWorkspace

    func run(part t: Int) {
        let share = evenSplit(units: chunks, parts: threads, part: t)
        let j0 = share.lowerBound * 64
        let j1 = min(n, share.upperBound * 64)
        if j1 <= j0 { return }
        if matrix.transposed {
            gemvDots(y + j0 * incY, incY: incY, x: x, rows: matrix.base + j0 * matrix.ld,
                     ld: matrix.ld, k: k, n: j1 - j0, alpha: alpha, beta: beta)
        } else {
            gemvAxpys(y + j0 * incY, incY: incY, x: x, matrix: matrix.base + j0,
                      ld: matrix.ld, k: k, n: j1 - j0, alpha: alpha, beta: beta,
                      scratch: workspace.packB(thread: t))
        }
    }
}

/// y[j] = alpha * sum_p x[p] * m[p * ld + j] + beta * y[j]: the matrix is (k, n) row-major,
/// so y is a running sum of scaled matrix rows.
///
/// Columns go in blocks of 1024 whose partial sums live in 4 KiB of `scratch` (in L1), and
/// each step adds four scaled rows: the matrix is read four rows at a time, 4 KiB of each row
/// sequentially. (Keeping 64 columns in registers and walking down all k rows instead reads
/// 256 bytes from each of k pages, which stalls on cache and TLB misses.)
private func gemvAxpys(
    _ y: UnsafeMutablePointer<Float>, incY: Int,
    x: UnsafePointer<Float>,                 // (k)
    matrix m: UnsafePointer<Float>, ld: Int, // (k, n)
    k: Int, n: Int, alpha: Float, beta: Float,
    scratch acc: UnsafeMutablePointer<Float> // (1024)
) {
    let block = 1024
    for j0 in stride(from: 0, to: n, by: block) {
        let width = min(block, n - j0)
        let vectorWidth = width / 8 * 8
        acc.update(repeating: 0, count: width)
        var p = 0
        while p + 4 <= k {
            let r0 = m + p * ld + j0, r1 = r0 + ld, r2 = r1 + ld, r3 = r2 + ld
            let x0 = SIMD8<Float>(repeating: x[p]), x1 = SIMD8<Float>(repeating: x[p + 1])
            let x2 = SIMD8<Float>(repeating: x[p + 2]), x3 = SIMD8<Float>(repeating: x[p + 3])
            // 16 lanes at a time (one zmm register in an AVX-512 build), then 8: every element
            // is the same chain of fused multiply-adds either way. (One generic helper for both
            // widths measured 8% slower with `kernelbench gemm 1 1 1024 256`: 51 against 56.)
            let y0 = SIMD16<Float>(repeating: x[p]), y1 = SIMD16<Float>(repeating: x[p + 1])
            let y2 = SIMD16<Float>(repeating: x[p + 2]), y3 = SIMD16<Float>(repeating: x[p + 3])
            var j = 0
            while j + 16 <= vectorWidth {
                var s = load16(acc + j)
                s.addProduct(y0, load16(r0 + j))
                s.addProduct(y1, load16(r1 + j))
                s.addProduct(y2, load16(r2 + j))
                s.addProduct(y3, load16(r3 + j))
                store16(s, acc + j)
                j += 16
            }
            while j < vectorWidth {
                var s = load8(acc + j)
                s.addProduct(x0, load8(r0 + j))
                s.addProduct(x1, load8(r1 + j))
                s.addProduct(x2, load8(r2 + j))
                s.addProduct(x3, load8(r3 + j))
                store8(s, acc + j)
                j += 8
            }
            while j < width {
                acc[j] += x[p] * r0[j] + x[p + 1] * r1[j] + x[p + 2] * r2[j] + x[p + 3] * r3[j]
                j += 1
            }
            p += 4
        }
        while p < k {
            let r = m + p * ld + j0
            let xp = SIMD8<Float>(repeating: x[p])
            var j = 0
            while j < vectorWidth {
                store8(load8(acc + j).addingProduct(xp, load8(r + j)), acc + j)
                j += 8
            }
            while j < width {
                acc[j] += x[p] * r[j]
                j += 1
            }
            p += 1
        }
        for j in 0..<width { storeOut(y + (j0 + j) * incY, acc[j], alpha: alpha, beta: beta) }
    }
}

/// y[j] = alpha * dot(x, m[j * ld ..< j * ld + k]) + beta * y[j]: the matrix is (n, k)
/// row-major, so each output is a dot product with one contiguous row.
private func gemvDots(
    _ y: UnsafeMutablePointer<Float>, incY: Int,
    x: UnsafePointer<Float>,                // (k)
    rows m: UnsafePointer<Float>, ld: Int,  // (n, k)
    k: Int, n: Int, alpha: Float, beta: Float
) {
    var j = 0
    // Four rows at a time, two accumulators each: x is loaded once per four rows.
    while j + 4 <= n {
        let r0 = m + j * ld, r1 = r0 + ld, r2 = r1 + ld, r3 = r2 + ld
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
        var b0 = SIMD8<Float>(), b1 = SIMD8<Float>(), b2 = SIMD8<Float>(), b3 = SIMD8<Float>()
        var p = 0
        while p + 16 <= k {
            let x0 = load8(x + p), x1 = load8(x + p + 8)
            a0.addProduct(x0, load8(r0 + p)); b0.addProduct(x1, load8(r0 + p + 8))
            a1.addProduct(x0, load8(r1 + p)); b1.addProduct(x1, load8(r1 + p + 8))
            a2.addProduct(x0, load8(r2 + p)); b2.addProduct(x1, load8(r2 + p + 8))
            a3.addProduct(x0, load8(r3 + p)); b3.addProduct(x1, load8(r3 + p + 8))
            p += 16
        }
        if p + 8 <= k {
            let x0 = load8(x + p)
            a0.addProduct(x0, load8(r0 + p)); a1.addProduct(x0, load8(r1 + p))
            a2.addProduct(x0, load8(r2 + p)); a3.addProduct(x0, load8(r3 + p))
            p += 8
        }
        var s0 = (a0 + b0).sum(), s1 = (a1 + b1).sum(), s2 = (a2 + b2).sum(), s3 = (a3 + b3).sum()
        while p < k {
            s0 += x[p] * r0[p]; s1 += x[p] * r1[p]; s2 += x[p] * r2[p]; s3 += x[p] * r3[p]
            p += 1
        }
        storeOut(y + j * incY, s0, alpha: alpha, beta: beta)
        storeOut(y + (j + 1) * incY, s1, alpha: alpha, beta: beta)
        storeOut(y + (j + 2) * incY, s2, alpha: alpha, beta: beta)
        storeOut(y + (j + 3) * incY, s3, alpha: alpha, beta: beta)
        j += 4
    }
    while j < n {
        let r = m + j * ld
        var acc = SIMD8<Float>()
        var p = 0
        while p + 8 <= k {
            acc.addProduct(load8(x + p), load8(r + p))
            p += 8
        }
        var s = acc.sum()
        while p < k {
            s += x[p] * r[p]
            p += 1
        }
        storeOut(y + j * incY, s, alpha: alpha, beta: beta)
        j += 1
    }
}
