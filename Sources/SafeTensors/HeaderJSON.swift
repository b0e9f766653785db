/// A JSON value as the header parser sees it. Objects keep their keys in file order, so
/// duplicates are reported rather than silently dropped (JSONSerialization keeps one of them),
/// and numbers keep whether they were written as a plain non-negative integer.
indirect enum JSONValue {
    case object([(key: String, value: JSONValue)])
    case array([JSONValue])
    case string(String)
    /// `integer` is set only for a number written as digits alone that fits in `Int`.
    case number(text: String, integer: Int?)
    case bool(Bool)
    case null

    /// What the value is, for error messages.
    var kind: String {
        switch self {
        case .object: return "an object"
        case .array: return "an array"
        case .string: return "a string"
        case let .number(text, _): return "the number \(text)"
        case .bool: return "a boolean"
        case .null: return "null"
        }
    }
}

/// A strict RFC 8259 parser over `bytes[range]`, which must already be valid UTF-8.
///
/// Refuses duplicate keys in an object (`SafeTensorsError.duplicateKey`) and nesting deeper than `maxDepth` (the header schema
/// needs 3 levels; the limit keeps a hostile `[[[[...` from exhausting the stack). Errors are
/// `SafeTensorsError.headerSyntax` with the offset from `range.lowerBound`.
struct HeaderJSONParser {
    static let maxDepth = 16

    private let bytes: [UInt8]
    private let start: Int
    private let end: Int
    private var position: Int

    init(bytes: [UInt8], range: Range<Int>) {
        self.bytes = bytes
        start = range.lowerBound
        end = range.upperBound
        position = range.lowerBound
    }

    /// Parses one value followed only by whitespace (the writers' space padding).
    mutating func parseDocument() throws -> JSONValue {
        skipWhitespace()
        let value = try parseValue(depth: 1, context: "the header")
        skipWhitespace()
        if position != end { throw failure("unexpected \(describeByte()) after the header object") }
        return value
    }

    private func failure(_ reason: String) -> SafeTensorsError {
        .headerSyntax(offset: position - start, reason: reason)
    }

    private func describeByte() -> String {
        guard position < end else { return "end of header" }
        let b = bytes[position]
        return b >= 0x20 && b < 0x7F ? "'\(Character(Unicode.Scalar(b)))'" : "byte 0x\(String(b, radix: 16))"
    }

    private mutating func skipWhitespace() {
        while position < end {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    private mutating func expect(_ byte: UInt8, _ what: String) throws {
        guard position < end, bytes[position] == byte else { throw failure("expected \(what), found \(describeByte())") }
        position += 1
    }

    /// `context` names the value in a duplicate-key error: "the header", or the key it is under.
    private mutating func parseValue(depth: Int, context: String) throws -> JSONValue {
        guard depth <= Self.maxDepth else { throw failure("nested deeper than \(Self.maxDepth) levels") }
        guard position < end else { throw failure("expected a value, found end of header") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth, context: context)
        case UInt8(ascii: "["): return try parseArray(depth: depth, context: context)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        case UInt8(ascii: "t"): try parseLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try parseLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try parseLiteral("null"); return .null
        default: throw failure("expected a value, found \(describeByte())")
        }
    }

    private mutating func parseLiteral(_ word: StaticString) throws {
        let count = word.utf8CodeUnitCount
        let matches = end - position >= count && (0..<count).allSatisfy { bytes[position + $0] == word.utf8Start[$0] }
        guard matches else { throw failure("expected a value, found \(describeByte())") }
        position += count
    }

    private mutating func parseObject(depth: Int, context: String) throws -> JSONValue {
        position += 1
        var members: [(key: String, value: JSONValue)] = []
        // Keys are compared as decoded bytes: two spellings of one key ("a" and "\u0061") are
        // the same key, two canonically equivalent strings are not.
        var seen = Set<[UInt8]>()
        skipWhitespace()
        if position < end, bytes[position] == UInt8(ascii: "}") { position += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard position < end, bytes[position] == UInt8(ascii: "\"") else {
                throw failure("expected a string key, found \(describeByte())")
            }
            let key = try parseString()
            guard seen.insert(Array(key.utf8)).inserted else { throw SafeTensorsError.duplicateKey(key, context: context) }
            skipWhitespace()
            try expect(UInt8(ascii: ":"), "':'")
            skipWhitespace()
            members.append((key, try parseValue(depth: depth + 1, context: "\"\(key)\"")))
            skipWhitespace()
            guard position < end else { throw failure("unterminated object") }
            if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
            try expect(UInt8(ascii: "}"), "',' or '}'")
            return .object(members)
        }
    }

    private mutating func parseArray(depth: Int, context: String) throws -> JSONValue {
        position += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if position < end, bytes[position] == UInt8(ascii: "]") { position += 1; return .array(elements) }
        while true {
            skipWhitespace()
            elements.append(try parseValue(depth: depth + 1, context: context))
            skipWhitespace()
            guard position < end else { throw failure("unterminated array") }
            if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
            try expect(UInt8(ascii: "]"), "',' or ']'")
            return .array(elements)
        }
    }

    private mutating func parseString() throws -> String {
        position += 1
        var decoded: [UInt8] = []
        while true {
            guard position < end else { throw failure("unterminated string") }
            let b = bytes[position]
            switch b {
            case UInt8(ascii: "\""):
                position += 1
                return String(decoding: decoded, as: UTF8.self)
            case UInt8(ascii: "\\"):
                position += 1
                guard position < end else { throw failure("unterminated escape") }
                let e = bytes[position]
                position += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(e)
                case UInt8(ascii: "b"): decoded.append(0x08)
                case UInt8(ascii: "f"): decoded.append(0x0C)
                case UInt8(ascii: "n"): decoded.append(0x0A)
                case UInt8(ascii: "r"): decoded.append(0x0D)
                case UInt8(ascii: "t"): decoded.append(0x09)
                case UInt8(ascii: "u"): decoded.append(contentsOf: try parseUnicodeEscape())
                default:
                    position -= 1
                    throw failure("invalid escape \\\(describeByte())")
                }
            case 0..<0x20:
                throw failure("unescaped control character \(describeByte()) in a string")
            default:
                decoded.append(b)
                position += 1
            }
        }
    }

