import Foundation

/// The clusters of an adaptive softmax (Grave et al., 2017; PyTorch's
/// `nn.AdaptiveLogSoftmaxWithLoss`): token ids ranked by training frequency, the most frequent
/// `cutoffs[0]` scored by the head itself, the rest in tail clusters that the head scores as
/// one token each and that score their members through a narrower projection. A character
/// model of Chinese spends most of a full softmax's work on thousands of rare characters;
/// here a rare character costs a small product only when it is the target.
///
/// Cluster i holds the ranks `cutoffs[i]..<cutoffs[i + 1]` (the last up to V) and projects the
/// C-wide input to `C / divValue^(i + 1)` (rounded down) before its own softmax.
/// PyTorch takes targets in frequency order; `order[r]` is the id of rank r, so a PyTorch
/// module scores id `order[r]` as its class r.
public struct AdaptiveSoftmaxConfig: Codable, Equatable, Sendable {
    public var cutoffs: [Int]
    public var divValue: Double
    /// Token ids by decreasing training frequency (a permutation of 0..<V).
    public var order: [Int32]

    private enum CodingKeys: String, CodingKey {
        case cutoffs, divValue = "div_value", order
    }

    public init(cutoffs: [Int], divValue: Double = 4, order: [Int32]) {
        self.cutoffs = cutoffs
        self.divValue = divValue
        self.order = order
    }

    /// The ids ranked by their `counts` (one per id), ties by id: the same data always gives
    /// the same order.
    public static func frequencyOrder(counts: [Int]) -> [Int32] {
        counts.indices.sorted { counts[$0] != counts[$1] ? counts[$0] > counts[$1] : $0 < $1 }.map { Int32($0) }
    }

    /// The ranks where each cluster starts and ends: [cutoffs[i], end).
    public func clusterRanges(vocabularySize: Int) -> [Range<Int>] {
        cutoffs.indices.map { i in cutoffs[i]..<(i + 1 < cutoffs.count ? cutoffs[i + 1] : vocabularySize) }
    }

    /// The projection width of cluster i for an input of width C (PyTorch's
    /// `int(in_features // div_value ** (i + 1))`).
    func projectionWidth(cluster i: Int, width: Int) -> Int {
        Int((Double(width) / pow(divValue, Double(i + 1))).rounded(.down))
    }

    /// Throws `NetworkError.invalidConfig` naming the first problem.
    func validate(vocabularySize v: Int, width: Int) throws {
        func fail(_ message: String) -> NetworkError { .invalidConfig("adaptive_softmax: \(message)") }
        guard !cutoffs.isEmpty else { throw fail("needs at least one cutoff") }
        guard cutoffs.first! >= 1, cutoffs.last! < v, zip(cutoffs, cutoffs.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw fail("cutoffs must increase strictly within 1..<\(v) (the vocabulary size), got \(cutoffs)")
        }
        guard divValue >= 1, divValue.isFinite else { throw fail("div_value must be at least 1, got \(divValue)") }
        for i in cutoffs.indices where projectionWidth(cluster: i, width: width) < 1 {
            throw fail("cluster \(i) would project \(width) wide inputs to 0 (lower div_value or use fewer cutoffs)")
        }
        guard order.count == v else { throw fail("order lists \(order.count) ids, the vocabulary has \(v)") }
        var seen = [Bool](repeating: false, count: v)
        for id in order {
            guard id >= 0, Int(id) < v, !seen[Int(id)] else { throw fail("order is not a permutation of the ids (\(id))") }
            seen[Int(id)] = true
        }
    }
}
