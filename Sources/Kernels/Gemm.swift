#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whether a matrix operand is used as stored or transposed.
public enum Transpose: Sendable {
    case none
    case transpose
}

// Block sizes (GotoBLAS loop order jc -> pc -> ic -> jr -> ir), chosen for a 32 KiB L1d and
// a 512 KiB L2 per core (the development machine: 2 such cores sharing a 32 MiB L3):
// - kc = 384: the packed B panel (384 x 16 floats = 24 KiB) stays in a 32 KiB L1 while the
//   A panels (384 x 6 floats = 9 KiB) stream through it from L2. Against kc = 256, fewer
//   passes over C and whole LSTM products with K = 384 in one pass: 2-4% faster on every
//   benchmark shape (thread CPU time, best of 3-4 interleaved runs each).
// - mc = 72 (a multiple of 6): the packed A block is 72 x 384 x 4 B = 108 KiB, a fifth of a
//   512 KiB L2, leaving room for the B panels and C tiles passing through.
// - nc = 1024: the packed B block is 384 x 1024 x 4 B = 1.5 MiB, which stays in L3; A is
//   repacked once per nc columns, which costs m*k copies against m*k*nc FLOPs.
let blockK = 384
let blockM = 72
let blockN = 1024

/// Floats per thread for packed A: a block, plus room for the 8-wide stores of the last panel
/// to run past its end (see `packPanelOfA`).
let packASize = blockM * blockK + 8

/// Products with fewer multiply-adds than this run on one thread: below it the cost of
/// waking a second worker (a few microseconds) is comparable to the work itself.
let parallelThreshold = 1 << 18

/// Scratch memory for `gemm`: one packed-A block and one packed-B block per thread,
/// allocated once here and reused by every call, so the multiply itself allocates nothing.
///
/// A workspace may be used by one call at a time (it is not locked). It fixes the maximum
/// number of threads a call may use.
public final class GemmWorkspace {
    /// Number of threads a product large enough to be split is spread over.
    public let threads: Int
    /// The `WorkerPool` of `threads - 1` workers (`AnyObject`: the pool needs macOS 15's
    /// `Atomic`, this class does not); nil for one thread.
    let pool: AnyObject?
    let packedA: UnsafeMutablePointer<Float>  // (threads, packASize)
    let packedB: UnsafeMutablePointer<Float>  // (threads, blockK * blockN)
    /// One-thread workspaces on each thread's share of the buffers (see `forEachTask`); empty
    /// for one thread and in the lanes themselves, which do not own their buffers.
    let lanes: [GemmWorkspace]
    private let ownsBuffers: Bool

    /// - Parameter threads: worker count; `nil` uses every online core.
    public init(threads: Int? = nil) {
        let online = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        self.threads = max(1, threads ?? online)
        packedA = GemmWorkspace.allocate(self.threads * packASize)
        packedB = GemmWorkspace.allocate(self.threads * blockK * blockN)
        if #available(macOS 15.0, *), self.threads > 1 {
            pool = WorkerPool(workers: self.threads - 1)
        } else {
            pool = nil
        }
        ownsBuffers = true
        let (a, b) = (packedA, packedB)
        lanes = self.threads == 1 ? [] : (0..<self.threads).map {
            GemmWorkspace(lanePackedA: a + $0 * packASize, packedB: b + $0 * blockK * blockN)
        }
    }

    private init(lanePackedA: UnsafeMutablePointer<Float>, packedB: UnsafeMutablePointer<Float>) {
        threads = 1
        pool = nil
        packedA = lanePackedA
        self.packedB = packedB
        lanes = []
        ownsBuffers = false
    }

    deinit {
        if #available(macOS 15.0, *), let pool {
            unsafeDowncast(pool, to: WorkerPool.self).stop()
        }
        if ownsBuffers {
            UnsafeMutableRawPointer(packedA).deallocate()
            UnsafeMutableRawPointer(packedB).deallocate()
        }
    }

    private static func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        // 64-byte alignment: packed panels start on cache lines.
        let raw = UnsafeMutableRawPointer.allocate(byteCount: count * 4, alignment: 64)
        return raw.initializeMemory(as: Float.self, repeating: 0, count: count)
    }

    func packA(thread: Int) -> UnsafeMutablePointer<Float> { packedA + thread * packASize }
    func packB(thread: Int) -> UnsafeMutablePointer<Float> { packedB + thread * blockK * blockN }
}

