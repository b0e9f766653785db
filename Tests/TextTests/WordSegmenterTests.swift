import Testing
import Text

@Suite struct WordSegmenterTests {
    static func pieces(_ text: String, _ words: [Range<Int>]) -> [String] {
        let bytes = Array(text.utf8)
        return words.map { String(decoding: bytes[$0], as: UTF8.self) }
    }

    @Test func chineseUsesTheDictionary() throws {
        let segmenter = try WordSegmenter()
        #expect(segmenter.locale == "zh")
        let text = "我们喜欢自然语言处理。"
        let words = try segmenter.words(text)
        #expect(Self.pieces(text, words) == ["我们", "喜欢", "自然", "语言", "处理", "。"])
        #expect(words.first == 0..<6)
        let boundaries = try Array(text.utf8).withUnsafeBufferPointer { try segmenter.boundaries($0) }
        #expect(boundaries == [0, 6, 12, 18, 24, 30, 33])
    }

    @Test func mixedTextWithAndWithoutWhitespace() throws {
        let segmenter = try WordSegmenter()
        let text = "ICU 很好用,  isn't it?\n"
        let all = try segmenter.words(text)
        #expect(Self.pieces(text, all) == ["ICU", " ", "很好", "用", ",", "  ", "isn't", " ", "it", "?", "\n"])
        #expect(all.first?.lowerBound == 0 && all.last?.upperBound == text.utf8.count)
        #expect(zip(all, all.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
        let words = try segmenter.words(text, droppingWhitespace: true)
        #expect(Self.pieces(text, words) == ["ICU", "很好", "用", ",", "isn't", "it", "?"])
    }

    @Test func theIteratorIsReusedAcrossTexts() throws {
        let segmenter = try WordSegmenter()
        let short = "我们喜欢自然语言处理。"
        let first = try segmenter.words(short)
        let long = String(repeating: "自然语言处理，", count: 500)
        let words = try segmenter.words(long)
        #expect(words.count >= 1_000)
        #expect(words.first?.lowerBound == 0 && words.last?.upperBound == long.utf8.count)
        #expect(zip(words, words.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
        #expect(try segmenter.words("").isEmpty)
        #expect(try Array("".utf8).withUnsafeBufferPointer { try segmenter.boundaries($0) } == [0])
        #expect(try segmenter.words(short) == first)
    }

    @Test func illFormedUTF8DoesNotCrash() throws {
        let segmenter = try WordSegmenter()
        let bytes: [UInt8] = [0xE4, 0xB8, 0x61, 0xFF, 0x20, 0xC3]
        let words = try segmenter.words(bytes, droppingWhitespace: true)
        #expect(words.first?.lowerBound == 0)
        #expect(words.allSatisfy { $0.upperBound <= bytes.count })
    }

    @Test func errorsCarryICUsName() {
        let error = ICUError(code: 2, operation: "ubrk_open")
        #expect(error.name == "U_MISSING_RESOURCE_ERROR")
        #expect(error.description == "ubrk_open failed: U_MISSING_RESOURCE_ERROR (2)")
    }
}
