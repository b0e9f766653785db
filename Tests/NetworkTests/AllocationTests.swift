import CMallocCounter
import Kernels
import Testing
@testable import Network

/// After the first step with a given (B, T), a training step (forward, zero gradients,
/// backward) and a decoding step make no allocation at all, on any thread. Counted by
/// interposing malloc and friends (CMallocCounter) on this thread and on the threads it
/// creates, which include the GEMM's worker threads.
///
/// One thread: small shapes, all work on this thread. Two threads: shapes above the GEMM's
/// threading threshold (2^18 multiply-adds: the input projections, the recurrent products
/// (4 x 128) x (128 x 512) and the output head), so the worker runs part of every step.
// Serialized: the counter of tracked threads is process-wide, so the 2-thread case's first
// step would count in the 1-thread case's steady-state window if they ran at once.
/// Also with an adaptive softmax, whose clusters take a different number of rows every step,
/// and without dropout, where the first layer projects the batch's distinct ids.
@Test(.serialized, arguments: [(1, false, true), (2, false, true), (2, true, true), (2, false, false)])
func steadyStateTrainingStepAllocatesNothing(threads: Int, adaptive: Bool, dropout: Bool) throws {
    var config: ModelConfig, b: Int, t: Int
    if threads == 1 {
        config = ModelConfig(
            vocabularySize: 23, embeddingSize: 8,
            layers: [.lstm(hidden: 16), .attention(heads: 2), .lstm(hidden: 8)],
            dropout: 0.1, tieEmbeddings: true, maxSequenceLength: 16)
        (b, t) = (2, 6)
    } else {
        config = ModelConfig(
            vocabularySize: 300, embeddingSize: 64,
            layers: [.lstm(hidden: 128), .attention(heads: 2), .lstm(hidden: 64)],
            dropout: 0.1, tieEmbeddings: true, maxSequenceLength: 16)
        (b, t) = (4, 16)
    }
    if !dropout { config.dropout = 0 }
    if adaptive {
        config.tieEmbeddings = false
        config.adaptiveSoftmax = AdaptiveSoftmaxConfig(cutoffs: [30, 100], order: (0..<Int32(config.vocabularySize)).reversed())
    }
    malloc_counter_track_thread(1)
    defer { malloc_counter_track_thread(0) }
    let threadsBefore = malloc_counter_tracked_threads()
    let model = try Model<Float>(config: config, seed: 1, threads: threads)
    #expect(malloc_counter_tracked_threads() - threadsBefore == UInt(threads - 1))

    let v = config.vocabularySize
    let tokens = randomTokens(b * t, v: v, seed: 1), targets = randomTokens(b * t, v: v, seed: 2)
    func trainingStep() throws {
        _ = try model.forward(tokens: tokens, targets: targets, batch: b, steps: t)
        model.parameters.zeroGradients()
        try model.backward()
    }
    let first = malloc_counter_tracked_calls()
    try trainingStep()
    let setup = malloc_counter_tracked_calls() - first
    #expect(setup > 0)  // the counter works: the first step builds the arenas

    let before = malloc_counter_tracked_calls()
    for _ in 0..<3 { try trainingStep() }
    let steady = malloc_counter_tracked_calls() - before
    #expect(steady == 0, "\(steady) allocations in 3 steady-state training steps")

    let decodeTokens = (0..<b).map { Int32($0 % v) }
    _ = try model.step(tokens: decodeTokens)
    let beforeDecode = malloc_counter_tracked_calls()
    for _ in 0..<5 { _ = try model.step(tokens: decodeTokens) }
    let decode = malloc_counter_tracked_calls() - beforeDecode
    #expect(decode == 0, "\(decode) allocations in 5 decoding steps")
    print("allocations with \(threads) thread(s): first training step \(setup), next 3 steps \(steady), 5 decoding steps \(decode)")
}