/// A row-major matrix operand as the product sees it: element (i, p) of op(X).
struct Operand {
    var base: UnsafePointer<Float>
    var ld: Int
    var transposed: Bool

    @inline(__always)
    subscript(row: Int, col: Int) -> Float {
        transposed ? base[col * ld + row] : base[row * ld + col]
    }

    /// The operand whose element (0, 0) is this one's element (row, col).
    func offset(row: Int, col: Int) -> Operand {
        Operand(base: base + (transposed ? col * ld + row : row * ld + col), ld: ld,
                transposed: transposed)
    }
}

/// C = alpha * op(A) * op(B) + beta * C for row-major `Float` matrices.
///
/// - `c`: (M, N), row stride `ldc >= N`; written. With `beta == 0`, C is not read.
/// - `a`: op(A) is (M, K): A is (M, K) with row stride `lda >= K`, or (K, M) with
///   `lda >= M` when `transA == .transpose`.
/// - `b`: op(B) is (K, N): B is (K, N) with `ldb >= N`, or (N, K) with `ldb >= K` when
///   `transB == .transpose`.
/// - Any of M, N, K may be 0 (K == 0 gives C = beta * C).
/// - The caller owns all buffers; `workspace` supplies the packing scratch and the thread
///   count. Products with M == 1 (or N == 1) and K <= 27648 take the vector-matrix path.
///
/// Bad sizes or leading dimensions stop the program (`fatalError`), also under `-Ounchecked`.
public func gemm(
    _ c: UnsafeMutablePointer<Float>, ldc: Int,
    _ a: UnsafePointer<Float>, lda: Int, transA: Transpose,
    _ b: UnsafePointer<Float>, ldb: Int, transB: Transpose,
    m: Int, n: Int, k: Int, alpha: Float = 1, beta: Float = 0,
    workspace: GemmWorkspace
) {
    let ta = transA == .transpose, tb = transB == .transpose
    guard m >= 0, n >= 0, k >= 0 else {
        fatalError("gemm: negative size m=\(m) n=\(n) k=\(k)")
    }
    guard m == 0 || n == 0 || (ldc >= max(1, n)
        && lda >= max(1, ta ? m : k) && ldb >= max(1, tb ? k : n)) else {
        fatalError("gemm: leading dimension too small: m=\(m) n=\(n) k=\(k) lda=\(lda) ldb=\(ldb) ldc=\(ldc) transA=\(ta) transB=\(tb)")
    }
    if m == 0 || n == 0 { return }
    if k == 0 {
        scaleMatrix(c, ldc: ldc, rows: m, cols: n, beta: beta)
        return
    }
    let opA = Operand(base: a, ld: lda, transposed: ta)
    let opB = Operand(base: b, ld: ldb, transposed: tb)

    // Vector-matrix products: packing would only add traffic, and a 6x16 tile would be 5/6 or
    // 15/16 padding. For N == 1 the transposed problem C^T = op(B)^T op(A)^T has M == 1.
    if m == 1 && k <= blockM * blockK {
        gemvRow(c, incY: 1, x: a, incX: ta ? lda : 1, matrix: opB, k: k, n: n,
                alpha: alpha, beta: beta, workspace: workspace)
        return
    }
    if n == 1 && k <= blockM * blockK {
        let opAT = Operand(base: a, ld: lda, transposed: !ta)
        gemvRow(c, incY: ldc, x: b, incX: tb ? 1 : ldb, matrix: opAT, k: k, n: m,
                alpha: alpha, beta: beta, workspace: workspace)
        return
    }

    // Split whichever dimension has more micro-tiles into equal contiguous shares, one per
    // thread. Splitting N gives each thread its own columns of B (A is packed by both, a
    // cost of m*k per thread against m*k*n/threads FLOPs); splitting M does the reverse.
    let mTiles = (m + microRows - 1) / microRows
    let nTiles = (n + microCols - 1) / microCols
    let work = m * n * k
    var threads = work < parallelThreshold ? 1 : workspace.threads
    let splitN = nTiles >= mTiles
    threads = min(threads, splitN ? nTiles : mTiles)
    workspace.parallelFor(threads: threads, GemmShares(
        c: c, ldc: ldc, a: opA, b: opB, m: m, n: n, k: k, alpha: alpha, beta: beta,
        threads: threads, splitN: splitN, workspace: workspace))
}

