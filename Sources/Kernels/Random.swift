/// SplitMix64 (Steele, Lea and Flood 2014): a 64-bit state advanced by a fixed odd constant
/// and a bijective mixing function on the output. Its n-th output depends only on the seed
/// and n (`value(seed:index:)`), so work split across threads draws the same numbers as one
/// sequential pass.
public struct SplitMix64: Sendable {
    static let gamma: UInt64 = 0x9E37_79B9_7F4A_7C15
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= SplitMix64.gamma
        return SplitMix64.mix(state)
    }

    /// The `index`-th output (0-based) of a generator started at `seed`, without stepping.
    @inline(__always)
    public static func value(seed: UInt64, index: UInt64) -> UInt64 {
        mix(seed &+ (index &+ 1) &* gamma)
    }

    @inline(__always)
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform `Float` in [0, 1) with 24 random bits.
    public mutating func nextUnitFloat() -> Float {
        Float(next() >> 40) * 0x1p-24
    }
}
