#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Everything that can go wrong reading or writing a safetensors file. Each case names the
/// tensor (or metadata key, or header byte offset) at fault, so a refused file can be fixed
/// without a debugger.
public enum SafeTensorsError: Error, Equatable, CustomStringConvertible {
    /// The file has fewer than the 8 bytes of the header length.
    case fileTooShort(byteCount: Int)
    /// The declared header length exceeds `limit` (the reference implementation's 100 MB).
    case headerTooLarge(declared: UInt64, limit: Int)
    /// The declared header length runs past the end of the file.
    case headerBeyondFile(declared: UInt64, available: Int)
    /// The header is not UTF-8; `offset` is the first bad byte, counted from the header start.
    case headerNotUTF8(offset: Int)
    /// The header is not JSON, or not the object the format requires, at `offset` from the
    /// header start.
    case headerSyntax(offset: Int, reason: String)
    /// A key appears twice in one JSON object (`context` is the object: the header or a tensor).
    case duplicateKey(String, context: String)
    /// Two tensor names differ in bytes but are equal as Swift strings (canonically equivalent
    /// Unicode), so a lookup by name could not tell them apart.
    case ambiguousNames(String, String)
    /// `__metadata__` is not an object of strings.
    case invalidMetadata(key: String?, reason: String)
    /// A tensor entry is malformed: not an object, a field missing, unknown, or of the wrong type.
    case invalidEntry(tensor: String, reason: String)
    /// A tensor's dtype is not one this reader knows.
    case unknownDType(tensor: String, dtype: String)
    /// The number of elements or bytes implied by a shape does not fit in `Int`.
    case shapeOverflow(tensor: String, shape: [Int])
    /// `data_offsets` has begin > end.
    case offsetsReversed(tensor: String, begin: Int, end: Int)
    /// A tensor's data ends past the end of the byte buffer.
    case tensorBeyondBuffer(tensor: String, end: Int, bufferSize: Int)
    /// `end - begin` differs from `product(shape) * dtype size`.
    case byteCountMismatch(tensor: String, expected: Int, actual: Int)
    /// Two tensors share bytes.
    case overlappingTensors(String, String)
    /// Bytes of the buffer belong to no tensor (a hole, or trailing bytes); offsets are
    /// relative to the start of the byte buffer.
    case uncoveredBytes(Range<Int>)
    /// No tensor has this name.
    case tensorNotFound(String)
    /// The tensor's dtype cannot be converted to the requested Swift type.
    case unsupportedConversion(tensor: String, dtype: DType, to: String)
    /// `requireFinite` found NaN or an infinity (after conversion) at a flat, row-major index.
    case nonFinite(tensor: String, index: Int, coordinates: [Int])
    /// A tensor handed to the writer is inconsistent (bad shape, element count, name).
    case invalidTensor(name: String, reason: String)
    /// A system call failed: `operation` on `path`, with `errno`.
    case io(operation: String, path: String, errno: Int32)

    public var description: String {
        switch self {
        case let .fileTooShort(count):
            return "file is \(count) bytes, shorter than the 8-byte header length"
        case let .headerTooLarge(declared, limit):
            return "header length \(declared) exceeds the limit of \(limit) bytes"
        case let .headerBeyondFile(declared, available):
            return "header length \(declared) runs past the end of the file (\(available) bytes after the length)"
        case let .headerNotUTF8(offset):
            return "header is not valid UTF-8 at byte \(offset)"
        case let .headerSyntax(offset, reason):
            return "header JSON at byte \(offset): \(reason)"
        case let .duplicateKey(key, context):
            return "duplicate key \"\(key)\" in \(context)"
        case let .ambiguousNames(a, b):
            return "tensor names \"\(a)\" and \"\(b)\" are canonically equivalent Unicode"
        case let .invalidMetadata(key, reason):
            return key.map { "__metadata__ key \"\($0)\": \(reason)" } ?? "__metadata__: \(reason)"
        case let .invalidEntry(tensor, reason):
            return "tensor \"\(tensor)\": \(reason)"
        case let .unknownDType(tensor, dtype):
            return "tensor \"\(tensor)\": unknown dtype \"\(dtype)\""
        case let .shapeOverflow(tensor, shape):
            return "tensor \"\(tensor)\": shape \(shape) overflows the element or byte count"
        case let .offsetsReversed(tensor, begin, end):
            return "tensor \"\(tensor)\": data_offsets begin \(begin) > end \(end)"
        case let .tensorBeyondBuffer(tensor, end, size):
            return "tensor \"\(tensor)\": data ends at \(end), past the \(size)-byte buffer"
        case let .byteCountMismatch(tensor, expected, actual):
            return "tensor \"\(tensor)\": shape and dtype need \(expected) bytes, data_offsets span \(actual)"
        case let .overlappingTensors(a, b):
            return "tensors \"\(a)\" and \"\(b)\" overlap"
        case let .uncoveredBytes(range):
            return "buffer bytes \(range.lowerBound)..<\(range.upperBound) belong to no tensor"
        case let .tensorNotFound(name):
            return "no tensor named \"\(name)\""
        case let .unsupportedConversion(tensor, dtype, to):
            return "tensor \"\(tensor)\": cannot read \(dtype.rawValue) as \(to)"
        case let .nonFinite(tensor, index, coordinates):
            return "tensor \"\(tensor)\": non-finite value at index \(index) \(coordinates)"
        case let .invalidTensor(name, reason):
            return "tensor \"\(name)\": \(reason)"
        case let .io(operation, path, errno):
            return "\(operation) \(path): \(String(cString: strerror(errno))) (errno \(errno))"
        }
    }
}
