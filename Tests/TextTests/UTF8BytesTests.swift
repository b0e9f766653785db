import Testing
@testable import Text

@Suite struct UTF8BytesTests {
    @Test(arguments: [
        ([0x61, 0x62], nil),
        ([0xE4, 0xB8, 0xAD], nil),
        ([0xF0, 0x9F, 0x98, 0x80], nil),
        ([0x61, 0x80], 1),                    // stray continuation byte
        ([0xC0, 0xAF], 0),                    // overlong "/"
        ([0xE0, 0x80, 0xAF], 0),              // overlong, 3 bytes
        ([0xED, 0xA0, 0x80], 0),              // surrogate U+D800
        ([0xF4, 0x90, 0x80, 0x80], 0),        // above U+10FFFF
        ([0x61, 0x62, 0x63, 0xE4, 0xB8], 3),  // truncated at the end
        ([0xFF], 0),
    ] as [([UInt8], Int?)])
    func firstInvalidOffset(bytes: [UInt8], expected: Int?) {
        #expect(UTF8Bytes.firstInvalidOffset(bytes) == expected)
    }

    @Test func validationPastTheASCIIFastPath() {
        var bytes = [UInt8](repeating: 0x41, count: 1000)
        bytes[997] = 0xC3  // "Ã" missing its continuation at 998 ('A')
        #expect(UTF8Bytes.firstInvalidOffset(bytes) == 997)
    }

    @Test func repairReplacesMaximalSubparts() {
        // Unicode's example (ch. 3, U+FFFD substitution): 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64
        let bytes: [UInt8] = [0x61, 0xF1, 0x80, 0x80, 0xE1, 0x80, 0xC2, 0x62, 0x80, 0x63, 0x80, 0xBF, 0x64]
        let (fixed, count) = bytes.withUnsafeBufferPointer { UTF8Bytes.repaired($0) }
        #expect(String(decoding: fixed, as: Unicode.UTF8.self) == "a\u{FFFD}\u{FFFD}\u{FFFD}b\u{FFFD}c\u{FFFD}\u{FFFD}d")
        #expect(count == 6)
    }

    @Test func completePrefixHoldsBackAnUnfinishedCharacter() {
        let han: [UInt8] = Array("中".utf8)
        for cut in 0...3 {
            let bytes = [0x61] + han[0..<cut]
            let n = bytes.withUnsafeBufferPointer { UTF8Bytes.completePrefixLength($0) }
            #expect(n == (cut == 3 ? 4 : 1))
        }
    }
}
