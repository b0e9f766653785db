import Foundation
import Kernels

/// Picks the next token from a row of logits: greedy (arg max), or a draw from the softmax
/// at `temperature`, restricted to the `topK` most likely tokens and then to the smallest
/// set whose probability reaches `topP` (nucleus sampling). Draws come from a seeded
/// SplitMix64, so a seed fixes the whole sample.
public struct Sampler: Sendable {
    public struct Settings: Equatable, Sendable {
        public var temperature: Float = 0.8
        /// 0: no limit.
        public var topK = 0
        /// 1: no limit.
        public var topP: Float = 1
        public var greedy = false
        public init(temperature: Float = 0.8, topK: Int = 0, topP: Float = 1, greedy: Bool = false) {
            self.temperature = temperature
            self.topK = topK
            self.topP = topP
            self.greedy = greedy
        }

        /// Throws `GenerationError.invalidSettings` for values out of range.
        public func validate() throws {
            guard greedy || (temperature > 0 && temperature.isFinite) else {
                throw GenerationError.invalidSettings("--temperature must be positive (use --greedy for arg max)")
            }
            guard topK >= 0 else { throw GenerationError.invalidSettings("--top-k must be >= 0") }
            guard topP > 0 && topP <= 1 else { throw GenerationError.invalidSettings("--top-p must be in (0, 1]") }
        }
    }

    public let settings: Settings
    private var rng: SplitMix64
    /// Candidate ids and probabilities, sized once for the vocabulary.
    private var order: [Int32] = []
    private var probabilities: [Float] = []

    public init(settings: Settings, seed: UInt64) {
        self.settings = settings
        rng = SplitMix64(seed: seed)
    }

    /// The next token for `logits` (V values). Ties in greedy mode go to the lowest id.
    public mutating func sample(_ logits: UnsafeBufferPointer<Float>) -> Int32 {
        let v = logits.count
        if settings.greedy {
            var best = 0
            for i in 1..<v where logits[i] > logits[best] { best = i }
            return Int32(best)
        }
        if order.count != v {
            order = (0..<v).map(Int32.init)
            probabilities = [Float](repeating: 0, count: v)
        }
        // Softmax at the temperature, in Double for the sum.
        var maxLogit = -Float.infinity
        for x in logits where x > maxLogit { maxLogit = x }
        var total = 0.0
        for i in 0..<v {
            let p = Foundation.exp(Double((logits[i] - maxLogit) / settings.temperature))
            probabilities[i] = Float(p)
            total += p
        }
        var candidates = v
        if settings.topK > 0 || settings.topP < 1 {
            for i in 0..<v { order[i] = Int32(i) }
            // Most likely first; ties by id, so the order (and the draw) is deterministic.
            order.sort { probabilities[Int($0)] != probabilities[Int($1)] ? probabilities[Int($0)] > probabilities[Int($1)] : $0 < $1 }
            if settings.topK > 0 { candidates = min(candidates, settings.topK) }
            if settings.topP < 1 {
                var kept = 0.0
                let limit = Double(settings.topP) * total
                var n = 0
                while n < candidates {
                    kept += Double(probabilities[Int(order[n])])
                    n += 1
                    if kept >= limit { break }
                }
                candidates = n
            }
            var mass = 0.0
            for n in 0..<candidates { mass += Double(probabilities[Int(order[n])]) }
            var u = Double(rng.nextUnitFloat()) * mass
            for n in 0..<candidates {
                u -= Double(probabilities[Int(order[n])])
                if u < 0 { return order[n] }
            }
            return order[candidates - 1]
        }
        var u = Double(rng.nextUnitFloat()) * total
        var last = 0
        for i in 0..<v where probabilities[i] > 0 {
            u -= Double(probabilities[i])
            last = i
            if u < 0 { return Int32(i) }
        }
        return Int32(last)
    }
}

/// Failures of generation that are the caller's: bad settings, a prompt the model cannot
/// take.
public enum GenerationError: Error, Equatable, CustomStringConvertible {
    case invalidSettings(String)
    case prompt(String)

    public var description: String {
        switch self {
        case let .invalidSettings(message), let .prompt(message): message
        }
    }
}
