import Foundation
import Testing

/// trainlm, generate and evaluate as a user runs them.
@Suite(.serialized) struct LanguageModelCommandTests {
    static let text = String(repeating: """
        春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。
        Shall I compare thee to a summer's day? Thou art more lovely and more temperate.
        床前明月光，疑是地上霜。举头望明月，低头思故乡。

        """, count: 6)

    static let small = ["--char", "--embedding", "16", "--hidden", "16", "--batch", "4", "--seq", "16",
                        "--threads", "1", "--quiet"]

    func corpus() throws -> (URL, String) {
        let folder = try CommandRunner.temporaryFolder()
        let file = folder.appendingPathComponent("poems.txt")
        try Self.text.write(to: file, atomically: true, encoding: .utf8)
        return (folder, file.path)
    }

    @Test func trainThenGenerateRepeatablyThenEvaluate() throws {
        let (folder, file) = try corpus()
        let run = folder.appendingPathComponent("run").path
        let train = try CommandRunner.run("trainlm", Self.small + ["--epochs", "2", "--run-dir", run, "--json", file])
        #expect(train.status == 0, "\(train.stderr)")
        let lines = train.text.split(separator: "\n")
        let summary = try JSONSerialization.jsonObject(with: Data(lines.last!.utf8)) as! [String: Any]
        #expect(summary["outcome"] as? String == "finished")
        #expect((summary["steps"] as? Int ?? 0) > 0)
        #expect(lines.count >= 3)  // an evaluation record per epoch, then the summary
        for name in ["run.json", "vocab.vocab", "best.safetensors", "last.safetensors", "metrics.jsonl", "loss.svg"] {
            #expect(FileManager.default.fileExists(atPath: run + "/" + name), "\(name)")
        }

        let a = try CommandRunner.run("generate", ["--run", run, "--prompt", "春眠", "--max-tokens", "30", "--seed", "4"])
        let b = try CommandRunner.run("generate", ["--run", run, "--prompt", "春眠", "--max-tokens", "30", "--seed", "4"])
        #expect(a.status == 0, "\(a.stderr)")
        #expect(a.stdout == b.stdout)
        #expect(a.text.hasPrefix("春眠"))
        let piped = try CommandRunner.run("generate", ["--run", run, "--prompt", "-", "--max-tokens", "30", "--seed", "4"],
                                          stdin: Array("春眠\n".utf8))
        #expect(piped.stdout == a.stdout)
        let json = try CommandRunner.run("generate", ["--run", run, "--prompt", "Shall", "-n", "2", "--json", "--verbose"])
        #expect(json.text.split(separator: "\n").count == 2)
        #expect(json.stderr.contains("tokens/s"))

        let evaluation = try CommandRunner.run("evaluate", ["--run", run, "--protocol", "window", "--length", "16", "--json", file])
        #expect(evaluation.status == 0, "\(evaluation.stderr)")
        let result = try JSONSerialization.jsonObject(with: Data(evaluation.stdout)) as! [String: Any]
        #expect((result["nats_per_char"] as? Double ?? .nan) > 0)
    }

