/// The validated header of a safetensors file: what `SafeTensorsFile` reads, without the data.
struct Header {
    /// The reference implementation refuses headers above 100 MB; so do we, before allocating.
    static let maxLength = 100_000_000

    var metadata: [String: String]
    /// In buffer order (ascending `dataOffsets`).
    var tensors: [TensorInfo]
    /// File offset of the byte buffer: 8 + header length.
    var bufferStart: Int

    /// Parses and validates the header of the complete file `bytes`: every rule of the format,
    /// including that the tensors cover the byte buffer exactly. Throws `SafeTensorsError`.
    init(file bytes: [UInt8]) throws {
        self = try bytes.withUnsafeBytes { try Header(file: $0) }
    }

    /// `init(file:)` over the file's bytes in memory (read or mapped); only the header's bytes
    /// are copied.
    init(file raw: UnsafeRawBufferPointer) throws {
        guard raw.count >= 8 else { throw SafeTensorsError.fileTooShort(byteCount: raw.count) }
        var declared: UInt64 = 0
        for i in 0..<8 { declared |= UInt64(raw[i]) << (8 * UInt64(i)) }
        guard declared <= UInt64(Header.maxLength) else {
            throw SafeTensorsError.headerTooLarge(declared: declared, limit: Header.maxLength)
        }
        let length = Int(declared)
        guard length <= raw.count - 8 else {
            throw SafeTensorsError.headerBeyondFile(declared: declared, available: raw.count - 8)
        }
        let range = 8..<(8 + length)
        let bytes = Array(raw[0..<range.upperBound])
        if let bad = firstInvalidUTF8(bytes, range) { throw SafeTensorsError.headerNotUTF8(offset: bad - 8) }
        // The format requires the header to begin with '{' (no leading whitespace).
        guard length > 0, bytes[8] == UInt8(ascii: "{") else {
            throw SafeTensorsError.headerSyntax(offset: 0, reason: "the header must begin with '{'")
        }
        var parser = HeaderJSONParser(bytes: bytes, range: range)
        guard case let .object(members) = try parser.parseDocument() else {
            throw SafeTensorsError.headerSyntax(offset: 0, reason: "the header is not a JSON object")
        }

        metadata = [:]
        var entries: [TensorInfo] = []
        var byName: [String: String] = [:]
        for (key, value) in members {
            if key == "__metadata__" {
                metadata = try Header.metadata(value)
                continue
            }
            let info = try Header.tensorInfo(name: key, value)
            // Swift's String equality is canonical equivalence: two byte-distinct names could
            // otherwise shadow each other in a name lookup.
            if let other = byName.updateValue(key, forKey: key) {
                throw SafeTensorsError.ambiguousNames(other, key)
            }
            entries.append(info)
        }
        bufferStart = 8 + length
        tensors = try Header.checkCoverage(entries, bufferSize: raw.count - bufferStart)
    }

    private static func metadata(_ value: JSONValue) throws -> [String: String] {
        guard case let .object(members) = value else {
            throw SafeTensorsError.invalidMetadata(key: nil, reason: "must be an object, found \(value.kind)")
        }
        var result: [String: String] = [:]
        for (key, value) in members {
            guard case let .string(text) = value else {
                throw SafeTensorsError.invalidMetadata(key: key, reason: "value must be a string, found \(value.kind)")
            }
            if result.updateValue(text, forKey: key) != nil {
                throw SafeTensorsError.invalidMetadata(key: key, reason: "another key is canonically equivalent")
            }
        }
        return result
    }

    private static func tensorInfo(name: String, _ value: JSONValue) throws -> TensorInfo {
        func invalid(_ reason: String) -> SafeTensorsError { .invalidEntry(tensor: name, reason: reason) }
        guard case let .object(fields) = value else { throw invalid("entry must be an object, found \(value.kind)") }
        var dtypeValue: JSONValue?, shapeValue: JSONValue?, offsetsValue: JSONValue?
        for (field, fieldValue) in fields {
            switch field {
            case "dtype": dtypeValue = fieldValue
            case "shape": shapeValue = fieldValue
            case "data_offsets": offsetsValue = fieldValue
            default: throw invalid("unknown field \"\(field)\"")
            }
        }
        guard let dtypeValue else { throw invalid("missing field \"dtype\"") }
        guard let shapeValue else { throw invalid("missing field \"shape\"") }
        guard let offsetsValue else { throw invalid("missing field \"data_offsets\"") }

        guard case let .string(dtypeName) = dtypeValue else { throw invalid("dtype must be a string, found \(dtypeValue.kind)") }
        guard let dtype = DType(rawValue: dtypeName) else { throw SafeTensorsError.unknownDType(tensor: name, dtype: dtypeName) }

        guard case let .array(dims) = shapeValue else { throw invalid("shape must be an array, found \(shapeValue.kind)") }
        var shape: [Int] = []
        shape.reserveCapacity(dims.count)
        for (axis, dim) in dims.enumerated() {
            guard case let .number(_, integer?) = dim else {
                throw invalid("shape dimension \(axis) must be a non-negative integer, found \(dim.kind)")
            }
            shape.append(integer)
        }
        var elements = 1
        for d in shape {
            let (product, overflow) = elements.multipliedReportingOverflow(by: d)
            guard !overflow else { throw SafeTensorsError.shapeOverflow(tensor: name, shape: shape) }
            elements = product
        }
        let (byteCount, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else { throw SafeTensorsError.shapeOverflow(tensor: name, shape: shape) }

        guard case let .array(offsets) = offsetsValue, offsets.count == 2,
              case let .number(_, begin?) = offsets[0], case let .number(_, end?) = offsets[1] else {
            throw invalid("data_offsets must be two non-negative integers")
        }
        guard begin <= end else { throw SafeTensorsError.offsetsReversed(tensor: name, begin: begin, end: end) }
        guard end - begin == byteCount else {
            throw SafeTensorsError.byteCountMismatch(tensor: name, expected: byteCount, actual: end - begin)
        }
        return TensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end)
    }

    /// Sorts by offsets and requires the tensors to tile `0..<bufferSize` exactly.
    private static func checkCoverage(_ entries: [TensorInfo], bufferSize: Int) throws -> [TensorInfo] {
        let sorted = entries.sorted {
            ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound) < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound)
        }
        for info in sorted where info.dataOffsets.upperBound > bufferSize {
            throw SafeTensorsError.tensorBeyondBuffer(tensor: info.name, end: info.dataOffsets.upperBound, bufferSize: bufferSize)
        }
        var covered = 0
        var previous: TensorInfo?
        for info in sorted {
            let begin = info.dataOffsets.lowerBound
            if begin < covered, let previous { throw SafeTensorsError.overlappingTensors(previous.name, info.name) }
            if begin > covered { throw SafeTensorsError.uncoveredBytes(covered..<begin) }
            covered = info.dataOffsets.upperBound
            previous = info
        }
        if covered != bufferSize { throw SafeTensorsError.uncoveredBytes(covered..<bufferSize) }
        return sorted
    }
}

/// Index of the first byte of `bytes[range]` that is not part of well-formed UTF-8, or nil.
func firstInvalidUTF8(_ bytes: [UInt8], _ range: Range<Int>) -> Int? {
    var parser = Unicode.UTF8.ForwardParser()
    var iterator = bytes[range].makeIterator()
    var offset = range.lowerBound
    while true {
        switch parser.parseScalar(from: &iterator) {
        case let .valid(encoded): offset += encoded.count
        case .emptyInput: return nil
        case .error: return offset
        }
    }
}
