import CMallocCounter
import Kernels
import Testing
@testable import Network

/// After the first step with a given (B, T), a training step (forward, zero gradients,
/// backward) and a decoding step make no allocation at all. Counted by interposing malloc
/// and friends (CMallocCounter) on this thread; with one GEMM thread, and shapes far below
/// the GEMM's threading threshold, all work runs on this thread.
@Test func steadyStateTrainingStepAllocatesNothing() throws {
    let config = ModelConfig(
        vocabularySize: 23, embeddingSize: 8,
        layers: [.lstm(hidden: 16), .attention(heads: 2), .lstm(hidden: 8)],
        dropout: 0.1, tieEmbeddings: true, maxSequenceLength: 16)
    let model = try Model<Float>(config: config, seed: 1, threads: 1)
    let (b, t) = (2, 6)
    let tokens = randomTokens(b * t, v: 23, seed: 1), targets = randomTokens(b * t, v: 23, seed: 2)
    func trainingStep() throws {
        _ = try model.forward(tokens: tokens, targets: targets, batch: b, steps: t)
        model.parameters.zeroGradients()
        try model.backward()
    }
    let first = malloc_counter_thread_calls()
    try trainingStep()
    let setup = malloc_counter_thread_calls() - first
    #expect(setup > 0)  // the counter works: the first step builds the arenas

    let before = malloc_counter_thread_calls()
    for _ in 0..<3 { try trainingStep() }
    let steady = malloc_counter_thread_calls() - before
    #expect(steady == 0, "\(steady) allocations in 3 steady-state training steps")

    _ = try model.step(tokens: [1, 2])
    let beforeDecode = malloc_counter_thread_calls()
    for token in Int32(3)..<8 { _ = try model.step(tokens: [token, token + 1]) }
    let decode = malloc_counter_thread_calls() - beforeDecode
    #expect(decode == 0, "\(decode) allocations in 5 decoding steps")
    print("allocations: first training step \(setup), next 3 steps \(steady), 5 decoding steps \(decode)")
}
