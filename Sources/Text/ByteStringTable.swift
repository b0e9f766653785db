/// An open-addressing hash table from byte strings to a 64-bit value, with every key
/// stored once in a single byte arena.
///
/// It replaces `[[UInt8]: Value]`, which allocates an array per key and hashes through
/// Swift's per-process random seed. Here a lookup hashes the bytes in place, probes
/// linearly, and compares with `memcmp`-style word loads; inserting appends to the arena.
/// Iteration order is the insertion order (`forEach`), so nothing downstream can depend
/// on hash order.
struct ByteStringTable {
    private struct Slot {
        var hash: UInt32 = 0
        var keyIndex: Int32 = -1  // index into `keyOffsets`, -1 when empty
    }

    private var slots: [Slot]
    private var mask: Int
    private(set) var arena: [UInt8] = []
    /// Start of key i in `arena`; key i ends at `keyOffsets[i + 1]`.
    private(set) var keyOffsets: [Int] = [0]
    private(set) var values: [UInt64] = []

    var count: Int { values.count }

    init(capacity: Int = 1024) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = Array(repeating: Slot(), count: size)
        mask = size - 1
        arena.reserveCapacity(capacity * 8)
        keyOffsets.reserveCapacity(capacity + 1)
        values.reserveCapacity(capacity)
    }

    @inline(__always)
    static func hash(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
        var h: UInt64 = 0x243F_6A88_85A3_08D3 ^ UInt64(n)
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i + 8 <= n {
            let w = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            h = (h ^ w) &* 0x9E37_79B9_7F4A_7C15
            h ^= h >> 29
            i += 8
        }
        if i < n {
            var w: UInt64 = 0
            var shift: UInt64 = 0
            while i < n { w |= UInt64(p[i]) << shift; shift += 8; i += 1 }
            h = (h ^ w) &* 0x9E37_79B9_7F4A_7C15
        }
        h ^= h >> 32
        h = h &* 0xD6E8_FEB8_6659_FD93
        return h ^ (h >> 32)
    }

    @inline(__always)
    private func keyEquals(_ index: Int, _ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        let start = keyOffsets[index]
        guard keyOffsets[index + 1] - start == n else { return false }
        if n == 0 { return true }
        return arena.withUnsafeBufferPointer { a in
            let q = a.baseAddress! + start
            var i = 0
            while i + 8 <= n {
                if UnsafeRawPointer(q + i).loadUnaligned(as: UInt64.self)
                    != UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self) { return false }
                i += 8
            }
            while i < n { if q[i] != p[i] { return false }; i += 1 }
            return true
        }
    }

    /// Index of the key (0..<count), or nil.
    @inline(__always)
    func find(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int? { find(p, n, hash: Self.hash(p, n)) }

    /// `find` with the key's `hash(p, n)` computed by the caller (who may probe two tables
    /// with one hash).
    @inline(__always)
    func find(_ p: UnsafePointer<UInt8>, _ n: Int, hash h: UInt64) -> Int? {
        let tag = UInt32(truncatingIfNeeded: h)
        var s = Int(truncatingIfNeeded: h >> 32) & mask
        while true {
            let slot = slots[s]
            if slot.keyIndex < 0 { return nil }
            if slot.hash == tag, keyEquals(Int(slot.keyIndex), p, n) { return Int(slot.keyIndex) }
            s = (s + 1) & mask
        }
    }

    func find(_ key: [UInt8]) -> Int? {
        key.withUnsafeBufferPointer { find($0.baseAddress ?? Self.emptyKey, $0.count) }
    }

    // Stands in for the base address of an empty key (never read).
    nonisolated(unsafe) private static let emptyKey: UnsafePointer<UInt8> = {
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
        p.initialize(to: 0)
        return UnsafePointer(p)
    }()

    /// Index of the key, inserting it with `initial` if absent.
    @inline(__always)
    mutating func findOrInsert(_ p: UnsafePointer<UInt8>, _ n: Int, initial: UInt64) -> (index: Int, inserted: Bool) {
        findOrInsert(p, n, hash: Self.hash(p, n), initial: initial)
    }

    @inline(__always)
    mutating func findOrInsert(_ p: UnsafePointer<UInt8>, _ n: Int, hash h: UInt64, initial: UInt64) -> (index: Int, inserted: Bool) {
        let tag = UInt32(truncatingIfNeeded: h)
        var s = Int(truncatingIfNeeded: h >> 32) & mask
        while true {
            let slot = slots[s]
            if slot.keyIndex < 0 { break }
            if slot.hash == tag, keyEquals(Int(slot.keyIndex), p, n) { return (Int(slot.keyIndex), false) }
            s = (s + 1) & mask
        }
        let index = values.count
        arena.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
        keyOffsets.append(arena.count)
        values.append(initial)
        slots[s] = Slot(hash: tag, keyIndex: Int32(index))
        if values.count * 2 > slots.count { grow() }
        return (index, true)
    }

    mutating func findOrInsert(_ key: [UInt8], initial: UInt64) -> (index: Int, inserted: Bool) {
        key.withUnsafeBufferPointer { findOrInsert($0.baseAddress ?? Self.emptyKey, $0.count, initial: initial) }
    }

    @inline(__always)
    mutating func add(_ p: UnsafePointer<UInt8>, _ n: Int, _ amount: UInt64) {
        let (index, inserted) = findOrInsert(p, n, initial: amount)
        if !inserted { values[index] &+= amount }
    }

    subscript(valueAt index: Int) -> UInt64 {
        get { values[index] }
        set { values[index] = newValue }
    }

    func keyRange(at index: Int) -> Range<Int> { keyOffsets[index]..<keyOffsets[index + 1] }

    private mutating func grow() {
        let size = slots.count * 2
        var fresh = Array(repeating: Slot(), count: size)
        let m = size - 1
        arena.withUnsafeBufferPointer { a in
            for index in 0..<values.count {
                let start = keyOffsets[index]
                let h = Self.hash(a.baseAddress! + start, keyOffsets[index + 1] - start)
                var s = Int(truncatingIfNeeded: h >> 32) & m
                while fresh[s].keyIndex >= 0 { s = (s + 1) & m }
                fresh[s] = Slot(hash: UInt32(truncatingIfNeeded: h), keyIndex: Int32(index))
            }
        }
        slots = fresh
        mask = m
    }

    /// A new table holding only the keys for which `keep(value)` is true, in the same order.
    func filtered(_ keep: (UInt64) -> Bool) -> ByteStringTable {
        var kept = 0
        for v in values where keep(v) { kept += 1 }
        var out = ByteStringTable(capacity: max(kept, 16))
        arena.withUnsafeBufferPointer { a in
            for index in 0..<values.count where keep(values[index]) {
                let r = keyRange(at: index)
                _ = out.findOrInsert(a.baseAddress! + r.lowerBound, r.count, initial: values[index])
            }
        }
        return out
    }
}
