/// Cuts a token sequence into `batch` contiguous streams and serves them `length` tokens at
/// a time, so a recurrent state carried from one batch to the next continues the same text
/// (truncated back-propagation through time), as char-rnn and nanoGPT's LSTM baselines do.
///
/// Batch k holds, for each stream b, inputs `tokens[start_b + k·T ..< start_b + (k+1)·T]`
/// and targets shifted by one. An epoch is `batchesPerEpoch` batches; the tail that does
/// not fill a whole batch is not used (at most B·T tokens).
public struct StreamBatcher: Sendable {
    public let tokens: [Int32]
    public let batch: Int
    public let length: Int
    public let streamLength: Int
    public var batchesPerEpoch: Int { (streamLength - 1) / length }

    public init(tokens: [Int32], batch: Int, length: Int) throws {
        guard batch > 0, length > 0 else { throw TrainingError.data("batch size and sequence length must be positive") }
        self.tokens = tokens
        self.batch = batch
        self.length = length
        streamLength = tokens.count / batch
        guard streamLength > length else {
            throw TrainingError.data("\(tokens.count) tokens are too few for \(batch) streams of \(length)+1 tokens")
        }
    }

    /// Fills `inputs` and `targets` (B, T) with batch `k` of the epoch.
    public func fill(batch k: Int, inputs: UnsafeMutablePointer<Int32>, targets: UnsafeMutablePointer<Int32>) {
        tokens.withUnsafeBufferPointer { t in
            for b in 0..<batch {
                let start = b * streamLength + k * length
                for j in 0..<length {
                    inputs[b * length + j] = t[start + j]
                    targets[b * length + j] = t[start + j + 1]
                }
            }
        }
    }
}
