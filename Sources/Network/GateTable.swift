import Kernels

/// A first LSTM layer's input projection of tokens, (V, 4H): row v is
/// embedding[v] W_ih^T + b_ih + b_hh, so that prediction reads a row per token instead of
/// multiplying.
///
/// Rows are computed when first asked for (`Model.fillGateTable`), a product over just the
/// new ids: building all V rows up front was a (V, E) by (E, 4H) product and 32 MB of fresh
/// pages for the default classifier, most of its start-up for a one-line input. The rows'
/// memory is mapped zeroed and costs nothing until written.
///
/// Read-only between fills, so the inference models over one set of parameters can share one
/// (`Model.prepareForInference(shared:)`): their owner fills the rows of a batch's ids before
/// the workers run, and a worker only checks that the rows it reads are there.
public final class GateTable<Scalar: NetworkScalar>: @unchecked Sendable {  // see "read-only between fills"
    let values: UnsafeMutableBufferPointer<Scalar>
    let vocabulary: Int
    let width: Int
    /// Whether row v has been computed.
    private let ready: UnsafeMutableBufferPointer<Bool>
    /// Rows computed so far.
    public private(set) var filledRows = 0

    public var count: Int { values.count }

    init(vocabulary: Int, width: Int) {
        self.vocabulary = vocabulary
        self.width = width
        values = ZeroedMemory.allocate(Scalar.self, count: vocabulary * width)
        ready = ZeroedMemory.allocate(Bool.self, count: vocabulary)
    }

    deinit {
        ZeroedMemory.deallocate(values)
        ZeroedMemory.deallocate(ready)
    }

    /// The in-range ids of `ids` whose rows are not computed yet, each once, in first-seen
    /// order. (Out-of-range ids are left to the lookup, which refuses them.)
    func missing(_ ids: UnsafeBufferPointer<Int32>) -> [Int32] {
        var new: [Int32] = []
        for id in ids where id >= 0 && Int(id) < vocabulary && !ready[Int(id)] {
            ready[Int(id)] = true  // while collecting, so that a repeated id is taken once
            new.append(id)
        }
        for id in new { ready[Int(id)] = false }
        return new
    }

    /// Whether every in-range id of `ids` has its row.
    func hasRows(for ids: UnsafeBufferPointer<Int32>) -> Bool {
        ids.allSatisfy { $0 < 0 || Int($0) >= vocabulary || ready[Int($0)] }
    }

    /// Records that the rows of `ids` (distinct, from `missing`) now hold their values.
    func markFilled(_ ids: [Int32]) {
        for id in ids { ready[Int(id)] = true }
        filledRows += ids.count
    }
}
