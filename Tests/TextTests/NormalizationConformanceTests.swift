import Foundation
import Testing
import TestSupport
import Text

/// Unicode's NormalizationTest.txt (UAX #15 conformance), read from Debian's
/// `unicode-data` package, which matches the Unicode 15.0 of ICU 72 and utf8proc 2.8.
@Suite struct NormalizationConformanceTests {
    static let path = "/usr/share/unicode/NormalizationTest.txt.bz2"

    struct TestLine {
        let number: Int
        let columns: [[UInt8]]  // c1 ... c5 as UTF-8
    }

    struct TestFile {
        var lines: [TestLine] = []
        var part1: Set<UInt32> = []  // code points listed in Part 1
    }

    static func load() throws -> TestFile {
        guard FileManager.default.fileExists(atPath: path) else {
            throw LoadError("\(path) is missing: install Debian's unicode-data package (apt-get install unicode-data)")
        }
        let data = try commandOutput(["bzip2", "-dc", path], hint: "install bzip2")
        var file = TestFile()
        var inPart1 = false
        for (index, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.hasPrefix("@Part") { inPart1 = line.hasPrefix("@Part1"); continue }
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: ";", omittingEmptySubsequences: false)
            guard fields.count >= 5 else { throw LoadError("line \(index + 1): fewer than 5 columns") }
            var columns: [[UInt8]] = []
            for field in fields.prefix(5) {
                var scalars = String.UnicodeScalarView()
                for hex in field.split(separator: " ") {
                    guard let value = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(value) else {
                        throw LoadError("line \(index + 1): bad code point \(hex)")
                    }
                    scalars.append(scalar)
                }
                columns.append(Array(String(scalars).utf8))
            }
            if inPart1, let first = String(decoding: columns[0], as: UTF8.self).unicodeScalars.first {
                file.part1.insert(first.value)
            }
            file.lines.append(TestLine(number: index + 1, columns: columns))
        }
        return file
    }

    struct LoadError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self).unicodeScalars
            .map { String($0.value, radix: 16, uppercase: true) }.joined(separator: " ")
    }

    @Test func everyLineSatisfiesTheNFCAndNFKCInvariants() throws {
        let file = try Self.load()
        let nfc = Normalizer(form: .nfc), nfkc = Normalizer(form: .nfkc)
        var failures: [String] = []
        for line in file.lines {
            let c = line.columns
            let toNFC = try c.map { try nfc.normalize($0).bytes }
            let toNFKC = try c.map { try nfkc.normalize($0).bytes }
            // c2 == toNFC(c1) == toNFC(c2) == toNFC(c3); c4 == toNFC(c4) == toNFC(c5)
            let nfcOK = toNFC[0] == c[1] && toNFC[1] == c[1] && toNFC[2] == c[1]
                && toNFC[3] == c[3] && toNFC[4] == c[3]
            // c4 == toNFKC(c1) == ... == toNFKC(c5)
            let nfkcOK = toNFKC.allSatisfy { $0 == c[3] }
            if !nfcOK || !nfkcOK {
                failures.append("line \(line.number): \(Self.hex(c[0])): NFC \(toNFC.map(Self.hex)) NFKC \(toNFKC.map(Self.hex))")
            }
        }
        // The 15.0 file has 19,000+ test lines; fewer means the parse went wrong.
        #expect(file.lines.count > 19_000)
        #expect(file.part1.count > 10_000)
        #expect(failures.isEmpty, "\(failures.count) of \(file.lines.count) lines fail, e.g. \(failures.prefix(5))")
    }

    /// Part 1: every code point not listed there is unchanged by every form.
    @Test func codePointsNotInPart1AreUnchanged() throws {
        let file = try Self.load()
        let nfc = Normalizer(form: .nfc), nfkc = Normalizer(form: .nfkc)
        var changed: [UInt32] = []
        var checked = 0
        for value in UInt32(0)...0x10FFFF where !file.part1.contains(value) {
            guard let scalar = Unicode.Scalar(value) else { continue }  // surrogates
            var bytes = Array(String(scalar).utf8)
            let same = try bytes.withUnsafeMutableBufferPointer { buffer in
                let input = UnsafeBufferPointer(buffer)
                let a = try nfc.withNormalized(input, wantAlignment: false) { out, _, _ in out.elementsEqual(input) }
                let b = try nfkc.withNormalized(input, wantAlignment: false) { out, _, _ in out.elementsEqual(input) }
                return a && b
            }
            if !same { changed.append(value) }
            checked += 1
        }
        #expect(checked > 1_000_000)
        #expect(changed.isEmpty, "\(changed.count) unlisted code points change, e.g. \(changed.prefix(10).map { String($0, radix: 16) })")
    }
}
