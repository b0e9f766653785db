import CText

/// Splits valid UTF-8 into the pieces that BPE merges may not cross.
///
/// The rules follow the shape of GPT-4's split pattern, but are written as a linear
/// state machine over the script-aware class table instead of a regular expression:
/// - a run of one script group (Latin and other alphabets; Han and kana; Hangul) with its
///   combining marks, optionally preceded by one space or punctuation mark (so `，中国`
///   and ` the` are single pieces, as in GPT-4's split, which gave the best Chinese
///   compression among the peers in `scripts/bench-tokenize`);
/// - English contractions `'s 't 're 've 'm 'll 'd` before a non-letter;
/// - digits in groups of at most three;
/// - a run of punctuation and symbols, optionally preceded by one space, followed by any
///   line breaks;
/// - an emoji sequence (emoji, modifiers, variation selectors, ZWJ-joined emoji, flags),
///   optionally preceded by one space;
/// - whitespace ending in line breaks; other whitespace, whose last space is left to
///   prefix the next piece.
///
/// Every piece is capped at `maxPieceScalars` scalars, so that a 10 MB line of Han
/// characters or of one letter still splits into short pieces: encoding stays linear and
/// the pieces repeat, which the encoder's cache exploits.
public struct PreTokenizer: @unchecked Sendable {  // `table` is immutable after it is built
    public static let maxPieceScalars = 64
    /// Written into vocabulary files: a vocabulary is only valid with the same splitter.
    public static let version = "script-v1"

    @usableFromInline let table: UnsafePointer<UInt8>

    public init() { table = ct_class_table() }

    // Class codes from CText.h, as plain bytes for the hot loop.
    @usableFromInline static let other: UInt8 = 0, letter: UInt8 = 1, han: UInt8 = 2,
        kana: UInt8 = 3, hangul: UInt8 = 4, digit: UInt8 = 5, mark: UInt8 = 6, space: UInt8 = 7,
        newline: UInt8 = 8, punct: UInt8 = 9, emoji: UInt8 = 10, emojiMod: UInt8 = 11,
        zwj: UInt8 = 12, apostrophe: UInt8 = 13

    /// Script group of a word class: runs break where the group changes.
    @inline(__always) @usableFromInline
    static func wordGroup(_ c: UInt8) -> UInt8 {
        switch c {
        case letter: return 1
        case han, kana: return 2
        case hangul: return 3
        default: return 0
        }
    }

    @inline(__always) @usableFromInline
    static func extends(_ c: UInt8) -> Bool { c == mark || c == zwj || c == emojiMod }

    @inline(__always) @usableFromInline
    func classAt(_ p: UnsafePointer<UInt8>, _ i: Int) -> (cls: UInt8, length: Int) {
        let b = p[i]
        if b < 0x80 { return (table[Int(b)] & 0x0F, 1) }
        let (scalar, length) = UTF8Bytes.decode(p, i)
        let raw = scalar < CharacterClassTable.limit ? table[Int(scalar)] : ct_class_of(scalar)
        return (raw & 0x0F, length)
    }

    /// Calls `body(start, end)` for each piece of `text` (valid UTF-8), in order; the
    /// pieces tile the input exactly.
    @inlinable
    public func forEachPiece(_ text: UnsafeBufferPointer<UInt8>, _ body: (Int, Int) -> Void) {
        guard let p = text.baseAddress else { return }
        let n = text.count
        var i = 0
        while i < n {
            let end = pieceEnd(p, i, n)
            body(i, end)
            i = end
        }
    }

    /// Convenience for tests and small inputs: the pieces as byte arrays.
    public func pieces(_ text: [UInt8]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        text.withUnsafeBufferPointer { buffer in
            forEachPiece(buffer) { s, e in out.append(Array(buffer[s..<e])) }
        }
        return out
    }

    public func pieces(_ text: String) -> [String] {
        pieces(Array(text.utf8)).map { String(decoding: $0, as: Unicode.UTF8.self) }
    }

