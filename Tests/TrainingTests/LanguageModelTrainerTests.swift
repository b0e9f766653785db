import FileSupport
import Foundation
import Network
import SafeTensors
import Testing
import Text
@testable import Training

@Suite struct LanguageModelTrainerTests {
    @Test func aSmallModelMemorizesASmallBilingualText() throws {
        let vocabulary = try Fixture.vocabulary()
        let path = try Fixture.file(copies: 8)
        try Fixture.expectMemorizes(Fixture.options(path, vocabulary: vocabulary, layers: [.lstm(hidden: 64)]), vocabulary)
    }

    /// With and without `stateReset`, whose draws a resumed run must repeat.
    @Test(arguments: [nil, 0.5] as [Double?])
    func anInterruptedAndResumedRunEndsBitIdenticalToAnUninterruptedOne(stateReset: Double?) throws {
        let vocabulary = try Fixture.vocabulary()
        let path = try Fixture.file(copies: 8)
        var options = Fixture.options(path, vocabulary: vocabulary)
        options.evaluateEvery = 5
        options.stateReset = stateReset
        let whole = Fixture.folder("whole")
        #expect(try Fixture.trainer(options, vocabulary, folder: whole).run() == .finished)

        let parts = Fixture.folder("parts")
        var calls = 0
        let first = try Fixture.trainer(options, vocabulary, folder: parts)
        // Interrupted between evaluations, so the carried state and the dropout position matter.
        #expect(try first.run(shouldStop: { calls += 1; return calls == 13 }) == .interrupted)
        #expect(first.progress.step == 13)
        let second = try Fixture.trainer(options, vocabulary, folder: parts, resume: true)
        #expect(second.progress.step == 13)
        #expect(try second.run() == .finished)

        for checkpoint in [RunFolder.Checkpoint.last, .best] {
            let a = try readWholeFile(path: RunFolder(path: whole).weightsPath(checkpoint))
            let b = try readWholeFile(path: RunFolder(path: parts).weightsPath(checkpoint))
            #expect(a == b, "\(checkpoint) checkpoints differ")
        }
        let logA = try MetricsLog.read(path: RunFolder(path: whole).metricsPath)
        let logB = try MetricsLog.read(path: RunFolder(path: parts).metricsPath)
        #expect(logA.map(\.validationLoss) == logB.map(\.validationLoss))
        #expect(logA.map(\.step) == logB.map(\.step))
    }

    @Test func aRunStoppedByItsTimeBudgetStillHasABestCheckpoint() throws {
        let vocabulary = try Fixture.vocabulary()
        let path = try Fixture.file(copies: 3000)
        var options = Fixture.options(path, vocabulary: vocabulary)
        options.epochs = 1000
        options.timeBudget = 0.1
        let folder = RunFolder(path: Fixture.folder())
        let trainer = try Fixture.trainer(options, vocabulary, folder: folder.path)
        #expect(try trainer.run() == .timeBudget)
        #expect(trainer.progress.step < trainer.batcher.batchesPerEpoch)  // stopped inside the first epoch
        let (_, step) = try folder.loadModel(.best, threads: 1)
        #expect(step == trainer.progress.step)
        // The stop's evaluation records the training speed, not 0.
        let last = try #require(try MetricsLog.read(path: folder.metricsPath).last)
        #expect((last.tokensPerSecond ?? 0) > 0, "\(last)")
    }

    @Test func aFinishedRunIsNotResumedAndAnExistingRunIsNotOverwritten() throws {
        let vocabulary = try Fixture.vocabulary()
        let path = try Fixture.file(copies: 2)
        var options = Fixture.options(path, vocabulary: vocabulary)
        options.maxSteps = 4
        let folder = Fixture.folder()
        _ = try Fixture.trainer(options, vocabulary, folder: folder).run()
        #expect(throws: TrainingError.self) { try Fixture.trainer(options, vocabulary, folder: folder, resume: true) }
        #expect(throws: TrainingError.self) { try Fixture.trainer(options, vocabulary, folder: folder) }
    }

