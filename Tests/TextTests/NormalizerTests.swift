import CUTF8Proc
import Foundation
import Testing
import TestSupport
import Text

@Suite struct NormalizerTests {
    static func utf8(_ s: String) -> [UInt8] { Array(s.utf8) }

    /// The whole input through utf8proc_map in one call: the reference for our
    /// segment-by-segment normalization and its fast paths.
    static func reference(_ input: [UInt8], _ form: NormalizationForm) -> [UInt8] {
        var options = UTF8PROC_STABLE.rawValue | UTF8PROC_COMPOSE.rawValue
        if form == .nfkc || form == .nfkcCasefold { options |= UTF8PROC_COMPAT.rawValue }
        if form == .nfcCasefold || form == .nfkcCasefold { options |= UTF8PROC_CASEFOLD.rawValue }
        var output: UnsafeMutablePointer<UInt8>?
        let count = input.withUnsafeBufferPointer {
            utf8proc_map($0.baseAddress, $0.count, &output, utf8proc_option_t(options))
        }
        defer { free(output) }
        guard count >= 0, let output else { return [] }
        return Array(UnsafeBufferPointer(start: output, count: count))
    }

    @Test func alignmentOfFullWidthAndCombiningText() throws {
        // ｆ ｉ ， are 3 bytes each and become ASCII; é stays 2 bytes.
        let result = try Normalizer(form: .nfkc).normalize("ｆｉ，café")
        #expect(result.string == "fi,café")
        #expect(result.changed)
        #expect(result.alignment == [0, 3, 6, 9, 10, 11, 12, 12, 14])
        #expect(result.originalRange(of: 0..<2) == 0..<6)        // "fi" <- "ｆｉ"
        #expect(result.originalRange(of: 6..<7) == 12..<14)      // first byte of é <- é
        #expect(result.originalRange(of: 3..<8) == 9..<14)       // "café"
    }

    @Test func alignmentOfASegmentThatComposes() throws {
        // "e" + U+0301 is one segment: both bytes of "é" map to the "e".
        let result = try Normalizer(form: .nfc).normalize("xe\u{301}y")
        #expect(result.bytes == Self.utf8("x\u{E9}y"))
        #expect(result.alignment == [0, 1, 1, 4, 5])
        // The ligature ﬁ expands to two bytes that both map to it.
        let ligature = try Normalizer(form: .nfkc).normalize("a\u{FB01}b")
        #expect(ligature.string == "afib")
        #expect(ligature.alignment == [0, 1, 1, 4, 5])
    }

    @Test func everyAlignmentPointsIntoTheInputAndIsMonotonic() throws {
        let text = "Ｈｅｌｌｏ，世界！ Ǆ ﬃ ㌀ e\u{301}\u{316} 한국어 ℌ ²"
        for form in NormalizationForm.allCases {
            let result = try Normalizer(form: form).normalize(text)
            #expect(result.alignment.count == result.bytes.count + 1)
            #expect(result.alignment.last == text.utf8.count)
            #expect(zip(result.alignment, result.alignment.dropFirst()).allSatisfy { $0 <= $1 }, "\(form)")
            #expect(result.alignment.allSatisfy { (0...text.utf8.count).contains($0) })
        }
    }

    @Test func caseFolding() throws {
        let nfc = Normalizer(form: .nfcCasefold), nfkc = Normalizer(form: .nfkcCasefold)
        #expect(try nfc.normalize("Hello, WORLD!").string == "hello, world!")
        #expect(try nfc.normalize("Straße STRASSE \u{1E9E}").string == "strasse strasse ss")
        // Greek: final sigma folds to σ, accented capitals keep their accent.
        #expect(try nfc.normalize("ΣΊΣΥΦΟΣ σίσυφος").string == "σίσυφοσ σίσυφοσ")
        // Turkish dotted capital I folds to i + COMBINING DOT ABOVE (full folding).
        #expect(try nfc.normalize("\u{130}").string == "i\u{307}")
        #expect(try nfkc.normalize("ＡＢＣ \u{FB01} Ⅻ").string == "abc fi xii")
        #expect(try nfc.normalize("ＡＢＣ").string == "ａｂｃ")  // NFC keeps full-width forms
        // Unlike Unicode's NFKC_Casefold, default ignorables (ZWJ, soft hyphen) are kept.
        #expect(try nfkc.normalize("👨\u{200D}👩 A\u{AD}B").string == "👨\u{200D}👩 a\u{AD}b")
        let unchanged = try nfc.normalize("already folded 中文")
        #expect(!unchanged.changed)
    }

    @Test func noneReturnsTheInputUnchanged() throws {
        let input: [UInt8] = Array("Ｈｅ\u{301}llo ﬁ".utf8) + [0xFF, 0x80]  // not even UTF-8
        let result = try Normalizer(form: .none).normalize(input)
        #expect(result.bytes == input)
        #expect(result.alignment == Array(0...input.count))
        #expect(!result.changed)
    }

    @Test func emptyInput() throws {
        for form in NormalizationForm.allCases {
            let result = try Normalizer(form: form).normalize([UInt8]())
            #expect(result.bytes.isEmpty)
            #expect(result.alignment == [0])
            #expect(!result.changed)
        }
    }

