import Testing
import TestSupport
@testable import Text

@Suite struct BPETrainerTests {
    @Test func mergesEqualThePlainReferenceTrainer() throws {
        let v = try Fixtures.vocabulary(size: 420)
        var words: [[UInt8]: Int] = [:]
        for _ in 0..<3 {
            var rest = Array(Fixtures.text.utf8)[...]
            // Count as the trainer does: user words are cut out first.
            let user = Array("人工智能".utf8)
            while let r = rest.firstRange(of: user) {
                for p in PreTokenizer().pieces(Array(rest[..<r.lowerBound])) { words[p, default: 0] += 1 }
                rest = rest[r.upperBound...]
            }
            for p in PreTokenizer().pieces(Array(rest)) { words[p, default: 0] += 1 }
        }
        let base = try Vocabulary(settings: v.settings, tokens: Array(v.tokens[..<(v.count - v.kinds.filter { $0 == .merge }.count)]),
                                  kinds: v.kinds.filter { $0 != .merge }, merges: [])
        let expected = ReferenceBPE.trainMerges(words: words, base: base, size: 420, minFrequency: 2)
        #expect(v.merges == expected)
        #expect(v.count == 420)
    }

    @Test func randomCorporaMatchTheReference() throws {
        var rng = SeededGenerator(seed: 11)
        let alphabet = Array("abcab 中国人民中国，。\n".unicodeScalars)
        for round in 0..<6 {
            var text = ""
            for _ in 0..<400 { text.unicodeScalars.append(alphabet[rng.next(upTo: alphabet.count)]) }
            var options = BPETrainer.Options()
            options.vocabularySize = 256 + 3 + 40
            options.threads = 1 + round % 2
            options.minFrequency = 1 + round % 3
            var trainer = try BPETrainer(options: options)
            try trainer.add(text)
            let v = try trainer.train()
            var words: [[UInt8]: Int] = [:]
            for p in PreTokenizer().pieces(Array(text.utf8)) { words[p, default: 0] += 1 }
            let fixed = v.kinds.filter { $0 != .merge }.count
            let base = try Vocabulary(settings: v.settings, tokens: Array(v.tokens[..<fixed]), kinds: Array(v.kinds[..<fixed]), merges: [])
            #expect(v.merges == ReferenceBPE.trainMerges(words: words, base: base, size: options.vocabularySize,
                                                          minFrequency: options.minFrequency), "round \(round)")
        }
    }

    @Test func trainingIsDeterministicAcrossRunsAndThreadCounts() throws {
        let a = try Fixtures.vocabulary(threads: 1)
        let b = try Fixtures.vocabulary(threads: 2)
        let c = try Fixtures.vocabulary(threads: 2)
        #expect(a == b)
        #expect(b == c)
        #expect(VocabularyFile.serialize(a) == VocabularyFile.serialize(c))
    }

    @Test func layoutSpecialsBytesUserWordsCharactersMerges() throws {
        let v = try Fixtures.vocabulary()
        #expect(v.kinds[0] == .special && v.tokens[0] == Array("<pad>".utf8))
        #expect(v.kinds[1] == .special && v.tokens[1] == Array("<eos>".utf8))
        #expect((2..<258).allSatisfy { v.kinds[$0] == .byte && v.tokens[$0] == [UInt8($0 - 2)] })
        #expect(v.kinds[258] == .user && v.tokens[258] == Array("人工智能".utf8))
        let characters = v.kinds.indices.filter { v.kinds[$0] == .character }
        #expect(characters.first == 259)
        #expect(v.id(of: Array("的".utf8)) != nil || v.id(of: Array("们".utf8)) != nil)
        #expect(v.count == 400)
    }

    @Test func minimumFrequencyStopsTraining() throws {
        let v = try Fixtures.vocabulary(size: 100_000, minFrequency: 1_000_000)
        #expect(v.merges.isEmpty)
        #expect(v.kinds.allSatisfy { $0 != .character })  // no character reaches the minimum either
    }

    @Test func badOptionsAreRefused() {
        var options = BPETrainer.Options()
        options.vocabularySize = 100
        #expect(throws: Vocabulary.InvalidError.self) { try BPETrainer(options: options) }
        options.vocabularySize = 1000
        options.specialTokens = ["<a>", "<a>"]
        #expect(throws: Vocabulary.InvalidError.self) {
            var t = try BPETrainer(options: options)
            try t.add("text")
            _ = try t.train()
        }
    }

    @Test func invalidUTF8InTrainingTextIsAnErrorWithTheOffset() throws {
        var trainer = try BPETrainer(options: .init())
        let bytes: [UInt8] = Array("hello ".utf8) + [0xFF] + Array(" world\n".utf8)
        #expect(throws: UTF8Bytes.InvalidError(offset: 6)) { try bytes.withUnsafeBufferPointer { try trainer.add($0) } }
    }

    @Test func memoryBoundPrunesRarePieces() throws {
        var options = BPETrainer.Options()
        options.maxDistinctPieces = 2048
        options.threads = 1
        var trainer = try BPETrainer(options: options)
        var rng = SeededGenerator(seed: 3)
        var text = ""
        let letters = Array("abcdefghijklmnopqrstuvwxyz")
        for _ in 0..<20_000 { text += " " + String((0..<8).map { _ in letters[rng.next(upTo: 26)] }) }
        for _ in 0..<50 { text += " common" }
        try trainer.add(text + "\n")
        _ = try trainer.train()
        #expect(trainer.statistics.prunedPieces > 0)
        #expect(trainer.statistics.distinctPieces <= 2048)
    }
}

