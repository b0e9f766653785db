import Foundation
import Kernels
import Network
import Text

/// The loss of a model over a whole token stream, under the two protocols language-model
/// papers and nanoGPT use.
public enum EvaluationProtocol: String, Codable, Sendable, CaseIterable {
    /// The text cut into `streams` contiguous streams fed `length` tokens at a time with the
    /// recurrent state carried through (how an LSTM reads a long text).
    case stream
    /// Every non-overlapping window of `length` tokens, each from an empty state: inputs
    /// `x[i..<i+L]`, targets `x[i+1...i+L]` for i = 0, L, 2L, ... (nanoGPT's estimate).
    case window
}

/// Total loss and what it was measured over.
public struct EvaluationResult: Codable, Equatable, Sendable {
    public var natsTotal: Double
    public var tokens: Int
    public var characters: Int
    public var natsPerToken: Double { tokens > 0 ? natsTotal / Double(tokens) : .nan }
    public var natsPerCharacter: Double { characters > 0 ? natsTotal / Double(characters) : .nan }
    public var bitsPerCharacter: Double { natsPerCharacter / 0.693_147_180_559_945_3 }
    public var perplexity: Double { Foundation.exp(natsPerToken) }
}



/// Runs evaluations on its own model instance sharing the trained parameters (so the
/// training model's carried state is untouched), with dropout off.
public final class Evaluator {
    public let model: Model<Float>
    /// Characters each token id stands for (scalars in its bytes; 0 for special tokens).
    private let charactersOf: [Int]

    /// - `charactersPerToken`: for each id, the characters it stands for.
    public init(sharing trained: Model<Float>, charactersPerToken: [Int], threads: Int?) {
        model = Model(sharingParametersOf: trained, threads: threads)
        model.training = false
        charactersOf = charactersPerToken
    }

    /// The summed cross-entropy of every predicted token of `tokens` under `protocol`, with
    /// `streams` sequences per batch and `length` tokens per sequence.
    public func evaluate(_ tokens: [Int32], protocol kind: EvaluationProtocol, streams: Int = 16,
                         length: Int) throws -> EvaluationResult {
        guard streams >= 1, length >= 1 else { throw TrainingError.data("streams and length must be positive") }
        // A text too short for that many streams is read in fewer.
        let streams = kind == .stream ? max(1, min(streams, tokens.count / 2)) : streams
        var result = EvaluationResult(natsTotal: 0, tokens: 0, characters: 0)
        var inputs = [Int32](repeating: 0, count: streams * length)
        var targets = [Int32](repeating: ignoreTarget, count: streams * length)
        func run() throws {
            let valid = targets.reduce(0) { $0 + ($1 == ignoreTarget ? 0 : 1) }
            guard valid > 0 else { return }
            let loss = try model.forward(tokens: inputs, targets: targets, batch: streams, steps: length)
            result.natsTotal += Double(loss) * Double(valid)
            result.tokens += valid
            for t in targets where t != ignoreTarget { result.characters += charactersOf[Int(t)] }
        }
        model.resetState()
        switch kind {
        case .stream:
            let streamLength = tokens.count / streams
            guard streamLength >= 2 else { return result }
            let predictions = streamLength - 1
            var position = 0
            while position < predictions {
                for b in 0..<streams {
                    let base = b * streamLength
                    for j in 0..<length {
                        let p = position + j
                        inputs[b * length + j] = p < predictions ? tokens[base + p] : 0
                        targets[b * length + j] = p < predictions ? tokens[base + p + 1] : ignoreTarget
                    }
                }
                try run()
                position += length
            }
        case .window:
            var start = 0
            while start + length + 1 <= tokens.count {
                for b in 0..<streams {
                    let i = start + b * length
                    let whole = i + length + 1 <= tokens.count
                    for j in 0..<length {
                        inputs[b * length + j] = whole ? tokens[i + j] : 0
                        targets[b * length + j] = whole ? tokens[i + j + 1] : ignoreTarget
                    }
                }
                model.resetState()
                try run()
                start += streams * length
            }
        }
        return result
    }

    /// An evaluator whose character counts come from `vocabulary` (special tokens count 0).
    public convenience init(sharing trained: Model<Float>, vocabulary: Vocabulary, threads: Int?) {
        self.init(sharing: trained,
                  charactersPerToken: Self.charactersPerToken(vocabulary.tokens,
                                                              specials: Set(vocabulary.specialTokens.map { Int($0.id) })),
                  threads: threads)
    }

    /// For each id of `vocabularyTokens` (its bytes), the characters it stands for: the
    /// UTF-8 lead bytes in it (a byte-fallback token holding a lead byte counts as the
    /// character it starts); 0 for the ids in `specials`.
    public static func charactersPerToken(_ vocabularyTokens: [[UInt8]], specials: Set<Int>) -> [Int] {
        vocabularyTokens.enumerated().map { id, bytes in
            specials.contains(id) ? 0 : bytes.reduce(0) { $0 + ($1 & 0xC0 != 0x80 ? 1 : 0) }
        }
    }
}
