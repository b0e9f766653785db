import SafeTensors
import Testing

/// One hostile or broken file and the exact error it must produce.
struct Refusal: CustomTestStringConvertible, Sendable {
    let label: String
    let bytes: [UInt8]
    let error: SafeTensorsError
    var testDescription: String { label }

    init(_ label: String, _ bytes: [UInt8], _ error: SafeTensorsError) {
        self.label = label
        self.bytes = bytes
        self.error = error
    }

    /// A file whose header is `header` and whose buffer is `buffer`.
    init(_ label: String, header: String, buffer: [UInt8] = [], _ error: SafeTensorsError) {
        self.init(label, craftedFile(header, buffer: buffer), error)
    }
}

/// A well-formed entry for a one-element F32 tensor at `offsets`.
private func f32(_ name: String, _ offsets: String = "[0,4]", shape: String = "[1]") -> String {
    #""\#(name)":{"dtype":"F32","shape":\#(shape),"data_offsets":\#(offsets)}"#
}

private let four: [UInt8] = [0, 0, 0x80, 0x3F]

let refusals: [Refusal] = [
    Refusal("file shorter than 8 bytes", [1, 0, 0], .fileTooShort(byteCount: 3)),
    Refusal("empty file", [], .fileTooShort(byteCount: 0)),
    Refusal("header length beyond the file", littleEndianLength(100) + Array("{}".utf8), .headerBeyondFile(declared: 100, available: 2)),
    Refusal("absurd header length", littleEndianLength(1 << 63) + Array("{}".utf8), .headerTooLarge(declared: 1 << 63, limit: 100_000_000)),
    Refusal("header length just over 100 MB", littleEndianLength(100_000_001), .headerTooLarge(declared: 100_000_001, limit: 100_000_000)),
    Refusal("zero header length", littleEndianLength(0), .headerSyntax(offset: 0, reason: "the header must begin with '{'")),
    Refusal("header not UTF-8", littleEndianLength(6) + [0x7B, 0x22, 0x61, 0xFF, 0x22, 0x7D],
            .headerNotUTF8(offset: 3)),
    Refusal("header with an overlong UTF-8 encoding", littleEndianLength(4) + [0x7B, 0xC0, 0xAF, 0x7D], .headerNotUTF8(offset: 1)),
    Refusal("header not JSON", header: #"{"a":}"#, .headerSyntax(offset: 5, reason: "expected a value, found '}'")),
    Refusal("header a JSON array", header: "[]", .headerSyntax(offset: 0, reason: "the header must begin with '{'")),
    Refusal("header with leading space", header: " {}", .headerSyntax(offset: 0, reason: "the header must begin with '{'")),
    Refusal("header with trailing garbage", header: "{} x", .headerSyntax(offset: 3, reason: "unexpected 'x' after the header object")),
    Refusal("header padded with NUL", header: "{}\0", .headerSyntax(offset: 2, reason: "unexpected byte 0x0 after the header object")),
    Refusal("unterminated header", header: #"{"w":{"dtype":"F32""#, .headerSyntax(offset: 19, reason: "unterminated object")),
    Refusal("trailing comma", header: #"{"a":1,}"#, .headerSyntax(offset: 7, reason: "expected a string key, found '}'")),
    Refusal("unescaped control character", header: "{\"a\tb\":1}", .headerSyntax(offset: 3, reason: "unescaped control character byte 0x9 in a string")),
    Refusal("lone surrogate", header: #"{"\ud800":1}"#, .headerSyntax(offset: 2, reason: "lone surrogate in a \\u escape")),
    Refusal("invalid escape", header: #"{"\x":1}"#, .headerSyntax(offset: 3, reason: "invalid escape \\'x'")),
    Refusal("leading zero", header: #"{"w":{"dtype":"F32","shape":[01],"data_offsets":[0,4]}}"#,
            .headerSyntax(offset: 30, reason: "leading zero in a number")),
    Refusal("nesting 100 deep", header: #"{"__metadata__":"# + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}",
            .headerSyntax(offset: 31, reason: "nested deeper than 16 levels")),
    Refusal("duplicate tensor name", header: "{\(f32("w")),\(f32("w"))}", buffer: four, .duplicateKey("w", context: "the header")),
    Refusal("duplicate name spelled with an escape", header: "{\(f32("w")),\(f32("\\u0077"))}", buffer: four,
            .duplicateKey("w", context: "the header")),
    Refusal("duplicate field", header: #"{"w":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, buffer: four,
            .duplicateKey("dtype", context: "\"w\"")),
    Refusal("duplicate metadata", header: #"{"__metadata__":{"k":"a","k":"b"}}"#, .duplicateKey("k", context: "\"__metadata__\"")),
    Refusal("canonically equivalent names", header: "{\(f32("\u{E9}")),\(f32("e\u{301}", "[4,8]"))}", buffer: four + four,
            .ambiguousNames("\u{E9}", "e\u{301}")),
    Refusal("metadata value not a string", header: #"{"__metadata__":{"k":1}}"#,
            .invalidMetadata(key: "k", reason: "value must be a string, found the number 1")),
    Refusal("metadata value null", header: #"{"__metadata__":{"k":null}}"#,
            .invalidMetadata(key: "k", reason: "value must be a string, found null")),
    Refusal("metadata not an object", header: #"{"__metadata__":["k"]}"#,
            .invalidMetadata(key: nil, reason: "must be an object, found an array")),
    Refusal("entry not an object", header: #"{"w":[0,4]}"#, .invalidEntry(tensor: "w", reason: "entry must be an object, found an array")),
    Refusal("missing dtype", header: #"{"w":{"shape":[1],"data_offsets":[0,4]}}"#, buffer: four,
            .invalidEntry(tensor: "w", reason: "missing field \"dtype\"")),
    Refusal("missing shape", header: #"{"w":{"dtype":"F32","data_offsets":[0,4]}}"#, buffer: four,
            .invalidEntry(tensor: "w", reason: "missing field \"shape\"")),
    Refusal("missing data_offsets", header: #"{"w":{"dtype":"F32","shape":[1]}}"#, buffer: four,
            .invalidEntry(tensor: "w", reason: "missing field \"data_offsets\"")),
    Refusal("unknown field", header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"offsets":[0,4]}}"#, buffer: four,
            .invalidEntry(tensor: "w", reason: "unknown field \"offsets\"")),
    Refusal("unknown dtype", header: #"{"w":{"dtype":"F17","shape":[1],"data_offsets":[0,4]}}"#, buffer: four,
            .unknownDType(tensor: "w", dtype: "F17")),
    Refusal("lowercase dtype", header: #"{"w":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}"#, buffer: four,
            .unknownDType(tensor: "w", dtype: "f32")),
    Refusal("sub-byte dtype", header: #"{"w":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}}"#, buffer: [0],
            .unknownDType(tensor: "w", dtype: "F4")),
    Refusal("dtype not a string", header: #"{"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}"#, buffer: four,
            .invalidEntry(tensor: "w", reason: "dtype must be a string, found the number 4")),
    Refusal("shape not an array", header: "{\(f32("w", shape: "1"))}", buffer: four,
            .invalidEntry(tensor: "w", reason: "shape must be an array, found the number 1")),
    Refusal("negative dimension", header: "{\(f32("w", shape: "[1,-1]"))}", buffer: four,
            .invalidEntry(tensor: "w", reason: "shape dimension 1 must be a non-negative integer, found the number -1")),
    Refusal("fractional dimension", header: "{\(f32("w", shape: "[1.0]"))}", buffer: four,
            .invalidEntry(tensor: "w", reason: "shape dimension 0 must be a non-negative integer, found the number 1.0")),
    Refusal("exponent dimension", header: "{\(f32("w", shape: "[1e0]"))}", buffer: four,
            .invalidEntry(tensor: "w", reason: "shape dimension 0 must be a non-negative integer, found the number 1e0")),
    Refusal("string dimension", header: "{\(f32("w", shape: "[\"1\"]"))}", buffer: four,
            .invalidEntry(tensor: "w", reason: "shape dimension 0 must be a non-negative integer, found a string")),
    Refusal("dimension beyond Int", header: "{\(f32("w", shape: "[18446744073709551616]"))}", buffer: four,
            .invalidEntry(tensor: "w", reason: "shape dimension 0 must be a non-negative integer, found the number 18446744073709551616")),
    Refusal("element count overflow", header: "{\(f32("w", shape: "[4294967296,4294967296]"))}", buffer: four,
            .shapeOverflow(tensor: "w", shape: [4_294_967_296, 4_294_967_296])),
    Refusal("byte count overflow", header: "{\(f32("w", shape: "[4611686018427387904]"))}", buffer: four,
            .shapeOverflow(tensor: "w", shape: [4_611_686_018_427_387_904])),
    Refusal("one offset", header: "{\(f32("w", "[4]"))}", buffer: four,
            .invalidEntry(tensor: "w", reason: "data_offsets must be two non-negative integers")),
    Refusal("three offsets", header: "{\(f32("w", "[0,4,4]"))}", buffer: four,
            .invalidEntry(tensor: "w", reason: "data_offsets must be two non-negative integers")),
    Refusal("negative offset", header: "{\(f32("w", "[-4,0]"))}", buffer: four,
            .invalidEntry(tensor: "w", reason: "data_offsets must be two non-negative integers")),
    Refusal("fractional offset", header: "{\(f32("w", "[0,4.0]"))}", buffer: four,
            .invalidEntry(tensor: "w", reason: "data_offsets must be two non-negative integers")),
    Refusal("offsets an object", header: "{\(f32("w", #"{"begin":0,"end":4}"#))}", buffer: four,
            .invalidEntry(tensor: "w", reason: "data_offsets must be two non-negative integers")),
    Refusal("begin after end", header: "{\(f32("w", "[4,0]", shape: "[1]"))}", buffer: four,
            .offsetsReversed(tensor: "w", begin: 4, end: 0)),
    Refusal("end beyond the buffer", header: "{\(f32("w", "[0,8]", shape: "[2]"))}", buffer: four,
            .tensorBeyondBuffer(tensor: "w", end: 8, bufferSize: 4)),
    Refusal("end far beyond the buffer", header: "{\(f32("w", "[9223372036854775800,9223372036854775804]"))}", buffer: four,
            .tensorBeyondBuffer(tensor: "w", end: 9_223_372_036_854_775_804, bufferSize: 4)),
    Refusal("byte length not shape times dtype size", header: "{\(f32("w", "[0,8]", shape: "[3]"))}", buffer: four + four,
            .byteCountMismatch(tensor: "w", expected: 12, actual: 8)),
    Refusal("overlapping tensors", header: "{\(f32("a", "[0,8]", shape: "[2]")),\(f32("b", "[4,12]", shape: "[2]"))}",
            buffer: four + four + four, .overlappingTensors("a", "b")),
    Refusal("same bytes twice", header: "{\(f32("a")),\(f32("b"))}", buffer: four, .overlappingTensors("a", "b")),
    Refusal("empty tensor inside another", header: "{\(f32("a", "[0,8]", shape: "[2]")),\(f32("b", "[4,4]", shape: "[0]"))}",
            buffer: four + four, .overlappingTensors("a", "b")),
    Refusal("hole between tensors", header: "{\(f32("a")),\(f32("b", "[8,12]"))}", buffer: four + four + four,
            .uncoveredBytes(4..<8)),
    Refusal("hole at the start", header: "{\(f32("a", "[4,8]"))}", buffer: four + four, .uncoveredBytes(0..<4)),
    Refusal("trailing bytes", header: "{\(f32("a"))}", buffer: four + [0], .uncoveredBytes(4..<5)),
    Refusal("bytes but no tensors", header: "{}", buffer: four, .uncoveredBytes(0..<4)),
]

@Test(arguments: refusals)
func refusesBrokenFile(_ refusal: Refusal) {
    let error = #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(bytes: refusal.bytes) }
    #expect(error == refusal.error)
    // Every message names what is wrong; the messages are for people, so check they are there.
    #expect(!(error?.description.isEmpty ?? true))
}
