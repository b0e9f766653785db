import SafeTensors
import Testing
import TestSupport

/// A valid file with several dtypes, a zero-size tensor, a scalar and metadata.
private func seedFile() throws -> [UInt8] {
    try encodeSafeTensors([
        NamedTensor("embedding.weight", shape: [5, 3], (0..<15).map { Float($0) / 8 }),
        NamedTensor("lstm.bias", shape: [4], [1, -1, 0.5, 2]),
        NamedTensor("empty", shape: [2, 0], []),
        NamedTensor("scale", shape: [], .float64([0.125])),
        NamedTensor("step", shape: [1], .int64([42])),
    ], metadata: ["format": "pt", "epochs": "3"])
}

/// Mutates a copy of `file` in one of the ways a damaged or hostile file differs from a good one.
private func mutate(_ file: [UInt8], _ rng: inout SeededGenerator) -> [UInt8] {
    var bytes = file
    let headerEnd = 8 + Int(bytes[0]) + Int(bytes[1]) << 8
    switch Int.random(in: 0..<7, using: &rng) {
    case 0:  // truncate anywhere
        bytes.removeLast(Int.random(in: 1...bytes.count, using: &rng))
    case 1:  // flip bits anywhere
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
        }
    case 2:  // replace a header byte with a JSON-significant one
        let syntax = Array(#"{}[]",:0123456789-.e \u"#.utf8)
        bytes[Int.random(in: 8..<headerEnd, using: &rng)] = syntax.randomElement(using: &rng)!
    case 3:  // change a digit in the header (shapes, offsets, metadata)
        let digits = (8..<headerEnd).filter { bytes[$0] >= 0x30 && bytes[$0] <= 0x39 }
        if let at = digits.randomElement(using: &rng) { bytes[at] = UInt8.random(in: 0x30...0x39, using: &rng) }
    case 4:  // insert or delete a header byte, keeping the declared length
        let at = Int.random(in: 8..<headerEnd, using: &rng)
        if Bool.random(using: &rng) { bytes.remove(at: at) } else { bytes.insert(bytes[at], at: at) }
    case 5:  // a random header length
        let length = Bool.random(using: &rng) ? UInt64.random(in: 0...UInt64(bytes.count), using: &rng) : rng.next()
        bytes.replaceSubrange(0..<8, with: littleEndianLength(length))
    default:  // append or drop buffer bytes
        if Bool.random(using: &rng) { bytes.append(contentsOf: [0, 0, 0, 0]) } else { bytes.removeLast(4) }
    }
    return bytes
}

/// Checks everything a successful parse promises: the tensors tile the buffer and every
/// accessor returns as many values as the shape says.
private func checkInvariants(_ file: SafeTensorsFile, fileSize: Int) throws {
    var covered = 0
    for info in file.tensors {
        #expect(info.dataOffsets.lowerBound == covered)
        #expect(info.dataOffsets.count == info.elementCount * info.dtype.byteSize)
        covered = info.dataOffsets.upperBound
        #expect(try file.rawBytes(info.name).count == info.dataOffsets.count)
        switch info.dtype {
        case .float32, .float16, .bfloat16, .float64:
            #expect(try file.floats(info.name).count == info.elementCount)
            _ = refusal { try file.floats(info.name, requireFinite: true) }
        case .int64, .int32, .int16, .int8, .uint32, .uint16, .uint8:
            #expect(try file.int64s(info.name).count == info.elementCount)
        default:
            break
        }
    }
    #expect(covered <= fileSize)
}

@Test func mutatedFilesAreRefusedOrParsedNeverCrash() throws {
    let seed = try seedFile()
    var rng = SeededGenerator(seed: 20_240_601)
    var refused = 0, parsed = 0
    for _ in 0..<5000 {
        let bytes = mutate(seed, &rng)
        do {
            try checkInvariants(try SafeTensorsFile(bytes: bytes), fileSize: bytes.count)
            parsed += 1
        } catch is SafeTensorsError {
            refused += 1
        }
    }
    // Both outcomes must occur, or the mutations are not exercising the parser.
    #expect(refused > 1000)
    #expect(parsed > 100)
}
