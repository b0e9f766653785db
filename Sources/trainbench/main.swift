// Benchmark driver for whole training steps and decoding, run by scripts/bench-train-step.
//
//   trainbench train|decode [--threads N] [--vocab V] [--embedding E] [--hidden H]
//              [--lstm-layers L] [--heads A] [--batch B] [--seq T] [--warmup W] [--steps S]
//              [--tokens D]
//
// train: embedding -> L LSTM layers (hidden H) -> optional attention (A heads, 0 = none) ->
// head, a fresh batch of random tokens every step (fixed seed); W untimed steps, then S timed
// steps, each the full step (forward, zero gradients, backward, AdamW update). decode: batch 1, `step` over D tokens
// from a reset state, W untimed runs then S timed runs.
// Prints one JSON object: tokens/s best, median and mean (all timed tokens over all timed
// seconds, what a training run's figure is), the repetitions, the parameter count.

import Dispatch
import Foundation
import Kernels
import Network
import Training

func seconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(64)
}

var options = ["threads": 1, "vocab": 5000, "embedding": 128, "hidden": 256, "lstm-layers": 2,
               "heads": 0, "batch": 32, "seq": 64, "warmup": 3, "steps": 10, "tokens": 256]
let args = Array(CommandLine.arguments.dropFirst())
guard let mode = args.first, mode == "train" || mode == "decode", args.count % 2 == 1 else {
    fail("usage: trainbench train|decode [--OPTION VALUE]... (options: \(options.keys.sorted()))")
}
for i in stride(from: 1, to: args.count, by: 2) {
    let key = String(args[i].drop { $0 == "-" })
    guard options[key] != nil, let value = Int(args[i + 1]), value >= 0 else {
        fail("bad option \(args[i]) \(args[i + 1])")
    }
    options[key] = value
}
let o = { (key: String) in options[key]! }

var layers = Array(repeating: ModelConfig.Layer.lstm(hidden: o("hidden")), count: o("lstm-layers"))
if o("heads") > 0 { layers.append(.attention(heads: o("heads"))) }
let config = ModelConfig(vocabularySize: o("vocab"), embeddingSize: o("embedding"), layers: layers,
                         dropout: 0, tieEmbeddings: false,
                         maxSequenceLength: max(o("seq"), o("tokens")))
let model: Model<Float>
do { model = try Model<Float>(config: config, seed: 1, threads: o("threads")) } catch { fail("\(error)") }

var rng = SplitMix64(seed: 42)
let randomTokens = { (n: Int) in
    (0..<n).map { _ in Int32(truncatingIfNeeded: rng.next() % UInt64(o("vocab"))) }
}

var times: [Double] = []
var tokensPerRun = 0
var losses: [Float] = []
do {
    if mode == "train" {
        let (b, t) = (o("batch"), o("seq"))
        tokensPerRun = b * t
        let params = model.parameters
        // Matrices take weight decay, biases and norms do not (the usual AdamW convention).
        let decay = params.tensors.filter { $0.shape.count > 1 }.map { $0.offset..<($0.offset + $0.count) }
        let optimizer = AdamW(count: params.count, decay: decay)
        for i in 0..<(o("warmup") + o("steps")) {
            // A fresh batch every step: a repeated one is learnt within a hundred steps, and
            // the steps then ran slower and more unevenly than on text the model has not seen.
            let tokens = randomTokens(b * t), targets = randomTokens(b * t)
            let t0 = seconds()
            let loss = try model.forward(tokens: tokens, targets: targets, batch: b, steps: t)
            params.zeroGradients()
            try model.backward()
            optimizer.update(params.values, UnsafeBufferPointer(params.gradients), lr: 1e-3,
                             workspace: model.workspace)
            if i >= o("warmup") { times.append(seconds() - t0) }
            losses.append(loss)
        }
    } else {
        model.training = false
        tokensPerRun = o("tokens")
        let input = randomTokens(tokensPerRun)
        for i in 0..<(o("warmup") + o("steps")) {
            model.resetState()
            let t0 = seconds()
            for token in input { _ = try model.step(tokens: [token]) }
            if i >= o("warmup") { times.append(seconds() - t0) }
        }
    }
} catch { fail("\(error)") }

let sorted = times.sorted()
guard !sorted.isEmpty else { fail("no timed steps") }
let best = Double(tokensPerRun) / sorted[0], median = Double(tokensPerRun) / sorted[sorted.count / 2]
let mean = Double(tokensPerRun * times.count) / times.reduce(0, +)
let lossText = losses.isEmpty ? "null" : "[\(losses.first!), \(losses.last!)]"
print("{\"mode\": \"\(mode)\", \"threads\": \(o("threads")), \"parameters\": \(model.parameters.count), "
      + "\"tokens_per_run\": \(tokensPerRun), \"best\": \(best), \"median\": \(median), \"mean\": \(mean), "
      + "\"n\": \(times.count), \"loss_first_last\": \(lossText)}")