/// Thread t's share of a product: an equal contiguous run of the micro-tiles of N (or M).
private struct GemmShares: ParallelJob {
    let c: UnsafeMutablePointer<Float>, ldc: Int
    let a: Operand, b: Operand
    let m: Int, n: Int, k: Int, alpha: Float, beta: Float
    let threads: Int, splitN: Bool
    let workspace: GemmWorkspace

    func run(part t: Int) {
        let packA = workspace.packA(thread: t), packB = workspace.packB(thread: t)
        if splitN {
            let tiles = evenSplit(units: (n + microCols - 1) / microCols, parts: threads, part: t)
            let j0 = tiles.lowerBound * microCols
            let j1 = min(n, tiles.upperBound * microCols)
            if j1 <= j0 { return }
            gemmBlocked(c + j0, ldc: ldc, a, b.offset(row: 0, col: j0),
                        m: m, n: j1 - j0, k: k, alpha: alpha, beta: beta, packA: packA, packB: packB)
        } else {
            let tiles = evenSplit(units: (m + microRows - 1) / microRows, parts: threads, part: t)
            let i0 = tiles.lowerBound * microRows
            let i1 = min(m, tiles.upperBound * microRows)
            if i1 <= i0 { return }
            gemmBlocked(c + i0 * ldc, ldc: ldc, a.offset(row: i0, col: 0), b,
                        m: i1 - i0, n: n, k: k, alpha: alpha, beta: beta, packA: packA, packB: packB)
        }
    }
}

/// C = beta * C over an (rows, cols) block; beta == 0 writes zeros without reading C.
func scaleMatrix(_ c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int, beta: Float) {
    for i in 0..<rows {
        let row = c + i * ldc
        if beta == 0 {
            row.update(repeating: 0, count: cols)
        } else if beta != 1 {
            for j in 0..<cols { row[j] *= beta }
        }
    }
}

/// The single-threaded blocked product on one share of C.
private func gemmBlocked(
    _ c: UnsafeMutablePointer<Float>, ldc: Int,  // (m, n)
    _ a: Operand,                                // op: (m, k)
    _ b: Operand,                                // op: (k, n)
    m: Int, n: Int, k: Int, alpha: Float, beta: Float,
    packA: UnsafeMutablePointer<Float>,          // (blockM * blockK)
    packB: UnsafeMutablePointer<Float>           // (blockK * blockN)
) {
    for jc in stride(from: 0, to: n, by: blockN) {
        let nb = min(blockN, n - jc)
        for pc in stride(from: 0, to: k, by: blockK) {
            let kb = min(blockK, k - pc)
            // The first K block applies beta; later ones accumulate onto it.
            let betaBlock: Float = pc == 0 ? beta : 1
            packPanelsB(packB, b, p0: pc, kb: kb, j0: jc, nb: nb)
            for ic in stride(from: 0, to: m, by: blockM) {
                let mb = min(blockM, m - ic)
                let panels = RowPanels(rows: mb)
                packPanelsA(packA, a, i0: ic, mb: mb, p0: pc, kb: kb, panels: panels)
                multiplyPanels(c + ic * ldc + jc, ldc: ldc, packA, panels, rows: mb, packB,
                               tiles: 0..<((nb + microCols - 1) / microCols), cols: nb, kb: kb,
                               alpha: alpha, beta: betaBlock)
            }
        }
    }
}

