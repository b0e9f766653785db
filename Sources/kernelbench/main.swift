// Benchmark driver for the Kernels library, run by scripts/bench-kernels.
//
//   kernelbench gemm THREADS M N K [NN|NT|TN|TT]
//                                    verify against a Double reference, then time
//                                    C = op(A) * op(B) (default NN: no transposes)
//   kernelbench peak THREADS         time a register-only FMA loop (the machine's ceiling)
//   kernelbench lstmstep THREADS B H verify, then time one LSTM forward time step (recurrent
//                                    product + cell on a prepacked W_hh; the product's FLOPs)
//   kernelbench activations 1        time applyExp / applyTanh / applySigmoid on 4096 floats
//                                    (reported as G elements/s in the GFLOP/s columns)
//   kernelbench lstmseq THREADS B H T time the forward and backward recurrence over T steps,
//                                    split by batch rows (lstmForwardSequence,
//                                    lstmBackwardSequence) and step by step split by hidden
//                                    units (lstmForwardStep, lstmBackwardStep); the products' FLOPs
//   kernelbench cell 1 B H           time lstmCellForward and lstmCellBackward on (B, H)
//                                    (G hidden units/s in the GFLOP/s columns)
//
// Prints one tab-separated line: name, threads, best GFLOP/s, median GFLOP/s, repetitions.
// Exits non-zero if verification fails.

import Dispatch
import Kernels

#if canImport(Glibc)
import Glibc
#endif

func seconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }

/// Runs `body` until about `budget` seconds have passed (at least 3, at most 50 times) after
/// one warm-up call; returns every duration.
func timeRepeatedly(budget: Double, _ body: () -> Void) -> [Double] {
    body()
    var times: [Double] = []
    let start = seconds()
    while times.count < 2000 && (times.count < 3 || seconds() - start < budget) {
        let t0 = seconds()
        body()
        times.append(seconds() - t0)
    }
    return times
}

func report(_ name: String, threads: Int, flops: Double, times: [Double]) {
    let sorted = times.sorted()
    let best = flops / sorted[0] * 1e-9
    let median = flops / sorted[sorted.count / 2] * 1e-9
    print("\(name)\t\(threads)\t\(best)\t\(median)\t\(times.count)")
}

func benchGemm(threads: Int, m: Int, n: Int, k: Int, transA: Bool, transB: Bool) -> Bool {
    let ta: Transpose = transA ? .transpose : .none, tb: Transpose = transB ? .transpose : .none
    let lda = transA ? m : k, ldb = transB ? k : n
    // Element (i, p) of op(A) and (p, j) of op(B) in the stored arrays.
    func ai(_ i: Int, _ p: Int) -> Int { transA ? p * m + i : i * k + p }
    func bi(_ p: Int, _ j: Int) -> Int { transB ? j * k + p : p * n + j }
    var rng = SplitMix64(seed: 42)
    let a = (0..<(m * k)).map { _ in rng.nextUnitFloat() * 2 - 1 }
    let b = (0..<(k * n)).map { _ in rng.nextUnitFloat() * 2 - 1 }
    var c = [Float](repeating: 0, count: m * n)
    let workspace = GemmWorkspace(threads: threads)
    gemm(&c, ldc: n, a, lda: lda, transA: ta, b, ldb: ldb, transB: tb,
         m: m, n: n, k: k, workspace: workspace)
    // Verify 256 random entries against Double dot products (the full reference would take
    // longer than the timing for the larger shapes).
    for _ in 0..<256 {
        let i = Int(rng.next() % UInt64(m)), j = Int(rng.next() % UInt64(n))
        var sum = 0.0
        for p in 0..<k { sum += Double(a[ai(i, p)]) * Double(b[bi(p, j)]) }
        let err = abs(Double(c[i * n + j]) - sum) / (1 + abs(sum))
        if !(err <= 1e-4 * max(1, Double(k) / 1024)) {
            print("verification failed at (\(i), \(j)): got \(c[i * n + j]), want \(sum)")
            return false
        }
    }
    let flops = 2.0 * Double(m) * Double(n) * Double(k)
    let times = a.withUnsafeBufferPointer { ap in
        b.withUnsafeBufferPointer { bp in
            c.withUnsafeMutableBufferPointer { cp in
                timeRepeatedly(budget: 0.6) {
                    gemm(cp.baseAddress!, ldc: n, ap.baseAddress!, lda: lda, transA: ta,
                         bp.baseAddress!, ldb: ldb, transB: tb, m: m, n: n, k: k,
                         workspace: workspace)
                }
            }
        }
    }
    let name = transA || transB ? " \(transA ? "T" : "N")\(transB ? "T" : "N")" : ""
    report("gemm \(m)x\(k)x\(n)\(name)", threads: threads, flops: flops, times: times)
    return true
}

