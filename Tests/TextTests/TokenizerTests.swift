import Testing
import TestSupport
@testable import Text

@Suite struct TokenizerTests {
    static let vocabulary = try! Fixtures.vocabulary()
    let tokenizer = try! Tokenizer(vocabulary: TokenizerTests.vocabulary)

    @Test(arguments: Fixtures.probes)
    func roundTripIsByteExact(text: String) throws {
        let encoding = try tokenizer.encode(text)
        #expect(try tokenizer.decode(encoding.ids) == Array(text.utf8))
    }

    @Test func roundTripOfFixtureLinesAndUnseenCharacters() throws {
        for line in Fixtures.lines + ["龘靐齉 never seen in training", "Ω≈ç√∫˜µ≤≥÷"] {
            #expect(try tokenizer.decode(tokenizer.encode(line).ids) == Array(line.utf8))
        }
    }

    @Test func offsetsPointIntoTheInput() throws {
        let text = "我们喜欢 natural language processing，真的！"
        let bytes = Array(text.utf8)
        let e = try tokenizer.encode(text)
        var position = 0
        for k in 0..<e.count {
            #expect(e.starts[k] == position)
            #expect(Array(bytes[e.starts[k]..<e.ends[k]]) == tokenizer.vocabulary.tokens[Int(e.ids[k])])
            position = e.ends[k]
        }
        #expect(position == bytes.count)
    }

    @Test func encodingEqualsThePlainReference() throws {
        var rng = SeededGenerator(seed: 5)
        let alphabet = Array("the river sea 我们喜欢自然语言处理，。中国 China 123 龘\n😀\u{0301}".unicodeScalars)
        for _ in 0..<300 {
            var text = ""
            for _ in 0..<rng.next(upTo: 60) { text.unicodeScalars.append(alphabet[rng.next(upTo: alphabet.count)]) }
            #expect(try tokenizer.encode(text).ids == ReferenceBPE.encode(text, tokenizer.vocabulary), "\(text)")
        }
        for line in Fixtures.lines {
            #expect(try tokenizer.encode(line).ids == ReferenceBPE.encode(line, tokenizer.vocabulary))
        }
    }

    @Test func specialTokenTextIsOrdinaryUnlessAllowed() throws {
        let eos = try #require(tokenizer.vocabulary.specialID("<eos>"))
        let literal = try tokenizer.encode("end<eos>")
        #expect(!literal.ids.contains(eos))
        #expect(try tokenizer.decode(literal.ids) == Array("end<eos>".utf8))
        let special = try tokenizer.encode("end<eos>", allowSpecial: true)
        #expect(special.ids.last == eos)
        #expect(special.starts.last == 3 && special.ends.last == 8)
    }

    @Test func userWordsAlwaysStayOnePiece() throws {
        let id = try #require(tokenizer.vocabulary.userWords.first { $0.text == "人工智能" }?.id)
        let e = try tokenizer.encode("发展人工智能技术，人工智能！")
        #expect(e.ids.filter { $0 == id }.count == 2)
    }

    @Test func invalidUTF8IsAnErrorNamingTheOffset() {
        let bytes: [UInt8] = Array("好的".utf8) + [0xE4, 0xB8] + Array("x".utf8)
        #expect(throws: UTF8Bytes.InvalidError(offset: 6)) { try tokenizer.encode(bytes) }
    }

    @Test func parallelEncodingEqualsSerial() throws {
        var text = ""
        var rng = SeededGenerator(seed: 9)
        while text.utf8.count < 300_000 { text += Fixtures.lines[rng.next(upTo: Fixtures.lines.count)] + "\n" }
        let bytes = Array(text.utf8)
        let serial = try tokenizer.encode(bytes)
        let parallel = try bytes.withUnsafeBufferPointer { try tokenizer.encodeParallel($0, threads: 2) }
        #expect(parallel == serial)
        #expect(Tokenizer.cutPoints(bytes.withUnsafeBufferPointer { $0 }, parts: 2).count == 3)
    }

    @Test func longRunsWithoutBreaksEncode() throws {
        for unit in ["中", "a", "😀", "\u{0301}", " "] {
            let text = String(repeating: unit, count: 200_000)
            let e = try tokenizer.encode(text)
            #expect(try tokenizer.decode(e.ids) == Array(text.utf8))
        }
    }

    @Test func streamingDecoderNeverEmitsHalfACharacter() throws {
        let text = "中文😀 and English"
        let ids = try tokenizer.encode(text).ids
        // Feed single bytes of the emoji to make partial characters certain.
        let byteIDs = Array("😀".utf8).map { b in Int32(tokenizer.vocabulary.kinds.indices.first { tokenizer.vocabulary.kinds[$0] == .byte && tokenizer.vocabulary.tokens[$0] == [b] }!) }
        var decoder = StreamingDecoder(vocabulary: tokenizer.vocabulary)
        var out: [UInt8] = []
        for id in ids + byteIDs {
            let chunk = try decoder.push(id)
            #expect(UTF8Bytes.firstInvalidOffset(chunk) == nil)
            out += chunk
        }
        out += decoder.finish()
        #expect(out == Array((text + "😀").utf8))
        var truncated = StreamingDecoder(vocabulary: tokenizer.vocabulary)
        #expect(try truncated.push(byteIDs[0]).isEmpty)
        #expect(truncated.finish() == [0xEF, 0xBF, 0xBD])
    }

    @Test func decodeRefusesUnknownIDs() {
        #expect(throws: Tokenizer.DecodeError.unknownID(99_999)) { try tokenizer.decode([3, 99_999]) }
        #expect(throws: Tokenizer.DecodeError.unknownID(-1)) { try tokenizer.decode([-1]) }
    }
}
