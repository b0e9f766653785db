import Dispatch
import Network
import Text

/// Continues a prompt token by token through the model's incremental decoding (`step`): the
/// LSTM state and the attention KV cache carry the context, so each new token costs one step
/// whatever the length of the prompt already read. Text is streamed as it becomes complete
/// UTF-8 (a byte-fallback character waits for its last byte).
///
/// When an attention layer's context (max_sequence_length) is full, the state is reset and
/// the last half of the context is read again, so generation can go on indefinitely.
public final class Generator {
    public let model: Model<Float>
    public let tokenizer: Tokenizer

    /// What one generation produced.
    public struct Result: Equatable, Sendable {
        public var text: [UInt8] = []
        public var promptTokens = 0
        public var generatedTokens = 0
        public var seconds = 0.0
        /// Why it stopped: "max-tokens" or "stop".
        public var stopReason = "max-tokens"
        public var tokensPerSecond: Double { seconds > 0 ? Double(generatedTokens) / seconds : 0 }
    }

    public init(model: Model<Float>, tokenizer: Tokenizer) {
        self.model = model
        self.tokenizer = tokenizer
        model.training = false
    }

    /// Generates up to `maxTokens` tokens after `prompt` and passes each complete piece of
    /// text to `emit` as soon as it exists. Generation stops early at the first occurrence of
    /// any of `stops` in the generated text (which is then not emitted). The context starts
    /// with a line break, so an empty prompt begins a new line of text.
    public func generate(prompt: String, maxTokens: Int, sampler: inout Sampler, stops: [String] = [],
                         emit: ([UInt8]) -> Void) throws -> Result {
        guard maxTokens >= 0 else { throw GenerationError.invalidSettings("--max-tokens must be >= 0") }
        let stopBytes = stops.map { Array($0.utf8) }.filter { !$0.isEmpty }
        let context = try tokenizer.encode("\n" + prompt).ids
        var result = Result()
        result.promptTokens = context.count - 1
        let start = DispatchTime.now().uptimeNanoseconds
        model.resetState()
        var history: [Int32] = []
        var position = 0
        var logits = try feed(context, history: &history, position: &position)
        var decoder = StreamingDecoder(vocabulary: tokenizer.vocabulary)
        var pending: [UInt8] = []  // decoded bytes not yet emitted (a possible stop prefix)

        func flush(keepingStopPrefix: Bool) {
            let keep = keepingStopPrefix ? Self.longestStopPrefixSuffix(pending, stopBytes) : 0
            let ready = pending.count - keep
            if ready > 0 {
                emit(Array(pending[..<ready]))
                result.text += pending[..<ready]
                pending.removeFirst(ready)
            }
        }

        while result.generatedTokens < maxTokens {
            let next = sampler.sample(logits)
            result.generatedTokens += 1
            pending += try decoder.push(next)
            if let cut = Self.firstStop(pending, stopBytes) {
                pending.removeSubrange(cut...)
                flush(keepingStopPrefix: false)
                result.stopReason = "stop"
                result.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
                return result
            }
            flush(keepingStopPrefix: true)
            if result.generatedTokens == maxTokens { break }
            logits = try feed([next], history: &history, position: &position)
        }
        pending += decoder.finish()
        if let cut = Self.firstStop(pending, stopBytes) {
            pending.removeSubrange(cut...)
            result.stopReason = "stop"
        }
        flush(keepingStopPrefix: false)
        result.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        return result
    }

    /// Feeds `tokens` one step at a time and returns the logits after the last one (the
    /// model's buffer: valid until the next step, so no copy per token).
    private func feed(_ tokens: [Int32], history: inout [Int32], position: inout Int) throws -> UnsafeBufferPointer<Float> {
        let limit = model.config.maxSequenceLength
        let hasAttention = model.config.layers.contains { if case .attention = $0 { true } else { false } }
        var logits = UnsafeBufferPointer<Float>(start: nil, count: 0)
        for token in tokens {
            if hasAttention && position >= limit {
                // Context full: start over from the last half of it.
                model.resetState()
                position = 0
                for t in history.suffix(limit / 2) {
                    _ = try model.step(tokens: [t])
                    position += 1
                }
            }
            logits = try model.step(tokens: [token])
            position += 1
            history.append(token)
        }
        return logits
    }

    static func firstStop(_ text: [UInt8], _ stops: [[UInt8]]) -> Int? {
        var best: Int?
        for stop in stops where stop.count <= text.count {
            for i in 0...(text.count - stop.count) where text[i..<(i + stop.count)].elementsEqual(stop) {
                if best == nil || i < best! { best = i }
                break
            }
        }
        return best
    }

    /// The length of the longest suffix of `text` that is a proper prefix of a stop string
    /// (those bytes may still become a stop and must wait).
    static func longestStopPrefixSuffix(_ text: [UInt8], _ stops: [[UInt8]]) -> Int {
        var longest = 0
        for stop in stops {
            var n = min(stop.count - 1, text.count)
            while n > longest {
                if text.suffix(n).elementsEqual(stop.prefix(n)) { longest = n; break }
                n -= 1
            }
        }
        return longest
    }
}