func benchLSTMStep(threads: Int, batch: Int, hidden: Int) -> Bool {
    let g = 4 * hidden, bh = batch * hidden
    var rng = SplitMix64(seed: 42)
    func random(_ count: Int, _ scale: Float) -> [Float] { (0..<count).map { _ in (rng.nextUnitFloat() * 2 - 1) * scale } }
    let whh = random(g * hidden, 0.1), gatesIn = random(batch * g, 1)
    let hPrev = random(bh, 1), cPrev = random(bh, 1)
    let workspace = GemmWorkspace(threads: threads)
    var packed = [Float](repeating: 0, count: lstmPackedWeightsCount(hidden: hidden))
    packLSTMWeights(&packed, whh, hidden: hidden, for: .forward, workspace: workspace)
    var h = [Float](repeating: 0, count: bh), c = h, gates = gatesIn
    var hRef = h, cRef = c, actsRef = gates
    lstmForwardStep(&h, &c, &gates, hPrev, cPrev, packedWeights: packed, batch: batch, hidden: hidden,
                    workspace: workspace)
    lstmForwardStepReference(&hRef, &cRef, &actsRef, gatesIn, hPrev, cPrev, whh, batch: batch, hidden: hidden)
    for i in 0..<bh where !(abs(h[i] - hRef[i]) <= 1e-5 * (1 + abs(hRef[i]))) {
        print("verification failed at \(i): got \(h[i]), want \(hRef[i])")
        return false
    }
    // The step overwrites its gates with activations in [0, 1]; reused as input they stay finite.
    let times = timeRepeatedly(budget: 0.6) {
        for _ in 0..<10 {
            lstmForwardStep(&h, &c, &gates, hPrev, cPrev, packedWeights: packed, batch: batch,
                            hidden: hidden, workspace: workspace)
        }
    }
    report("lstm step \(batch)x\(hidden)x\(g)", threads: threads,
           flops: 10 * 2.0 * Double(batch) * Double(g) * Double(hidden), times: times)
    return true
}

