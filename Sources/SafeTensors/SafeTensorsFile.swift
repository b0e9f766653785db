import FileSupport
import Foundation

/// A safetensors file, mapped whole into memory (or given as bytes) and validated before
/// anything is returned.
///
/// `init` refuses any file that breaks the format (see `SafeTensorsError`); once it returns,
/// every tensor's bytes lie inside the buffer, and the typed accessors only convert. Values are
/// not inspected at load time: NaN and infinities are legal in the format, and refused only
/// when a caller asks with `requireFinite`.
public struct SafeTensorsFile: Sendable {
    /// The whole file; tensor data starts at `bufferStart`.
    private let storage: Storage
    private let bufferStart: Int
    private let index: [String: Int]

    /// The `__metadata__` strings (empty if the file has none).
    public let metadata: [String: String]
    /// Every tensor, in the order of its data in the file.
    public let tensors: [TensorInfo]

    /// Maps the file at `url` read-only (`MappedFile`), then validates it. The mapping lives as
    /// long as this value: keep it only while copying values out.
    public init(contentsOf url: URL) throws {
        try self.init(storage: .mapped(mapFile(path: url.path)))
    }

    /// Validates `bytes`, the complete contents of a safetensors file, and keeps them.
    public init(bytes: [UInt8]) throws {
        try self.init(storage: .array(bytes))
    }

    private init(storage: Storage) throws {
        let header = try storage.withBytes { try Header(file: $0) }
        self.storage = storage
        bufferStart = header.bufferStart
        metadata = header.metadata
        tensors = header.tensors
        index = Dictionary(uniqueKeysWithValues: header.tensors.enumerated().map { ($1.name, $0) })
    }

    /// The entry for `name`, or nil.
    public func info(_ name: String) -> TensorInfo? { index[name].map { tensors[$0] } }

    /// The tensor's raw little-endian bytes.
    public func rawBytes(_ name: String) throws -> ArraySlice<UInt8> {
        let info = try require(name)
        return storage.withBytes { raw in
            ArraySlice(raw[(bufferStart + info.dataOffsets.lowerBound)..<(bufferStart + info.dataOffsets.upperBound)])
        }
    }

