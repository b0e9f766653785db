import Kernels
import Testing
@testable import Network

private let mixed = ModelConfig(
    vocabularySize: 17, embeddingSize: 8,
    layers: [.lstm(hidden: 12), .attention(heads: 3), .lstm(hidden: 8), .attention(heads: 2)],
    dropout: 0.2, tieEmbeddings: true, maxSequenceLength: 9)

/// The Float path (SIMD kernels) against the Float64 path on the same weights: loss, logits
/// and every gradient, with dropout on.
@Test func floatModelMatchesDoubleModel() throws {
    let f = try Model<Float>(config: mixed, seed: 3, threads: 1)
    let d = try Model<Double>(config: mixed, seed: 3, threads: 1)
    try d.parameters.copyValues(from: f.parameters)
    let (b, t) = (3, 7)
    let tokens = randomTokens(b * t, v: 17, seed: 1), targets = randomTokens(b * t, v: 17, seed: 2)
    var worstLoss = 0.0
    for _ in 0..<2 {  // the second batch starts from the carried state
        let lf = try f.forward(tokens: tokens, targets: targets, batch: b, steps: t)
        let ld = try d.forward(tokens: tokens, targets: targets, batch: b, steps: t)
        worstLoss = max(worstLoss, abs(Double(lf) - ld) / (1 + abs(ld)))
    }
    #expect(worstLoss <= 1e-6)
    #expect(maxScaledError(f.logits, d.logits) <= 1e-5)
    f.parameters.zeroGradients(); d.parameters.zeroGradients()
    try f.backward(); try d.backward()
    var report: [String] = []
    for tensor in f.parameters.tensors {
        let gf = UnsafeBufferPointer(start: f.parameters.gradient(tensor.name), count: tensor.count)
        let gd = UnsafeBufferPointer(start: d.parameters.gradient(tensor.name), count: tensor.count)
        let err = maxScaledError(gf, gd)
        report.append("\(tensor.name) \(err)")
        #expect(err <= 1e-5, "\(tensor.name): \(err)")
    }
    print("Float vs Double gradients:", report.joined(separator: ", "))
}

/// Decoding token by token (LSTM state + KV cache) gives the logits of the full forward.
@Test func stepEqualsForward() throws {
    var config = mixed
    config.dropout = 0
    let model = try Model<Float>(config: config, seed: 4, threads: 1)
    model.training = false
    let (b, t) = (2, 9)
    let tokens = randomTokens(b * t, v: 17, seed: 8)
    _ = try model.forward(tokens: tokens, targets: tokens, batch: b, steps: t)
    let full = Array(model.logits)  // (T, B, V)
    var worst = 0.0
    var first: [Float] = []
    for s in 0..<t {
        let logits = try model.step(tokens: (0..<b).map { tokens[$0 * t + s] })
        if s == 0 { first = Array(logits) }
        let want = Array(full[(s * b * 17)..<((s + 1) * b * 17)])
        want.withUnsafeBufferPointer { worst = max(worst, maxScaledError(logits, $0)) }
    }
    #expect(worst <= 1e-5)
    // The cache is full: a clear error, then a reset starts over with the same logits.
    #expect(throws: NetworkError.sequenceTooLong(length: 10, limit: 9)) { try model.step(tokens: [1, 2]) }
    model.resetState()
    let again = Array(try model.step(tokens: [tokens[0], tokens[t]]))
    #expect(again == first)
}

@Test func forwardRejectsBadInputs() throws {
    let model = try Model<Float>(config: mixed, seed: 1, threads: 1)
    #expect(throws: NetworkError.self) { try model.forward(tokens: [1, 2, 3], targets: [1, 2], batch: 1, steps: 3) }
    #expect(throws: NetworkError.sequenceTooLong(length: 10, limit: 9)) {
        try model.forward(tokens: Array(repeating: 1, count: 10), targets: Array(repeating: 1, count: 10),
                          batch: 1, steps: 10)
    }
    #expect(throws: KernelError.self) { try model.forward(tokens: [1, 17], targets: [1, 2], batch: 1, steps: 2) }
    #expect(throws: NetworkError.noForward) { try model.backward() }
}

