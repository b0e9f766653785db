/// Token ids of a text and, for each token, the byte range it covers in the original
/// input (before any normalization).
public struct Encoding: Equatable, Sendable {
    public var ids: [Int32] = []
    public var starts: [Int] = []
    public var ends: [Int] = []

    public init() {}
    public var count: Int { ids.count }

    mutating func removeAll() {
        ids.removeAll(keepingCapacity: true)
        starts.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
    }

    mutating func append(contentsOf other: Encoding, shiftedBy shift: Int) {
        ids.append(contentsOf: other.ids)
        starts.append(contentsOf: other.starts.lazy.map { $0 + shift })
        ends.append(contentsOf: other.ends.lazy.map { $0 + shift })
    }
}

/// Encodes text to token ids and decodes ids back to text, losslessly:
/// `decode(encode(x)) == x` byte for byte for every valid UTF-8 input.
///
/// Immutable and shareable across threads. Encoding happens in an `Encoder`, which holds
/// one thread's scratch buffers and piece cache; the convenience methods here make one.
public struct Tokenizer: Sendable {
    public let vocabulary: Vocabulary
    let preTokenizer = PreTokenizer()
    /// User words, and special tokens: each `Encoder` builds its own matchers from them.
    let userPhrases: [(id: Int32, bytes: [UInt8])]
    let specialPhrases: [(id: Int32, bytes: [UInt8])]

    /// The normalization the vocabulary prescribes, applied before pre-tokenization.
    public let normalization: NormalizationForm

    public init(vocabulary: Vocabulary) throws {
        self.vocabulary = vocabulary
        normalization = vocabulary.settings.normalizationForm ?? NormalizationForm.none
        if vocabulary.settings.splitsChineseWords { _ = try HanWordSplitter() }
        let users = vocabulary.kinds.indices.filter { vocabulary.kinds[$0] == .user }
            .map { (Int32($0), vocabulary.tokens[$0]) }
        let specials = vocabulary.kinds.indices.filter { vocabulary.kinds[$0] == .special }
            .map { (Int32($0), vocabulary.tokens[$0]) }
        userPhrases = users
        specialPhrases = specials
    }

    /// Encodes `text`. Literal special-token text such as `<eos>` is ordinary text unless
    /// `allowSpecial` is true. Throws `UTF8Bytes.InvalidError` for invalid UTF-8.
    public func encode(_ text: [UInt8], allowSpecial: Bool = false) throws -> Encoding {
        var encoder = Encoder(self)
        var out = Encoding()
        try text.withUnsafeBufferPointer { try encoder.encode($0, allowSpecial: allowSpecial, into: &out) }
        return out
    }

    public func encode(_ text: String, allowSpecial: Bool = false) throws -> Encoding {
        try encode(Array(text.utf8), allowSpecial: allowSpecial)
    }

    /// Encodes a large text on `threads` threads. The text is cut only where a piece
    /// boundary is certain (after a line break, before a letter, digit or punctuation
    /// mark), so the result equals the single-threaded one exactly.
    public func encodeParallel(_ text: UnsafeBufferPointer<UInt8>, threads: Int, allowSpecial: Bool = false) throws -> Encoding {
        let cuts = Self.cutPoints(text, parts: max(1, threads))
        if cuts.count <= 2 {
            var encoder = Encoder(self)
            var out = Encoding()
            try encoder.encode(text, allowSpecial: allowSpecial, into: &out)
            return out
        }
        let parts = cuts.count - 1
        let results = UnsafeMutablePointer<Result<Encoding, Error>>.allocate(capacity: parts)
        defer { results.deinitialize(count: parts); results.deallocate() }
        parallelFor(parts) { part in
            let slice = UnsafeBufferPointer(rebasing: text[cuts[part]..<cuts[part + 1]])
            var encoder = Encoder(self)
            var out = Encoding()
            let result = Result { () throws -> Encoding in
                do {
                    try encoder.encode(slice, allowSpecial: allowSpecial, into: &out)
                } catch let error as UTF8Bytes.InvalidError {
                    throw UTF8Bytes.InvalidError(offset: error.offset + cuts[part])
                }
                return out
            }
            (results + part).initialize(to: result)
        }
        var total = Encoding()
        for part in 0..<parts { total.append(contentsOf: try results[part].get(), shiftedBy: cuts[part]) }
        return total
    }