func benchLSTMSequence(threads: Int, batch: Int, hidden: Int, steps: Int) {
    let g = 4 * hidden, bh = batch * hidden
    var rng = SplitMix64(seed: 43)
    func random(_ count: Int, _ scale: Float) -> [Float] { (0..<count).map { _ in (rng.nextUnitFloat() * 2 - 1) * scale } }
    let whh = random(g * hidden, 0.1), gatesIn = random(steps * batch * g, 1), dout = random(steps * bh, 1)
    let workspace = GemmWorkspace(threads: threads)
    var forwardWeights = [Float](repeating: 0, count: lstmPackedWeightsCount(hidden: hidden))
    var backwardWeights = forwardWeights
    packLSTMWeights(&forwardWeights, whh, hidden: hidden, for: .forward, workspace: workspace)
    packLSTMWeights(&backwardWeights, whh, hidden: hidden, for: .backward, workspace: workspace)
    var h = random((steps + 1) * bh, 1), c = random((steps + 1) * bh, 1), gates = gatesIn
    var dgates = [Float](repeating: 0, count: steps * batch * g)
    var dc = [Float](repeating: 0, count: bh), dh = dc
    let forwardFlops = 2.0 * Double(batch * g * hidden * steps)
    let backwardFlops = 2.0 * Double(batch * g * hidden * (steps - 1))
    // Activations in [0, 1] overwrite the gates; reused as inputs they stay finite.
    let rows = timeRepeatedly(budget: 0.6) {
        lstmForwardSequence(&h, &c, cStride: bh, &gates, packedWeights: forwardWeights, batch: batch,
                            hidden: hidden, steps: steps, workspace: workspace)
    }
    report("lstm forward sequence \(batch)x\(hidden)x\(g) T=\(steps), rows", threads: threads,
           flops: forwardFlops, times: rows)
    let units = timeRepeatedly(budget: 0.6) {
        h.withUnsafeMutableBufferPointer { hp in
            c.withUnsafeMutableBufferPointer { cp in
                gates.withUnsafeMutableBufferPointer { gp in
                    for s in 0..<steps {
                        lstmForwardStep(hp.baseAddress! + (s + 1) * bh, cp.baseAddress! + (s + 1) * bh,
                                        gp.baseAddress! + s * batch * g, hp.baseAddress! + s * bh,
                                        cp.baseAddress! + s * bh, packedWeights: forwardWeights,
                                        batch: batch, hidden: hidden, workspace: workspace)
                    }
                }
            }
        }
    }
    report("lstm forward steps \(batch)x\(hidden)x\(g) T=\(steps), units", threads: threads,
           flops: forwardFlops, times: units)
    let backRows = timeRepeatedly(budget: 0.6) {
        lstmBackwardSequence(&dgates, &dc, &dh, dout, gates, c, packedWeights: backwardWeights,
                             batch: batch, hidden: hidden, steps: steps, workspace: workspace)
    }
    report("lstm backward sequence \(batch)x\(hidden)x\(g) T=\(steps), rows", threads: threads,
           flops: backwardFlops, times: backRows)
    let backUnits = timeRepeatedly(budget: 0.6) {
        dgates.withUnsafeMutableBufferPointer { dg in
            dout.withUnsafeBufferPointer { d in
                gates.withUnsafeBufferPointer { a in
                    c.withUnsafeBufferPointer { cp in
                        for s in stride(from: steps - 1, through: 0, by: -1) {
                            let next = s == steps - 1 ? nil : UnsafePointer(dg.baseAddress! + (s + 1) * batch * g)
                            lstmBackwardStep(dg.baseAddress! + s * batch * g, &dc, &dh, d.baseAddress! + s * bh, next,
                                             a.baseAddress! + s * batch * g, cp.baseAddress! + s * bh,
                                             cp.baseAddress! + (s + 1) * bh, packedWeights: backwardWeights,
                                             batch: batch, hidden: hidden, workspace: workspace)
                        }
                    }
                }
            }
        }
    }
    report("lstm backward steps \(batch)x\(hidden)x\(g) T=\(steps), units", threads: threads,
           flops: backwardFlops, times: backUnits)
}

/// FMA throughput with no memory traffic: 10 independent accumulators (enough to cover a
/// 5-cycle FMA latency at 2 FMAs per cycle), each lane one fused multiply-add per step, on
/// the widest registers the build uses (zmm in an AVX-512 build, whose micro-kernel runs on them).
#if AVX512_BUILD
typealias PeakVector = SIMD16<Float>
#else
typealias PeakVector = SIMD8<Float>
#endif

@inline(never)
func fmaLoop(_ steps: Int, _ seed: Float) -> Float {
    let a = PeakVector(repeating: 1e-7 * seed), b = PeakVector(repeating: 0.5)
    var c0 = PeakVector(repeating: 0), c1 = c0 + 1, c2 = c0 + 2, c3 = c0 + 3, c4 = c0 + 4
    var c5 = c0 + 5, c6 = c0 + 6, c7 = c0 + 7, c8 = c0 + 8, c9 = c0 + 9
    for _ in 0..<steps {
        c0.addProduct(a, b); c1.addProduct(a, b); c2.addProduct(a, b); c3.addProduct(a, b)
        c4.addProduct(a, b); c5.addProduct(a, b); c6.addProduct(a, b); c7.addProduct(a, b)
        c8.addProduct(a, b); c9.addProduct(a, b)
    }
    return (c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9).sum()
}

struct Sink: @unchecked Sendable { let values: UnsafeMutablePointer<Float> }

