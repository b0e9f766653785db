import CText

/// The Unicode normalization applied to text before it is tokenized.
///
/// The case-folded forms apply Unicode full case folding (CaseFolding.txt, statuses C
/// and F: "ß" becomes "ss", final "ς" becomes "σ") to every code point and to every
/// piece of its decomposition, then compose. `.nfkcCasefold` is therefore Unicode's
/// NFKC_Casefold except that NFKC_Casefold also deletes Default_Ignorable_Code_Point
/// characters (soft hyphen, ZERO WIDTH JOINER, variation selectors, BOM, ...), which
/// these forms keep: the pre-tokenizer needs ZWJ and variation selectors to keep emoji
/// sequences whole. (utf8proc's own `utf8proc_NFKC_Casefold` adds UTF8PROC_IGNORE to
/// delete them; we do not.) Checked code point by code point against ICU 72's
/// NFKC_Casefold normalizer: the same result for all 1,112,064 scalar values except
/// the 4,174 default ignorables. `.nfcCasefold` has no Unicode name: it is the
/// canonical counterpart, NFC of the full case folding of the canonical decomposition,
/// so it folds case but keeps compatibility characters (full-width, ligatures) apart.
public enum NormalizationForm: Sendable, Hashable, CaseIterable {
    /// No normalization: the bytes are returned unchanged and not even read.
    case none
    case nfc
    case nfkc
    case nfcCasefold
    case nfkcCasefold

    var cForm: Int32 {
        switch self {
        case .none: CT_NORM_IDENTITY
        case .nfc: 0
        case .nfkc: CT_NORM_COMPAT
        case .nfcCasefold: CT_NORM_CASEFOLD
        case .nfkcCasefold: CT_NORM_COMPAT | CT_NORM_CASEFOLD
        }
    }
}

/// A normalization failure: ill-formed UTF-8 input, or memory exhausted.
public struct NormalizationError: Error, Equatable, CustomStringConvertible {
    /// The C code (`CT_NORM_ERROR_*`, which are utf8proc's error codes).
    public let code: Int32
    /// For ill-formed UTF-8: the offset of the first bad byte in the input.
    public let byteOffset: Int?

    public init(code: Int32, byteOffset: Int?) {
        self.code = code
        self.byteOffset = byteOffset
    }

    public static let invalidUTF8Code = CT_NORM_ERROR_INVALID_UTF8

    public var description: String {
        let message = String(cString: ct_normalize_error_message(code))
        if let byteOffset { return "\(message) at byte offset \(byteOffset)" }
        return message
    }
}

/// Normalized UTF-8 with its alignment back to the input.
public struct NormalizedText: Sendable, Equatable {
    /// The normalized UTF-8 bytes.
    public var bytes: [UInt8]
    /// `bytes.count + 1` offsets into the input: `alignment[i]` is where the input
    /// segment that produced normalized byte `i` starts, and the last entry is the
    /// input's length. A segment runs from one normalization boundary to the next
    /// (usually one code point, plus any combining marks that follow it).
    public var alignment: [Int]
    /// Whether `bytes` differ from the input.
    public var changed: Bool

    public var string: String { String(decoding: bytes, as: UTF8.self) }

    /// The input byte range that produced the normalized bytes `range`: from the start
    /// of the segment of its first byte to the end of the segment of its last byte.
    /// `range` must lie within `0...bytes.count`. O(length of the last segment).
    public func originalRange(of range: Range<Int>) -> Range<Int> {
        let start = alignment[range.lowerBound]
        guard range.upperBound > range.lowerBound else { return start..<start }
        let lastSegment = alignment[range.upperBound - 1]
        var end = range.upperBound
        while alignment[end] == lastSegment { end += 1 }
        return start..<alignment[end]
    }
}

/// Normalizes UTF-8 to one `NormalizationForm`, reporting for every output byte the
/// input offset it came from (like sentencepiece's `norm_to_orig`).
///
/// The normalizer owns reusable buffers (output, alignment, a UTF-32 work buffer) that
/// grow geometrically and are kept between calls, so a warmed-up normalizer allocates
/// only the arrays it returns (`withNormalized` allocates nothing). It is not
/// thread-safe: use one per thread.
///
/// Cost is linear in the input. ASCII is copied (lower-cased when folding) without any
/// library call; a segment whose code points are all quick-check YES for the form, in
/// canonical order and, when folding, without a case mapping, is copied; only the rest
/// goes through utf8proc (decomposition per code point, our own linear canonical
/// ordering, then utf8proc's composition). Clean input is copied in bulk between
/// segments that need utf8proc.
///
/// utf8proc rather than ICU for those segments because it is about twice as fast
/// there: on every code point whose quick check is not YES, as a segment of its own,
/// utf8proc took 49-53 ns per segment and ICU's `unorm2_normalize` (UTF-8 to UTF-16 and
/// back, reused buffers) 104-120 ns, for NFC and NFKC alike (ICU 72, utf8proc 2.8, one
/// Zen 1 core). On whole lines of Chinese news this normalizer (with alignment) ran at
/// about 400 MB/CPU-s for NFC and 260 for NFKC against ICU's 356 and 275 through UTF-16;
/// on English, 560 against 187.
public final class Normalizer {
    public let form: NormalizationForm
    private let handle: OpaquePointer

    public init(form: NormalizationForm) {
        guard let handle = ct_normalizer_create() else { fatalError("Normalizer: out of memory") }
        self.form = form
        self.handle = handle
    }

    deinit { ct_normalizer_destroy(handle) }

    /// Normalizes `input` (UTF-8) and passes a view of the result to `body`. The view's
    /// buffers belong to the normalizer and are valid only inside `body`; no allocation
    /// once the buffers are large enough. `alignment` is nil when `wantAlignment` is false.
    /// Throws `NormalizationError` for ill-formed UTF-8 (except under `.none`, which does
    /// not read the bytes).
    public func withNormalized<R>(
        _ input: UnsafeBufferPointer<UInt8>, wantAlignment: Bool = true,
        _ body: (_ bytes: UnsafeBufferPointer<UInt8>, _ alignment: UnsafeBufferPointer<Int>?,
                 _ changed: Bool) throws -> R
    ) throws -> R {
        var result = ct_normalized()
        var errorOffset = 0
        let code = ct_normalize(handle, form.cForm, input.baseAddress, input.count,
                                wantAlignment ? 1 : 0, &result, &errorOffset)
        guard code == 0 else {
            throw NormalizationError(
                code: code, byteOffset: code == CT_NORM_ERROR_INVALID_UTF8 ? errorOffset : nil)
        }
        let bytes = UnsafeBufferPointer(start: result.bytes, count: result.count)
        let alignment = result.alignment.map { UnsafeBufferPointer(start: $0, count: result.count + 1) }
        return try body(bytes, alignment, result.changed != 0)
    }

    /// Normalizes `input` (UTF-8) into new arrays. O(n) time and memory.
    public func normalize(_ input: UnsafeBufferPointer<UInt8>) throws -> NormalizedText {
        try withNormalized(input) { bytes, alignment, changed in
            NormalizedText(bytes: Array(bytes), alignment: Array(alignment!), changed: changed)
        }
    }

    public func normalize(_ input: [UInt8]) throws -> NormalizedText {
        try input.withUnsafeBufferPointer { try normalize($0) }
    }

    /// Normalizes a string; offsets refer to its UTF-8 view.
    public func normalize(_ input: String) throws -> NormalizedText {
        var input = input
        return try input.withUTF8 { try normalize($0) }
    }
}
