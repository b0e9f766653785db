import Foundation

/// Accuracy, per-class and macro precision, recall and F1, and the confusion matrix of
/// predictions against gold labels (class indices 0..<K).
public struct ClassificationReport: Codable, Equatable, Sendable {
    public struct ClassScores: Codable, Equatable, Sendable {
        public var label: String
        public var precision: Double
        public var recall: Double
        public var f1: Double
        /// Gold examples of this class.
        public var support: Int
    }

    public var labels: [String]
    public var count: Int
    public var accuracy: Double
    public var classes: [ClassScores]
    public var macroPrecision: Double
    public var macroRecall: Double
    public var macroF1: Double
    /// confusion[gold][predicted]
    public var confusion: [[Int]]

    enum CodingKeys: String, CodingKey {
        case labels, count, accuracy, classes, confusion
        case macroPrecision = "macro_precision", macroRecall = "macro_recall", macroF1 = "macro_f1"
    }

    /// Precision of a class never predicted, and recall of a class never seen, count as 0
    /// (scikit-learn's `zero_division=0`).
    public init(labels: [String], gold: [Int], predicted: [Int]) {
        precondition(gold.count == predicted.count, "ClassificationReport: \(gold.count) gold, \(predicted.count) predicted")
        let k = labels.count
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
        for (g, p) in zip(gold, predicted) { confusion[g][p] += 1 }
        self.labels = labels
        self.count = gold.count
        self.confusion = confusion
        let correct = (0..<k).reduce(0) { $0 + confusion[$1][$1] }
        accuracy = gold.isEmpty ? 0 : Double(correct) / Double(gold.count)
        classes = (0..<k).map { c in
            let truePositives = Double(confusion[c][c])
            let predictedAs = Double((0..<k).reduce(0) { $0 + confusion[$1][c] })
            let support = confusion[c].reduce(0, +)
            let precision = predictedAs > 0 ? truePositives / predictedAs : 0
            let recall = support > 0 ? truePositives / Double(support) : 0
            let f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
            return ClassScores(label: labels[c], precision: precision, recall: recall, f1: f1, support: support)
        }
        macroPrecision = classes.map(\.precision).reduce(0, +) / Double(max(1, k))
        macroRecall = classes.map(\.recall).reduce(0, +) / Double(max(1, k))
        macroF1 = classes.map(\.f1).reduce(0, +) / Double(max(1, k))
    }

    /// The scores of the class called `label`.
    public func scores(of label: String) -> ClassScores? { classes.first { $0.label == label } }

    /// A plain-text table: per-class and macro scores, then the confusion matrix.
    public var table: String {
        let width = max(9, labels.map(\.count).max() ?? 0)
        func pad(_ s: String) -> String { s + String(repeating: " ", count: max(0, width - s.count)) }
        func cell(_ x: Double) -> String { String(format: "%9.4f", x) }
        var lines = [pad("") + "  precision    recall        f1   support"]
        for c in classes {
            lines.append(pad(c.label) + " " + cell(c.precision) + " " + cell(c.recall) + " " + cell(c.f1)
                         + String(format: " %9d", c.support))
        }
        lines.append(pad("macro") + " " + cell(macroPrecision) + " " + cell(macroRecall) + " " + cell(macroF1)
                     + String(format: " %9d", count))
        lines.append(String(format: "accuracy %.4f (%d of %d)", accuracy,
                            (0..<labels.count).reduce(0) { $0 + confusion[$1][$1] }, count))
        lines.append("")
        lines.append("confusion (rows: gold, columns: predicted)")
        lines.append(pad("") + labels.map { " " + String(repeating: " ", count: max(0, 9 - $0.count)) + $0 }.joined())
        for (g, row) in confusion.enumerated() {
            lines.append(pad(labels[g]) + row.map { String(format: " %9d", $0) }.joined())
        }
        return lines.joined(separator: "\n")
    }
}
