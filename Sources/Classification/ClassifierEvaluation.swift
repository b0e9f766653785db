import Dispatch
import Foundation

/// Scores a classifier on labelled examples.
public enum ClassifierEvaluation {
    public struct Result: Sendable {
        public var report: ClassificationReport
        /// Mean cross-entropy of the gold labels, nats.
        public var loss: Double
        /// Texts per second, from raw text (tokenization included) to probabilities.
        public var textsPerSecond: Double
    }

    /// The report of `classifier`'s predictions (the most probable label) on `examples`.
    /// Throws `ClassificationError.data` for a label the classifier does not know.
    public static func evaluate(_ classifier: Classifier, on examples: [LabelledExample]) throws -> Result {
        let index = Dictionary(uniqueKeysWithValues: classifier.labels.enumerated().map { ($1, $0) })
        let gold = try examples.map { example in
            guard let label = index[example.label] else {
                throw ClassificationError.data("the label '\(example.label)' is not one the classifier was trained on (\(classifier.labels.joined(separator: ", ")))")
            }
            return label
        }
        let start = DispatchTime.now().uptimeNanoseconds
        let sequences = try classifier.tokens(examples.map(\.text))
        var result = try evaluate(classifier, sequences: sequences, gold: gold)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        result.textsPerSecond = Double(examples.count) / max(seconds, 1e-9)
        return result
    }

    /// The report and mean cross-entropy on token sequences (`Classifier.tokens`) with gold
    /// class indices; `textsPerSecond` is left 0.
    public static func evaluate(_ classifier: Classifier, sequences: [[Int32]], gold: [Int]) throws -> Result {
        let probabilities = try classifier.probabilities(sequences)
        let predicted = probabilities.map { p in p.indices.max { p[$0] < p[$1] }! }
        var loss = 0.0
        for (p, y) in zip(probabilities, gold) { loss -= log(max(Double(p[y]), 1e-12)) }
        return Result(report: ClassificationReport(labels: classifier.labels, gold: gold, predicted: predicted),
                      loss: loss / Double(max(1, gold.count)), textsPerSecond: 0)
    }
}
