/// Open-addressing hash map from a pair of 32-bit ids to a value: the merge table
/// (pair -> rank and result) of the encoder, the pair index of the trainer (32-bit values,
/// to halve its memory), trie edges. Keys are never removed; a lookup is one multiply
/// and, almost always, one probe.
struct PairTable<Value: FixedWidthInteger & Sendable>: Sendable {
    private var keys: [UInt64]
    private var values: [Value]
    private var mask: Int
    private(set) var count = 0
    private static var empty: UInt64 { UInt64.max }

    init(capacity: Int = 1024) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        keys = Array(repeating: Self.empty, count: size)
        values = Array(repeating: 0, count: size)
        mask = size - 1
    }

    @inline(__always)
    static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    @inline(__always)
    private func slot(for key: UInt64) -> Int {
        var h = key &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 31
        return Int(truncatingIfNeeded: h) & mask
    }

    @inline(__always)
    func value(_ left: Int32, _ right: Int32) -> Value? {
        let k = Self.key(left, right)
        var s = slot(for: k)
        while true {
            let found = keys[s]
            if found == k { return values[s] }
            if found == Self.empty { return nil }
            s = (s + 1) & mask
        }
    }

    mutating func set(_ left: Int32, _ right: Int32, _ value: Value) {
        let k = Self.key(left, right)
        var s = slot(for: k)
        while keys[s] != k && keys[s] != Self.empty { s = (s + 1) & mask }
        if keys[s] == Self.empty {
            keys[s] = k
            count += 1
        }
        values[s] = value
        if count * 2 > keys.count { grow() }
    }

    private mutating func grow() {
        let oldKeys = keys, oldValues = values
        keys = Array(repeating: Self.empty, count: oldKeys.count * 2)
        values = Array(repeating: 0, count: oldKeys.count * 2)
        mask = keys.count - 1
        count = 0
        for i in 0..<oldKeys.count where oldKeys[i] != Self.empty {
            let k = oldKeys[i]
            set(Int32(bitPattern: UInt32(k >> 32)), Int32(bitPattern: UInt32(truncatingIfNeeded: k)), oldValues[i])
        }
    }
}
