import Foundation

/// The values of a tensor to write, in row-major order.
public enum TensorValues: Equatable, Sendable {
    case float32([Float])
    case float64([Double])
    case int64([Int64])

    /// The dtype written to the header: F32, F64 or I64.
    public var dtype: DType {
        switch self {
        case .float32: return .float32
        case .float64: return .float64
        case .int64: return .int64
        }
    }

    var count: Int {
        switch self {
        case let .float32(v): return v.count
        case let .float64(v): return v.count
        case let .int64(v): return v.count
        }
    }

    /// Calls `body` with the values as little-endian bytes (no copy on little-endian hosts).
    func withLittleEndianBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        #if _endian(little)
        switch self {
        case let .float32(v): return try v.withUnsafeBytes(body)
        case let .float64(v): return try v.withUnsafeBytes(body)
        case let .int64(v): return try v.withUnsafeBytes(body)
        }
        #else
        switch self {
        case let .float32(v): return try v.map { $0.bitPattern.littleEndian }.withUnsafeBytes(body)
        case let .float64(v): return try v.map { $0.bitPattern.littleEndian }.withUnsafeBytes(body)
        case let .int64(v): return try v.map { $0.littleEndian }.withUnsafeBytes(body)
        }
        #endif
    }
}

/// A named tensor to write.
public struct NamedTensor: Equatable, Sendable {
    public var name: String
    /// Row-major dimensions; `product(shape)` must equal the number of values.
    public var shape: [Int]
    public var values: TensorValues

    /// A tensor of any writable dtype; checked only when written.
    public init(_ name: String, shape: [Int], _ values: TensorValues) {
        self.name = name
        self.shape = shape
        self.values = values
    }

    /// An F32 tensor.
    public init(_ name: String, shape: [Int], _ values: [Float]) {
        self.init(name, shape: shape, .float32(values))
    }
}

/// Serializes tensors to the safetensors format, laid out as the reference implementation
/// lays them out: tensors by descending dtype alignment, then by name (compared as UTF-8
/// bytes); the header compact JSON with `__metadata__` first (its keys sorted, and omitted when
/// empty), then the tensors in buffer order, each `{"dtype","shape","data_offsets"}`; padded
/// with spaces to a multiple of 8 bytes. The same input always gives the same bytes.
///
/// Throws `.invalidTensor` for a name used twice (or canonically equivalent to another), the
/// reserved name `__metadata__`, a negative dimension, or a shape whose product is not the
/// number of values.
public func encodeSafeTensors(_ tensors: [NamedTensor], metadata: [String: String] = [:]) throws -> [UInt8] {
    var out: [UInt8] = []
    try emitSafeTensors(tensors, metadata: metadata) { out.append(contentsOf: $0) }
    return out
}

/// Writes `encodeSafeTensors(tensors, metadata:)` to `url` atomically: a temporary file in the
/// same folder, fsynced, then renamed over `url`. On failure `url` is untouched.
public func writeSafeTensors(_ tensors: [NamedTensor], metadata: [String: String] = [:], to url: URL) throws {
    let ordered = try layout(tensors)
    try writeAtomically(path: url.path) { sink in
        try emitLaidOut(ordered, metadata: metadata, sink)
    }
}

private func emitSafeTensors(_ tensors: [NamedTensor], metadata: [String: String],
                             _ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
    try emitLaidOut(try layout(tensors), metadata: metadata, sink)
}

private func emitLaidOut(_ ordered: [NamedTensor], metadata: [String: String],
                         _ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
    var header = headerJSON(ordered, metadata: metadata)
    header.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8))
    var length = UInt64(header.count).littleEndian
    try withUnsafeBytes(of: &length) { try sink($0) }
    try header.withUnsafeBytes { try sink($0) }
    for tensor in ordered {
        try tensor.values.withLittleEndianBytes { try sink($0) }
    }
}

/// Validates the tensors and returns them in file order.
private func layout(_ tensors: [NamedTensor]) throws -> [NamedTensor] {
    var names: [String: String] = [:]
    for tensor in tensors {
        func invalid(_ reason: String) -> SafeTensorsError { .invalidTensor(name: tensor.name, reason: reason) }
        if tensor.name == "__metadata__" { throw invalid("the name is reserved for the metadata") }
        if let other = names.updateValue(tensor.name, forKey: tensor.name) {
            throw invalid(Array(other.utf8) == Array(tensor.name.utf8)
                ? "the name is used twice" : "the name is canonically equivalent to \"\(other)\"")
        }
        if let axis = tensor.shape.firstIndex(where: { $0 < 0 }) { throw invalid("dimension \(axis) is negative") }
        var elements = 1
        for d in tensor.shape {
            let (product, overflow) = elements.multipliedReportingOverflow(by: d)
            if overflow { throw invalid("shape \(tensor.shape) overflows") }
            elements = product
        }
        if elements != tensor.values.count {
            throw invalid("shape \(tensor.shape) has \(elements) elements, \(tensor.values.count) values given")
        }
    }
    return tensors.sorted { a, b in
        let (ra, rb) = (a.values.dtype.layoutRank, b.values.dtype.layoutRank)
        return ra != rb ? ra > rb : a.name.utf8.lexicographicallyPrecedes(b.name.utf8)
    }
}

private func headerJSON(_ ordered: [NamedTensor], metadata: [String: String]) -> [UInt8] {
    var json: [UInt8] = [UInt8(ascii: "{")]
    func append(_ text: String) { json.append(contentsOf: text.utf8) }
    var first = true
    func separator() {
        if !first { append(",") }
        first = false
    }
    if !metadata.isEmpty {
        separator()
        append("\"__metadata__\":{")
        let keys = metadata.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        for (i, key) in keys.enumerated() {
            if i > 0 { append(",") }
            appendJSONString(key, to: &json)
            append(":")
            appendJSONString(metadata[key]!, to: &json)
        }
        append("}")
    }
    var offset = 0
    for tensor in ordered {
        separator()
        let size = tensor.values.count * tensor.values.dtype.byteSize
        appendJSONString(tensor.name, to: &json)
        append(":{\"dtype\":\"\(tensor.values.dtype.rawValue)\",\"shape\":[")
        append(tensor.shape.map(String.init).joined(separator: ","))
        append("],\"data_offsets\":[\(offset),\(offset + size)]}")
        offset += size
    }
    append("}")
    return json
}

/// Appends `text` as a JSON string literal, escaped as serde_json (the reference writer)
/// escapes: `"` `\` and control characters only, the latter as `\n`-style or `\u00XX`.
func appendJSONString(_ text: String, to json: inout [UInt8]) {
    json.append(UInt8(ascii: "\""))
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "\""): json.append(contentsOf: #"\""#.utf8)
        case UInt8(ascii: "\\"): json.append(contentsOf: #"\\"#.utf8)
        case 0x08: json.append(contentsOf: #"\b"#.utf8)
        case 0x0C: json.append(contentsOf: #"\f"#.utf8)
        case 0x0A: json.append(contentsOf: #"\n"#.utf8)
        case 0x0D: json.append(contentsOf: #"\r"#.utf8)
        case 0x09: json.append(contentsOf: #"\t"#.utf8)
        case 0..<0x20:
            let hex = Array("0123456789abcdef".utf8)
            json.append(contentsOf: #"\u00"#.utf8)
            json.append(hex[Int(byte >> 4)])
            json.append(hex[Int(byte & 0xF)])
        default: json.append(byte)
        }
    }
    json.append(UInt8(ascii: "\""))
}