/// Training lowers the loss on a fixed batch (plain SGD on the gradient arena), and two
/// identically seeded runs give identical losses.
@Test func trainingLowersTheLossDeterministically() throws {
    func train() throws -> [Float] {
        var config = mixed
        config.dropout = 0
        config.tieEmbeddings = false
        let model = try Model<Float>(config: config, seed: 9, threads: 1)
        let (b, t) = (2, 8)
        let tokens = randomTokens(b * t, v: 17, seed: 3)
        let targets = Array(tokens.dropFirst()) + [0]
        var losses: [Float] = []
        for _ in 0..<200 {
            model.resetState()
            losses.append(try model.forward(tokens: tokens, targets: targets, batch: b, steps: t))
            model.parameters.zeroGradients()
            try model.backward()
            for i in 0..<model.parameters.count { model.parameters.values[i] -= 0.1 * model.parameters.gradients[i] }
        }
        return losses
    }
    let a = try train(), b = try train()
    #expect(a == b)
    // Plain SGD on this unnormalized stack is noisy, so the check is on the last 20 steps.
    let late = a.suffix(20).max()!
    #expect(late < 0.6 * a.first!, "\(a.first!) -> \(late)")
}

/// Dropout changes the training forward from one step to the next, replays with the same
/// `forwardCount`, and is the identity at inference.
@Test func dropoutIsSeededAndOffAtInference() throws {
    let model = try Model<Double>(config: mixed, seed: 2, threads: 1)
    let (b, t) = (2, 5)
    let tokens = randomTokens(b * t, v: 17, seed: 1), targets = randomTokens(b * t, v: 17, seed: 2)
    func loss(training: Bool, count: UInt64) throws -> Double {
        model.resetState()
        model.training = training
        model.forwardCount = count
        return try model.forward(tokens: tokens, targets: targets, batch: b, steps: t)
    }
    let a = try loss(training: true, count: 0), again = try loss(training: true, count: 0)
    let next = try loss(training: true, count: 1)
    #expect(a == again && a != next)
    let eval = try loss(training: false, count: 0), eval2 = try loss(training: false, count: 7)
    #expect(eval == eval2 && eval != a)

    var noDropout = mixed
    noDropout.dropout = 0
    let plain = try Model<Double>(config: noDropout, seed: 2, threads: 1)
    plain.resetState()
    #expect(try plain.forward(tokens: tokens, targets: targets, batch: b, steps: t) == eval)
}

/// Resetting some sequences of a batch starts them afresh and leaves the others' carried state
/// as it was: sequence 1 continues as a fresh model's would, sequences 0 and 2 as if nothing
/// had been reset.
@Test func resettingSomeSequencesStartsOnlyThoseAfresh() throws {
    let config = ModelConfig(vocabularySize: 17, embeddingSize: 8, layers: [.lstm(hidden: 12), .lstm(hidden: 8)],
                             dropout: 0, tieEmbeddings: false)
    let (b, t, v) = (3, 5, 17)
    let first = randomTokens(b * t, v: v, seed: 11), second = randomTokens(b * t, v: v, seed: 12)
    func logits(resetting: [Int]?, skipFirst: Bool = false) throws -> [Float] {
        let model = try Model<Float>(config: config, seed: 5, threads: 1)
        if !skipFirst { _ = try model.forward(tokens: first, targets: first, batch: b, steps: t) }
        if let resetting { model.resetState(sequences: resetting) }
        _ = try model.forward(tokens: second, targets: second, batch: b, steps: t)
        return Array(model.logits)  // (T, B, V)
    }
    func rows(_ all: [Float], sequence: Int) -> [Float] {
        var picked: [Float] = []
        for s in 0..<t {
            let row = (s * b + sequence) * v
            picked += all[row..<(row + v)]
        }
        return picked
    }
    let carried = try logits(resetting: nil), reset = try logits(resetting: [1])
    let fresh = try logits(resetting: nil, skipFirst: true)
    #expect(rows(reset, sequence: 0) == rows(carried, sequence: 0))
    #expect(rows(reset, sequence: 2) == rows(carried, sequence: 2))
    #expect(rows(reset, sequence: 1) == rows(fresh, sequence: 1))
    #expect(rows(reset, sequence: 1) != rows(carried, sequence: 1))
    #expect(try logits(resetting: []) == carried)
}
