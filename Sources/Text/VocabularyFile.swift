import FileSupport
import Foundation

/// The vocabulary file format, version 1: UTF-8 text, one record per line, `\n` endings.
///
/// ```
/// bilingual-lm-vocabulary 1
/// normalization none            none | nfc | nfkc
/// case-fold false               true | false
/// pretokenizer script-v1
/// tokens 8000
/// merges 7402
/// 0	special	<eos>               id TAB kind TAB bytes, for every token in id order
/// 1	byte	\x00
/// ...
/// 300	merge	\x20the
/// 1832	341	1833                   left TAB right TAB result, for every merge in rank order
/// ...
/// checksum 9f0c2a51d3e84b77     FNV-1a 64 of every byte before this line
/// ```
/// Kinds are `special`, `byte`, `user`, `character`, `merge` (see `Vocabulary`). Token
/// bytes are written as text, except that `\` is `\\` and any byte that is not part of a
/// printable character (controls, spaces, format characters, invalid UTF-8) is `\xHH`.
/// The reader accepts exactly this: an unknown version, a missing or extra field, a
/// malformed line, a truncated file or a checksum mismatch (a hand edit) is an error
/// naming the line.
public enum VocabularyFile {
    public static let magic = "bilingual-lm-vocabulary"
    public static let version = 1

    public struct FormatError: Error, CustomStringConvertible, Equatable {
        public let line: Int
        public let message: String
        public var description: String { "line \(line): \(message)" }
    }

    // MARK: writing

    public static func serialize(_ v: Vocabulary) -> [UInt8] {
        var out = ""
        out.reserveCapacity(v.count * 16)
        out += "\(magic) \(version)\n"
        out += "normalization \(v.settings.normalization)\n"
        out += "case-fold \(v.settings.caseFold)\n"
        out += "pretokenizer \(v.settings.pretokenizer)\n"
        out += "tokens \(v.count)\n"
        out += "merges \(v.merges.count)\n"
        for id in 0..<v.count {
            out += "\(id)\t\(v.kinds[id].rawValue)\t\(escape(v.tokens[id]))\n"
        }
        for m in v.merges { out += "\(m.left)\t\(m.right)\t\(m.result)\n" }
        var bytes = Array(out.utf8)
        bytes += Array("checksum \(hex(fnv1a(bytes[...])))\n".utf8)
        return bytes
    }

    /// Writes atomically and durably (`FileSupport.writeAtomically`): a reader sees the old
    /// file or the whole new one, never a part.
    public static func write(_ v: Vocabulary, to path: String) throws {
        let bytes = serialize(v)
        try writeAtomically(path: path) { sink in try bytes.withUnsafeBytes { try sink($0) } }
    }

    static func escape(_ bytes: [UInt8]) -> String {
        var out = ""
        let table = CharacterClassTable.shared
        bytes.withUnsafeBufferPointer { buffer in
            let p = buffer.baseAddress!
            var i = 0
            while i < buffer.count {
                let length = UTF8Bytes.sequenceLength(p, i, buffer.count)
                if length == 0 {
                    out += String(format: "\\x%02X", p[i]); i += 1; continue
                }
                let (scalar, _) = UTF8Bytes.decode(p, i)
                let kind = table.lookup(scalar).kind
                let printable: Bool
                switch kind {
                case .space, .newline, .other, .zeroWidthJoiner: printable = false
                default: printable = scalar > 0x20 && scalar != 0x7F
                }
                if scalar == 0x5C {
                    out += "\\\\"
                } else if printable {
                    out.unicodeScalars.append(Unicode.Scalar(scalar)!)
                } else {
                    for k in 0..<length { out += String(format: "\\x%02X", p[i + k]) }
                }
                i += length
            }
        }
        return out
    }

    // MARK: reading

    public static func read(path: String) throws -> Vocabulary {
        let bytes: [UInt8]
        do {
            bytes = try readWholeFile(path: path)
        } catch let error as FileError {
            throw FormatError(line: 0, message: "cannot read vocabulary file: \(error)")
        }
        return try parse(bytes)
    }