    /// Offsets that split `text` into about `parts` equal pieces at certain piece
    /// boundaries; always starts with 0 and ends with `text.count`.
    static func cutPoints(_ text: UnsafeBufferPointer<UInt8>, parts: Int) -> [Int] {
        var cuts = [0]
        let n = text.count
        guard parts > 1, n >= 1 << 16 else { return [0, n] }
        let splitter = PreTokenizer(), p = text.baseAddress!
        for k in 1..<parts {
            var i = max(n * k / parts, cuts.last! + 1)
            while i < n {
                if splitter.isCertainBoundary(p, i, n) { cuts.append(i); break }
                i += 1
            }
        }
        cuts.append(n)
        return cuts
    }

    /// The bytes of `ids` concatenated. Throws for an id outside the vocabulary.
    public func decode(_ ids: [Int32]) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(ids.count * 4)
        for id in ids {
            guard id >= 0, Int(id) < vocabulary.count else { throw DecodeError.unknownID(id) }
            out.append(contentsOf: vocabulary.tokens[Int(id)])
        }
        return out
    }

    public enum DecodeError: Error, Equatable, CustomStringConvertible {
        case unknownID(Int32)
        public var description: String {
            switch self {
            case .unknownID(let id): "token id \(id) is not in the vocabulary"
            }
        }
    }
}

/// One thread's encoding state: the normalizer's buffers, BPE scratch and a cache of
/// encoded pieces.
public struct Encoder {
    public let tokenizer: Tokenizer
    private let normalizer: Normalizer?
    private let wordSplitter: HanWordSplitter?
    // The encoder's own matchers, nil when there is nothing to match. Matchers shared by all
    // threads' encoders were retained and released once per line: atomic writes that kept one
    // cache line moving between the cores (`swift_retain` 6.8% of a 2-thread `perf record` of
    // `tokenize --count` on 13 MB of English, 1.0% with the encoder's own).
    private let userWords: PhraseMatcher?
    private let userWordsAndSpecials: PhraseMatcher?
    /// How many inputs normalization changed.
    public private(set) var normalizedInputs = 0
    private var merger = BPEMerger()
    private var cache = ByteStringTable(capacity: 1 << 12)
    private var cachedIDs: [Int32] = []
    private static let cacheLimit = 1 << 16
    private static let longestCachedPiece = 32

    public init(_ tokenizer: Tokenizer) {
        self.tokenizer = tokenizer
        normalizer = tokenizer.normalization == .none ? nil : Normalizer(form: tokenizer.normalization)
        // A vocabulary that splits Chinese words cannot be loaded where ICU's data is
        // missing; `Tokenizer.init` has already checked that a splitter can be made.
        wordSplitter = tokenizer.vocabulary.settings.splitsChineseWords ? try? HanWordSplitter() : nil
        let users = tokenizer.userPhrases, all = users + tokenizer.specialPhrases
        userWords = users.isEmpty ? nil : PhraseMatcher(phrases: users)
        userWordsAndSpecials = all.isEmpty ? nil : PhraseMatcher(phrases: all)
    }

    /// Appends the encoding of `text` to `out`. Offsets are relative to `text` even when
    /// the vocabulary normalizes: a token of normalized text covers the input bytes of the
    /// normalization segments it came from.
    /// `validated` skips the UTF-8 check for input the caller has already checked.
    public mutating func encode(_ text: UnsafeBufferPointer<UInt8>, allowSpecial: Bool = false, validated: Bool = false,
                                into out: inout Encoding) throws {
        if !validated, let bad = UTF8Bytes.firstInvalidOffset(text) { throw UTF8Bytes.InvalidError(offset: bad) }
        guard let normalizer else {
            encodeNormalized(text, allowSpecial: allowSpecial, into: &out)
            return
        }
        let first = out.count
        try normalizer.withNormalized(text) { bytes, alignment, changed in
            encodeNormalized(bytes, allowSpecial: allowSpecial, into: &out)
            guard changed, let alignment else { return }
            normalizedInputs += 1
            for k in first..<out.count {
                let s = out.starts[k], e = out.ends[k]
                let segment = alignment[e - 1]
                var end = e
                while alignment[end] == segment { end += 1 }
                out.starts[k] = alignment[s]
                out.ends[k] = alignment[end]
            }
        }
    }

    private mutating func encodeNormalized(_ text: UnsafeBufferPointer<UInt8>, allowSpecial: Bool,
                                           into out: inout Encoding) {
        guard let p = text.baseAddress else { return }
        let n = text.count
        guard let phrases = allowSpecial ? userWordsAndSpecials : userWords else {
            encodePlain(p, 0, n, into: &out)
            return
        }
        var plainStart = 0, i = 0
        while i < n {
            if let match = phrases.longestMatch(p, i, n) {
                if plainStart < i { encodePlain(p, plainStart, i, into: &out) }
                out.ids.append(match.id)
                out.starts.append(i)
                out.ends.append(match.end)
                i = match.end
                plainStart = i
            } else {
                i += 1
            }
        }
        if plainStart < n { encodePlain(p, plainStart, n, into: &out) }
    }