    /// The tensor's values as `Float`, row-major, converted from F32 (exact), F16 and BF16
    /// (exact) or F64 (rounded to nearest; out-of-range values become infinities).
    /// With `requireFinite`, a NaN or infinity after conversion throws `.nonFinite` with its
    /// flat index and coordinates.
    public func floats(_ name: String, requireFinite: Bool = false) throws -> [Float] {
        let info = try require(name)
        if info.dtype == .float32 {
            return try [Float](unsafeUninitializedCapacity: info.elementCount) { buffer, count in
                try copyFloats(name, into: UnsafeMutableBufferPointer(rebasing: buffer[..<info.elementCount]),
                               requireFinite: requireFinite)
                count = info.elementCount
            }
        }
        let values: [Float]
        switch info.dtype {
        case .float16: values = decode(info) { Float(halfBits: $0.load(UInt16.self)) }
        case .bfloat16: values = decode(info) { Float(bitPattern: UInt32($0.load(UInt16.self)) << 16) }
        case .float64: values = decode(info) { Float(Double(bitPattern: $0.load(UInt64.self))) }
        default: throw SafeTensorsError.unsupportedConversion(tensor: name, dtype: info.dtype, to: "Float")
        }
        if requireFinite, let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw SafeTensorsError.nonFinite(tensor: name, index: bad, coordinates: coordinates(of: bad, in: info.shape))
        }
        return values
    }

    /// Throws what `floats(name, requireFinite:)` would, without keeping any values (for F32,
    /// without converting any).
    public func checkFloats(_ name: String, requireFinite: Bool) throws {
        let info = try require(name)
        if info.dtype == .float32 {
            if requireFinite { try checkFiniteFloat32(info) }
        } else {
            _ = try floats(name, requireFinite: requireFinite)
        }
    }

    /// `floats(name, requireFinite:)` written into `destination`, which must hold exactly the
    /// tensor's element count. Throws what `floats` throws, before writing anything. F32 (the
    /// format's usual dtype) is copied in one block, without an array in between.
    public func copyFloats(_ name: String, into destination: UnsafeMutableBufferPointer<Float>,
                           requireFinite: Bool = false) throws {
        let info = try require(name)
        precondition(destination.count == info.elementCount,
                     "copyFloats: '\(name)' has \(info.elementCount) elements, the destination \(destination.count)")
        if info.dtype == .float32 {
            if requireFinite { try checkFiniteFloat32(info) }
            copyFloat32(info, into: destination)
        } else {
            _ = destination.update(fromContentsOf: try floats(name, requireFinite: requireFinite))
        }
    }

    /// Throws `.nonFinite` for the first NaN or infinity of an F32 tensor. x * 0 is NaN for
    /// exactly those, so a block of 64 values is summed that way in vector registers and looked
    /// at once; only a block that fails is searched value by value.
    private func checkFiniteFloat32(_ info: TensorInfo) throws {
        let count = info.elementCount
        let bad: Int? = storage.withBytes { raw in
            let p = raw.baseAddress! + bufferStart + info.dataOffsets.lowerBound
            var i = 0
            while i + 64 <= count {
                var sum = SIMD16<Float>()
                for j in stride(from: i, to: i + 64, by: 16) {
                    sum += p.loadUnaligned(fromByteOffset: 4 * j, as: SIMD16<Float>.self) * 0
                }
                if sum != sum { break }
                i += 64
            }
            while i < count {
                let bits = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
                if !Float(bitPattern: bits).isFinite { return i }
                i += 1
            }
            return nil
        }
        if let bad {
            throw SafeTensorsError.nonFinite(tensor: info.name, index: bad, coordinates: coordinates(of: bad, in: info.shape))
        }
    }

    /// Copies an F32 tensor's bytes into `destination` (its element count).
    private func copyFloat32(_ info: TensorInfo, into destination: UnsafeMutableBufferPointer<Float>) {
        storage.withBytes { raw in
            let start = bufferStart + info.dataOffsets.lowerBound
            let source = UnsafeRawBufferPointer(rebasing: raw[start..<(start + 4 * info.elementCount)])
            UnsafeMutableRawBufferPointer(destination).copyMemory(from: source)
        }
        #if _endian(big)
        for i in destination.indices { destination[i] = Float(bitPattern: UInt32(littleEndian: destination[i].bitPattern)) }
        #endif
    }

    /// The tensor's values as `Double`, row-major, converted exactly from F64, F32, F16 or BF16.
    public func doubles(_ name: String, requireFinite: Bool = false) throws -> [Double] {
        let info = try require(name)
        let values: [Double]
        switch info.dtype {
        case .float64: values = decode(info) { Double(bitPattern: $0.load(UInt64.self)) }
        case .float32: values = decode(info) { Double(Float(bitPattern: $0.load(UInt32.self))) }
        case .float16: values = decode(info) { Double(Float(halfBits: $0.load(UInt16.self))) }
        case .bfloat16: values = decode(info) { Double(Float(bitPattern: UInt32($0.load(UInt16.self)) << 16)) }
        default: throw SafeTensorsError.unsupportedConversion(tensor: name, dtype: info.dtype, to: "Double")
        }
        if requireFinite, let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw SafeTensorsError.nonFinite(tensor: name, index: bad, coordinates: coordinates(of: bad, in: info.shape))
        }
        return values
    }

    /// The tensor's values as `Int64`, row-major, from any integer dtype whose values all fit
    /// (I64, I32, I16, I8, U32, U16, U8).
    public func int64s(_ name: String) throws -> [Int64] {
        let info = try require(name)
        switch info.dtype {
        case .int64: return decode(info) { Int64(bitPattern: $0.load(UInt64.self)) }
        case .int32: return decode(info) { Int64(Int32(bitPattern: $0.load(UInt32.self))) }
        case .int16: return decode(info) { Int64(Int16(bitPattern: $0.load(UInt16.self))) }
        case .int8: return decode(info) { Int64(Int8(bitPattern: $0.load(UInt8.self))) }
        case .uint32: return decode(info) { Int64($0.load(UInt32.self)) }
        case .uint16: return decode(info) { Int64($0.load(UInt16.self)) }
        case .uint8: return decode(info) { Int64($0.load(UInt8.self)) }
        default: throw SafeTensorsError.unsupportedConversion(tensor: name, dtype: info.dtype, to: "Int64")
        }
    }

    private func require(_ name: String) throws -> TensorInfo {
        guard let info = info(name) else { throw SafeTensorsError.tensorNotFound(name) }
        return info
    }

    /// Calls `element` once per element with a reader positioned at it, in row-major order.
    private func decode<T>(_ info: TensorInfo, _ element: (LittleEndianReader) -> T) -> [T] {
        let count = info.elementCount
        let size = info.dtype.byteSize
        return storage.withBytes { raw in
            let base = bufferStart + info.dataOffsets.lowerBound
            return (0..<count).map { element(LittleEndianReader(raw: raw, offset: base + $0 * size)) }
        }
    }
}

/// The bytes of a file: read into an array, or mapped (`MappedFile`).
private enum Storage: Sendable {
    case array([UInt8])
    case mapped(MappedFile)

    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch self {
        case let .array(bytes): return try bytes.withUnsafeBytes(body)
        case let .mapped(file): return try body(file.bytes)
        }
    }
}

/// Reads one little-endian element at `offset`, which need not be aligned.
struct LittleEndianReader {
    let raw: UnsafeRawBufferPointer
    let offset: Int

    func load<T: FixedWidthInteger>(_: T.Type) -> T {
        T(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

extension Float {
    /// The IEEE binary16 value with these bits, exactly (every half is a float).
    init(halfBits bits: UInt16) {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = Int(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x3FF)
        switch exponent {
        case 0x1F:
            self = Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
        case 0:
            // Zero or subnormal: mantissa * 2^-24, exact in Float.
            let magnitude = Float(mantissa) * 0x1p-24
            self = sign != 0 ? -magnitude : magnitude
        default:
            self = Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | mantissa << 13)
        }
    }
}

/// Row-major coordinates of flat index `index` in `shape`.
func coordinates(of index: Int, in shape: [Int]) -> [Int] {
    var rest = index
    var result = [Int](repeating: 0, count: shape.count)
    for axis in shape.indices.reversed() where shape[axis] > 0 {
        result[axis] = rest % shape[axis]
        rest /= shape[axis]
    }
    return result
}
