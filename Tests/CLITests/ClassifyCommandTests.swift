import Foundation
import Testing

/// classify train / predict / test as a user runs them.
@Suite(.serialized) struct ClassifyCommandTests {
    static let positive = ["这本书写得太好了，强烈推荐", "服务很好，非常满意", "great product, love it", "wonderful and excellent"]
    static let negative = ["太差了，不推荐", "服务很差，非常失望", "terrible product, hate it", "awful and disappointing"]
    static let small = ["--embedding", "16", "--hidden", "16", "--batch", "8", "--lr", "0.01", "--threads", "1", "--quiet"]

    func data(repeats: Int = 6) throws -> (URL, String) {
        let folder = try CommandRunner.temporaryFolder()
        let lines = (0..<repeats).flatMap { _ in Self.positive.map { "positive\t\($0)" } + Self.negative.map { "negative\t\($0)" } }
        let file = folder.appendingPathComponent("train.tsv")
        try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        return (folder, file.path)
    }

    func trainedModel() throws -> (URL, String) {
        let (folder, file) = try data()
        let model = folder.appendingPathComponent("model").path
        let train = try CommandRunner.run("classify", ["train", file, "--valid", file, "--epochs", "15", "--patience", "15",
                                                       "--out", model, "--json"] + Self.small)
        #expect(train.status == 0, "\(train.stderr)")
        #expect(train.text.split(separator: "\n").count >= 1)
        return (folder, model)
    }

    @Test func trainsThenPredictsOneVerdictPerLineInOrder() throws {
        let (folder, model) = try trainedModel()
        let input = "这本书写得太好了，强烈推荐\n\nterrible product, hate it\n   \n"
        let out = try CommandRunner.run("classify", ["--model", model, "--threads", "1"], stdin: Array(input.utf8))
        #expect(out.status == 0, "\(out.stderr)")
        let lines = out.text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == 4)
        #expect(lines[0].hasPrefix("positive 0."))
        #expect(lines[1] == "no-text")
        #expect(lines[2].hasPrefix("negative 0."))
        #expect(lines[3] == "no-text")

        // The last line needs no line break; JSON gives every probability; -k 2 both labels.
        let json = try CommandRunner.run("classify", ["predict", "--model", model, "--json", "-k", "2"],
                                         stdin: Array("great product, love it\nwonderful".utf8))
        let records = try json.text.split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        #expect(records.count == 2)
        #expect(records[0]["index"] as? Int == 0 && records[1]["index"] as? Int == 1)
        #expect(records[0]["label"] as? String == "positive")
        let probabilities = records[0]["probabilities"] as! [String: Double]
        #expect(abs(probabilities.values.reduce(0, +) - 1) < 1e-4)
        #expect((records[0]["top"] as! [Any]).count == 2)

