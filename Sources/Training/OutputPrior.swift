import Foundation
import Network

/// The log unigram distribution of the training targets, which a new character-level run's
/// `head.bias` starts from, so the model predicts the character frequencies from the first
/// step.
///
/// Character-level only, as measured: the default subword run (`trainlm --epochs 10`, 8,000
/// ids, 110k training tokens) ended at 6.51 nats/token from the prior against 6.40 from a
/// uniform bias. There many ids absent from the small training text do occur in held-out
/// text, and the prior starts them near -14; a character vocabulary's absent ids are mostly
/// bytes that held-out text rarely needs.
///
/// Why it matters. Adam moves each parameter by about the learning rate per step, however
/// small its gradient, so from a uniform start the logits of frequent tokens climb, and those
/// of rare or absent ones sink, at that capped speed, and the rows of the absent ids all move
/// alike (their gradient is their small probability times the hidden state). Character
/// vocabularies have many such ids: every byte has one for byte fallback, and tiny Shakespeare
/// uses 65 of 257. Measured there with PyTorch's `nn.LSTM` recipe (2 layers of 256, Adam 2e-3,
/// batch 32 × 64, 700 steps), training loss: 1.50-1.53 with only the 65 used classes, 1.70-1.74
/// with all 257; with `trainlm` and the same recipe, validation loss 1.93 from a uniform bias,
/// 1.62 from the log prior. Absent ids start near log(0.1 / N) and keep a small probability,
/// so the bytes of a character never seen in training can still be scored.
struct OutputPrior {
    /// log((count + smoothing) / (targets + smoothing × vocabulary)) per id.
    let logPrior: [Float]

    /// Add-`smoothing` estimate: an absent id of a 1M-token text starts near -16.
    static let smoothing = 0.1

    /// From the training tokens: every token after the first is a target.
    init(tokens: [Int32], vocabularySize: Int) {
        let counts = Self.targetCounts(tokens, vocabularySize: vocabularySize)
        let total = Double(max(0, tokens.count - 1)) + Self.smoothing * Double(vocabularySize)
        logPrior = counts.map { Float(log((Double($0) + Self.smoothing) / total)) }
    }

    /// How often each id is a target in `tokens` (every token after the first); ids outside
    /// the vocabulary (never produced by a tokenizer) are not counted.
    static func targetCounts(_ tokens: [Int32], vocabularySize: Int) -> [Int] {
        var counts = [Int](repeating: 0, count: vocabularySize)
        for id in tokens.dropFirst() where id >= 0 && Int(id) < vocabularySize { counts[Int(id)] += 1 }
        return counts
    }

    /// Sets `head.bias` to the log prior; with an adaptive softmax, `adaptive.head.bias` to the
    /// log prior of its shortlisted ids and the log of each cluster's total (the clusters'
    /// own layers have no bias: within a cluster the ids start alike).
    func initializeBias(_ parameters: ParameterStore<Float>, adaptive: AdaptiveSoftmaxConfig? = nil) throws {
        guard let adaptive else {
            let bias = try parameters.tensor("head.bias")
            for (id, value) in logPrior.enumerated() { parameters.values[bias.offset + id] = value }
            return
        }
        let bias = try parameters.tensor("adaptive.head.bias")
        let shortlist = adaptive.cutoffs[0]
        for rank in 0..<shortlist { parameters.values[bias.offset + rank] = logPrior[Int(adaptive.order[rank])] }
        for (i, ranks) in adaptive.clusterRanges(vocabularySize: logPrior.count).enumerated() {
            let mass = ranks.reduce(0.0) { $0 + exp(Double(logPrior[Int(adaptive.order[$1])])) }
            parameters.values[bias.offset + shortlist + i] = Float(log(mass))
        }
    }
}