    /// Whether a piece boundary falls before offset `i` whatever follows and precedes it:
    /// a line break followed by a letter, digit, punctuation mark, emoji or control. A
    /// text may be cut there and its halves split separately with the same pieces.
    @inline(__always)
    public func isCertainBoundary(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> Bool {
        guard i > 0, i < n, p[i - 1] == 0x0A, p[i] & 0xC0 != 0x80 else { return false }
        switch classAt(p, i).cls {
        case Self.letter, Self.han, Self.kana, Self.hangul, Self.digit, Self.punct, Self.emoji, Self.other: return true
        default: return false
        }
    }

    /// End of the piece that starts at `i`.
    @usableFromInline
    func pieceEnd(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> Int {
        let (c, len) = classAt(p, i)
        let next = i + len
        switch c {
        case Self.letter, Self.han, Self.kana, Self.hangul:
            return wordRunEnd(p, i, n, group: Self.wordGroup(c), budget: Self.maxPieceScalars)
        case Self.digit:
            return digitRunEnd(p, i, n)
        case Self.newline:
            return whitespaceEnd(p, i, n)
        case Self.space:
            return spaceEnd(p, i, n)
        case Self.emoji:
            return emojiEnd(p, i, n)
        case Self.apostrophe:
            if let end = contractionEnd(p, next, n) { return end }
            fallthrough
        default:
            // Punctuation, symbols, controls, and marks with nothing to attach to.
            if next < n {
                let (c2, _) = classAt(p, next)
                let group = Self.wordGroup(c2)
                if group != 0 {
                    return wordRunEnd(p, next, n, group: group, budget: Self.maxPieceScalars - 1)
                }
            }
            return punctuationRunEnd(p, i, n)
        }
    }

    /// A run of one script group (with marks), at most `budget` scalars.
    @usableFromInline
    func wordRunEnd(_ p: UnsafePointer<UInt8>, _ start: Int, _ n: Int, group: UInt8, budget: Int) -> Int {
        var i = start, count = 0
        while i < n, count < budget {
            let (c, len) = classAt(p, i)
            if !(Self.wordGroup(c) == group || (i > start && Self.extends(c))) { break }
            i += len
            count += 1
        }
        return i
    }

    @usableFromInline
    func digitRunEnd(_ p: UnsafePointer<UInt8>, _ start: Int, _ n: Int) -> Int {
        var i = start, digits = 0, count = 0
        while i < n, count < Self.maxPieceScalars {
            let (c, len) = classAt(p, i)
            if c == Self.digit {
                if digits == 3 { break }
                digits += 1
            } else if !(i > start && Self.extends(c)) {
                break
            }
            i += len
            count += 1
        }
        return i
    }

    /// `'s 't 're 've 'm 'll 'd` (any case) not followed by a letter; `i` is just after
    /// the apostrophe.
    @usableFromInline
    func contractionEnd(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> Int? {
        guard i < n else { return nil }
        @inline(__always) func lower(_ j: Int) -> UInt8 { j < n ? p[j] | 0x20 : 0 }
        let a = lower(i), b = lower(i + 1)
        var end: Int
        switch a {
        case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"): end = i + 1
        case UInt8(ascii: "r") where b == UInt8(ascii: "e"): end = i + 2
        case UInt8(ascii: "v") where b == UInt8(ascii: "e"): end = i + 2
        case UInt8(ascii: "l") where b == UInt8(ascii: "l"): end = i + 2
        default: return nil
        }
        if end < n {
            let (c, _) = classAt(p, end)
            if Self.wordGroup(c) != 0 || Self.extends(c) { return nil }
        }
        return end
    }

    /// Punctuation, symbols and controls (with marks), then any line breaks.
    @usableFromInline
    func punctuationRunEnd(_ p: UnsafePointer<UInt8>, _ start: Int, _ n: Int) -> Int {
        var i = start, count = 0
        while i < n, count < Self.maxPieceScalars {
            let (c, len) = classAt(p, i)
            let isPunct = c == Self.punct || c == Self.other || c == Self.apostrophe
            if !(isPunct || Self.extends(c) || i == start) { break }
            i += len
            count += 1
        }
        while i < n, count < Self.maxPieceScalars {
            let (c, len) = classAt(p, i)
            if c != Self.newline { break }
            i += len
            count += 1
        }
        return i
    }

    /// Whitespace that contains line breaks: everything up to and including the last
    /// line break of the whitespace run.
    @usableFromInline
    func whitespaceEnd(_ p: UnsafePointer<UInt8>, _ start: Int, _ n: Int) -> Int {
        var i = start, lastBreakEnd = start, count = 0
        while i < n, count < Self.maxPieceScalars {
            let (c, len) = classAt(p, i)
            if c == Self.newline { lastBreakEnd = i + len } else if c != Self.space { break }
            i += len
            count += 1
        }
        return lastBreakEnd > start ? lastBreakEnd : i
    }

    /// Spaces: a run ending in a line break is one piece; otherwise the last space is
    /// left as the prefix of what follows (` the`, ` 。`, ` 😀`), except before digits.
    @usableFromInline
    func spaceEnd(_ p: UnsafePointer<UInt8>, _ start: Int, _ n: Int) -> Int {
        var i = start, lastStart = start, count = 0
        while i < n, count < Self.maxPieceScalars {
            let (c, len) = classAt(p, i)
            if c == Self.newline { return whitespaceEnd(p, start, n) }
            if c != Self.space { break }
            lastStart = i
            i += len
            count += 1
        }
        guard i < n, count < Self.maxPieceScalars else { return i }
        let (c, _) = classAt(p, i)
        let prefixable = c != Self.digit && !Self.extends(c)
        if lastStart > start { return prefixable ? lastStart : i }
        // A single space: it prefixes what follows.
        guard prefixable else { return i }
        switch c {
        case Self.letter, Self.han, Self.kana, Self.hangul:
            return wordRunEnd(p, i, n, group: Self.wordGroup(c), budget: Self.maxPieceScalars - 1)
        case Self.emoji:
            return emojiEnd(p, i, n)
        default:
            return punctuationRunEnd(p, i, n)
        }
    }

    /// An emoji sequence: emoji, modifiers and marks (skin tones, VS16, keycaps, tags),
    /// further emoji after ZWJ, and regional-indicator pairs (flags).
    @usableFromInline
    func emojiEnd(_ p: UnsafePointer<UInt8>, _ start: Int, _ n: Int) -> Int {
        var (_, len) = classAt(p, start)
        var i = start + len, count = 1
        var afterJoiner = false
        while i < n, count < Self.maxPieceScalars {
            let c: UInt8
            (c, len) = classAt(p, i)
            if c == Self.zwj {
                afterJoiner = true
            } else if c == Self.emoji {
                // Only a joiner or a flag's second half continues the sequence.
                if !afterJoiner && !(Self.isRegionalIndicator(p, i) && count == 1
                                     && Self.isRegionalIndicator(p, start)) { break }
                afterJoiner = false
            } else if c == Self.mark || c == Self.emojiMod {
                afterJoiner = false
            } else {
                break
            }
            i += len
            count += 1
        }
        return i
    }

    @inline(__always) @usableFromInline
    static func isRegionalIndicator(_ p: UnsafePointer<UInt8>, _ i: Int) -> Bool {
        // U+1F1E6..U+1F1FF = F0 9F 87 A6..BF
        p[i] == 0xF0 && p[i + 1] == 0x9F && p[i + 2] == 0x87 && p[i + 3] >= 0xA6
    }
}
