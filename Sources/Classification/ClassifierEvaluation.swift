import Dispatch

/// Scores a classifier on labelled examples.
public enum ClassifierEvaluation {
    public struct Result: Sendable {
        public var report: ClassificationReport
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
        let probabilities = try classifier.probabilities(examples.map { try classifier.tokens($0.text) })
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let predicted = probabilities.map { p in p.indices.max { p[$0] < p[$1] }! }
        return Result(report: ClassificationReport(labels: classifier.labels, gold: gold, predicted: predicted),
                      textsPerSecond: Double(examples.count) / max(seconds, 1e-9))
    }
}
