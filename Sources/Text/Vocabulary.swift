/// A byte-level BPE vocabulary over a character alphabet.
///
/// Ids are laid out as: special tokens, the 256 single bytes, user words, characters
/// (the alphabet: non-ASCII scalars frequent enough in training to be tokens of their
/// own), then the tokens created by merges. A character outside the alphabet is encoded
/// as its UTF-8 bytes, so every valid input has an encoding and decoding is lossless:
/// there is no unknown token.
///
/// Merges are ordered by rank. A merge's result is usually a new token, but may be a
/// token that already exists with the same bytes (two merge paths can spell the same
/// string); every token's bytes are unique among bytes, characters and merge results.
public struct Vocabulary: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case special, byte, user, character, merge
    }

    public struct Merge: Equatable, Sendable {
        public var left: Int32, right: Int32, result: Int32
        public init(left: Int32, right: Int32, result: Int32) {
            self.left = left; self.right = right; self.result = result
        }
    }

    /// What an encoder must do to the text before applying the merges: part of the
    /// vocabulary's identity, so it travels in the file.
    public struct Settings: Equatable, Sendable {
        /// "none", "nfc" or "nfkc".
        public var normalization: String
        public var caseFold: Bool
        public var pretokenizer: String
        public init(normalization: String = "none", caseFold: Bool = false,
                    pretokenizer: String = PreTokenizer.version) {
            self.normalization = normalization
            self.caseFold = caseFold
            self.pretokenizer = pretokenizer
        }

        public var splitsChineseWords: Bool { pretokenizer == HanWordSplitter.version }

        /// The normalizer's form for these settings, or nil when they are not valid
        /// (an unknown name, or case folding without a normalization form).
        public var normalizationForm: NormalizationForm? {
            switch (normalization, caseFold) {
            case ("none", false): NormalizationForm.none  // spelled out: `.none` here is Optional.none
            case ("nfc", false): .nfc
            case ("nfkc", false): .nfkc
            case ("nfc", true): .nfcCasefold
            case ("nfkc", true): .nfkcCasefold
            default: nil
            }
        }
    }

    public struct InvalidError: Error, CustomStringConvertible, Equatable {
        public let message: String
        public var description: String { message }
    }

    public let settings: Settings
    public let tokens: [[UInt8]]
    public let kinds: [Kind]
    public let merges: [Merge]

    public var count: Int { tokens.count }

    // Lookups derived from the above, built once.
    /// Byte value -> id.
    let byteIDs: [Int32]
    /// BMP scalar -> character-token id, or -1. Supplementary scalars: `supplementaryIDs`.
    let bmpCharacterIDs: [Int32]
    let supplementaryCharacterIDs: PairTable<Int32>
    /// (left, right) -> rank << 32 | result.
    let mergeTable: MergeTable
    /// Bytes -> id for byte, character and merge tokens.
    let tokenIDs: ByteStringTable
    /// The `ByteStringTable.hash` of every key of `tokenIDs`: most pieces of Chinese text
    /// are not tokens, and the table (768 KB at 32k entries) mostly misses the caches.
    let tokenFilter: BloomFilter
    /// True when BPE applied to the token's own bytes yields exactly this token, so a
    /// pre-tokenized piece spelling it can skip the merge loop without changing the result.
    private(set) var encodesToItself: [Bool]
    /// Token byte lengths, for offsets.
    let tokenLengths: [Int32]
    /// Byte length of the longest token in `tokenIDs`: longer pieces need no lookup there.
    let longestToken: Int

    public static func == (a: Vocabulary, b: Vocabulary) -> Bool {
        a.settings == b.settings && a.tokens == b.tokens && a.kinds == b.kinds && a.merges == b.merges
    }

    /// Validates the parts (see the type's documentation) and builds the lookups.
    public init(settings: Settings, tokens: [[UInt8]], kinds: [Kind], merges: [Merge]) throws {
        func fail(_ message: String) -> InvalidError { InvalidError(message: message) }
        guard tokens.count == kinds.count else { throw fail("\(tokens.count) tokens but \(kinds.count) kinds") }
        guard tokens.count < Int(Int32.max) else { throw fail("too many tokens") }
        guard ["none", "nfc", "nfkc"].contains(settings.normalization) else {
            throw fail("unknown normalization '\(settings.normalization)' (expected none, nfc or nfkc)")
        }
        guard settings.normalizationForm != nil else {
            throw fail("case folding needs a normalization form (nfc or nfkc)")
        }
        guard [PreTokenizer.version, HanWordSplitter.version].contains(settings.pretokenizer) else {
            throw fail("pre-tokenizer '\(settings.pretokenizer)' is not supported (this build has \(PreTokenizer.version) and \(HanWordSplitter.version))")
        }

        var byteIDs = [Int32](repeating: -1, count: 256)
        var bmp = [Int32](repeating: -1, count: 0x10000)
        var supplementary = PairTable<Int32>(capacity: 64)
        var table = ByteStringTable(capacity: tokens.count)
        var phrases = Set<[UInt8]>()
        for (index, (bytes, kind)) in zip(tokens, kinds).enumerated() {
            let id = Int32(index)
            switch kind {
            case .byte:
                guard bytes.count == 1, byteIDs[Int(bytes[0])] < 0 else {
                    throw fail("token \(id): a byte token must be one byte, each byte once")
                }
                byteIDs[Int(bytes[0])] = id
            case .character:
                guard bytes.count > 1, UTF8Bytes.firstInvalidOffset(bytes) == nil,
                      UTF8Bytes.lengthOfSequence(lead: bytes[0]) == bytes.count else {
                    throw fail("token \(id): a character token must be one non-ASCII scalar")
                }
                let scalar = bytes.withUnsafeBufferPointer { UTF8Bytes.decode($0.baseAddress!, 0).scalar }
                if scalar < 0x10000 { bmp[Int(scalar)] = id } else { supplementary.set(Int32(scalar), 0, id) }
            case .special, .user:
                guard !bytes.isEmpty, UTF8Bytes.firstInvalidOffset(bytes) == nil,
                      !bytes.contains(0x0A), !bytes.contains(0x0D) else {
                    throw fail("token \(id): a \(kind.rawValue) token must be non-empty valid UTF-8 without line breaks")
                }
                guard phrases.insert(bytes).inserted else {
                    throw fail("token \(id): duplicate \(kind.rawValue) token")
                }
                continue
            case .merge:
                guard bytes.count > 1 else { throw fail("token \(id): a merge token has at least two bytes") }
            }
            guard table.findOrInsert(bytes, initial: UInt64(id)).inserted else {
                throw fail("token \(id): the same bytes as an earlier token")
            }
        }
        guard !byteIDs.contains(-1) else { throw fail("the 256 byte tokens are incomplete") }

        var mergeTable = MergeTable(capacity: merges.count, idLimit: tokens.count)
        var created = [Bool](repeating: false, count: tokens.count)
        for (rank, merge) in merges.enumerated() {
            let ids = [merge.left, merge.right, merge.result]
            guard ids.allSatisfy({ $0 >= 0 && Int($0) < tokens.count }) else {
                throw fail("merge \(rank): id out of range")
            }
            for part in [merge.left, merge.right] {
                switch kinds[Int(part)] {
                case .special, .user: throw fail("merge \(rank): \(kinds[Int(part)].rawValue) tokens never merge")
                case .merge where !created[Int(part)]:
                    throw fail("merge \(rank): token \(part) is used before a merge creates it")
                default: break
                }
            }
            guard tokens[Int(merge.result)] == tokens[Int(merge.left)] + tokens[Int(merge.right)] else {
                throw fail("merge \(rank): result \(merge.result) is not the concatenation of \(merge.left) and \(merge.right)")
            }
            guard mergeTable.value(merge.left, merge.right) == nil else {
                throw fail("merge \(rank): the pair (\(merge.left), \(merge.right)) is merged twice")
            }
            mergeTable.insert(merge.left, merge.right, UInt64(rank) << 32 | UInt64(merge.result))
            created[Int(merge.result)] = true
        }
        for (index, kind) in kinds.enumerated() where kind == .merge && !created[index] {
            throw fail("token \(index): a merge token that no merge creates")
        }

        self.settings = settings
        self.tokens = tokens
        self.kinds = kinds
        self.merges = merges
        self.byteIDs = byteIDs
        self.bmpCharacterIDs = bmp
        self.supplementaryCharacterIDs = supplementary
        self.mergeTable = mergeTable
        self.tokenIDs = table
        var tokenFilter = BloomFilter(capacity: table.count)
        table.arena.withUnsafeBufferPointer { a in
            for index in 0..<table.count {
                let r = table.keyRange(at: index)
                tokenFilter.insert(ByteStringTable.hash(a.baseAddress! + r.lowerBound, r.count))
            }
        }
        self.tokenFilter = tokenFilter
        self.tokenLengths = tokens.map { Int32($0.count) }
        self.longestToken = zip(tokens, kinds).lazy.filter { $0.1 != .special && $0.1 != .user }.map { $0.0.count }.max() ?? 0
        self.encodesToItself = []
        self.encodesToItself = selfEncodingFlags()
    }

    private func selfEncodingFlags() -> [Bool] {
        var flags = [Bool](repeating: false, count: count)
        let merger = BPEMerger()
        for id in 0..<count where kinds[id] != .special && kinds[id] != .user {
            let result = tokens[id].withUnsafeBufferPointer { merger.encode(piece: $0, vocabulary: self) }
            flags[id] = result.count == 1 && result[0] == Int32(id)
        }
        return flags
    }

    /// Id of the character token for a scalar, or -1.
    @inline(__always)
    func characterID(_ scalar: UInt32) -> Int32 {
        if scalar < 0x10000 { return bmpCharacterIDs[Int(scalar)] }
        return supplementaryCharacterIDs.value(Int32(bitPattern: scalar), 0) ?? -1
    }

    /// Id of the byte, character or merge token with exactly these bytes.
    func id(of bytes: [UInt8]) -> Int32? { tokenIDs.find(bytes).map { Int32(tokenIDs[valueAt: $0]) } }

    public var specialTokens: [(id: Int32, text: String)] { phrases(of: .special) }
    public var userWords: [(id: Int32, text: String)] { phrases(of: .user) }

    private func phrases(of kind: Kind) -> [(id: Int32, text: String)] {
        kinds.indices.filter { kinds[$0] == kind }.map { (Int32($0), String(decoding: tokens[$0], as: Unicode.UTF8.self)) }
    }

    /// The id of a special token by its text, e.g. `<eos>`.
    public func specialID(_ text: String) -> Int32? {
        specialTokens.first { $0.text == text }?.id
    }
}
