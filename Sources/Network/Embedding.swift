/// Token embedding: a row gather forward, a scatter-add backward.
///   ids: (N)  table: (V, E)  out: (N, E)
struct EmbeddingLayer<Scalar: NetworkScalar> {
    let table: UnsafeMutablePointer<Scalar>   // (V, E), in the parameter arena
    let dtable: UnsafeMutablePointer<Scalar>  // (V, E), in the gradient arena
    let vocabulary: Int
    let width: Int

    /// out (N, E) = table[ids]; throws if an id is outside 0..<V.
    func forward(_ out: UnsafeMutablePointer<Scalar>, _ ids: UnsafePointer<Int32>, n: Int) throws {
        try Scalar.embeddingForward(out, ids, table, n: n, c: width, v: vocabulary)
    }

    /// dtable[ids[i]] += dout[i] (accumulates).
    func backward(_ dout: UnsafePointer<Scalar>, _ ids: UnsafePointer<Int32>, n: Int) throws {
        try Scalar.embeddingBackward(dtable, dout, ids, n: n, c: width, v: vocabulary)
    }
}
