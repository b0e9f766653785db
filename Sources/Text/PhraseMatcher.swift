/// Finds user words and special tokens in text: leftmost, then longest match.
///
/// A byte trie whose edges live in one hash table keyed by (node, byte); a bitmap of
/// first bytes lets the scan skip positions where no phrase can start, so text without
/// phrases costs one bit test per byte. Phrases are valid UTF-8 without line breaks, so a
/// match never starts inside a character and never crosses a line.
struct PhraseMatcher: Sendable {
    private var edges = PairTable<Int32>(capacity: 64)  // (node, byte) -> child node
    private var terminal: [Int32] = [-1]           // node -> token id, or -1
    private var firstBytes = [UInt64](repeating: 0, count: 4)
    private(set) var isEmpty = true

    init(phrases: [(id: Int32, bytes: [UInt8])]) {
        for (id, bytes) in phrases { insert(bytes, id: id) }
    }

    private mutating func insert(_ bytes: [UInt8], id: Int32) {
        guard let first = bytes.first else { return }
        isEmpty = false
        firstBytes[Int(first >> 6)] |= 1 << UInt64(first & 63)
        var node: Int32 = 0
        for b in bytes {
            if let child = edges.value(node, Int32(b)) {
                node = Int32(child)
            } else {
                let child = Int32(terminal.count)
                terminal.append(-1)
                edges.set(node, Int32(b), child)
                node = child
            }
        }
        terminal[Int(node)] = id
    }

    @inline(__always)
    func mayStart(_ byte: UInt8) -> Bool { firstBytes[Int(byte >> 6)] & (1 << UInt64(byte & 63)) != 0 }

    /// The longest phrase starting at `i`: its token id and end offset.
    @inline(__always)
    func longestMatch(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> (id: Int32, end: Int)? {
        guard mayStart(p[i]) else { return nil }
        var node: Int32 = 0, j = i
        var best: (id: Int32, end: Int)?
        while j < n, let child = edges.value(node, Int32(p[j])) {
            node = Int32(child)
            j += 1
            let id = terminal[Int(node)]
            if id >= 0 { best = (id, j) }
        }
        return best
    }
}
