import Dispatch
import Foundation

/// The loss of multinomial logistic regression over sparse features, and its gradient, for
/// `TfidfModel.fit`: parameters are the weights of the rows that occur (compacted, K each),
/// then the K biases;
///   f = sum_i s_i CE_i + lambda / 2 ||W||^2,  s_i = w_{y_i} / sum_j w_{y_j}.
// Unchecked: the two halves of `evaluate` read the immutable texts and write disjoint buffers.
final class LogisticProblem: @unchecked Sendable {
    let classes: Int
    let lambda: Double
    /// The rows that occur in the texts, ascending; a parameter's row is its index here.
    let active: [Int]
    /// The texts' compacted rows and values back to back, text i at starts[i]..<starts[i + 1];
    /// each text's label and share of the loss.
    private let rows: [Int32]
    private let values: [Double]
    private let starts: [Int]
    private let labels: [Int]
    private let shares: [Double]
    /// The second half's gradient, allocated once: a fresh zeroed buffer of every parameter
    /// per evaluation cost page faults on each of a fit's hundred or more evaluations.
    private let scratch: UnsafeMutableBufferPointer<Double>

    var count: Int { (active.count + 1) * classes }

    init(texts: [TfidfModel.Features], labels: [Int], classWeights: [Double], classes: Int, buckets: Int,
         lambda: Double) {
        var compact = [Int32](repeating: -1, count: buckets)
        for t in texts { for g in t.rows { compact[Int(g)] = 0 } }
        var active: [Int] = []
        for g in 0..<buckets where compact[g] == 0 {
            compact[g] = Int32(active.count)
            active.append(g)
        }
        self.active = active
        var rows: [Int32] = [], values: [Double] = [], starts = [0]
        for t in texts {
            rows += t.rows.map { compact[Int($0)] }
            values += t.values.map(Double.init)
            starts.append(rows.count)
        }
        (self.rows, self.values, self.starts) = (rows, values, starts)
        self.labels = labels
        let total = labels.reduce(0.0) { $0 + classWeights[$1] }
        shares = labels.map { classWeights[$0] / total }
        self.classes = classes
        self.lambda = lambda
        scratch = .allocate(capacity: (active.count + 1) * classes)
    }

    deinit { scratch.deallocate() }

    /// The loss at `theta`, with its gradient written to `gradient`. The texts are summed in
    /// two halves on two threads, the first into `gradient`, the second into `scratch`, added
    /// in a fixed order.
    func evaluate(_ theta: UnsafeBufferPointer<Double>, gradient: UnsafeMutableBufferPointer<Double>) -> Double {
        let k = classes, n = labels.count, weights = active.count * k
        let halves = n >= 2 ? 2 : 1
        gradient.update(repeating: 0)
        scratch.update(repeating: 0)
        var losses = [Double](repeating: 0, count: halves)
        losses.withUnsafeMutableBufferPointer { losses in
            rows.withUnsafeBufferPointer { rows in
                values.withUnsafeBufferPointer { values in
                    let shared = UncheckedSendable(value: (theta: theta, losses: losses, sums: [gradient, scratch],
                                                           rows: rows, values: values))
                    DispatchQueue.concurrentPerform(iterations: halves) { h in
                        let v = shared.value
                        v.losses[h] = sumHalf(h, of: halves, theta: v.theta, gradient: v.sums[h].baseAddress!,
                                              rows: v.rows, values: v.values, k: k, n: n, weights: weights)
                    }
                }
            }
        }
        var loss = losses.reduce(0, +)
        if halves == 2 {
            for p in 0..<count { gradient[p] += scratch[p] }
        }
        for p in 0..<weights {
            gradient[p] += lambda * theta[p]
            loss += 0.5 * lambda * theta[p] * theta[p]
        }
        return loss
    }
}

extension LogisticProblem {
    /// The loss of texts h * n / halves ..< (h + 1) * n / halves, their gradient added to `g`.
    fileprivate func sumHalf(_ h: Int, of halves: Int, theta: UnsafeBufferPointer<Double>, gradient g: UnsafeMutablePointer<Double>,
                             rows: UnsafeBufferPointer<Int32>, values: UnsafeBufferPointer<Double>,
                             k: Int, n: Int, weights: Int) -> Double {
        let z = UnsafeMutablePointer<Double>.allocate(capacity: k)
        defer { z.deallocate() }
        var loss = 0.0
        for i in (n * h / halves)..<(n * (h + 1) / halves) {
            let y = labels[i], share = shares[i], range = starts[i]..<starts[i + 1]
            for j in 0..<k { z[j] = theta[weights + j] }
            for e in range {
                let base = Int(rows[e]) * k, value = values[e]
                for j in 0..<k { z[j] += value * theta[base + j] }
            }
            var top = z[0]
            for j in 1..<k { top = max(top, z[j]) }
            var sum = 0.0
            for j in 0..<k { sum += exp(z[j] - top) }
            let logSum = top + log(sum)
            loss += share * (logSum - z[y])
            for j in 0..<k { z[j] = share * (exp(z[j] - logSum) - (j == y ? 1 : 0)) }
            for e in range {
                let base = Int(rows[e]) * k, value = values[e]
                for j in 0..<k { g[base + j] += value * z[j] }
            }
            for j in 0..<k { g[weights + j] += z[j] }
        }
        return loss
    }
}