    @Test func illFormedUTF8Throws() throws {
        let normalizer = Normalizer(form: .nfc)
        for (bytes, offset) in [([0x61, 0xC3], 1), ([0x61, 0x62, 0xED, 0xA0, 0x80], 2),
                                ([0xC0, 0x80], 0), ([0xE4, 0xB8, 0xAD, 0xF4, 0x90, 0x80, 0x80], 3)] as [([UInt8], Int)] {
            #expect(throws: NormalizationError(code: NormalizationError.invalidUTF8Code, byteOffset: offset)) {
                try normalizer.normalize(bytes)
            }
        }
    }

    /// 10,000 combining marks in one segment, in reverse canonical order: the canonical
    /// ordering must put all ccc-220 marks first, then one ccc-230 mark composes.
    @Test func longSegmentOfCombiningMarks() throws {
        let marks = String(repeating: "\u{301}\u{316}", count: 5_000)
        let result = try Normalizer(form: .nfc).normalize("a" + marks + "b")
        let expected = "\u{E1}" + String(repeating: "\u{316}", count: 5_000)
            + String(repeating: "\u{301}", count: 4_999) + "b"
        #expect(result.bytes == Self.utf8(expected))
        #expect(result.alignment.dropLast(2).allSatisfy { $0 == 0 })
        #expect(result.alignment.suffix(2) == [1 + 20_000, 2 + 20_000])
    }

    /// Fast paths and per-segment processing agree with utf8proc on the whole string,
    /// for every code point alone and between an uppercase letter and a combining mark.
    @Test(arguments: [NormalizationForm.nfc, .nfkc, .nfcCasefold, .nfkcCasefold])
    func everyCodePointAgreesWithUTF8Proc(form: NormalizationForm) throws {
        let normalizer = Normalizer(form: form)
        var mismatches: [String] = []
        let ranges: [ClosedRange<UInt32>] = [0...0x323AF, 0xE0000...0xE01EF]
        for value in ranges.joined() {
            guard let scalar = Unicode.Scalar(value) else { continue }
            for text in [String(scalar), "A\(scalar)\u{316}"] {
                let input = Self.utf8(text)
                let ours = try input.withUnsafeBufferPointer {
                    try normalizer.withNormalized($0, wantAlignment: false) { out, _, _ in Array(out) }
                }
                if ours != Self.reference(input, form) { mismatches.append(String(value, radix: 16)) }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches, e.g. U+\(mismatches.prefix(10))")
    }

    /// Random strings built from characters that exercise every path: ASCII in both
    /// cases, composing and non-composing marks in any order, Hangul jamo, compatibility
    /// and case-folding characters.
    @Test func randomStringsAgreeWithUTF8Proc() throws {
        let alphabet: [Unicode.Scalar] = [
            "a", "A", "e", "E", "i", "I", "s", " ", ".", "\u{300}", "\u{301}", "\u{316}", "\u{327}",
            "\u{345}", "\u{308}", "\u{E9}", "\u{C9}", "\u{DF}", "\u{1E9E}", "\u{130}", "\u{3A3}",
            "\u{3C2}", "\u{390}", "\u{1100}", "\u{1161}", "\u{11A8}", "\u{AC00}", "\u{D55C}",
            "\u{FB01}", "\u{FF21}", "\u{2167}", "\u{3300}", "\u{212B}", "\u{F900}", "中", "\u{1D15E}",
            "\u{FDFA}", "\u{F73}", "\u{CCB}", "\u{CD5}", "\u{200D}", "\u{1F600}", "\u{2126}",
        ]
        var rng = SeededGenerator(seed: 2024)
        for form in [NormalizationForm.nfc, .nfkc, .nfcCasefold, .nfkcCasefold] {
            let normalizer = Normalizer(form: form)
            var mismatches: [String] = []
            for _ in 0..<20_000 {
                var scalars = String.UnicodeScalarView()
                for _ in 0..<Int(rng.next() % 12) { scalars.append(alphabet[Int(rng.next() % UInt64(alphabet.count))]) }
                let input = Array(String(scalars).utf8)
                let result = try normalizer.normalize(input)
                if result.bytes != Self.reference(input, form) {
                    mismatches.append(String(scalars).unicodeScalars.map { String($0.value, radix: 16) }.joined(separator: " "))
                }
                if result.changed != (result.bytes != input) { mismatches.append("changed flag") }
                if !Self.alignmentIsBySegment(result, input, form) { mismatches.append("alignment of \(input)") }
            }
            #expect(mismatches.isEmpty, "\(form): \(mismatches.count) mismatches, e.g. \(mismatches.prefix(5))")
        }
    }
}

extension NormalizerTests {
    /// Rebuilds the expected output and alignment from the definition: split the input
    /// before every code point the class table gives a boundary before, normalize each
    /// segment alone, and map all its bytes to the segment's start.
    static func alignmentIsBySegment(_ result: NormalizedText, _ input: [UInt8], _ form: NormalizationForm) -> Bool {
        let table = CharacterClassTable.shared
        let compat = form == .nfkc || form == .nfkcCasefold
        var starts: [Int] = []
        var offset = 0
        for scalar in String(decoding: input, as: UTF8.self).unicodeScalars {
            let flags = table.lookup(scalar)
            if starts.isEmpty || !(compat ? flags.noBoundaryBeforeNFKC : flags.noBoundaryBeforeNFC) {
                starts.append(offset)
            }
            offset += String(scalar).utf8.count
        }
        let single = Normalizer(form: form)
        var bytes: [UInt8] = [], alignment: [Int] = []
        for (k, start) in starts.enumerated() {
            let end = k + 1 < starts.count ? starts[k + 1] : input.count
            guard let piece = try? single.normalize(Array(input[start..<end])) else { return false }
            bytes += piece.bytes
            alignment += Array(repeating: start, count: piece.bytes.count)
        }
        alignment.append(input.count)
        return bytes == result.bytes && alignment == result.alignment
    }
}

