/// An element type of the safetensors format, spelled as in the header (`"F32"`, `"BF16"`, ...).
///
/// Only the types whose elements are whole bytes are supported; the sub-byte float formats
/// (`F4`, `F6_E2M3`, `F6_E3M2`) are refused as unknown, since their byte count is not
/// `elements * size`.
public enum DType: String, CaseIterable, Sendable {
    case bool = "BOOL"
    case uint8 = "U8"
    case int8 = "I8"
    case float8E5M2 = "F8_E5M2"
    case float8E4M3 = "F8_E4M3"
    case float8E8M0 = "F8_E8M0"
    case int16 = "I16"
    case uint16 = "U16"
    case float16 = "F16"
    case bfloat16 = "BF16"
    case int32 = "I32"
    case uint32 = "U32"
    case float32 = "F32"
    case float64 = "F64"
    case int64 = "I64"
    case uint64 = "U64"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .bool, .uint8, .int8, .float8E5M2, .float8E4M3, .float8E8M0: return 1
        case .int16, .uint16, .float16, .bfloat16: return 2
        case .int32, .uint32, .float32: return 4
        case .float64, .int64, .uint64: return 8
        }
    }

    /// Position in the reference implementation's dtype order (increasing alignment). Its
    /// writer lays tensors out by descending rank, then by name, so that every tensor starts
    /// aligned to its element size; ours does the same, which makes our files byte-identical
    /// to its files for the same tensors.
    var layoutRank: Int { DType.allCases.firstIndex(of: self)! }
}
