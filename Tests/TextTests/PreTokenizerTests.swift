import Testing
import TestSupport
@testable import Text

@Suite struct PreTokenizerTests {
    let splitter = PreTokenizer()

    @Test(arguments: [
        ("Hello, world!", ["Hello", ",", " world", "!"]),
        ("I don't know, they'll see", ["I", " don", "'t", " know", ",", " they", "'ll", " see"]),
        ("'steak'", ["'steak", "'"]),
        ("In 1998 we had 12345 cars", ["In", " ", "199", "8", " we", " had", " ", "123", "45", " cars"]),
        ("a   b", ["a", "  ", " b"]),
        ("line one\nline two\r\n\r\nend", ["line", " one", "\n", "line", " two", "\r\n\r\n", "end"]),
        ("tab\there", ["tab", "\there"]),
        ("  \n  x", ["  \n", " ", " x"]),
        ("(hello)", ["(hello", ")"]),
        ("...!?", ["...!?"]),
        ("end.\n", ["end", ".\n"]),
    ])
    func english(text: String, expected: [String]) {
        #expect(splitter.pieces(text) == expected)
    }

    @Test(arguments: [
        ("我们喜欢自然语言处理。", ["我们喜欢自然语言处理", "。"]),
        ("中国，人民日报（1998年）", ["中国", "，人民日报", "（", "199", "8", "年", "）"]),
        ("１２３ＡＢＣ", ["１２３", "ＡＢＣ"]),
        ("“你好”他说。", ["“你好", "”他说", "。"]),
        ("我爱Swift和ICU", ["我爱", "Swift", "和", "ICU"]),
        ("日本語のテキスト", ["日本語のテキスト"]),
        ("한국어 텍스트", ["한국어", " 텍스트"]),
    ])
    func chinese(text: String, expected: [String]) {
        #expect(splitter.pieces(text) == expected)
    }

    @Test func emojiSequencesStayWhole() {
        let family = "👨\u{200D}👩\u{200D}👧"
        let thumbs = "👍\u{1F3FD}"
        let flag = "🇨🇳"
        let keycap = "1\u{FE0F}\u{20E3}"
        #expect(splitter.pieces("hi \(family)!") == ["hi", " \(family)", "!"])
        #expect(splitter.pieces("\(thumbs)\(flag)🇺🇸") == [thumbs, flag, "🇺🇸"])
        #expect(splitter.pieces("好\(thumbs)好") == ["好", thumbs, "好"])
        #expect(splitter.pieces(keycap) == [keycap])
    }

    @Test func combiningMarksStayWithTheirBase() {
        let text = "cafe\u{0301} na\u{0308}ive"
        #expect(splitter.pieces(text) == ["cafe\u{0301}", " na\u{0308}ive"])
        #expect(splitter.pieces("\u{0301}x") == ["\u{0301}x"])
    }

    @Test func piecesAreCappedSoLongRunsSplit() {
        let han = String(repeating: "中", count: 1000)
        let pieces = splitter.pieces(han)
        #expect(pieces.count == 16)
        #expect(pieces.allSatisfy { $0.unicodeScalars.count <= PreTokenizer.maxPieceScalars })
        #expect(splitter.pieces(String(repeating: " ", count: 200)).joined() == String(repeating: " ", count: 200))
    }

    @Test func piecesTileAnyInput() {
        var rng = SeededGenerator(seed: 7)
        let alphabet: [Unicode.Scalar] = ["a", "Z", " ", "\n", "\r", "\t", "中", "，", "。", "1", "'", "’",
                                          "\u{0301}", "\u{200D}", "😀", "\u{1F3FD}", "🇨", "\u{FEFF}", "\u{0}",
                                          "ß", "한", "あ", "\u{3000}", "\u{E0067}", "\u{10FFFF}"]
        for _ in 0..<2000 {
            var s = ""
            for _ in 0..<rng.next(upTo: 40) { s.unicodeScalars.append(alphabet[rng.next(upTo: alphabet.count)]) }
            let bytes = Array(s.utf8)
            let pieces = splitter.pieces(bytes)
            #expect(Array(pieces.joined()) == bytes)
            #expect(pieces.allSatisfy { !$0.isEmpty && UTF8Bytes.firstInvalidOffset($0) == nil })
        }
    }
}
