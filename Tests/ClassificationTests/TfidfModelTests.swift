import Foundation
import Testing
import TestSupport
@testable import Classification

/// `TfidfModel`: scikit-learn's TF-IDF weighting (smoothed idf, sublinear tf, L2 norm) over
/// hashed n-gram rows, and logistic regression fitted to the optimum of its L2-regularized
/// loss by L-BFGS.
@Suite struct TfidfModelTests {
    @Test func featuresAreSublinearTfTimesSmoothedIdfWithUnitNorm() {
        // Three texts over 4 rows: row 0 in all, row 1 in one, rows 2 and 3 in none.
        let idf = TfidfModel.inverseDocumentFrequency([[0, 1, 1], [0], [0, 0]], buckets: 4)
        #expect(abs(Double(idf[0]) - (log(4.0 / 4.0) + 1)) < 1e-6)
        #expect(abs(Double(idf[1]) - (log(4.0 / 2.0) + 1)) < 1e-6)
        #expect(abs(Double(idf[2]) - (log(4.0 / 1.0) + 1)) < 1e-6)
        let model = TfidfModel(buckets: 4, classes: 2, idf: idf)
        let f = model.features([1, 0, 1, 1])  // tf 1 for row 0, 3 for row 1
        #expect(f.rows == [0, 1])
        let raw = [Double(idf[0]), (1 + log(3.0)) * Double(idf[1])]
        let norm = (raw[0] * raw[0] + raw[1] * raw[1]).squareRoot()
        for (value, expected) in zip(f.values, raw) { #expect(abs(Double(value) - expected / norm) < 1e-6) }
        #expect(model.features([]).rows.isEmpty)
    }

    /// The loss' gradient against central differences, in Double, at a random point.
    @Test func lossGradientMatchesFiniteDifferences() {
        var rng = SeededGenerator(seed: 9)
        let classes = 3, buckets = 11
        let model = TfidfModel(buckets: buckets, classes: classes, idf: [Float](repeating: 1, count: buckets))
        let texts = (0..<20).map { _ in model.features((0..<(1 + rng.next(upTo: 6))).map { _ in Int32(rng.next(upTo: buckets)) }) }
        let labels = (0..<20).map { _ in rng.next(upTo: classes) }
        let problem = LogisticProblem(texts: texts, labels: labels, classWeights: [1, 2, 0.5], classes: classes,
                                      buckets: buckets, lambda: 0.03)
        var theta = (0..<problem.count).map { _ in Double(rng.next(upTo: 2001)) / 1000 - 1 }
        var gradient = [Double](repeating: 0, count: problem.count)
        func loss(_ t: [Double]) -> Double {
            var g = [Double](repeating: 0, count: t.count)
            return t.withUnsafeBufferPointer { p in g.withUnsafeMutableBufferPointer { problem.evaluate(p, gradient: $0) } }
        }
        _ = theta.withUnsafeBufferPointer { p in gradient.withUnsafeMutableBufferPointer { problem.evaluate(p, gradient: $0) } }
        let h = 1e-6
        for i in 0..<problem.count {
            let saved = theta[i]
            theta[i] = saved + h
            let up = loss(theta)
            theta[i] = saved - h
            let down = loss(theta)
            theta[i] = saved
            #expect(abs((up - down) / (2 * h) - gradient[i]) < 1e-6, "parameter \(i)")
        }
    }

    @Test func lbfgsFindsTheMinimumOfAnIllConditionedQuadratic() {
        // f = sum_i c_i (x_i - i)^2 / 2 with curvatures from 1e-3 to 1.
        let n = 50
        let curvature = (0..<n).map { pow(10, -3 * Double($0) / Double(n - 1)) }
        let x = LBFGS.minimize(from: [Double](repeating: 0, count: n), iterations: 500, tolerance: 1e-14) { x, g in
            var f = 0.0
            for i in 0..<n {
                g[i] = curvature[i] * (x[i] - Double(i))
                f += 0.5 * curvature[i] * (x[i] - Double(i)) * (x[i] - Double(i))
            }
            return f
        }
        for i in 0..<n { #expect(abs(x[i] - Double(i)) < 1e-3, "x[\(i)] = \(x[i])") }
    }

    /// Separable texts are all classified right; a weaker penalty (larger C) gives larger
    /// weights; fitting twice gives the same weights bit for bit.
    @Test func fitsSeparableTextsAndRepeats() {
        let positive: [[Int32]] = [[0, 1], [0, 2], [1, 2, 5], [0, 5]], negative: [[Int32]] = [[3, 4], [3, 6], [4, 6, 5], [3, 5]]
        let texts = positive + negative, labels = positive.map { _ in 1 } + negative.map { _ in 0 }
        let base = TfidfModel(buckets: 8, classes: 2, idf: TfidfModel.inverseDocumentFrequency(texts, buckets: 8))
        let features = texts.map { base.features($0) }
        func fitted(_ c: Double) -> TfidfModel {
            var model = base
            model.fit(features, labels: labels, classWeights: [1, 1], c: c)
            return model
        }
        let weak = fitted(100), strong = fitted(0.1)
        for (f, y) in zip(features, labels) {
            let z = weak.logits(f)
            #expect(z[y] > z[1 - y])
        }
        let norm = { (m: TfidfModel) in m.weight.reduce(0) { $0 + Double($1) * Double($1) } }
        #expect(norm(weak) > norm(strong))
        #expect(fitted(100) == weak)
    }

    @Test func theMixtureGoesFromOneModelToTheOther() {
        let network: [Float] = [2, -1, 0.5], linear: [Float] = [-1, 3, 0]
        let alone = Classifier.softmax(network[...]), other = Classifier.softmax(linear[...])
        for (a, b) in zip(TfidfModel.mixture(network, linear, weight: 0), alone) { #expect(abs(a - b) < 1e-6) }
        for (a, b) in zip(TfidfModel.mixture(network, linear, weight: 1), other) { #expect(abs(a - b) < 1e-6) }
        let half = TfidfModel.mixture(network, linear, weight: 0.5)
        #expect(abs(half.reduce(0, +) - 1) < 1e-6)
        // Halfway in log space: the geometric mean, renormalized.
        let geometric = zip(alone, other).map { ($0 * $1).squareRoot() }
        let sum = geometric.reduce(0, +)
        for (a, b) in zip(half, geometric) { #expect(abs(a - b / sum) < 1e-5) }
    }
}
