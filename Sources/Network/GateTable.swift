/// A first LSTM layer's input projection of every token (V, 4H), read-only once built: the
/// inference models over one set of parameters share it (`Model.prepareForInference(shared:)`).
public final class GateTable<Scalar>: @unchecked Sendable {  // written once, before it is shared
    let values: UnsafeMutableBufferPointer<Scalar>
    public var count: Int { values.count }

    init(count: Int) { values = .allocate(capacity: count) }
    deinit { values.deallocate() }
}
