/// Learns a BPE vocabulary from text streamed through it.
///
/// 1. `add` pre-tokenizes and counts pieces (bounded memory, several threads; see
///    `PieceCounter`).
/// 2. `train` chooses the character alphabet (the most frequent non-ASCII characters
///    covering `characterCoverage` of all non-ASCII occurrences; the rest fall back to
///    bytes), then repeatedly merges the most frequent adjacent pair of tokens over the
///    distinct pieces, weighted by their counts, until the vocabulary has `vocabularySize`
///    entries or no pair occurs `minFrequency` times.
///
/// Ties are broken explicitly (more occurrences first, then the smaller left id, then the
/// smaller right id; characters by count, then scalar value), and ids are assigned in
/// that order, so the result depends only on the input and the options, never on hash
/// order. With pruning (inputs whose distinct pieces exceed the memory bound), it also
/// depends on the thread count, which decides how the input is split.
public struct BPETrainer {
    public struct Options: Sendable {
        public var vocabularySize = 8000
        public var minFrequency = 2
        public var characterCoverage = 0.9995
        public var specialTokens: [String] = []
        public var userWords: [String] = []
        public var settings = Vocabulary.Settings()
        /// Bound on distinct pieces held while counting (about 100 bytes each).
        public var maxDistinctPieces = 2_000_000
        public var threads = 2
        public init() {}
    }

    public struct Statistics: Sendable {
        public var bytes = 0
        public var pieces = 0
        public var distinctPieces = 0
        public var prunedPieces = 0
        public var alphabetSize = 0
        public var merges = 0
        public var stoppedBecause = ""
    }

    public let options: Options
    private var counter: PieceCounter
    private let normalizer: Normalizer?
    public private(set) var statistics = Statistics()

    public init(options: Options) throws {
        let fixed = options.specialTokens.count + 256 + options.userWords.count
        guard options.vocabularySize >= fixed else {
            throw Vocabulary.InvalidError(message: "vocabulary size \(options.vocabularySize) is smaller than the \(fixed) fixed entries (256 bytes, special tokens, user words)")
        }
        guard let form = options.settings.normalizationForm else {
            throw Vocabulary.InvalidError(message: "case folding needs a normalization form (nfc or nfkc)")
        }
        normalizer = form == .none ? nil : Normalizer(form: form)
        guard options.minFrequency >= 1 else { throw Vocabulary.InvalidError(message: "minimum frequency must be at least 1") }
        guard options.characterCoverage > 0, options.characterCoverage <= 1 else {
            throw Vocabulary.InvalidError(message: "character coverage must be in (0, 1]")
        }
        self.options = options
        counter = PieceCounter(limits: .init(maxDistinctPieces: options.maxDistinctPieces, threads: options.threads),
                               userWords: options.userWords.map { Array($0.utf8) })
    }

    /// Counts the pieces of `text` (valid UTF-8 ending at a line break or the end of the
    /// input). Throws `UTF8Bytes.InvalidError` with an offset relative to `text`.
    public mutating func add(_ text: UnsafeBufferPointer<UInt8>) throws {
        if let bad = UTF8Bytes.firstInvalidOffset(text) { throw UTF8Bytes.InvalidError(offset: bad) }
        guard let normalizer else {
            counter.add(text)
            return
        }
        try normalizer.withNormalized(text, wantAlignment: false) { bytes, _, _ in counter.add(bytes) }
    }

    public mutating func add(_ text: String) throws {
        var copy = text
        try copy.withUTF8 { try add($0) }
    }

    /// Learns the vocabulary from everything added so far.
    public mutating func train() throws -> Vocabulary {
        let pieces = counter.merged()
        statistics.bytes = counter.byteCount
        statistics.pieces = counter.pieceCount
        statistics.distinctPieces = pieces.count
        statistics.prunedPieces = counter.prunedPieces

        var tokens: [[UInt8]] = []
        var kinds: [Vocabulary.Kind] = []
        for special in options.specialTokens { tokens.append(Array(special.utf8)); kinds.append(.special) }
        let firstByte = tokens.count
        for b in 0...255 { tokens.append([UInt8(b)]); kinds.append(.byte) }
        for word in options.userWords { tokens.append(Array(word.utf8)); kinds.append(.user) }

        let alphabet = chooseAlphabet(pieces, room: options.vocabularySize - tokens.count)
        for scalar in alphabet {
            tokens.append(Array(String(Unicode.Scalar(scalar)!).utf8))
            kinds.append(.character)
        }
        statistics.alphabetSize = alphabet.count

        // Validate the fixed part (duplicate user words, specials with line breaks, ...)
        // before spending time on merges.
        let base = try Vocabulary(settings: options.settings, tokens: tokens, kinds: kinds, merges: [])
        var merger = MergeLearner(pieces: pieces, vocabulary: base, firstByte: firstByte)
        let merges = merger.learn(tokens: &tokens, kinds: &kinds, upTo: options.vocabularySize,
                                  minFrequency: UInt64(options.minFrequency))
        statistics.merges = merges.count
        statistics.stoppedBecause = tokens.count >= options.vocabularySize
            ? "reached \(options.vocabularySize) entries"
            : "no pair occurs \(options.minFrequency) times or more"
        return try Vocabulary(settings: options.settings, tokens: tokens, kinds: kinds, merges: merges)
    }

