/// One tensor's entry in the header, after validation.
public struct TensorInfo: Equatable, Sendable {
    /// The header key, decoded from JSON.
    public let name: String
    public let dtype: DType
    /// Row-major (C-contiguous) dimensions; `[]` is a scalar of one element.
    public let shape: [Int]
    /// `data_offsets`: the tensor's bytes, relative to the start of the byte buffer.
    public let dataOffsets: Range<Int>

    /// `product(shape)`; validation guarantees it does not overflow.
    public var elementCount: Int { shape.reduce(1, *) }
}
