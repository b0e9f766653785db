import FileSupport
import Foundation
import Kernels
import Text

/// One labelled text.
public struct LabelledExample: Equatable, Sendable {
    public var label: String
    public var text: String
    public init(label: String, text: String) {
        self.label = label
        self.text = text
    }
}

/// Labelled data files in the formats classifiers are usually fed:
///
/// | Format | A line |
/// |---|---|
/// | `tsv` | `label<TAB>text` (exactly two fields: a text may not contain a tab) |
/// | `fasttext` | `__label__pos some text` (one label per line) |
/// | `jsonl` | `{"label": "pos", "text": "some text"}` |
///
/// `auto` picks the format from the first non-empty line. Blank lines are skipped; any other
/// line that does not parse stops the read with its file and line number.
public enum LabelledDataFormat: String, CaseIterable, Sendable {
    case auto, tsv, fasttext, jsonl
}

public enum LabelledData {
    /// Reads every example of `path`. Throws `ClassificationError.data` for a missing, empty,
    /// binary or invalid UTF-8 file, a ragged TSV row, a line with no label or no text, or a
    /// fastText line with more than one label.
    public static func read(path: String, format: LabelledDataFormat = .auto) throws -> [LabelledExample] {
        let bytes: [UInt8]
        do { bytes = try readWholeFile(path: path) } catch {
            throw ClassificationError.data("cannot read '\(path)': \(error)")
        }
        return try parse(bytes, name: path, format: format)
    }

    /// `read` on bytes already in memory; `name` appears in the errors.
    public static func parse(_ bytes: [UInt8], name: String, format: LabelledDataFormat = .auto) throws -> [LabelledExample] {
        if let nul = bytes.firstIndex(of: 0) {
            throw ClassificationError.data("'\(name)' contains a NUL byte at offset \(nul): not a text file")
        }
        if let offset = UTF8Bytes.firstInvalidOffset(bytes) {
            throw ClassificationError.data("'\(name)' is not valid UTF-8 (at byte \(offset))")
        }
        var resolved = format
        var examples: [LabelledExample] = []
        var lineNumber = 0
        // Split on bytes: in a Swift String "\r\n" is one Character, not a "\n".
        for rawLine in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = Substring(String(decoding: rawLine.last == 0x0D ? rawLine.dropLast() : rawLine, as: UTF8.self))
            if line.allSatisfy(\.isWhitespace) { continue }
            if resolved == .auto { resolved = guess(line) }
            func fail(_ why: String) -> ClassificationError {
                .data("'\(name)' line \(lineNumber): \(why)")
            }
            let example: LabelledExample
            switch resolved {
            case .tsv, .auto:
                let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
                guard fields.count == 2 else {
                    throw fail("expected 2 tab-separated fields (label, text), found \(fields.count)")
                }
                example = LabelledExample(label: String(fields[0]).trimmed, text: String(fields[1]))
            case .fasttext:
                guard line.hasPrefix("__label__") else { throw fail("expected a line starting with __label__") }
                let rest = line.dropFirst("__label__".count)
                let label = rest.prefix { !$0.isWhitespace }
                let text = rest.dropFirst(label.count).drop { $0.isWhitespace }
                if text.hasPrefix("__label__") {
                    throw fail("more than one label; multi-label data is not supported")
                }
                example = LabelledExample(label: String(label), text: String(text))
            case .jsonl:
                example = try parseJSON(line, fail: fail)
            }
            guard !example.label.isEmpty else { throw fail("empty label") }
            guard !example.text.allSatisfy(\.isWhitespace) else { throw fail("no text after the label") }
            examples.append(example)
        }
        guard !examples.isEmpty else { throw ClassificationError.data("'\(name)' holds no labelled examples") }
        return examples
    }

    /// Splits off about `fraction` of the examples for validation, by a seeded hash of each
    /// text, so that copies of a text land on the same side and the split does not depend on
    /// the order of the lines.
    public static func holdOut(_ examples: [LabelledExample], fraction: Double, seed: UInt64)
        -> (train: [LabelledExample], validation: [LabelledExample]) {
        let cut = UInt64(fraction * Double(UInt64.max >> 11)) << 11
        var train: [LabelledExample] = [], validation: [LabelledExample] = []
        for example in examples {
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325 ^ seed
            for byte in example.text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            // FNV-1a's low bits mix poorly: finish with SplitMix64's scrambler.
            hash = SplitMix64.value(seed: hash, index: 0)
            if hash < cut { validation.append(example) } else { train.append(example) }
        }
        return (train, validation)
    }

    private static func guess(_ line: Substring) -> LabelledDataFormat {
        if line.hasPrefix("__label__") { return .fasttext }
        if line.first == "{" { return .jsonl }
        return .tsv
    }

    private struct JSONExample: Decodable {
        var label: String
        var text: String

        enum CodingKeys: String, CodingKey { case label, text }

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            text = try c.decode(String.self, forKey: .text)
            if let string = try? c.decode(String.self, forKey: .label) {
                label = string
            } else if let number = try? c.decode(Int.self, forKey: .label) {
                label = String(number)
            } else {
                throw DecodingError.dataCorruptedError(forKey: .label, in: c, debugDescription: "label")
            }
        }
    }

    private static func parseJSON(_ line: Substring, fail: (String) -> ClassificationError) throws -> LabelledExample {
        do {
            let row = try JSONDecoder().decode(JSONExample.self, from: Data(line.utf8))
            return LabelledExample(label: row.label, text: row.text)
        } catch DecodingError.keyNotFound(let key, _) where key.stringValue == "text" {
            throw fail("no \"text\" string")
        } catch DecodingError.keyNotFound {
            throw fail("no \"label\" string or integer")
        } catch DecodingError.dataCorrupted(_) where line.first == "{" && line.last == "}" {
            throw fail("no \"label\" string or integer")
        } catch DecodingError.typeMismatch(_, let context) where context.codingPath.first?.stringValue == "text" {
            throw fail("no \"text\" string")
        } catch {
            throw fail("not a JSON object with \"label\" and \"text\"")
        }
    }
}

extension String {
    var trimmed: String { trimmingCharacters(in: .whitespaces) }
}

/// Failures of classification that are the input's fault.
public enum ClassificationError: Error, CustomStringConvertible, Equatable {
    /// Bad or unusable training or test data.
    case data(String)
    /// A missing, damaged or mismatched model.
    case model(String)

    public var description: String {
        switch self {
        case let .data(message): message
        case let .model(message): message
        }
    }
}