func benchPeak(threads: Int) {
    let steps = 20_000_000
    let sink = Sink(values: .allocate(capacity: threads))
    let times = timeRepeatedly(budget: 1.0) {
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            sink.values[t] = fmaLoop(steps, Float(t + 1))
        }
    }
    report("fma peak", threads: threads, flops: Double(threads * steps * 10 * 2 * PeakVector.scalarCount), times: times)
}

func benchActivations() {
    var rng = SplitMix64(seed: 7)
    let x = (0..<4096).map { _ in rng.nextUnitFloat() * 20 - 10 }
    var y = [Float](repeating: 0, count: x.count)
    let functions: [(String, (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Int) -> Void)] = [
        ("applyExp", { applyExp($0, $1, count: $2) }),
        ("applyTanh", { applyTanh($0, $1, count: $2) }),
        ("applySigmoid", { applySigmoid($0, $1, count: $2) }),
    ]
    for (name, f) in functions {
        let times = timeRepeatedly(budget: 0.2) {
            for _ in 0..<100 { f(&y, x, x.count) }
        }
        report(name, threads: 1, flops: Double(100 * x.count), times: times)
    }
}

func benchCell(batch: Int, hidden: Int) {
    var rng = SplitMix64(seed: 11)
    func random(_ count: Int, _ scale: Float) -> [Float] { (0..<count).map { _ in (rng.nextUnitFloat() * 2 - 1) * scale } }
    let bh = batch * hidden
    let gates = random(4 * bh, 4), cPrev = random(bh, 1), dh = random(bh, 1), dc = random(bh, 1)
    var acts = [Float](repeating: 0, count: 4 * bh), h = [Float](repeating: 0, count: bh), c = h
    var dgates = acts, dcPrev = h
    let forward = timeRepeatedly(budget: 0.3) {
        for _ in 0..<100 { lstmCellForward(&h, &c, &acts, gates, cPrev, batch: batch, hidden: hidden) }
    }
    report("lstmCellForward \(batch)x\(hidden)", threads: 1, flops: Double(100 * bh), times: forward)
    let backward = timeRepeatedly(budget: 0.3) {
        for _ in 0..<100 {
            lstmCellBackward(&dgates, &dcPrev, dh, dc, acts, cPrev, c, batch: batch, hidden: hidden)
        }
    }
    report("lstmCellBackward \(batch)x\(hidden)", threads: 1, flops: Double(100 * bh), times: backward)
}

let args = CommandLine.arguments
func usage() -> Never {
    print("usage: kernelbench gemm THREADS M N K [NN|NT|TN|TT] | kernelbench lstmstep THREADS B H | kernelbench peak THREADS | kernelbench activations 1 | kernelbench lstmseq THREADS B H T | kernelbench cell 1 B H")
    exit(2)
}
guard args.count >= 3, let threads = Int(args[2]), threads >= 1 else { usage() }
switch args[1] {
case "gemm":
    guard args.count == 6 || args.count == 7, let m = Int(args[3]), let n = Int(args[4]),
          let k = Int(args[5]), m > 0, n > 0, k > 0 else { usage() }
    let mode = args.count == 7 ? args[6] : "NN"
    guard ["NN", "NT", "TN", "TT"].contains(mode) else { usage() }
    if !benchGemm(threads: threads, m: m, n: n, k: k,
                  transA: mode.hasPrefix("T"), transB: mode.hasSuffix("T")) { exit(1) }
case "lstmstep":
    guard args.count == 5, let b = Int(args[3]), let h = Int(args[4]), b > 0, h > 0 else { usage() }
    if !benchLSTMStep(threads: threads, batch: b, hidden: h) { exit(1) }
case "lstmseq":
    guard args.count == 6, let b = Int(args[3]), let h = Int(args[4]), let t = Int(args[5]),
          b > 0, h > 0, t > 1 else { usage() }
    benchLSTMSequence(threads: threads, batch: b, hidden: h, steps: t)
case "peak":
    benchPeak(threads: threads)
case "activations":
    benchActivations()
case "cell":
    guard args.count == 5, let b = Int(args[3]), let h = Int(args[4]), b > 0, h > 0 else { usage() }
    benchCell(batch: b, hidden: h)
default:
    usage()
}