@Suite struct BPETrainerStreamingTests {
    /// A text where pieces span line breaks (blank lines, "。\n\n") so a careless cut would change counts.
    static let text = (0..<60).map { k in k % 3 == 0 ? "第\(k)章。\n\n  \n" : "It was, he said,--\n\nthe end of line \(k).\n" }.joined()

    func train(chunkSizes: [Int]?) throws -> Vocabulary {
        var options = BPETrainer.Options()
        options.vocabularySize = 330
        var trainer = try BPETrainer(options: options)
        let bytes = Array(Self.text.utf8)
        guard let sizes = chunkSizes else {
            try bytes.withUnsafeBufferPointer { try trainer.add($0) }
            return try trainer.train()
        }
        // Cut after line breaks, as the line reader does, at varying distances.
        var start = 0, k = 0
        while start < bytes.count {
            var end = min(bytes.count, start + sizes[k % sizes.count])
            while end < bytes.count && bytes[end - 1] != 0x0A { end += 1 }
            try bytes[start..<end].withUnsafeBufferPointer { try trainer.addStreamChunk($0) }
            start = end
            k += 1
        }
        return try trainer.train()
    }

    @Test func streamedChunksTrainLikeTheWholeText() throws {
        let whole = try train(chunkSizes: nil)
        #expect(try train(chunkSizes: [1]) == whole)
        #expect(try train(chunkSizes: [7, 100, 3]) == whole)
        #expect(try train(chunkSizes: [1000]) == whole)
    }
}

@Suite struct CharacterLevelTests {
    @Test func everyCharacterSeenIsATokenAndNothingMerges() throws {
        var options = BPETrainer.Options()
        options.characterLevel = true
        options.specialTokens = ["<eos>"]
        var trainer = try BPETrainer(options: options)
        try trainer.add("天天向上，好好学习 day by day\n一次\n")
        let v = try trainer.train()
        #expect(v.merges.isEmpty)
        let characters = Set(v.kinds.indices.filter { v.kinds[$0] == .character }.map { String(decoding: v.tokens[$0], as: Unicode.UTF8.self) })
        #expect(characters == ["天", "向", "上", "，", "好", "学", "习", "一", "次"])
        #expect(v.count == 1 + 256 + 9)
        let tokenizer = try Tokenizer(vocabulary: v)
        let e = try tokenizer.encode("好好学习！day")  // "！" was never seen: three byte tokens
        #expect(e.count == 4 + 3 + 3)
        #expect(try tokenizer.decode(e.ids) == Array("好好学习！day".utf8))
    }
}