    @Test func resumingWithOtherOptionsOrOtherDataIsRefused() throws {
        let vocabulary = try Fixture.vocabulary()
        let path = try Fixture.file(copies: 3)
        let options = Fixture.options(path, vocabulary: vocabulary)
        let folder = Fixture.folder()
        _ = try Fixture.trainer(options, vocabulary, folder: folder).run(shouldStop: { true })
        var other = options
        other.learningRate *= 2
        #expect(throws: TrainingError.self) { try Fixture.trainer(other, vocabulary, folder: folder, resume: true) }
        try (Fixture.text + "changed\n").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: TrainingError.self) { try Fixture.trainer(options, vocabulary, folder: folder, resume: true) }
    }

    @Test func aCheckpointReloadsToIdenticalLogits() throws {
        let vocabulary = try Fixture.vocabulary()
        let path = try Fixture.file(copies: 2)
        var options = Fixture.options(path, vocabulary: vocabulary)
        options.maxSteps = 6
        let folder = RunFolder(path: Fixture.folder())
        let trainer = try Fixture.trainer(options, vocabulary, folder: folder.path)
        _ = try trainer.run()
        let (loaded, step) = try folder.loadModel(.last, threads: 1)
        #expect(step == 6)
        let tokens = (0..<32).map { Int32($0 % vocabulary.count) }
        let targets = tokens.reversed().map { $0 }
        trainer.model.training = false
        loaded.training = false
        trainer.model.resetState()
        let lossA = try trainer.model.forward(tokens: tokens, targets: targets, batch: 2, steps: 16)
        let logitsA = Array(trainer.model.logits)
        let lossB = try loaded.forward(tokens: tokens, targets: targets, batch: 2, steps: 16)
        #expect(lossA == lossB)
        #expect(logitsA == Array(loaded.logits))
    }

    @Test func damagedTruncatedOrMismatchedCheckpointsAreRefusedWithAReason() throws {
        let vocabulary = try Fixture.vocabulary()
        let path = try Fixture.file(copies: 2)
        var options = Fixture.options(path, vocabulary: vocabulary)
        options.maxSteps = 3
        let folder = RunFolder(path: Fixture.folder())
        _ = try Fixture.trainer(options, vocabulary, folder: folder.path).run()
        let weights = folder.weightsPath(.best)
        let good = try readWholeFile(path: weights)

        func expectRefusal(_ bytes: [UInt8], mentioning fragment: String) throws {
            try Data(bytes).write(to: URL(fileURLWithPath: weights))
            do {
                _ = try folder.loadModel(.best, threads: 1)
                Issue.record("a damaged checkpoint loaded")
            } catch let error as TrainingError {
                #expect("\(error)".contains(fragment), "\(error)")
            }
        }
        try expectRefusal(Array(good.prefix(good.count / 2)), mentioning: "damaged")
        try expectRefusal(Array(good.prefix(5)), mentioning: "damaged")
        var flipped = good
        flipped[10] ^= 0x5A  // inside the JSON header
        try expectRefusal(flipped, mentioning: "best.safetensors")
        // A NaN in the weights.
        let file = try SafeTensorsFile(bytes: good)
        var tensors = try file.tensors.map { NamedTensor($0.name, shape: $0.shape, try file.floats($0.name)) }
        tensors[0] = NamedTensor(tensors[0].name, shape: tensors[0].shape,
                                 [Float.nan] + Array(try file.floats(tensors[0].name).dropFirst()))
        try expectRefusal(try encodeSafeTensors(tensors, metadata: file.metadata), mentioning: "finite")
        // Weights of another configuration.
        var other = options.model
        other.layers = [.lstm(hidden: 8)]
        let stranger = try Model<Float>(config: other, seed: 1)
        try expectRefusal(try encodeSafeTensors(stranger.parameters.namedTensors(),
                                                metadata: ["config": RunFolder.configJSON(other)]),
                          mentioning: "configured differently")
        try expectRefusal(try encodeSafeTensors(stranger.parameters.namedTensors()), mentioning: "shape")
        // No checkpoint at all, and a folder that is not a run.
        try FileManager.default.removeItem(atPath: weights)
        #expect(throws: TrainingError.self) { try folder.loadModel(.best, threads: 1) }
        #expect(throws: TrainingError.self) { try RunFolder(path: Fixture.folder("nothing")).loadModel(.best, threads: 1) }
    }

    @Test func aLossThatTurnsNonFiniteStopsTheRunAndLeavesTheCheckpointsIntact() throws {
        let vocabulary = try Fixture.vocabulary()
        let path = try Fixture.file(copies: 3)
        var options = Fixture.options(path, vocabulary: vocabulary, layers: [.lstm(hidden: 24)])
        options.evaluateEvery = 2
        options.warmupSteps = 0
        options.learningRate = 1e30
        options.minLearningRate = 1e30
        options.clip = 0
        let folder = RunFolder(path: Fixture.folder())
        let trainer = try Fixture.trainer(options, vocabulary, folder: folder.path)
        #expect {
            _ = try trainer.run()
        } throws: { error in
            guard case TrainingError.nonFiniteLoss = error else { return false }
            return true
        }
        #expect(trainer.progress.skippedBatches == 4)  // rolled back four times; the fifth failure stops
        // What was saved is finite and loads.
        _ = try folder.loadModel(.last, threads: 1)
    }
}

