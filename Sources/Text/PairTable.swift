/// Open-addressing hash map from a pair of 32-bit ids to a value: the merge table
/// (pair -> rank and result) of the encoder, the pair index of the trainer (32-bit values,
/// to save memory), trie edges. Keys are never removed. Each key sits next to its value,
/// so a lookup is one multiply and, almost always, one cache line.
struct PairTable<Value: FixedWidthInteger & Sendable>: Sendable {
    // Two 32-bit halves rather than one UInt64 key: with a 32-bit value the slot is then
    // 12 bytes, not 16 (the trainer holds a million of them).
    private struct Slot {
        var left: UInt32
        var right: UInt32
        var value: Value
        var isEmpty: Bool { left == UInt32.max }
        static var empty: Slot { Slot(left: UInt32.max, right: 0, value: 0) }
    }

    private var slots: [Slot]
    private var mask: Int
    private(set) var count = 0

    init(capacity: Int = 1024) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = Array(repeating: Slot.empty, count: size)
        mask = size - 1
    }

    @inline(__always)
    private func slot(_ left: UInt32, _ right: UInt32) -> Int {
        var h = (UInt64(left) << 32 | UInt64(right)) &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 31
        return Int(truncatingIfNeeded: h) & mask
    }

    /// Keys are non-negative ids (the all-ones pattern marks an empty slot).
    @inline(__always)
    func value(_ left: Int32, _ right: Int32) -> Value? {
        let l = UInt32(bitPattern: left), r = UInt32(bitPattern: right)
        var s = slot(l, r)
        return slots.withUnsafeBufferPointer { table in
            while true {
                let found = table[s]
                if found.left == l && found.right == r { return found.value }
                if found.isEmpty { return nil }
                s = (s + 1) & mask
            }
        }
    }

    mutating func set(_ left: Int32, _ right: Int32, _ value: Value) {
        let l = UInt32(bitPattern: left), r = UInt32(bitPattern: right)
        var s = slot(l, r)
        while !(slots[s].left == l && slots[s].right == r) && !slots[s].isEmpty { s = (s + 1) & mask }
        if slots[s].isEmpty {
            slots[s].left = l
            slots[s].right = r
            count += 1
        }
        slots[s].value = value
        if count * 2 > slots.count { grow() }
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: Slot.empty, count: old.count * 2)
        mask = slots.count - 1
        count = 0
        for slot in old where !slot.isEmpty {
            set(Int32(bitPattern: slot.left), Int32(bitPattern: slot.right), slot.value)
        }
    }
}
