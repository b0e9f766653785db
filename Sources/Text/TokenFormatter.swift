/// How `tokenize` shows tokens: for people (one line of pieces) and for programs (JSON).
public enum TokenFormatter {
    /// A token for display: spaces as `▁`, tabs and line breaks as `\t \n \r`, other
    /// controls as `\xHH`, and bytes that are not whole characters as `<0xHH>` (the
    /// sentencepiece convention for byte tokens).
    public static func display(_ bytes: [UInt8]) -> String {
        render(bytes) { scalar, out in
            switch scalar {
            case 0x20: out += "▁"
            case 0x09: out += "\\t"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0..<0x20, 0x7F: out += "\\x" + hex2(UInt8(scalar))
            default: out.unicodeScalars.append(Unicode.Scalar(scalar)!)
            }
        }
    }

    /// A JSON string literal. Invalid UTF-8 is shown as `<0xHH>`, as in `display`.
    public static func jsonString(_ bytes: [UInt8]) -> String {
        "\"" + render(bytes) { scalar, out in
            switch scalar {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0..<0x20, 0x7F, 0x2028, 0x2029:
                let h = String(scalar, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
            default: out.unicodeScalars.append(Unicode.Scalar(scalar)!)
            }
        } + "\""
    }

    /// Walks `bytes`: each byte that is not part of a well-formed character becomes
    /// `<0xHH>`; each character is passed to `scalar` to render.
    private static func render(_ bytes: [UInt8], _ scalar: (UInt32, inout String) -> Void) -> String {
        var out = ""
        bytes.withUnsafeBufferPointer { b in
            var i = 0
            while i < b.count {
                let length = UTF8Bytes.sequenceLength(b.baseAddress!, i, b.count)
                if length == 0 {
                    out += "<0x" + hex2(b[i]) + ">"
                    i += 1
                    continue
                }
                scalar(UTF8Bytes.decode(b.baseAddress!, i).scalar, &out)
                i += length
            }
        }
        return out
    }

    /// One JSON object for an encoded line: its number, tokens, ids and byte offsets.
    public static func json(line: Int, encoding e: Encoding, vocabulary v: Vocabulary) -> String {
        var out = "{\"line\":\(line),\"tokens\":["
        for k in 0..<e.count {
            if k > 0 { out += "," }
            out += jsonString(v.tokens[Int(e.ids[k])])
        }
        out += "],\"ids\":["
        out += e.ids.map(String.init).joined(separator: ",")
        out += "],\"offsets\":["
        for k in 0..<e.count {
            if k > 0 { out += "," }
            out += "[\(e.starts[k]),\(e.ends[k])]"
        }
        return out + "]}"
    }

    private static func hex2(_ b: UInt8) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        return String(decoding: [digits[Int(b >> 4)], digits[Int(b & 15)]], as: Unicode.UTF8.self)
    }
}
