import SafeTensors
import Testing

// Bytes written out by hand from the format's description, so the writer is held to the
// specification rather than to itself.

@Test func goldenFileWithMetadataAndTwoDtypes() throws {
    // 133 bytes of JSON + 3 spaces of padding = 136 = 0x88. The I64 tensor comes first: the
    // reference writer orders tensors by descending alignment, then by name.
    let header = #"{"__metadata__":{"k":"v"},"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"#
        + #""b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"# + "   "
    let expected: [UInt8] = [0x88, 0, 0, 0, 0, 0, 0, 0] + Array(header.utf8) + [
        0x02, 0x01, 0, 0, 0, 0, 0, 0,  // a = 258
        0x00, 0x00, 0x80, 0x3F,        // b[0] = 1.0
        0x00, 0x00, 0x00, 0xC0,        // b[1] = -2.0
    ]
    let written = try encodeSafeTensors(
        [NamedTensor("b", shape: [2], [1, -2]), NamedTensor("a", shape: [1], .int64([258]))],
        metadata: ["k": "v"])
    #expect(written == expected)

    let file = try SafeTensorsFile(bytes: expected)
    #expect(file.metadata == ["k": "v"])
    #expect(try file.int64s("a") == [258])
    #expect(try file.floats("b") == [1, -2])
    #expect(file.tensors.map(\.name) == ["a", "b"])
}

@Test func goldenEmptyFile() throws {
    let expected: [UInt8] = [8, 0, 0, 0, 0, 0, 0, 0] + Array("{}      ".utf8)
    #expect(try encodeSafeTensors([]) == expected)
    let file = try SafeTensorsFile(bytes: expected)
    #expect(file.tensors.isEmpty && file.metadata.isEmpty)
}

@Test func goldenEscapesAndFloat64() throws {
    // Names and metadata are escaped as the reference's JSON writer escapes them: only quote,
    // backslash and control characters; non-ASCII stays UTF-8. 90 bytes + 6 spaces = 96 = 0x60.
    let header = #"{"__metadata__":{"q\"":"\\\u0001"},"é\n":{"dtype":"F64","shape":[],"data_offsets":[0,8]}}"#
    #expect(header.utf8.count == 90)
    let expected: [UInt8] = [0x60, 0, 0, 0, 0, 0, 0, 0] + Array((header + "      ").utf8)
        + [0, 0, 0, 0, 0, 0, 0xF0, 0xBF]  // -1.0 as F64
    let written = try encodeSafeTensors([NamedTensor("é\n", shape: [], .float64([-1]))], metadata: ["q\"": "\\\u{1}"])
    #expect(written == expected)
    #expect(try SafeTensorsFile(bytes: expected).doubles("é\n") == [-1])
}

@Test func readerAcceptsWhatTheSpecificationAllowsButOurWriterDoesNotProduce() throws {
    // Any key order, JSON whitespace, tensors listed out of buffer order, metadata last,
    // unpadded header, escaped key spelling, zero-size tensors between others.
    let header = "{ \"b\" : {\"shape\": [1], \"data_offsets\": [4, 8], \"dtype\": \"F32\"},\n"
        + "\t\"z\": {\"data_offsets\": [4, 4], \"dtype\": \"BF16\", \"shape\": [0, 3]},\r\n"
        + "\"\\u0061\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
        + "\"__metadata__\": {\"x\\/y\": \"\\ud83d\\ude00\"}}"
    let file = try SafeTensorsFile(bytes: craftedFile(header, buffer: [0, 0, 0x80, 0x3F, 0, 0, 0, 0x40]))
    #expect(file.tensors.map(\.name) == ["a", "z", "b"])
    #expect(try file.floats("a") == [1] && file.floats("b") == [2] && file.floats("z") == [])
    #expect(file.metadata == ["x/y": "😀"])
}
