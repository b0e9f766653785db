import Foundation
import Testing
import TestSupport
@testable import Training

@Suite struct AdamWTests {
    /// The update written out in Double, straight from the formula in torch.optim.AdamW's
    /// documentation, over several steps.
    func reference(_ p0: [Double], _ grads: [[Double]], lr: Double, decayed: Set<Int>) -> [Double] {
        var p = p0, m = [Double](repeating: 0, count: p0.count), v = m
        for (t, g) in grads.enumerated() {
            for i in p.indices {
                if decayed.contains(i) { p[i] -= lr * 0.01 * p[i] }
                m[i] = 0.9 * m[i] + 0.1 * g[i]
                v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i]
                let mh = m[i] / (1 - pow(0.9, Double(t + 1))), vh = v[i] / (1 - pow(0.999, Double(t + 1)))
                p[i] -= lr * mh / (vh.squareRoot() + 1e-8)
            }
        }
        return p
    }

    @Test func matchesTheFormulaOverSeveralSteps() {
        let n = 37
        var rng = SeededGenerator(seed: 42)
        let p0 = (0..<n).map { _ in Double.random(in: -1...1, using: &rng) }
        let grads = (0..<5).map { _ in (0..<n).map { _ in Double.random(in: -2...2, using: &rng) } }
        let decay = [3..<10, 20..<30]
        let optimizer = AdamW(count: n, decay: decay)
        let p = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
        defer { p.deallocate() }
        for i in 0..<n { p[i] = Float(p0[i]) }
        for g in grads {
            let gf = g.map(Float.init)
            gf.withUnsafeBufferPointer { optimizer.update(p, $0, lr: 0.01) }
        }
        let expected = reference(p0, grads, lr: 0.01, decayed: Set(decay.flatMap { $0 }))
        for i in 0..<n { #expect(abs(Double(p[i]) - expected[i]) < 1e-5, "parameter \(i)") }
        #expect(optimizer.step == 5)
    }
}

@Suite struct ScheduleTests {
    @Test func warmsUpThenFollowsACosineToTheFloor() {
        let s = LearningRateSchedule(peak: 1e-3, floor: 1e-4, warmupSteps: 10, totalSteps: 110)
        #expect(abs(s.rate(at: 0) - 1e-4) < 1e-9)
        #expect(abs(s.rate(at: 9) - 1e-3) < 1e-9)
        #expect(abs(s.rate(at: 10) - 1e-3) < 1e-9)
        #expect(abs(s.rate(at: 60) - 5.5e-4) < 1e-7)  // half way: the mean of peak and floor
        #expect(abs(s.rate(at: 110) - 1e-4) < 1e-9)
        #expect(abs(s.rate(at: 500) - 1e-4) < 1e-9)
        for step in 10..<110 { #expect(s.rate(at: step + 1) <= s.rate(at: step)) }
    }

    @Test func clippingScalesToTheNormAndReportsItsValueBefore() {
        var values: [Float] = [3, 4, 0, 0]
        let norm = values.withUnsafeMutableBufferPointer { clipGradientNorm($0, maxNorm: 1) }
        #expect(abs(norm - 5) < 1e-6)
        #expect(abs(values[0] - 0.6) < 1e-5 && abs(values[1] - 0.8) < 1e-5)
        var small: [Float] = [0.1, 0.1]
        _ = small.withUnsafeMutableBufferPointer { clipGradientNorm($0, maxNorm: 1) }
        #expect(small == [0.1, 0.1])
        var broken: [Float] = [.nan, 1]
        let bad = broken.withUnsafeMutableBufferPointer { clipGradientNorm($0, maxNorm: 1) }
        #expect(bad.isNaN && broken[1] == 1)
    }
}

@Suite struct StreamBatcherTests {
    @Test func streamsContinueAcrossBatches() throws {
        let tokens = (0..<103).map(Int32.init)
        let batcher = try StreamBatcher(tokens: tokens, batch: 4, length: 5)
        #expect(batcher.streamLength == 25 && batcher.batchesPerEpoch == 4)
        var inputs = [Int32](repeating: 0, count: 20), targets = inputs
        var previousEnd = [Int32](repeating: -1, count: 4)
        for k in 0..<batcher.batchesPerEpoch {
            inputs.withUnsafeMutableBufferPointer { i in
                targets.withUnsafeMutableBufferPointer { t in batcher.fill(batch: k, inputs: i.baseAddress!, targets: t.baseAddress!) }
            }
            for b in 0..<4 {
                let row = Array(inputs[(b * 5)..<(b * 5 + 5)]), next = Array(targets[(b * 5)..<(b * 5 + 5)])
                #expect(next == row.map { $0 + 1 })
                if k > 0 { #expect(row[0] == previousEnd[b] + 1) }  // the stream goes on where it stopped
                previousEnd[b] = row[4]
            }
        }
        #expect(throws: TrainingError.self) { try StreamBatcher(tokens: tokens, batch: 50, length: 5) }
    }
}