/// The micro-kernel calls of one packed A block (`rows` rows cut into `panels`) times the
/// 16-column panels `tiles` of a packed B block (panel s at `packB + s * 16 * kb`), into the
/// (rows, cols) block of C at `c`; tiles reaching past `cols` store only their valid columns.
func multiplyPanels(
    _ c: UnsafeMutablePointer<Float>, ldc: Int,
    _ packA: UnsafePointer<Float>, _ panels: RowPanels, rows mb: Int,
    _ packB: UnsafePointer<Float>, tiles: Range<Int>, cols nb: Int, kb: Int,
    alpha: Float, beta: Float
) {
    #if AVX512_BUILD
    // 32 zmm registers: pairs of B panels against pairs of 6-row panels (24 accumulators), then
    // the 4-row panels in pairs (16). Each broadcast element of A feeds two FMAs: one 16-column
    // panel at a time took a load per FMA, and products ran 7-19% slower (`kernelbench gemm`
    // and `lstmstep` on a Zen 5). An odd last B panel takes the same row panels one B panel wide.
    var pairStart = tiles.lowerBound
    while pairStart + 1 < tiles.upperBound {
        let jr = pairStart * microCols
        walkRowPanels(panels, PanelPair(c: c + jr, ldc: ldc, packA: packA, kb: kb, rows: mb, b: packB + jr * kb,
                                        cols1: min(microCols, nb - jr - microCols), alpha: alpha, beta: beta))
        pairStart += 2
    }
    if pairStart < tiles.upperBound {
        let jr = pairStart * microCols
        walkRowPanels(panels, PanelColumn(c: c + jr, ldc: ldc, packA: packA, kb: kb, rows: mb, b: packB + jr * kb,
                                          cols: min(microCols, nb - jr), alpha: alpha, beta: beta))
    }
    #else
    for tile in tiles {
        let jr = tile * microCols
        let column = PanelColumn(c: c + jr, ldc: ldc, packA: packA, kb: kb, rows: mb,
                                 b: packB + jr * kb, cols: min(microCols, nb - jr), alpha: alpha, beta: beta)
        for panel in 0..<panels.count {
            if panel < panels.sixes { column.rows6(panels.start(panel)) } else { column.rows4(panels.start(panel)) }
        }
    }
    #endif
}

#if AVX512_BUILD
/// One micro-kernel call per group of row panels, against the B panel(s) the tiles hold.
private protocol RowPanelTiles {
    func rows12(_ ir: Int)
    func rows6(_ ir: Int)
    func rows8(_ ir: Int)
    func rows4(_ ir: Int)
}

/// The 6-row panels two at a time (a lone one last), then the 4-row panels two at a time.
@inline(__always)
private func walkRowPanels<T: RowPanelTiles>(_ panels: RowPanels, _ tiles: T) {
    var panel = 0
    while panel + 1 < panels.sixes {
        tiles.rows12(panels.start(panel))
        panel += 2
    }
    if panel < panels.sixes { tiles.rows6(panels.start(panel)) }
    panel = panels.sixes
    while panel + 1 < panels.count {
        tiles.rows8(panels.start(panel))
        panel += 2
    }
    if panel < panels.count { tiles.rows4(panels.start(panel)) }
}
#endif

/// One 16-column panel of B against the row panels of a packed A block: each call runs one
/// micro-kernel on the panel(s) starting at the given rows of the block.
private struct PanelColumn {
    let c: UnsafeMutablePointer<Float>, ldc: Int
    let packA: UnsafePointer<Float>, kb: Int, rows: Int
    let b: UnsafePointer<Float>, cols: Int, alpha: Float, beta: Float