    /// Non-ASCII scalars by descending count (ties: smaller scalar first), as many as reach
    /// `characterCoverage` of all non-ASCII occurrences, at most `room`.
    private func chooseAlphabet(_ pieces: ByteStringTable, room: Int) -> [UInt32] {
        var counts = [UInt64](repeating: 0, count: 0x110000)
        var total: UInt64 = 0
        pieces.arena.withUnsafeBufferPointer { a in
            guard let p = a.baseAddress else { return }
            for index in 0..<pieces.count {
                let r = pieces.keyRange(at: index)
                let weight = pieces[valueAt: index]
                var i = r.lowerBound
                while i < r.upperBound {
                    if p[i] < 0x80 { i += 1; continue }
                    let (scalar, length) = UTF8Bytes.decode(p, i)
                    counts[Int(scalar)] &+= weight
                    total &+= weight
                    i += length
                }
            }
        }
        var seen: [(scalar: UInt32, count: UInt64)] = []
        for (scalar, count) in counts.enumerated() where count > 0 {
            seen.append((UInt32(scalar), count))
        }
        seen.sort { $0.count != $1.count ? $0.count > $1.count : $0.scalar < $1.scalar }
        var chosen: [UInt32] = []
        var covered: UInt64 = 0
        let goal = UInt64((Double(total) * options.characterCoverage).rounded(.up))
        for entry in seen {
            if covered >= goal || chosen.count >= room { break }
            // A character seen once is no better as a token than as bytes.
            if entry.count < UInt64(options.minFrequency) { break }
            chosen.append(entry.scalar)
            covered += entry.count
        }
        return chosen
    }
}

/// The merge phase of BPE training over distinct pieces.
///
/// Every piece's symbols live in one arena with `prev`/`next` links, so a merge rewrites
/// symbols in place. Each adjacent pair keeps its weighted count and the positions where
/// it was formed (entries go stale when a neighbour merges; they are checked on use). A
/// max-heap holds (count, pair) entries lazily: a popped entry whose count is out of
/// date is pushed back with the current count.
private struct MergeLearner {
    private var symbols: [Int32] = []
    private var next: [Int32] = []
    private var prev: [Int32] = []
    private var weightOf: [UInt64] = []  // per position: its piece's count

    private var pairIndex = PairTable(capacity: 1 << 16)
    private var pairLeft: [Int32] = []
    private var pairRight: [Int32] = []
    private var pairCount: [UInt64] = []
    private var pairPositions: [[Int32]] = []
    private var heap: [(count: UInt64, pair: Int32)] = []
    private var tokenIDs: ByteStringTable

    init(pieces: ByteStringTable, vocabulary v: Vocabulary, firstByte: Int) {
        tokenIDs = v.tokenIDs
        let totalBytes = pieces.arena.count
        symbols.reserveCapacity(totalBytes)
        var merger = BPEMerger()  // with no merges, it yields the initial symbols
        pieces.arena.withUnsafeBufferPointer { a in
            guard let base = a.baseAddress else { return }
            for index in 0..<pieces.count {
                let r = pieces.keyRange(at: index)
                let count = merger.merge(piece: UnsafeBufferPointer(start: base + r.lowerBound, count: r.count), vocabulary: v)
                let start = symbols.count
                for k in 0..<count {
                    symbols.append(merger.symbols[k])
                    prev.append(k == 0 ? -1 : Int32(start + k - 1))
                    next.append(k == count - 1 ? -1 : Int32(start + k + 1))
                    weightOf.append(pieces[valueAt: index])
                }
            }
        }
        for position in 0..<symbols.count where next[position] >= 0 {
            let pair = pairID(symbols[position], symbols[Int(next[position])])
            pairCount[pair] += weightOf[position]
            pairPositions[pair].append(Int32(position))
        }
        for pair in 0..<pairCount.count { heap.append((pairCount[pair], Int32(pair))) }
        heapify()
    }