    @Test func anAdaptiveSoftmaxRunTrainsGeneratesAndEvaluates() throws {
        let (folder, file) = try corpus()
        let run = folder.appendingPathComponent("run").path
        let train = try CommandRunner.run("trainlm", Self.small + ["--adaptive-softmax", "8,24", "--epochs", "2",
                                                                   "--run-dir", run, file])
        #expect(train.status == 0, "\(train.stderr)")
        let options = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: run + "/run.json"))) as! [String: Any]
        let model = options["model"] as! [String: Any]
        #expect((model["adaptive_softmax"] as? [String: Any])?["cutoffs"] as? [Int] == [8, 24])
        #expect(model["tie_embeddings"] as? Bool == false)  // implied
        let sample = try CommandRunner.run("generate", ["--run", run, "--prompt", "床前", "--max-tokens", "20", "--seed", "2"])
        #expect(sample.status == 0, "\(sample.stderr)")
        #expect(sample.text.hasPrefix("床前"))
        let evaluation = try CommandRunner.run("evaluate", ["--run", run, "--protocol", "stream", "--length", "16", "--json", file])
        #expect(evaluation.status == 0, "\(evaluation.stderr)")

        for (cutoffs, message) in [("8,x", "comma-separated"), ("24,8", "increase"), ("8,100000", "increase")] {
            let bad = try CommandRunner.run("trainlm", Self.small + ["--adaptive-softmax", cutoffs, "--run-dir",
                                                                     folder.appendingPathComponent("bad").path, file])
            #expect(bad.status == 64, "\(cutoffs): \(bad.status) \(bad.stderr)")
            #expect(bad.stderr.contains(message), "\(cutoffs): \(bad.stderr)")
        }
    }

    @Test func fineTunesFromAnotherRunsWeights() throws {
        let (folder, file) = try corpus()
        let base = folder.appendingPathComponent("base").path
        #expect(try CommandRunner.run("trainlm", Self.small + ["--epochs", "40", "--lr", "2e-2", "--run-dir", base, file]).status == 0)
        let oneStep = ["--batch", "4", "--seq", "16", "--threads", "1", "--quiet", "--max-steps", "1", "--json"]
        // The loss of the first batch, computed before the first update: the starting weights' loss.
        func firstBatchLoss(_ output: CommandRunner.Output) throws -> Double {
            let record = try JSONSerialization.jsonObject(with: Data(output.text.split(separator: "\n")[0].utf8)) as! [String: Any]
            return record["train_loss"] as! Double
        }
        let tuned = folder.appendingPathComponent("tuned").path
        let fineTuned = try CommandRunner.run("trainlm", oneStep + ["--init-from", base, "--run-dir", tuned, file])
        #expect(fineTuned.status == 0, "\(fineTuned.stderr)")
        let fresh = try CommandRunner.run("trainlm", oneStep + ["--char", "--embedding", "16", "--hidden", "16",
                                                                "--run-dir", folder.appendingPathComponent("fresh").path, file])
        #expect(fresh.status == 0, "\(fresh.stderr)")
        let tunedLoss = try firstBatchLoss(fineTuned), freshLoss = try firstBatchLoss(fresh)
        #expect(tunedLoss < freshLoss - 0.5, "\(tunedLoss) \(freshLoss)")
        let options = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: tuned + "/run.json"))) as! [String: Any]
        #expect((options["initial_weights"] as? String)?.hasSuffix("base/best.safetensors") == true)
        #expect(FileManager.default.contentsEqual(atPath: base + "/vocab.vocab", andPath: tuned + "/vocab.vocab"))

        let missing = try CommandRunner.run("trainlm", oneStep + ["--init-from", folder.appendingPathComponent("nothing").path,
                                                                  "--run-dir", folder.appendingPathComponent("x").path, file])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("nothing"), "\(missing.stderr)")
        let withChar = try CommandRunner.run("trainlm", oneStep + ["--init-from", base, "--char", file])
        #expect(withChar.status != 0)
        #expect(withChar.stderr.contains("vocabulary is that run's"), "\(withChar.stderr)")
    }

    @Test func ctrlCSavesAResumableCheckpoint() throws {
        let (folder, file) = try corpus()
        let run = folder.appendingPathComponent("run").path
        let process = Process()
        process.executableURL = CommandRunner.productsFolder.appendingPathComponent("trainlm")
        process.arguments = Self.small + ["--time-budget", "3", "--eval-every", "20", "--patience", "0", "--run-dir", run, file]
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Wait until it is training (its first evaluation is written), then interrupt.
        let metrics = run + "/metrics.jsonl"
        let deadline = Date().addingTimeInterval(60)
        while (try? Data(contentsOf: URL(fileURLWithPath: metrics)))?.isEmpty ?? true, Date() < deadline {
            usleep(20_000)
        }
        process.interrupt()
        process.waitUntilExit()
        #expect(process.terminationStatus == 130)
        #expect(FileManager.default.fileExists(atPath: run + "/last-state.safetensors"))
        // Resumed, it trains for the rest of its time budget and finishes.
        let resumed = try CommandRunner.run("trainlm", ["--resume", run, "--threads", "1", "--quiet", "--json"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("resuming at step"), "\(resumed.stderr)")
        #expect(resumed.text.contains("\"outcome\":\"time-budget\""))
    }

    @Test func badInputGetsAClearErrorAndANonZeroExit() throws {
        let (folder, file) = try corpus()
        let missing = try CommandRunner.run("generate", ["--run", folder.appendingPathComponent("nope").path, "--prompt", "x"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("not a run folder"), "\(missing.stderr)")

        let binary = folder.appendingPathComponent("binary.bin")
        try Data([0x61, 0x00, 0x62, 0x0A]).write(to: binary)
        let refused = try CommandRunner.run("trainlm", Self.small + ["--run-dir", folder.appendingPathComponent("r").path, binary.path])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("binary"), "\(refused.stderr)")

        let run = folder.appendingPathComponent("run").path
        #expect(try CommandRunner.run("trainlm", Self.small + ["--max-steps", "2", "--run-dir", run, file]).status == 0)
        let weights = URL(fileURLWithPath: run + "/best.safetensors")
        let bytes = try Data(contentsOf: weights)
        try bytes.prefix(bytes.count - 7).write(to: weights)
        let truncated = try CommandRunner.run("generate", ["--run", run, "--prompt", "x"])
        #expect(truncated.status == 1)
        #expect(truncated.stderr.contains("damaged"), "\(truncated.stderr)")

        let tiny = folder.appendingPathComponent("tiny.txt")
        try "春眠\n".write(to: tiny, atomically: true, encoding: .utf8)
        let short = try CommandRunner.run("evaluate", ["--run", run, "--checkpoint", "last", "--protocol", "window",
                                                       "--length", "64", "--json", tiny.path])
        #expect(short.status == 1)
        #expect(short.stderr.contains("too short"), "\(short.stderr)")
        #expect(short.stdout.isEmpty)  // never a JSON line holding nan

        let usage = try CommandRunner.run("generate", ["--run", run, "--temperature", "-1"])
        #expect(usage.status == 64)
        let help = try CommandRunner.run("trainlm", ["--help"])
        #expect(help.status == 0 && help.text.contains("--resume"))
    }
}
