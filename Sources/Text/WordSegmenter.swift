import CText

/// A failed ICU call: the operation and ICU's UErrorCode, named by `u_errorName`.
/// A struct rather than an enum so that codes of a newer ICU still round-trip.
public struct ICUError: Error, Equatable, CustomStringConvertible {
    public let code: Int32
    public let operation: String

    public init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
    }

    /// ICU's name for the code, e.g. "U_MISSING_RESOURCE_ERROR".
    public var name: String { String(cString: ct_icu_error_name(code)) }
    public var description: String { "\(operation) failed: \(name) (\(code))" }
}

/// Splits UTF-8 text into words with ICU's word break iterator, which for Chinese (and
/// Japanese, Thai, Khmer, ...) uses ICU's dictionary; other scripts follow UAX #29.
///
/// The iterator is opened once per segmenter and reused for every call, and the text is
/// read as UTF-8 in place (`utext_openUTF8`), never converted to UTF-16. A segmenter and
/// its boundary buffer are not thread-safe: use one segmenter per thread. Cost: linear
/// in the text, about 10 MB of Chinese per CPU-second with ICU 72 (10.1-10.6 measured on
/// zh-news, thread CPU time, best of 7).
public final class WordSegmenter {
    public let locale: String
    private let handle: OpaquePointer
    private var boundaryBuffer: [Int64] = []
    private let classes = CharacterClassTable.shared

    /// Opens ICU's word break iterator for `locale` ("zh" by default). An unknown locale
    /// falls back to ICU's root rules; a missing ICU data file throws.
    public init(locale: String = "zh") throws {
        var status: Int32 = 0
        guard let handle = ct_wordbreak_open(locale, &status) else {
            throw ICUError(code: status, operation: "ubrk_open(UBRK_WORD, \"\(locale)\")")
        }
        self.locale = locale
        self.handle = handle
    }

    deinit { ct_wordbreak_close(handle) }

    /// The word boundaries of `text` as byte offsets: 0, every boundary in increasing
    /// order, then `text.count` (just `[0]` for empty text). `text` must be shorter than
    /// 2^31 bytes (ICU reports positions as Int32); longer text throws
    /// `U_INDEX_OUTOFBOUNDS_ERROR`. Ill-formed UTF-8 is read as U+FFFD.
    public func boundaries(_ text: UnsafeBufferPointer<UInt8>) throws -> [Int] {
        try withBoundaries(text) { Array($0.lazy.map { Int($0) }) }
    }

    /// The words of `text` as byte ranges, in order, covering all of it. With
    /// `droppingWhitespace`, segments made only of white space and line breaks are left
    /// out (punctuation is kept: it is a segment of its own).
    public func words(_ text: UnsafeBufferPointer<UInt8>,
                      droppingWhitespace: Bool = false) throws -> [Range<Int>] {
        try withBoundaries(text) { bounds in
            var words: [Range<Int>] = []
            words.reserveCapacity(max(bounds.count - 1, 0))
            for k in bounds.indices.dropLast() {
                let word = Int(bounds[k])..<Int(bounds[k + 1])
                if droppingWhitespace && isWhitespace(text, word) { continue }
                words.append(word)
            }
            return words
        }
    }

    public func words(_ text: [UInt8], droppingWhitespace: Bool = false) throws -> [Range<Int>] {
        try text.withUnsafeBufferPointer { try words($0, droppingWhitespace: droppingWhitespace) }
    }

    /// Words of a string, as ranges of offsets into its UTF-8 view.
    public func words(_ text: String, droppingWhitespace: Bool = false) throws -> [Range<Int>] {
        var text = text
        return try text.withUTF8 { try words($0, droppingWhitespace: droppingWhitespace) }
    }

    private func withBoundaries<R>(_ text: UnsafeBufferPointer<UInt8>,
                                   _ body: (ArraySlice<Int64>) throws -> R) throws -> R {
        if boundaryBuffer.count < text.count + 1 {
            boundaryBuffer = [Int64](repeating: 0, count: max(text.count + 1, 2 * boundaryBuffer.count))
        }
        var status: Int32 = 0
        let count = boundaryBuffer.withUnsafeMutableBufferPointer { out in
            ct_wordbreak_boundaries(handle, text.baseAddress, Int64(text.count), out.baseAddress, &status)
        }
        guard count >= 0 else {
            throw ICUError(code: status, operation: "word break of \(text.count) bytes")
        }
        return try body(boundaryBuffer[0..<Int(count)])
    }

    // White_Space and line breaks, per the class table. ICU keeps a run of horizontal
    // space together (UAX #29 WB3d), so a whitespace segment is all whitespace.
    private func isWhitespace(_ text: UnsafeBufferPointer<UInt8>, _ word: Range<Int>) -> Bool {
        var i = word.lowerBound
        while i < word.upperBound {
            let b0 = text[i]
            var scalar: UInt32
            var length: Int
            switch b0 {
            case 0..<0x80: (scalar, length) = (UInt32(b0), 1)
            case 0xF0...: (scalar, length) = (UInt32(b0 & 0x07), 4)
            case 0xE0...: (scalar, length) = (UInt32(b0 & 0x0F), 3)
            default: (scalar, length) = (UInt32(b0 & 0x1F), 2)
            }
            guard i + length <= word.upperBound else { return false }
            for t in 1..<length { scalar = scalar << 6 | UInt32(text[i + t] & 0x3F) }
            let kind = classes.lookup(scalar).kind
            guard kind == .space || kind == .newline else { return false }
            i += length
        }
        return true
    }
}