    public static func parse(_ bytes: [UInt8]) throws -> Vocabulary {
        func fail(_ line: Int, _ message: String) -> FormatError { FormatError(line: line, message: message) }
        guard !bytes.isEmpty else { throw fail(1, "the vocabulary file is empty") }
        if let bad = UTF8Bytes.firstInvalidOffset(bytes) { throw fail(0, "not UTF-8 text (invalid byte at offset \(bad))") }
        guard bytes.last == 0x0A else { throw fail(0, "the file is truncated (it does not end with a line break)") }
        // Split into lines, keeping the offset where each starts (for the checksum).
        var lines: [ArraySlice<UInt8>] = []
        var lineStarts: [Int] = []
        var start = 0
        for (i, b) in bytes.enumerated() where b == 0x0A {
            lines.append(bytes[start..<i]); lineStarts.append(start)
            start = i + 1
        }
        func text(_ k: Int) -> String { String(decoding: lines[k], as: Unicode.UTF8.self) }

        guard let lastLine = lines.last, text(lines.count - 1).hasPrefix("checksum ") else {
            throw fail(lines.count, "the file is truncated: its last line is not the checksum line")
        }
        let stated = String(text(lines.count - 1).dropFirst("checksum ".count))
        let actual = hex(fnv1a(bytes[0..<lineStarts[lines.count - 1]]))
        _ = lastLine
        guard stated == actual else {
            throw fail(lines.count, "checksum mismatch (file says \(stated), content gives \(actual)): the file was edited or damaged after it was written")
        }

        var k = 0
        func field(_ name: String) throws -> String {
            guard k < lines.count - 1 else { throw fail(k + 1, "missing '\(name)' line") }
            let line = text(k)
            guard line.hasPrefix(name + " ") else { throw fail(k + 1, "expected '\(name) ...', found '\(line.prefix(60))'") }
            k += 1
            return String(line.dropFirst(name.count + 1))
        }
        let versionText = try field(magic)
        guard Int(versionText) == version else {
            throw fail(1, "unsupported vocabulary format version '\(versionText)' (this build reads version \(version))")
        }
        let normalization = try field("normalization")
        let caseFoldText = try field("case-fold")
        guard let caseFold = Bool(caseFoldText) else { throw fail(k, "case-fold must be true or false") }
        let pretokenizer = try field("pretokenizer")
        guard let tokenCount = Int(try field("tokens")), tokenCount > 0, tokenCount < 10_000_000 else {
            throw fail(k, "bad token count")
        }
        guard let mergeCount = Int(try field("merges")), mergeCount >= 0, mergeCount < 10_000_000 else {
            throw fail(k, "bad merge count")
        }
        guard lines.count - 1 - k == tokenCount + mergeCount else {
            throw fail(lines.count, "expected \(tokenCount) token and \(mergeCount) merge lines, found \(lines.count - 1 - k) lines")
        }

        var tokens: [[UInt8]] = [], kinds: [Vocabulary.Kind] = []
        tokens.reserveCapacity(tokenCount); kinds.reserveCapacity(tokenCount)
        for id in 0..<tokenCount {
            let parts = lines[k].split(separator: 0x09, omittingEmptySubsequences: false)
            guard parts.count == 3, Int(String(decoding: parts[0], as: Unicode.UTF8.self)) == id else {
                throw fail(k + 1, "expected 'id<TAB>kind<TAB>bytes' with id \(id)")
            }
            guard let kind = Vocabulary.Kind(rawValue: String(decoding: parts[1], as: Unicode.UTF8.self)) else {
                throw fail(k + 1, "unknown token kind '\(String(decoding: parts[1], as: Unicode.UTF8.self))'")
            }
            guard let value = unescape(parts[2]) else { throw fail(k + 1, "malformed escape in token bytes") }
            tokens.append(value); kinds.append(kind)
            k += 1
        }
        var merges: [Vocabulary.Merge] = []
        merges.reserveCapacity(mergeCount)
        for rank in 0..<mergeCount {
            let parts = lines[k].split(separator: 0x09, omittingEmptySubsequences: false)
                .map { Int32(String(decoding: $0, as: Unicode.UTF8.self)) }
            guard parts.count == 3, let l = parts[0], let r = parts[1], let res = parts[2] else {
                throw fail(k + 1, "expected 'left<TAB>right<TAB>result' for merge \(rank)")
            }
            merges.append(.init(left: l, right: r, result: res))
            k += 1
        }
        do {
            return try Vocabulary(settings: .init(normalization: normalization, caseFold: caseFold, pretokenizer: pretokenizer),
                                  tokens: tokens, kinds: kinds, merges: merges)
        } catch let error as Vocabulary.InvalidError {
            throw fail(0, error.message)
        }
    }

    static func unescape(_ field: ArraySlice<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(field.count)
        var i = field.startIndex
        while i < field.endIndex {
            let b = field[i]
            guard b == 0x5C else { out.append(b); i += 1; continue }
            guard i + 1 < field.endIndex else { return nil }
            let e = field[i + 1]
            if e == 0x5C { out.append(0x5C); i += 2; continue }
            guard e == UInt8(ascii: "x"), i + 3 < field.endIndex,
                  let hi = hexValue(field[i + 2]), let lo = hexValue(field[i + 3]) else { return nil }
            out.append(hi << 4 | lo)
            i += 4
        }
        return out
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x41...0x46: c - 0x41 + 10
        case 0x61...0x66: c - 0x61 + 10
        default: nil
        }
    }

    static func fnv1a(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return h
    }

    static func hex(_ value: UInt64) -> String {
        let s = String(value, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
