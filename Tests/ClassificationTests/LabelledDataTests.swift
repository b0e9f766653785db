import Foundation
import Testing
@testable import Classification

private func parse(_ text: String, _ format: LabelledDataFormat = .auto) throws -> [LabelledExample] {
    try LabelledData.parse(Array(text.utf8), name: "data", format: format)
}

private func message(_ body: () throws -> Void) -> String {
    do { try body() } catch { return "\(error)" }
    return "no error"
}

@Test func readsTSVFastTextAndJSONLines() throws {
    let want = [LabelledExample(label: "positive", text: "很好 great"), LabelledExample(label: "negative", text: "太差了")]
    #expect(try parse("positive\t很好 great\r\n\nnegative\t太差了\n") == want)
    #expect(try parse("__label__positive 很好 great\n__label__negative  太差了") == want)
    #expect(try parse(#"{"label": "positive", "text": "很好 great"}"# + "\n" + #"{"text": "太差了", "label": "negative"}"#) == want)
    #expect(try parse(#"{"label": 1, "text": "x"}"#) == [LabelledExample(label: "1", text: "x")])
}

@Test func refusesMalformedDataWithTheLine() throws {
    #expect(message { _ = try parse("a\tone\nb\ttwo\tthree\n") }.contains("line 2: expected 2 tab-separated fields"))
    #expect(message { _ = try parse("a\tone\nno tab here\n") }.contains("line 2"))
    #expect(message { _ = try parse("") }.contains("no labelled examples"))
    #expect(message { _ = try parse("\n  \n") }.contains("no labelled examples"))
    #expect(message { _ = try parse("a\t \n") }.contains("no text"))
    #expect(message { _ = try parse("\tsome text\n") }.contains("empty label"))
    #expect(message { _ = try parse("__label__a __label__b text\n") }.contains("multi-label"))
    #expect(message { _ = try parse(#"{"label": "a"}"#) }.contains("no \"text\""))
    #expect(message { _ = try parse("{not json\n", .jsonl) }.contains("not a JSON object"))
    #expect(message { _ = try LabelledData.parse([0x61, 0x09, 0x62, 0xFF, 0x0A], name: "bad") }.contains("not valid UTF-8 (at byte 3)"))
    #expect(message { _ = try LabelledData.parse([0x61, 0x09, 0x00, 0x0A], name: "bin") }.contains("NUL byte"))
    #expect(message { _ = try LabelledData.read(path: "/nonexistent/data.tsv") }.contains("cannot read"))
}

@Test func holdOutIsStableAndKeepsCopiesTogether() throws {
    let examples = (0..<2000).map { LabelledExample(label: $0 % 2 == 0 ? "a" : "b", text: "text \($0 % 1000)") }
    let (train, validation) = LabelledData.holdOut(examples, fraction: 0.1, seed: 7)
    #expect(train.count + validation.count == 2000)
    #expect(validation.count > 100 && validation.count < 300)
    #expect(Set(train.map(\.text)).isDisjoint(with: Set(validation.map(\.text))))
    let again = LabelledData.holdOut(examples.reversed(), fraction: 0.1, seed: 7)
    #expect(Set(again.validation.map(\.text)) == Set(validation.map(\.text)))
}

@Test func reportComputesPerClassAndMacroScores() {
    // gold a a a b b c, predicted a a b b c c
    let report = ClassificationReport(labels: ["a", "b", "c"], gold: [0, 0, 0, 1, 1, 2], predicted: [0, 0, 1, 1, 2, 2])
    #expect(report.confusion == [[2, 1, 0], [0, 1, 1], [0, 0, 1]])
    #expect(abs(report.accuracy - 4.0 / 6) < 1e-12)
    let a = report.scores(of: "a")!, b = report.scores(of: "b")!, c = report.scores(of: "c")!
    #expect(a.precision == 1 && abs(a.recall - 2.0 / 3) < 1e-12 && abs(a.f1 - 0.8) < 1e-12)
    #expect(b.precision == 0.5 && b.recall == 0.5 && b.f1 == 0.5)
    #expect(c.precision == 0.5 && c.recall == 1 && abs(c.f1 - 2.0 / 3) < 1e-12)
    #expect(abs(report.macroF1 - (0.8 + 0.5 + 2.0 / 3) / 3) < 1e-12)
    #expect(report.table.contains("confusion"))
    // A class never predicted has precision 0, not NaN.
    let never = ClassificationReport(labels: ["x", "y"], gold: [0, 1], predicted: [0, 0])
    #expect(never.scores(of: "y")!.precision == 0 && never.scores(of: "y")!.f1 == 0)
}

@Test func linksAndMentionsAreSimplified() {
    #expect(Classifier.simplified("RT @EricRueb: great http://t.co/4b8UD92o8A #AAPL") == "RT @user: great http #AAPL")
    #expect(Classifier.simplified("见 https://example.com/a?b=1，很好\tand www.x.org") == "见 http\tand http")
    #expect(Classifier.simplified("a@b.com @ alone 中文") == "a@b.com @ alone 中文")
    #expect(Classifier.simplified("") == "")
}