@Suite struct TokenCorpusTests {
    @Test func theValidationTailStartsOnALineAndNeverOverlapsTraining() throws {
        let lines = (0..<100).map { "line \($0) 第\($0)行" }
        let text = Array((lines.joined(separator: "\n") + "\n").utf8)
        let cut = TokenCorpus.heldOutStart(text, fraction: 0.1)
        #expect(text[cut - 1] == 0x0A)
        let held = String(decoding: text[cut...], as: UTF8.self).split(separator: "\n")
        let kept = String(decoding: text[..<cut], as: UTF8.self).split(separator: "\n")
        #expect(Set(held).isDisjoint(with: Set(kept)))
        #expect(held.count + kept.count == 100)
        #expect((8...12).contains(held.count))
    }

    @Test func aSingleLongLineIsCutAtACharacterBoundary() {
        let text = Array(String(repeating: "汉字", count: 50).utf8)
        let cut = TokenCorpus.heldOutStart(text, fraction: 0.25)
        #expect(text[cut] & 0xC0 != 0x80)
        #expect(cut > 0 && cut < text.count)
    }

    @Test func invalidEmptyOrBinaryFilesAreRefusedByName() throws {
        let tokenizer = try Tokenizer(vocabulary: Fixture.vocabulary())
        for (bytes, fragment) in [([UInt8]([0x61, 0xFF, 0x0A]), "not valid UTF-8"), ([], "is empty"),
                                  ([0x61, 0x00, 0x62], "binary")] {
            let path = Fixture.folder("bad.txt")
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            do {
                _ = try TokenCorpus.load(train: [.init(path: path)], validationFiles: [], validationFraction: 0.1,
                                         tokenizer: tokenizer, threads: 1)
                Issue.record("accepted \(bytes)")
            } catch {
                #expect("\(error)".contains(fragment) && "\(error)".contains("bad.txt"), "\(error)")
            }
        }
    }

    @Test func aByteLimitCutsAtALineBreak() throws {
        let path = try Fixture.file()
        let text = try TokenCorpus.read(.init(path: path, limit: 100))
        #expect(text.count <= 100)
        #expect(text.last == 0x0A)
    }

    @Test func anOffsetStartsAtTheLineThatHoldsItAndTheLimitCountsFromThere() throws {
        let path = Fixture.folder("lines.txt")
        try "first line\nsecond line\nthird line\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try TokenCorpus.read(.init(path: path, offset: 14)) == Array("second line\nthird line\n".utf8))
        #expect(try TokenCorpus.read(.init(path: path, offset: 11)) == Array("second line\nthird line\n".utf8))
        #expect(try TokenCorpus.read(.init(path: path, offset: 14, limit: 15)) == Array("second line\n".utf8))
        #expect(try TokenCorpus.read(.init(path: path, offset: 0)) == Array("first line\nsecond line\nthird line\n".utf8))
        // Past the end (the last line break included) nothing is left: refused with the reason.
        #expect(throws: TrainingError.self) { try TokenCorpus.read(.init(path: path, offset: 1000)) }
        do { _ = try TokenCorpus.read(.init(path: path, offset: 1000)) } catch {
            #expect("\(error)".contains("no text after byte"), "\(error)")
        }
        // Error offsets count from the file's start.
        try Data(Array("ok\nbad \u{FF}\n".utf8).map { $0 == 0xC3 ? 0xFF : $0 }).write(to: URL(fileURLWithPath: path))
        do { _ = try TokenCorpus.read(.init(path: path, offset: 4)); Issue.record("accepted invalid UTF-8") } catch {
            #expect("\(error)".contains("offset 7"), "\(error)")
        }
    }

    @Test func interleavingAlternatesWholeLinesUntilEveryTextIsUsedUp() {
        func run(_ texts: [String], _ block: Int) -> String {
            String(decoding: TokenCorpus.interleaved(texts.map { Array($0.utf8) }, blockBytes: block), as: UTF8.self)
        }
        // Each block runs to the first line break at or after `block` bytes.
        #expect(run(["a1\na2\na3\n", "b1\nb2\n"], 3) == "a1\nb1\na2\nb2\na3\n")
        #expect(run(["a1\na2\na3\n", "b1\nb2\n"], 4) == "a1\na2\nb1\nb2\na3\n")
        #expect(run(["a1\na2\n", "b1\nb2\n"], 100) == "a1\na2\nb1\nb2\n")
        // A long line is never cut; a text without a final line break gets one.
        #expect(run(["aaaaaaaa\na2", "b1\nb2\nb3\n"], 2) == "aaaaaaaa\nb1\na2\nb2\nb3\n")
        // Every byte of every text is used exactly once (line breaks added only at the ends).
        let zh = (0..<40).map { "第\($0)行中文。\n" }.joined(), en = (0..<55).map { "line \($0) of English\n" }.joined()
        let mixed = run([zh, en], 64)
        #expect(mixed.utf8.count == zh.utf8.count + en.utf8.count)
        #expect(Set(mixed.split(separator: "\n")) == Set((zh + en).split(separator: "\n")))
        #expect(!mixed.hasPrefix(zh))
    }