    private mutating func encodePlain(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, into out: inout Encoding) {
        let text = UnsafeBufferPointer(start: p + start, count: end - start)
        if let wordSplitter {
            wordSplitter.forEachPiece(text) { s, e in encodePiece(p, start + s, start + e, into: &out) }
            return
        }
        tokenizer.preTokenizer.forEachPiece(text) { s, e in
            encodePiece(p, start + s, start + e, into: &out)
        }
    }

    @inline(__always)
    private mutating func encodePiece(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int, into out: inout Encoding) {
        let v = tokenizer.vocabulary
        let piece = p + s, n = e - s
        // Long pieces (whole Chinese phrases) are neither tokens nor worth caching (they
        // seldom repeat; caching them costs a copy and a table insert for nothing), and a
        // lookup that cannot succeed still costs a cache miss in the token table.
        let maybeToken = n <= v.longestToken, cacheable = n <= Self.longestCachedPiece
        if maybeToken || cacheable {
            let hash = ByteStringTable.hash(piece, n)  // the same function keys both tables
            // A piece that is itself a token whose own BPE is that token: one lookup, exact.
            if maybeToken, v.tokenFilter.mayContain(hash), let index = v.tokenIDs.find(piece, n, hash: hash) {
                let id = Int32(truncatingIfNeeded: v.tokenIDs[valueAt: index])
                if v.encodesToItself[Int(id)] {
                    out.ids.append(id); out.starts.append(s); out.ends.append(e)
                    return
                }
            }
            if cacheable {
                let offset: Int, count: Int
                if let index = cache.find(piece, n, hash: hash) {
                    let packed = cache[valueAt: index]
                    offset = Int(packed >> 16)
                    count = Int(packed & 0xFFFF)
                } else {
                    count = merger.merge(piece: UnsafeBufferPointer(start: piece, count: n), vocabulary: v)
                    if cache.count >= Self.cacheLimit {
                        cache = ByteStringTable(capacity: 1 << 12)
                        cachedIDs.removeAll(keepingCapacity: true)
                    }
                    offset = cachedIDs.count
                    cachedIDs.append(contentsOf: merger.symbols[0..<count])
                    _ = cache.findOrInsert(piece, n, hash: hash, initial: UInt64(offset) << 16 | UInt64(count))
                }
                cachedIDs.withUnsafeBufferPointer { cached in
                    appendTokens(UnsafeBufferPointer(rebasing: cached[offset..<(offset + count)]), from: s, into: &out)
                }
                return
            }
        }
        merger.merge(piece: UnsafeBufferPointer(start: piece, count: n), vocabulary: v)
        appendTokens(merger.symbols, from: s, into: &out)
    }

    /// Appends `ids`, which spell the input from offset `start` on, with their offsets.
    @inline(__always)
    private func appendTokens(_ ids: UnsafeBufferPointer<Int32>, from start: Int, into out: inout Encoding) {
        var position = start
        tokenizer.vocabulary.tokenLengths.withUnsafeBufferPointer { lengths in
            for id in ids {
                let next = position + Int(lengths[Int(id)])
                out.ids.append(id); out.starts.append(position); out.ends.append(next)
                position = next
            }
        }
    }
}

/// Turns a stream of token ids back into text without ever emitting half a UTF-8
/// character: bytes of an unfinished character wait for the next token.
public struct StreamingDecoder {
    public let vocabulary: Vocabulary
    private var pending: [UInt8] = []

    public init(vocabulary: Vocabulary) { self.vocabulary = vocabulary }

    /// Adds one token and returns the bytes that are now complete (possibly none).
    public mutating func push(_ id: Int32) throws -> [UInt8] {
        guard id >= 0, Int(id) < vocabulary.count else { throw Tokenizer.DecodeError.unknownID(id) }
        pending.append(contentsOf: vocabulary.tokens[Int(id)])
        let ready = pending.withUnsafeBufferPointer { UTF8Bytes.completePrefixLength($0) }
        // A model may emit byte tokens that never form a character: those become U+FFFD.
        let out = pending.withUnsafeBufferPointer { UTF8Bytes.repaired(UnsafeBufferPointer(rebasing: $0[0..<ready])).bytes }
        pending.removeFirst(ready)
        return out
    }

    /// The bytes still held back (an unfinished character at the end of the stream),
    /// replaced by U+FFFD when they can never become valid.
    public mutating func finish() -> [UInt8] {
        defer { pending.removeAll() }
        return pending.withUnsafeBufferPointer { UTF8Bytes.repaired($0).bytes }
    }
}