/// Limited-memory BFGS (Nocedal and Wright, algorithm 7.4) with a backtracking line search
/// (Armijo's condition) from `start`. Vectors live in raw buffers: bounds-checked loops over
/// arrays of two million parameters cost as much as the loss itself.
enum LBFGS {
    static func minimize(from start: [Double], iterations: Int, memory: Int = 10, tolerance: Double = 1e-6,
                         _ f: (UnsafeBufferPointer<Double>, UnsafeMutableBufferPointer<Double>) -> Double) -> [Double] {
        let n = start.count
        let buffer = UnsafeMutableBufferPointer<Double>.allocate(capacity: n * (5 + 2 * memory))
        defer { buffer.deallocate() }
        buffer.initialize(repeating: 0)
        func vector(_ i: Int) -> UnsafeMutablePointer<Double> { buffer.baseAddress! + i * n }
        var x = vector(0), g = vector(1), xNext = vector(2), gNext = vector(3)
        let direction = vector(4)
        // Pair m of the history (oldest first) is s at slot[m], y at slot[m] + memory.
        var slots: [Int] = [], free = Array(0..<memory), rho: [Double] = []
        func s(_ m: Int) -> UnsafeMutablePointer<Double> { vector(5 + slots[m]) }
        func y(_ m: Int) -> UnsafeMutablePointer<Double> { vector(5 + memory + slots[m]) }
        func dot(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>) -> Double {
            var sum = 0.0
            for i in 0..<n { sum += a[i] * b[i] }
            return sum
        }
        func value(_ at: UnsafeMutablePointer<Double>, _ grad: UnsafeMutablePointer<Double>) -> Double {
            f(UnsafeBufferPointer(start: at, count: n), UnsafeMutableBufferPointer(start: grad, count: n))
        }
        for i in 0..<n { x[i] = start[i] }
        var fx = value(x, g)
        for iteration in 0..<iterations {
            // Two-loop recursion: direction = -H g.
            for i in 0..<n { direction[i] = -g[i] }
            var alphas = [Double](repeating: 0, count: slots.count)
            for m in stride(from: slots.count - 1, through: 0, by: -1) {
                alphas[m] = rho[m] * dot(s(m), direction)
                let ym = y(m)
                for i in 0..<n { direction[i] -= alphas[m] * ym[i] }
            }
            if let last = slots.indices.last {
                let gamma = dot(s(last), y(last)) / dot(y(last), y(last))
                for i in 0..<n { direction[i] *= gamma }
            } else {
                let norm = dot(g, g).squareRoot()
                guard norm > 0 else { break }
                for i in 0..<n { direction[i] /= norm }
            }
            for m in 0..<slots.count {
                let beta = rho[m] * dot(y(m), direction), sm = s(m)
                for i in 0..<n { direction[i] += sm[i] * (alphas[m] - beta) }
            }
            var slope = dot(g, direction)
            if slope >= 0 {  // not a descent direction: start over from steepest descent
                free += slots
                slots.removeAll()
                rho.removeAll()
                for i in 0..<n { direction[i] = -g[i] }
                slope = -dot(g, g)
                if slope == 0 { break }
            }
            var step = 1.0, fNext = fx
            for _ in 0..<30 {
                for i in 0..<n { xNext[i] = x[i] + step * direction[i] }
                fNext = value(xNext, gNext)
                if fNext <= fx + 1e-4 * step * slope { break }
                step /= 2
            }
            guard fNext < fx else { break }
            if free.isEmpty {
                free.append(slots.removeFirst())
                rho.removeFirst()
            }
            slots.append(free.removeLast())
            let sNew = s(slots.count - 1), yNew = y(slots.count - 1)
            for i in 0..<n { sNew[i] = xNext[i] - x[i]; yNew[i] = gNext[i] - g[i] }
            let sy = dot(sNew, yNew)
            if sy > 1e-12 {
                rho.append(1 / sy)
            } else {
                free.append(slots.removeLast())
            }
            let change = (fx - fNext) / max(abs(fx), 1e-12)
            swap(&x, &xNext)
            swap(&g, &gNext)
            fx = fNext
            if change < tolerance && iteration > 0 { break }
        }
        return Array(UnsafeBufferPointer(start: x, count: n))
    }
}