    @Test func theDefaultDataIsInterleavedAndOldRunFilesReadAsNotInterleaved() throws {
        var options = TrainingOptions(train: [.init(path: "a"), .init(path: "b")],
                                      model: ModelConfig(vocabularySize: 10, embeddingSize: 4, layers: [.lstm(hidden: 4)]))
        options.interleaveBytes = 4096
        let (written, old) = try Fixture.readWithout("interleave_bytes", options)
        #expect(written as? Int == 4096)
        #expect(old.interleaveBytes == nil)
        options.interleaveBytes = 0
        #expect(throws: TrainingError.self) { try options.validate() }
    }

    /// The default English text is Shakespeare in modern spelling (`LanguageModelData.englishOffset`).
    @Test(.enabled(if: FileManager.default.fileExists(atPath: defaultEnglishPath)))
    func theDefaultEnglishTextStartsAtTheFirstModernSpellingPlay() throws {
        var source = LanguageModelData.defaultSources(corpora: corporaRoot)[1]
        #expect(source.path == defaultEnglishPath)
        source.limit = 200
        let text = String(decoding: try TokenCorpus.read(source), as: UTF8.self)
        #expect(text.hasPrefix("ALL'S WELL THAT ENDS WELL\n\nby William Shakespeare\n"), "\(text)")
    }
}

private let corporaRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("corpora").path
private let defaultEnglishPath = (corporaRoot as NSString).appendingPathComponent("en-plays/data/text.txt")

@Suite struct EvaluatorTests {
    func model(_ vocabulary: Vocabulary) throws -> Model<Float> {
        let config = ModelConfig(vocabularySize: vocabulary.count, embeddingSize: 8, layers: [.lstm(hidden: 12)])
        return try Model<Float>(config: config, seed: 3)
    }

    @Test func oneStreamInOneChunkIsOneForward() throws {
        let vocabulary = try Fixture.vocabulary()
        let tokens = try Tokenizer(vocabulary: vocabulary).encode(Fixture.text).ids
        let m = try model(vocabulary)
        let evaluator = Evaluator(sharing: m, charactersPerToken: Array(repeating: 1, count: vocabulary.count), threads: 1)
        let n = tokens.count
        let result = try evaluator.evaluate(tokens, protocol: .stream, streams: 1, length: n - 1)
        m.training = false
        let loss = try m.forward(tokens: Array(tokens.dropLast()), targets: Array(tokens.dropFirst()), batch: 1, steps: n - 1)
        #expect(result.tokens == n - 1)
        #expect(abs(result.natsPerToken - Double(loss)) < 1e-5)
        // Shorter chunks with the state carried give the same loss (an LSTM has no window).
        let chunked = try evaluator.evaluate(tokens, protocol: .stream, streams: 1, length: 7)
        #expect(chunked.tokens == n - 1)
        #expect(abs(chunked.natsPerToken - Double(loss)) < 1e-5)
    }

    @Test func windowsCoverEveryWholeWindowFromAnEmptyState() throws {
        let vocabulary = try Fixture.vocabulary()
        let tokens = try Tokenizer(vocabulary: vocabulary).encode(Fixture.text).ids
        let m = try model(vocabulary)
        let evaluator = Evaluator(sharing: m, charactersPerToken: Array(repeating: 1, count: vocabulary.count), threads: 1)
        let result = try evaluator.evaluate(tokens, protocol: .window, streams: 3, length: 10)
        let windows = (tokens.count - 1) / 10
        #expect(result.tokens == windows * 10)
        // The first window alone, from a zero state.
        m.training = false
        m.resetState()
        let first = try m.forward(tokens: Array(tokens[0..<10]), targets: Array(tokens[1...10]), batch: 1, steps: 10)
        let single = try evaluator.evaluate(Array(tokens[0...10]), protocol: .window, streams: 3, length: 10)
        #expect(abs(single.natsPerToken - Double(first)) < 1e-5)
    }

    @Test func charactersCountLeadBytesAndSkipSpecials() {
        let tokens: [[UInt8]] = [Array("<eos>".utf8), [0xE4], [0xB8], Array("汉".utf8), Array("ab".utf8)]
        #expect(Evaluator.charactersPerToken(tokens, specials: [0]) == [0, 1, 0, 1, 2])
    }
}