    @inline(__always) func rows6(_ ir: Int) {
        microKernel6x16(c + ir * ldc, ldc: ldc, packA + ir * kb, b, bStride: microCols, kc: kb,
                        alpha: alpha, beta: beta, rows: min(microRows, rows - ir), cols: cols)
    }

    @inline(__always) func rows4(_ ir: Int) {
        microKernel4x16(c + ir * ldc, ldc: ldc, packA + ir * kb, b, bStride: microCols, kc: kb,
                        alpha: alpha, beta: beta, rows: min(4, rows - ir), cols: cols)
    }

    #if AVX512_BUILD
    @inline(__always) func rows12(_ ir: Int) {
        microKernel12x16(c + ir * ldc, ldc: ldc, packA + ir * kb, packA + (ir + microRows) * kb, b,
                         bStride: microCols, kc: kb, alpha: alpha, beta: beta,
                         rows: min(2 * microRows, rows - ir), cols: cols)
    }

    @inline(__always) func rows8(_ ir: Int) {
        microKernel8x16(c + ir * ldc, ldc: ldc, packA + ir * kb, packA + (ir + 4) * kb, b,
                        bStride: microCols, kc: kb, alpha: alpha, beta: beta, rows: min(8, rows - ir), cols: cols)
    }
    #endif
}

#if AVX512_BUILD
extension PanelColumn: RowPanelTiles {}
#endif

#if AVX512_BUILD
/// Two adjacent 16-column panels of B (the first full, the second with `cols1` valid columns)
/// against the row panels of a packed A block.
private struct PanelPair: RowPanelTiles {
    let c: UnsafeMutablePointer<Float>, ldc: Int
    let packA: UnsafePointer<Float>, kb: Int, rows: Int
    let b: UnsafePointer<Float>, cols1: Int, alpha: Float, beta: Float

    private var b1: UnsafePointer<Float> { b + microCols * kb }

    @inline(__always) func rows12(_ ir: Int) {
        microKernel12x32(c + ir * ldc, ldc: ldc, packA + ir * kb, packA + (ir + microRows) * kb, b, b1,
                         kc: kb, alpha: alpha, beta: beta, rows: min(2 * microRows, rows - ir), cols1: cols1)
    }

    @inline(__always) func rows6(_ ir: Int) {
        microKernel6x32(c + ir * ldc, ldc: ldc, packA + ir * kb, b, b1, kc: kb, alpha: alpha, beta: beta,
                        rows: min(microRows, rows - ir), cols1: cols1)
    }

    @inline(__always) func rows8(_ ir: Int) {
        microKernel8x32(c + ir * ldc, ldc: ldc, packA + ir * kb, packA + (ir + 4) * kb, b, b1,
                        kc: kb, alpha: alpha, beta: beta, rows: min(8, rows - ir), cols1: cols1)
    }

    @inline(__always) func rows4(_ ir: Int) {
        microKernel4x32(c + ir * ldc, ldc: ldc, packA + ir * kb, b, b1, kc: kb, alpha: alpha, beta: beta,
                        rows: min(4, rows - ir), cols1: cols1)
    }
}
#endif

/// Reference for `gemm`: the plain triple loop, accumulating in Double. Same arguments and
/// conventions (beta == 0 does not read C).
public func gemmReference(
    _ c: UnsafeMutablePointer<Float>, ldc: Int,
    _ a: UnsafePointer<Float>, lda: Int, transA: Transpose,
    _ b: UnsafePointer<Float>, ldb: Int, transB: Transpose,
    m: Int, n: Int, k: Int, alpha: Float = 1, beta: Float = 0
) {
    let opA = Operand(base: a, ld: lda, transposed: transA == .transpose)
    let opB = Operand(base: b, ld: ldb, transposed: transB == .transpose)
    for i in 0..<m {
        for j in 0..<n {
            var sum = 0.0
            for p in 0..<k { sum += Double(opA[i, p]) * Double(opB[p, j]) }
            let old = beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j])
            c[i * ldc + j] = Float(Double(alpha) * sum + old)
        }
    }
}
