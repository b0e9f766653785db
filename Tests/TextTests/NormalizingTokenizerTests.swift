import Testing
@testable import Text

@Suite struct NormalizingTokenizerTests {
    func vocabulary(_ normalization: String, caseFold: Bool = false) throws -> Vocabulary {
        var options = BPETrainer.Options()
        options.vocabularySize = 400
        options.settings = .init(normalization: normalization, caseFold: caseFold)
        var trainer = try BPETrainer(options: options)
        for _ in 0..<3 { try trainer.add(Fixtures.text + "ＦＵＬＬ　ＷＩＤＴＨ，１２３\n") }
        return try trainer.train()
    }

    @Test func nfkcVocabularyEncodesTheNormalizedTextWithOriginalOffsets() throws {
        let v = try vocabulary("nfkc")
        #expect(v.id(of: Array("，".utf8)) == nil)  // full-width forms never reach training
        let tokenizer = try Tokenizer(vocabulary: v)
        let input = "ＡＢＣ，ﬁne"
        let e = try tokenizer.encode(input)
        #expect(try tokenizer.decode(e.ids) == Array("ABC,fine".utf8))
        #expect(e.starts.first == 0 && e.ends.last == input.utf8.count)
        // Every token covers whole input characters, in order.
        for k in 0..<e.count {
            #expect(e.starts[k] < e.ends[k])
            if k > 0 { #expect(e.starts[k] >= e.starts[k - 1]) }
        }
    }

    @Test func caseFoldingNeedsAForm() throws {
        #expect(throws: Vocabulary.InvalidError.self) { try vocabulary("none", caseFold: true) }
        let folded = try Tokenizer(vocabulary: vocabulary("nfc", caseFold: true))
        #expect(try folded.decode(folded.encode("Straße THE River").ids) == Array("strasse the river".utf8))
    }

    @Test func noNormalizationIsByteExact() throws {
        let tokenizer = try Tokenizer(vocabulary: vocabulary("none"))
        let input = "ＡＢＣ，ﬁne cafe\u{0301}"
        #expect(try tokenizer.decode(tokenizer.encode(input).ids) == Array(input.utf8))
    }

    @Test func statisticsCountTheLinesNormalizationChanged() throws {
        var job = LineTokenizer(tokenizer: try Tokenizer(vocabulary: vocabulary("nfkc")), format: .ids, threads: 2)
        var batch = LineReader.Batch()
        for line in ["plain ascii", "ＦＵＬＬ", "中文，", "already NFKC"] {
            batch.lineStarts.append(batch.bytes.count)
            batch.bytes += Array(line.utf8)
            batch.lineEnds.append(batch.bytes.count)
        }
        _ = try job.process(batch)
        #expect(job.statistics.normalizedLines == 2)
    }
}