        // Files in order; a threshold of 1 makes every line uncertain.
        let file = folder.appendingPathComponent("in.txt")
        try "很好\nbad\n".write(to: file, atomically: true, encoding: .utf8)
        let uncertain = try CommandRunner.run("classify", ["--model", model, "--threshold", "1", file.path, file.path])
        #expect(uncertain.text.split(separator: "\n").count == 4)
        #expect(uncertain.text.split(separator: "\n").allSatisfy { $0.hasPrefix("uncertain 0.") })
    }

    @Test func answersEachLineBeforeTheInputEnds() throws {
        let (_, model) = try trainedModel()
        let process = Process()
        process.executableURL = CommandRunner.productsFolder.appendingPathComponent("classify")
        process.arguments = ["--model", model, "--threads", "1"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { process.terminate() }
        // A classify that waits for the end of its input would hang the test: stop it.
        let watchdog = DispatchWorkItem { process.terminate() }
        DispatchQueue.global().asyncAfter(deadline: .now() + 60, execute: watchdog)
        defer { watchdog.cancel() }
        // Like `tail -f`: one line, and the input stays open; the answer must come anyway.
        input.fileHandleForWriting.write(Data("great product, love it\n".utf8))
        var received: [UInt8] = []
        let reader = output.fileHandleForReading
        while !received.contains(0x0A) {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            received += chunk
        }
        #expect(String(decoding: received, as: UTF8.self).hasPrefix("positive "))
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }

    @Test func badLinesGetErrorVerdictsAndTheStreamGoesOn() throws {
        let (_, model) = try trainedModel()
        let input: [UInt8] = Array("great\n".utf8) + [0x62, 0xFF, 0x0A] + Array(String(repeating: "x", count: 300).utf8) + [0x0A]
            + Array("awful\n".utf8)
        let out = try CommandRunner.run("classify", ["--model", model, "--max-line-bytes", "100"], stdin: input)
        #expect(out.status == 2)
        let lines = out.text.split(separator: "\n")
        #expect(lines.count == 4)
        #expect(lines[1] == "error: invalid UTF-8 at byte 1")
        #expect(lines[2] == "error: line of 300 bytes exceeds the limit of 100")
        #expect(lines[3].hasPrefix("negative") || lines[3].hasPrefix("positive"))
    }

    @Test func testPrintsScoresAndJSON() throws {
        let (folder, model) = try trainedModel()
        let (_, file) = try data(repeats: 1)
        let text = try CommandRunner.run("classify", ["test", file, "--model", model])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.text.contains("accuracy 1.0000"))
        #expect(text.text.contains("confusion"))
        let json = try CommandRunner.run("classify", ["test", file, "--model", model, "--json"])
        let report = try JSONSerialization.jsonObject(with: Data(json.stdout)) as! [String: Any]
        #expect(report["accuracy"] as? Double == 1)
        #expect((report["texts_per_second"] as? Double ?? 0) > 0)

        let unseen = folder.appendingPathComponent("unseen.tsv")
        try "neutral\tso so\n".write(to: unseen, atomically: true, encoding: .utf8)
        let refused = try CommandRunner.run("classify", ["test", unseen.path, "--model", model])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("'neutral'"))
    }

    @Test func clearErrorsForBadDataAndModels() throws {
        let folder = try CommandRunner.temporaryFolder()
        func file(_ name: String, _ text: String) throws -> String {
            let url = folder.appendingPathComponent(name)
            try text.write(to: url, atomically: true, encoding: .utf8)
            return url.path
        }
        let cases: [(String, String)] = [
            (try file("one.tsv", "positive\tgood\npositive\tgreat\n"), "single label"),
            (try file("ragged.tsv", "positive\tgood\nnegative\tbad\textra\n"), "line 2"),
            (try file("empty.tsv", ""), "no labelled examples"),
            (folder.appendingPathComponent("missing.tsv").path, "cannot read"),
        ]
        for (path, expected) in cases {
            let out = try CommandRunner.run("classify", ["train", path, "--out", folder.appendingPathComponent("m").path] + Self.small)
            #expect(out.status == 1, "\(path)")
            #expect(out.stderr.contains(expected), "\(path): \(out.stderr)")
        }
        let missing = try CommandRunner.run("classify", ["--model", folder.appendingPathComponent("nothing").path], stdin: Array("x\n".utf8))
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("not a classifier folder"))

        let (_, model) = try trainedModel()
        let weights = URL(fileURLWithPath: model).appendingPathComponent("model.safetensors")
        let bytes = try Data(contentsOf: weights)
        try bytes.prefix(100).write(to: weights)
        let truncated = try CommandRunner.run("classify", ["--model", model], stdin: Array("x\n".utf8))
        #expect(truncated.status == 1)
        #expect(truncated.stderr.contains("model.safetensors"))
    }

    /// --prior: uniform by default, training on request; a classifier from before label
    /// counts were kept falls back to training, and refuses uniform when asked for it.
    @Test func thePriorIsUniformByDefaultAndTrainingOnRequest() throws {
        // English complaints four times as often as English praise: the priors then differ.
        let (folder, file) = try data()
        let extra = (0..<18).flatMap { _ in Self.negative.filter { $0.unicodeScalars.allSatisfy(\.isASCII) }.map { "negative\t\($0)" } }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
        handle.seekToEndOfFile()
        handle.write(Data((extra.joined(separator: "\n") + "\n").utf8))
        try handle.close()
        let model = folder.appendingPathComponent("model").path
        let train = try CommandRunner.run("classify", ["train", file, "--valid", file, "--epochs", "4", "--out", model] + Self.small)
        #expect(train.status == 0, "\(train.stderr)")
        let input = Array("服务很好，非常满意\nterrible product, hate it\n".utf8)
        func probabilities(_ arguments: [String]) throws -> [[String: Double]] {
            let out = try CommandRunner.run("classify", ["--model", model, "--json"] + arguments, stdin: input)
            #expect(out.status == 0, "\(out.stderr)")
            return out.text.split(separator: "\n").map {
                (try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["probabilities"] as! [String: Double]
            }
        }
        // Lines read together or one by one are batched differently, which can move the last bit.
        func close(_ a: [[String: Double]], _ b: [[String: Double]]) -> Bool {
            a.count == b.count && zip(a, b).allSatisfy { x, y in
                x.keys == y.keys && x.allSatisfy { abs($0.value - y[$0.key]!) < 1e-5 }
            }
        }
        let byDefault = try probabilities([]), uniform = try probabilities(["--prior", "uniform"])
        let training = try probabilities(["--prior", "training"])
        #expect(close(byDefault, uniform))
        #expect(!close(uniform, training))
        // The English line leans less negative once the training prior is divided out.
        #expect(uniform[1]["negative"]! < training[1]["negative"]!)
        let bad = try CommandRunner.run("classify", ["--model", model, "--prior", "even"], stdin: input)
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("--prior must be uniform or training"))

        let specPath = model + "/classifier.json"
        var spec = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: specPath))) as! [String: Any]
        #expect(spec["label_counts"] != nil)
        spec.removeValue(forKey: "label_counts")
        try JSONSerialization.data(withJSONObject: spec).write(to: URL(fileURLWithPath: specPath))
        #expect(close(try probabilities([]), training))
        let refused = try CommandRunner.run("classify", ["--model", model, "--prior", "uniform"], stdin: input)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("does not record its training labels' counts"), "\(refused.stderr)")
    }

    @Test func transfersFromALanguageModelRun() throws {
        let (folder, file) = try data()
        let corpus = folder.appendingPathComponent("corpus.txt")
        try String(repeating: (Self.positive + Self.negative).joined(separator: "\n") + "\n", count: 5)
            .write(to: corpus, atomically: true, encoding: .utf8)
        let lm = folder.appendingPathComponent("lm").path
        let trainlm = try CommandRunner.run("trainlm", ["--char", "--embedding", "16", "--hidden", "16", "--batch", "4", "--seq", "16",
                                                        "--epochs", "1", "--state-reset", "0.25", "--threads", "1", "--quiet", "--run-dir", lm, corpus.path])
        #expect(trainlm.status == 0, "\(trainlm.stderr)")
        let model = folder.appendingPathComponent("model").path
        let unlabelled = folder.appendingPathComponent("unlabelled.txt").path
        try "一本好书\nan ordinary day\n".write(toFile: unlabelled, atomically: true, encoding: .utf8)
        // trainlm's default stack has two LSTM layers; the encoder keeps the lowest.
        let out = try CommandRunner.run("classify", ["train", file, "--valid", file, "--lm", lm, "--finetune-lm-epochs", "1", "--unfreeze-epochs", "1", "--epochs", "3",
                                                     "--lm-text", unlabelled, "--encoder-layers", "1", "--ngram-buckets", "512",
                                                     "--batch", "8", "--threads", "1", "--quiet", "--out", model, "--json"])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stderr.contains("fine-tuning the language model"))
        let spec = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: model + "/classifier.json"))) as! [String: Any]
        #expect((spec["language_model"] as? String)?.hasSuffix("model/lm") == true)
        #expect(((spec["model"] as? [String: Any])?["layers"] as? [Any])?.count == 1)
        #expect(spec["ngram_buckets"] as? Int == 512)
        // The language model was fine-tuned on the training texts and the unlabelled file.
        let run = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: model + "/lm/run.json"))) as! [String: Any]
        let sources = (run["train"] as? [[String: Any]])?.compactMap { $0["path"] as? String }
        #expect(sources?.count == 2)
        #expect(sources?.last == unlabelled)
        // ... carrying its state from batch to batch, without the resets the run trained with.
        #expect(run["state_reset"] == nil)
        let withoutFineTuning = try CommandRunner.run("classify", ["train", file, "--lm", lm, "--lm-text", unlabelled, "--quiet"])
        #expect(withoutFineTuning.status != 0)
        #expect(withoutFineTuning.stderr.contains("--lm-text needs --finetune-lm-epochs"), "\(withoutFineTuning.stderr)")
        let tooDeep = try CommandRunner.run("classify", ["train", file, "--valid", file, "--lm", lm, "--encoder-layers", "3",
                                                         "--threads", "1", "--quiet", "--out", model + "-deep"])
        #expect(tooDeep.status == 1)
        #expect(tooDeep.stderr.contains("cannot keep 3"), "\(tooDeep.stderr)")
        // Three epochs: the head alone, then the LSTM, then the embedding too.
        let groups = out.text.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["trainable_groups"] as? Int
        }
        #expect(groups == [0, 1, 2])
    }
}