    private mutating func pairID(_ left: Int32, _ right: Int32) -> Int {
        if let found = pairIndex.value(left, right) { return Int(found) }
        let id = pairLeft.count
        pairIndex.set(left, right, UInt64(id))
        pairLeft.append(left); pairRight.append(right)
        pairCount.append(0); pairPositions.append([])
        return id
    }

    mutating func learn(tokens: inout [[UInt8]], kinds: inout [Vocabulary.Kind], upTo size: Int,
                        minFrequency: UInt64) -> [Vocabulary.Merge] {
        var merges: [Vocabulary.Merge] = []
        var touched: [Int] = []
        var isTouched: [Bool] = []
        while tokens.count < size, let top = popMax() {
            let pair = Int(top.pair)
            if top.count != pairCount[pair] {
                if pairCount[pair] > 0 { push((pairCount[pair], top.pair)) }
                continue
            }
            if top.count < minFrequency || top.count == 0 { break }
            let left = pairLeft[pair], right = pairRight[pair]
            let bytes = tokens[Int(left)] + tokens[Int(right)]
            let result: Int32
            let (index, inserted) = tokenIDs.findOrInsert(bytes, initial: UInt64(tokens.count))
            if inserted {
                result = Int32(tokens.count)
                tokens.append(bytes)
                kinds.append(.merge)
            } else {
                result = Int32(tokenIDs[valueAt: index])
            }
            merges.append(.init(left: left, right: right, result: result))

            var positions = pairPositions[pair]
            pairPositions[pair] = []
            positions.sort()  // leftmost first within a piece, as the encoder merges
            for position32 in positions {
                let position = Int(position32)
                let q = Int(next[position])
                guard q >= 0, symbols[position] == left, symbols[q] == right else { continue }
                let w = weightOf[position]
                let before = Int(prev[position]), after = Int(next[q])
                if before >= 0 { pairCount[pairID(symbols[before], left)] -= w }
                if after >= 0 { pairCount[pairID(right, symbols[after])] -= w }
                pairCount[pair] -= w
                symbols[position] = result
                next[position] = Int32(after)
                if after >= 0 { prev[after] = Int32(position) }
                next[q] = -1; prev[q] = -1
                symbols[q] = -1
                if before >= 0 {
                    let p = pairID(symbols[before], result)
                    pairCount[p] += w
                    pairPositions[p].append(Int32(before))
                    mark(p, &touched, &isTouched)
                }
                if after >= 0 {
                    let p = pairID(result, symbols[after])
                    pairCount[p] += w
                    pairPositions[p].append(Int32(position))
                    mark(p, &touched, &isTouched)
                }
            }
            for p in touched {
                isTouched[p] = false
                if pairCount[p] > 0 { push((pairCount[p], Int32(p))) }
            }
            touched.removeAll(keepingCapacity: true)
        }
        return merges
    }

    private func mark(_ p: Int, _ touched: inout [Int], _ isTouched: inout [Bool]) {
        if p >= isTouched.count { isTouched.append(contentsOf: repeatElement(false, count: p - isTouched.count + 1024)) }
        if !isTouched[p] { isTouched[p] = true; touched.append(p) }
    }

    // MARK: heap ordered by count, then smaller left id, then smaller right id

    @inline(__always)
    private func above(_ a: (count: UInt64, pair: Int32), _ b: (count: UInt64, pair: Int32)) -> Bool {
        if a.count != b.count { return a.count > b.count }
        let la = pairLeft[Int(a.pair)], lb = pairLeft[Int(b.pair)]
        if la != lb { return la < lb }
        return pairRight[Int(a.pair)] < pairRight[Int(b.pair)]
    }

    private mutating func heapify() {
        guard heap.count > 1 else { return }
        for i in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(i) }
    }

    private mutating func push(_ entry: (count: UInt64, pair: Int32)) {
        heap.append(entry)
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if !above(heap[i], heap[parent]) { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    private mutating func popMax() -> (count: UInt64, pair: Int32)? {
        guard let last = heap.popLast() else { return nil }
        guard !heap.isEmpty else { return last }
        let top = heap[0]
        heap[0] = last
        siftDown(0)
        return top
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        let n = heap.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var best = i
            if l < n, above(heap[l], heap[best]) { best = l }
            if r < n, above(heap[r], heap[best]) { best = r }
            if best == i { return }
            heap.swapAt(i, best)
            i = best
        }
    }
}
