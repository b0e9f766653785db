/// Which class prior a classifier's probabilities assume.
///
/// A classifier learns p(label | text) under the label frequencies of its training data: the
/// default English tweets are 70% negative (complaints to airlines), so its English verdicts
/// lean negative whatever the text. That lean is right for more text of the same collection
/// (the test splits) and wrong for text from elsewhere, whose frequencies are unknown.
/// `uniform` divides each probability by its label's training frequency within the text's
/// script group (`ScriptGroup`; add-one smoothed) and renormalizes: Bayes' rule with equal
/// priors. The training data's counts are stored with the classifier
/// (`ClassifierSpec.labelCounts`).
public enum LabelPrior: String, CaseIterable, Sendable {
    /// As trained: for text drawn like the training data.
    case training
    /// Every label equally likely before the text is read: for text from other sources.
    case uniform

    /// `probabilities` (one text's, in label order) under this prior, for a text of a group
    /// whose training texts had `counts` of each label.
    func adjust(_ probabilities: [Float], counts: [Int]?) -> [Float] {
        guard self == .uniform, let counts, counts.count == probabilities.count else { return probabilities }
        let total = Float(counts.reduce(0, +) + counts.count)
        var adjusted = zip(probabilities, counts).map { p, n in p * total / Float(n + 1) }
        let sum = adjusted.reduce(0, +)
        guard sum > 0, sum.isFinite else { return probabilities }
        for k in adjusted.indices { adjusted[k] /= sum }
        return adjusted
    }
}
