import Foundation

/// An exponential moving average of a classifier's weights (Polyak averaging): validated and
/// kept instead of the weights of the last step, it averages over the noise of the last few
/// thousand steps, as an ensemble of their checkpoints would, at no cost in prediction.
///
/// Updated every `interval` steps with the decay of that many steps (the full-size pass over
/// the weights every step would cost about a tenth of a step); early on the decay is lowered
/// to (1 + k) / (10 + k) after k updates, so the first weights do not linger.
struct WeightAverage {
    let decay: Float
    let interval = 8
    private var average: [Float]
    private var current: [Float] = []
    private var updates = 0

    /// Starts from `weights`, the encoder's then the head's values.
    init(decay: Float, weights: [UnsafeMutableBufferPointer<Float>]) {
        self.decay = decay
        average = weights.flatMap { Array($0) }
    }

    /// Folds the weights in after step `step` (1-based) if it is an update step.
    mutating func update(step: Int, weights: [UnsafeMutableBufferPointer<Float>]) {
        guard step % interval == 0 else { return }
        updates += 1
        let d = min(pow(decay, Float(interval)), Float(1 + updates) / Float(10 + updates))
        let k = 1 - d
        average.withUnsafeMutableBufferPointer { average in
            var offset = 0
            for part in weights {
                let avg = average.baseAddress! + offset
                for i in 0..<part.count { avg[i] += k * (part[i] - avg[i]) }
                offset += part.count
            }
        }
    }

    /// Runs `body` with the average in `weights`, then puts the weights back.
    mutating func withAverage<T>(in weights: [UnsafeMutableBufferPointer<Float>], _ body: () throws -> T) rethrows -> T {
        current.removeAll(keepingCapacity: true)
        for part in weights { current.append(contentsOf: part) }
        copy(average, into: weights)
        defer { copy(current, into: weights) }
        return try body()
    }

    private func copy(_ source: [Float], into weights: [UnsafeMutableBufferPointer<Float>]) {
        var offset = 0
        for part in weights {
            _ = part.update(fromContentsOf: source[offset..<(offset + part.count)])
            offset += part.count
        }
    }
}
