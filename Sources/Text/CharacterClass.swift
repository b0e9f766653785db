import CText

/// The pre-tokenizer's view of a code point: its class plus normalization flags,
/// read from a table built once from ICU's properties (see `CText.h`).
///
/// The hot loops read `CharacterClassTable.shared.lookup(_:)`: one byte load for every
/// code point below U+40000, a call into ICU only for the supplementary planes above it.
public struct CharacterClass: Equatable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }

    @inlinable public var kind: Kind { Kind(rawValue: rawValue & 0x0F) ?? .other }

    /// NFC / NFKC quick check is not "yes": normalizing may change this code point.
    @inlinable public var mayChangeUnderNFC: Bool { rawValue & 0x10 != 0 }
    @inlinable public var mayChangeUnderNFKC: Bool { rawValue & 0x20 != 0 }
    /// A normalization boundary is not guaranteed before this code point: it may
    /// combine with, or reorder around, what precedes it.
    @inlinable public var noBoundaryBeforeNFC: Bool { rawValue & 0x40 != 0 }
    @inlinable public var noBoundaryBeforeNFKC: Bool { rawValue & 0x80 != 0 }

    public enum Kind: UInt8, Sendable, CaseIterable {
        case other = 0, letter, han, kana, hangul, digit, mark, space, newline,
             punctuation, emoji, emojiModifier, zeroWidthJoiner, apostrophe
    }

    public var description: String { "\(kind)" }
}

/// Process-wide class table of the Basic Multilingual Plane, built on first use, then
/// read-only; code points above it go through `ct_class_of` (which fills planes 1-3
/// of the table on first need).
public final class CharacterClassTable: @unchecked Sendable {
    public static let shared = CharacterClassTable()

    @usableFromInline let table: UnsafePointer<UInt8>
    @usableFromInline static let limit = UInt32(CT_TABLE_LIMIT)

    private init() { table = ct_class_table() }

    @inlinable public func lookup(_ scalar: UInt32) -> CharacterClass {
        if scalar < Self.limit { return CharacterClass(rawValue: table[Int(scalar)]) }
        return CharacterClass(rawValue: ct_class_of(scalar))
    }

    @inlinable public func lookup(_ scalar: Unicode.Scalar) -> CharacterClass {
        lookup(scalar.value)
    }
}

/// Versions of the Unicode libraries linked into this binary.
public enum UnicodeLibraries {
    public static var icuVersion: String { cString(ct_icu_version) }
    public static var icuUnicodeVersion: String { cString(ct_icu_unicode_version) }
    public static var utf8procVersion: String { String(cString: ct_utf8proc_version()) }
    public static var utf8procUnicodeVersion: String { String(cString: ct_utf8proc_unicode_version()) }

    private static func cString(_ fill: (UnsafeMutablePointer<CChar>, Int) -> Void) -> String {
        var buffer = [CChar](repeating: 0, count: 32)
        buffer.withUnsafeMutableBufferPointer { fill($0.baseAddress!, $0.count) }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}