    /// Reads the hex digits after `\u` (and a following `\uDC00`-`\uDFFF` for a surrogate pair);
    /// returns the scalar's UTF-8 bytes. A lone surrogate is refused: it has no UTF-8 form.
    private mutating func parseUnicodeEscape() throws -> [UInt8] {
        let escapeStart = position - 2
        var value = try parseHex4()
        if (0xD800..<0xDC00).contains(value) {
            guard end - position >= 2, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") else {
                position = escapeStart
                throw failure("lone surrogate in a \\u escape")
            }
            position += 2
            let low = try parseHex4()
            guard (0xDC00..<0xE000).contains(low) else {
                position = escapeStart
                throw failure("lone surrogate in a \\u escape")
            }
            value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
        } else if (0xDC00..<0xE000).contains(value) {
            position = escapeStart
            throw failure("lone surrogate in a \\u escape")
        }
        return Array(String(Character(Unicode.Scalar(value)!)).utf8)
    }

    private mutating func parseHex4() throws -> UInt32 {
        guard end - position >= 4 else { throw failure("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[position]
            let digit: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = b - UInt8(ascii: "A") + 10
            default: throw failure("invalid hex digit \(describeByte()) in a \\u escape")
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }

    private mutating func parseNumber() throws -> JSONValue {
        let numberStart = position
        var plainInteger = true
        if bytes[position] == UInt8(ascii: "-") { plainInteger = false; position += 1 }
        guard position < end, isDigit(bytes[position]) else { throw failure("expected a digit, found \(describeByte())") }
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
            if position < end, isDigit(bytes[position]) { throw failure("leading zero in a number") }
        } else {
            while position < end, isDigit(bytes[position]) { position += 1 }
        }
        if position < end, bytes[position] == UInt8(ascii: ".") {
            plainInteger = false
            position += 1
            guard position < end, isDigit(bytes[position]) else { throw failure("expected a digit after '.', found \(describeByte())") }
            while position < end, isDigit(bytes[position]) { position += 1 }
        }
        if position < end, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            plainInteger = false
            position += 1
            if position < end, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") { position += 1 }
            guard position < end, isDigit(bytes[position]) else { throw failure("expected an exponent digit, found \(describeByte())") }
            while position < end, isDigit(bytes[position]) { position += 1 }
        }
        let text = String(decoding: bytes[numberStart..<position], as: UTF8.self)
        return .number(text: text, integer: plainInteger ? Int(text) : nil)
    }

    private func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
}
