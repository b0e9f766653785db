import Testing
@testable import Text

@Suite struct HanWordSplitterTests {
    @Test func hanRunsAreCutAtWordBoundariesAndNothingElseChanges() {
        let splitter = try! HanWordSplitter()
        let text = Array("我们喜欢自然语言处理。 The tokenizer's output，北京欢迎你！".utf8)
        var pieces: [String] = []
        text.withUnsafeBufferPointer { b in
            splitter.forEachPiece(b) { s, e in pieces.append(String(decoding: b[s..<e], as: Unicode.UTF8.self)) }
        }
        #expect(pieces.joined() == String(decoding: text, as: Unicode.UTF8.self))
        #expect(pieces.starts(with: ["我们", "喜欢", "自然", "语言", "处理"]))
        #expect(pieces.contains(" The") && pieces.contains(" tokenizer") && pieces.contains("'s"))
        #expect(pieces.contains("，北京"))  // the leading mark stays with the first word
    }

    @Test func aWordAwareVocabularyRoundTripsAndKeepsTokensInsideWords() throws {
        var options = BPETrainer.Options()
        options.vocabularySize = 500
        options.settings = .init(pretokenizer: HanWordSplitter.version)
        var trainer = try BPETrainer(options: options)
        for _ in 0..<3 { try trainer.add(Fixtures.text) }
        let v = try trainer.train()
        let file = try VocabularyFile.parse(VocabularyFile.serialize(v))
        #expect(file.settings.splitsChineseWords)
        let tokenizer = try Tokenizer(vocabulary: file)
        for probe in Fixtures.probes + Fixtures.lines {
            let e = try tokenizer.encode(probe)
            #expect(try tokenizer.decode(e.ids) == Array(probe.utf8))
        }
        // No token straddles a word boundary that falls between two Han characters.
        let segmenter = try WordSegmenter()
        let line = Array("我们喜欢自然语言处理，也喜欢机器学习。".utf8)
        let hanOnBothSides = try line.withUnsafeBufferPointer { try segmenter.boundaries($0) }.filter { b in
            b >= 3 && b + 3 <= line.count && (0xE4...0xE9).contains(line[b - 3]) && (0xE4...0xE9).contains(line[b])
        }
        #expect(hanOnBothSides.count >= 5)
        let starts = Set(try tokenizer.encode(line).starts)
        #expect(hanOnBothSides.allSatisfy { starts.contains($0) })
    }
}
