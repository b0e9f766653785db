import Testing
@testable import Text

@Suite struct VocabularyFileTests {
    static let vocabulary = try! Fixtures.vocabulary()
    let bytes = VocabularyFile.serialize(VocabularyFileTests.vocabulary)

    /// The file with its checksum line recomputed, to reach the checks behind the checksum.
    func resigned(_ edit: (inout String) -> Void) -> [UInt8] {
        var text = String(decoding: bytes, as: Unicode.UTF8.self)
        text = String(text[..<text.range(of: "checksum ")!.lowerBound])
        edit(&text)
        let body = Array(text.utf8)
        return body + Array("checksum \(VocabularyFile.hex(VocabularyFile.fnv1a(body[...])))\n".utf8)
    }

    @Test func roundTrip() throws {
        #expect(try VocabularyFile.parse(bytes) == Self.vocabulary)
    }

    @Test func headerIsReadable() {
        let text = String(decoding: bytes, as: Unicode.UTF8.self)
        #expect(text.hasPrefix("bilingual-lm-vocabulary 1\nnormalization none\ncase-fold false\npretokenizer script-v1\ntokens 400\n"))
        #expect(text.contains("\n0\tspecial\t<pad>\n"))
        #expect(text.contains("\t\\x20the\n") || text.contains("\t\\x20t"))
        #expect(text.contains("\tbyte\t\\\\\n"))   // the backslash byte
    }

    @Test func everyTruncationIsRefused() {
        for cut in stride(from: 0, to: bytes.count - 1, by: 37) {
            #expect(throws: VocabularyFile.FormatError.self) { try VocabularyFile.parse(Array(bytes[..<cut])) }
        }
    }

    @Test func aHandEditIsCaughtByTheChecksum() {
        var edited = bytes
        let i = edited.firstIndex(of: UInt8(ascii: "<"))!
        edited[i] = UInt8(ascii: "[")
        #expect {
            try VocabularyFile.parse(edited)
        } throws: { ($0 as? VocabularyFile.FormatError)?.message.contains("checksum mismatch") == true }
    }

    @Test(arguments: [
        ("bilingual-lm-vocabulary 1", "bilingual-lm-vocabulary 2", "unsupported vocabulary format version"),
        ("normalization none", "normalization nfkd", "unknown normalization"),
        ("pretokenizer script-v1", "pretokenizer regex", "pre-tokenizer"),
        ("0\tspecial\t<pad>", "0\tspecial\t<pa\\q>", "malformed escape"),
        ("0\tspecial\t<pad>", "0\tsymbol\t<pad>", "unknown token kind"),
        ("0\tspecial\t<pad>", "7\tspecial\t<pad>", "with id 0"),
        ("2\tbyte\t\\x00", "2\tbyte\t\\x01", "byte token"),
    ])
    func semanticErrorsNameTheProblem(find: String, replace: String, message: String) {
        let edited = resigned { $0 = $0.replacingOccurrences(of: find, with: replace) }
        #expect {
            try VocabularyFile.parse(edited)
        } throws: { ($0 as? VocabularyFile.FormatError).map { $0.description.contains(message) } == true }
    }

    @Test func aMergeWhoseResultIsWrongIsRefused() {
        let m = Self.vocabulary.merges[0]
        let edited = resigned {
            $0 = $0.replacingOccurrences(of: "\n\(m.left)\t\(m.right)\t\(m.result)\n", with: "\n\(m.left)\t\(m.right)\t5\n")
        }
        #expect(throws: VocabularyFile.FormatError.self) { try VocabularyFile.parse(edited) }
    }

    @Test func emptyAndBinaryFilesAreRefused() {
        #expect(throws: VocabularyFile.FormatError.self) { try VocabularyFile.parse([]) }
        #expect(throws: VocabularyFile.FormatError.self) { try VocabularyFile.parse([0x00, 0xFF, 0xFE, 0x0A]) }
        #expect(throws: VocabularyFile.FormatError.self) { try VocabularyFile.parse(Array("hello\n".utf8)) }
    }

    @Test func escapingRoundTripsEveryByte() {
        for b in 0...255 {
            let escaped = VocabularyFile.escape([UInt8(b)])
            #expect(VocabularyFile.unescape(Array(escaped.utf8)[...]) == [UInt8(b)])
            #expect(!escaped.contains("\t") && !escaped.contains("\n"))
        }
        for s in ["中", "\\x41", " a", "\u{200D}", "\u{3000}"] {
            #expect(VocabularyFile.unescape(Array(VocabularyFile.escape(Array(s.utf8)).utf8)[...]) == Array(s.utf8))
        }
    }
}
