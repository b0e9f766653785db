import Kernels

/// The distinct ids of a batch, for a first LSTM layer that reads an embedding lookup without
/// dropout in between: its input projection embedding[id] W_ih^T + b depends on the id alone,
/// so it is computed once per distinct id, U rows instead of one per position (N = T*B), and
/// gathered. The backward sums the positions' gate gradients per id first (a scatter-add), so
/// the weight and embedding gradients are (4H, U) and (U, E) products too. Exact: only the
/// order of the sums changes.
///
/// At character level U is the alphabet (65 for tiny Shakespeare against 2,048 positions of
/// a 32 x 64 batch), which takes three of the training step's products down to a thirtieth.
///
/// Sized once for N positions and V ids; `collect` allocates nothing.
final class DistinctTokens<Scalar: NetworkScalar> {
    let vocabulary: Int
    /// (N): for each position, its id's index in `ids`.
    let slots: UnsafeMutableBufferPointer<Int32>
    /// The distinct ids in first-seen order; the first `count` are valid.
    let ids: UnsafeMutableBufferPointer<Int32>
    private(set) var count = 0
    /// (V): an id's index in `ids` while collecting, else -1.
    private let slotOfId: UnsafeMutableBufferPointer<Int32>
    /// (U, 4H): the input projection of each distinct id, biases included.
    let gates: UnsafeMutablePointer<Scalar>
    /// (U, 4H): the gradient of `gates`, the positions' gate gradients summed per id.
    let dgates: UnsafeMutablePointer<Scalar>

    /// Buffers for up to `positions` ids in 0..<vocabulary; `gates` and `dgates` hold
    /// `rows(positions:vocabulary:)` rows of 4H each.
    init(positions: Int, vocabulary: Int, gates: UnsafeMutablePointer<Scalar>, dgates: UnsafeMutablePointer<Scalar>) {
        self.vocabulary = vocabulary
        slots = .allocate(capacity: positions); slots.initialize(repeating: 0)
        ids = .allocate(capacity: Self.rows(positions: positions, vocabulary: vocabulary))
        ids.initialize(repeating: 0)
        slotOfId = .allocate(capacity: vocabulary); slotOfId.initialize(repeating: -1)
        self.gates = gates
        self.dgates = dgates
    }

    /// The most distinct ids N positions can hold.
    static func rows(positions: Int, vocabulary: Int) -> Int { min(positions, vocabulary) }

    deinit {
        slots.deallocate()
        ids.deallocate()
        slotOfId.deallocate()
    }

    /// Collects the distinct ids of `positions` (N ids) and each position's slot. Throws for an
    /// id outside the vocabulary, as the embedding lookup does, and then holds nothing.
    func collect(_ positions: UnsafeBufferPointer<Int32>) throws {
        count = 0
        for (r, id) in positions.enumerated() {
            guard id >= 0, Int(id) < vocabulary else {
                reset()
                count = 0
                throw KernelError.indexOutOfRange(what: "id", position: r, index: Int(id), limit: vocabulary)
            }
            var slot = slotOfId[Int(id)]
            if slot < 0 {
                slot = Int32(count)
                slotOfId[Int(id)] = slot
                ids[count] = id
                count += 1
            }
            slots[r] = slot
        }
        reset()
    }

    private func reset() {
        for u in 0..<count { slotOfId[Int(ids[u])] = -1 }
    }
}
