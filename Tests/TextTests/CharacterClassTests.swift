import Testing
@testable import Text

@Suite struct CharacterClassTests {
    let table = CharacterClassTable.shared

    @Test func classesOfRepresentativeCharacters() {
        let expected: [(Unicode.Scalar, CharacterClass.Kind)] = [
            ("a", .letter), ("Z", .letter), ("é", .letter), ("Ж", .letter),
            ("中", .han), ("〇", .han), ("𠀀", .han), ("あ", .kana), ("カ", .kana), ("한", .hangul),
            ("7", .digit), ("٣", .digit), ("\u{0301}", .mark), (" ", .space), ("\t", .space),
            ("\u{3000}", .space), ("\n", .newline), ("\r", .newline), ("\u{2028}", .newline),
            ("，", .punctuation), ("。", .punctuation), ("!", .punctuation), ("$", .punctuation),
            ("😀", .emoji), ("🇨", .emoji), ("\u{1F3FD}", .emojiModifier), ("\u{200D}", .zeroWidthJoiner),
            ("'", .apostrophe), ("’", .apostrophe), ("\u{0}", .other), ("\u{FEFF}", .other),
            ("\u{E000}", .other),
        ]
        for (scalar, kind) in expected {
            #expect(table.lookup(scalar).kind == kind, "U+\(String(scalar.value, radix: 16))")
        }
    }

    @Test func normalizationFlags() {
        #expect(!table.lookup("a").mayChangeUnderNFKC)
        #expect(table.lookup("，").mayChangeUnderNFKC)        // full-width comma -> ','
        #expect(!table.lookup("，").mayChangeUnderNFC)
        #expect(table.lookup("\u{0301}").noBoundaryBeforeNFC) // combines with what precedes
        #expect(!table.lookup("e").noBoundaryBeforeNFC)
    }

    @Test func codePointsBeyondTheTableUseICUDirectly() {
        #expect(table.lookup(0xE0067).kind == .emojiModifier) // tag letter in flag sequences
        #expect(table.lookup(0xE0100).kind == .mark)          // variation selector supplement
        #expect(table.lookup(0xF0000).kind == .other)         // supplementary private use
        #expect(table.lookup(0x10FFFF).kind == .other)
    }

    /// Planes 1-3 are filled on their first lookup, not with the Basic Multilingual Plane.
    @Test func planesOneToThreeAreFilledOnFirstUse() async {
        let expected: [(UInt32, CharacterClass.Kind)] = [
            (0x10400, .letter), (0x1D7CE, .digit), (0x1F600, .emoji), (0x1F3FB, .emojiModifier),
            (0x20000, .han), (0x2A6D6, .han), (0x30000, .han), (0x3FFFD, .other),
        ]
        // Several threads at once on planes none of them has filled yet (in this process,
        // unless another test did): each sees the finished plane.
        let kinds = await withTaskGroup(of: [CharacterClass.Kind].self) { group in
            for _ in 0..<4 { group.addTask { expected.map { CharacterClassTable.shared.lookup($0.0).kind } } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        for seen in kinds { #expect(seen == expected.map(\.1)) }
        // Now filled: the same answers from the inline table read (`ct_class_of`).
        #expect(expected.map { table.lookup($0.0).kind } == expected.map(\.1))
        #expect(table.lookup(0x1D400).mayChangeUnderNFKC)  // mathematical bold A -> "A"
        #expect(!table.lookup(0x20000).mayChangeUnderNFKC)
    }

    @Test func librariesAgreeOnUnicode15() {
        #expect(UnicodeLibraries.icuUnicodeVersion.hasPrefix("15."))
        #expect(UnicodeLibraries.utf8procUnicodeVersion.hasPrefix("15."))
    }
}
