import SafeTensors
import Testing

/// A file with one tensor `t` of `dtype` and `shape` whose buffer is `buffer`.
private func single(_ dtype: String, shape: [Int], _ buffer: [UInt8]) throws -> SafeTensorsFile {
    let header = #"{"t":{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":[0,\#(buffer.count)]}}"#
    return try SafeTensorsFile(bytes: craftedFile(header, buffer: buffer))
}

private func littleEndian16(_ values: [UInt16]) -> [UInt8] { values.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] } }

@Test func float16AndBFloat16ConvertExactly() throws {
    let half = try single("F16", shape: [7], littleEndian16([0x3C00, 0xC000, 0x0001, 0x03FF, 0x7BFF, 0xFC00, 0x8000]))
    let h = try half.floats("t")
    #expect(Array(h[0..<5]) == [1, -2, 0x1p-24, 0x3FFp-24, 65504])
    #expect(h[5] == -.infinity && h[6] == 0 && h[6].sign == .minus)
    #expect(try half.doubles("t")[2] == 0x1p-24)

    let brain = try single("BF16", shape: [3], littleEndian16([0x3F80, 0xC040, 0x7FC0]))
    let b = try brain.floats("t")
    #expect(b[0] == 1 && b[1] == -3 && b[2].isNaN)
}

#if !(os(macOS) && arch(x86_64))
@Test func float16ConversionMatchesTheStandardLibraryForEveryBitPattern() throws {
    let patterns = (0...UInt16.max).map { $0 }
    let values = try single("F16", shape: [patterns.count], littleEndian16(patterns)).floats("t")
    for (bits, value) in zip(patterns, values) {
        let want = Float(Float16(bitPattern: bits))
        #expect(value.bitPattern == want.bitPattern || (value.isNaN && want.isNaN), "F16 bits 0x\(String(bits, radix: 16))")
    }
}
#endif

@Test func integersWidenToInt64() throws {
    #expect(try single("I8", shape: [2], [0xFF, 0x7F]).int64s("t") == [-1, 127])
    #expect(try single("U8", shape: [2], [0xFF, 0x7F]).int64s("t") == [255, 127])
    #expect(try single("I16", shape: [1], [0x00, 0x80]).int64s("t") == [-32768])
    #expect(try single("U32", shape: [1], [0xFF, 0xFF, 0xFF, 0xFF]).int64s("t") == [4_294_967_295])
    #expect(try single("I32", shape: [1], [0xFE, 0xFF, 0xFF, 0xFF]).int64s("t") == [-2])
}

@Test func conversionsThatWouldLoseMeaningAreRefused() throws {
    let ints = try single("I64", shape: [1], [1, 0, 0, 0, 0, 0, 0, 0])
    #expect(refusal { try ints.floats("t") } == .unsupportedConversion(tensor: "t", dtype: .int64, to: "Float"))
    let unsigned = try single("U64", shape: [1], [1, 0, 0, 0, 0, 0, 0, 0])
    #expect(refusal { try unsigned.int64s("t") } == .unsupportedConversion(tensor: "t", dtype: .uint64, to: "Int64"))
    let floats = try single("F32", shape: [1], [0, 0, 0x80, 0x3F])
    #expect(refusal { try floats.int64s("t") } == .unsupportedConversion(tensor: "t", dtype: .float32, to: "Int64"))
    #expect(refusal { try floats.floats("missing") } == .tensorNotFound("missing"))
    #expect(try floats.rawBytes("t") == [0, 0, 0x80, 0x3F])
}

@Test func requireFiniteNamesTheTensorAndTheIndex() throws {
    var values: [Float] = [0, 1, 2, 3, 4, .nan]
    var file = try SafeTensorsFile(bytes: encodeSafeTensors([NamedTensor("w", shape: [2, 3], values)]))
    #expect(refusal { try file.floats("w", requireFinite: true) } == .nonFinite(tensor: "w", index: 5, coordinates: [1, 2]))
    #expect(try file.floats("w").count == 6)  // without the option NaN is legal, as in the format

    values = [0, -.infinity, 0, 0, 0, 0]
    file = try SafeTensorsFile(bytes: encodeSafeTensors([NamedTensor("w", shape: [3, 1, 2], values)]))
    #expect(refusal { try file.floats("w", requireFinite: true) } == .nonFinite(tensor: "w", index: 1, coordinates: [0, 0, 1]))

    // Finite as F64 but not as Float: the check applies to what the caller receives.
    file = try SafeTensorsFile(bytes: encodeSafeTensors([NamedTensor("d", shape: [2], .float64([1, 1e300]))]))
    #expect(refusal { try file.floats("d", requireFinite: true) } == .nonFinite(tensor: "d", index: 1, coordinates: [1]))
    #expect(try file.doubles("d", requireFinite: true) == [1, 1e300])
}

/// A file whose F32 tensor `name` starts 3 bytes into the buffer, after a U8 tensor.
private func afterThreeBytes(_ name: String, _ values: [Float]) throws -> SafeTensorsFile {
    let end = 3 + 4 * values.count
    let header = #"{"pad":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},"# +
        #""\#(name)":{"dtype":"F32","shape":[\#(values.count)],"data_offsets":[3,\#(end)]}}"#
    return try SafeTensorsFile(bytes: craftedFile(header, buffer: [1, 2, 3] + values.flatMap { v in
        withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) }
    }))
}

@Test func theFiniteCheckFindsTheFirstBadValueAnywhereInALongTensor() throws {
    // 64-value blocks are checked at once: the first bad value of a failing block, in the tail
    // after the last whole block, and with an unaligned buffer (a 3-byte tensor before it).
    for (count, bad) in [(200, 0), (200, 63), (200, 64), (200, 150), (200, 191), (200, 192), (200, 199), (64, 63), (5, 4)] {
        for value in [Float.nan, .infinity, -.infinity] {
            var values = (0..<count).map { Float($0) * 0.5 - 7 }
            values[bad] = value
            if bad + 3 < count { values[bad + 3] = .nan }  // a later one is not the one named
            let file = try afterThreeBytes("w", values)
            let want = SafeTensorsError.nonFinite(tensor: "w", index: bad, coordinates: [bad])
            #expect(refusal { try file.floats("w", requireFinite: true) } == want, "count \(count), bad \(bad)")
            #expect(refusal { try file.checkFloats("w", requireFinite: true) } == want)
            var destination = [Float](repeating: 42, count: count)
            #expect(refusal { try destination.withUnsafeMutableBufferPointer { try file.copyFloats("w", into: $0, requireFinite: true) } } == want)
            #expect(destination.allSatisfy { $0 == 42 }, "nothing is written before the check passes")
        }
    }
}

@Test func copyFloatsWritesWhatFloatsReturns() throws {
    let values = (0..<133).map { Float($0) * -0.25 + 3 }
    let file = try SafeTensorsFile(bytes: encodeSafeTensors([NamedTensor("w", shape: [7, 19], values),
                                                             NamedTensor("d", shape: [2], .float64([1.5, -2]))]))
    var out = [Float](repeating: 0, count: 133)
    try out.withUnsafeMutableBufferPointer { try file.copyFloats("w", into: $0, requireFinite: true) }
    #expect(out == values)
    #expect(try file.floats("w", requireFinite: true) == values)
    var converted: [Float] = [0, 0]
    try converted.withUnsafeMutableBufferPointer { try file.copyFloats("d", into: $0) }
    #expect(converted == [1.5, -2])
    try file.checkFloats("w", requireFinite: true)
}
