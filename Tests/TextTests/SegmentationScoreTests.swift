import Testing
import Text

@Suite struct SegmentationScoreTests {
    @Test func goldLinesBecomeSpans() {
        let (text, words) = SegmentationScore.goldWords(spaceSeparated: Array("我们 喜欢 自然语言  处理".utf8))
        #expect(text == Array("我们喜欢自然语言处理".utf8))
        #expect(words == [0..<6, 6..<12, 12..<24, 24..<30])
        #expect(SegmentationScore.goldWords(spaceSeparated: Array(" ".utf8)).words.isEmpty)
    }

    @Test func handComputedScores() {
        var score = SegmentationScore()
        // Gold 我们|喜欢|自然语言|处理, predicted 我们|喜欢|自然|语言|处理 (in characters):
        // 3 correct of 5 predicted and 4 gold.
        score.add(predicted: [0..<2, 2..<4, 4..<6, 6..<8, 8..<10], gold: [0..<2, 2..<4, 4..<8, 8..<10])
        #expect(score.correctWords == 3 && score.predictedWords == 5 && score.goldWords == 4)
        #expect(abs(score.precision - 0.6) < 1e-12)
        #expect(abs(score.recall - 0.75) < 1e-12)
        #expect(abs(score.f1 - 2 * 0.6 * 0.75 / 1.35) < 1e-12)
        // A second line, unsorted: gold ab|c, predicted c|ab -> 2 of 2: micro-averaged
        // totals are 5 correct, 7 predicted, 6 gold.
        score.add(predicted: [2..<3, 0..<2], gold: [0..<2, 2..<3])
        #expect(abs(score.precision - 5.0 / 7) < 1e-12)
        #expect(abs(score.recall - 5.0 / 6) < 1e-12)
        #expect(abs(score.f1 - 2.0 * 5 / 13) < 1e-12)  // 2·5 / (7 + 6)
    }

    @Test func sameBoundariesDifferentSpansDoNotCount() {
        var score = SegmentationScore()
        // Gold abc|d, predicted a|bcd: no span agrees although both start at 0.
        score.add(predicted: [0..<1, 1..<4], gold: [0..<3, 3..<4])
        #expect(score.correctWords == 0)
        #expect(score.f1 == 0)
    }

    @Test func emptyScoreAndMerging() {
        #expect(SegmentationScore().precision == 0 && SegmentationScore().f1 == 0)
        var a = SegmentationScore(), b = SegmentationScore()
        a.add(predicted: [0..<1], gold: [0..<1])
        b.add(predicted: [0..<2], gold: [0..<1, 1..<2])
        a.add(b)
        #expect(a.correctWords == 1 && a.predictedWords == 2 && a.goldWords == 3)
    }
}
