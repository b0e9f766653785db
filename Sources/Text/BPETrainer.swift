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
        /// 0.999 was chosen on a validation split of the training data (the benchmark's
        /// split: every 10th training line held out): it compressed held-back Chinese best
        /// among 0.9995, 0.999, 0.998, 0.997 and 0.995 at 32,000 entries, English equally.
        public var characterCoverage = 0.999
        public var specialTokens: [String] = []
        public var userWords: [String] = []
        public var settings = Vocabulary.Settings()
        /// Bound on distinct pieces held while counting; memory grows linearly with it.
        public var maxDistinctPieces = 2_000_000
        public var threads = 2
        /// A character-level vocabulary: every character seen becomes a token (whatever
        /// `vocabularySize`, `characterCoverage` and `minFrequency` say) and nothing is
        /// merged. Unseen characters still fall back to bytes.
        public var characterLevel = false
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
    private var pending: [UInt8] = []
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
        counter = try PieceCounter(limits: .init(maxDistinctPieces: options.maxDistinctPieces, threads: options.threads),
                                   userWords: options.userWords.map { Array($0.utf8) },
                                   splitChineseWords: options.settings.splitsChineseWords)
    }

    /// Counts the pieces of a whole text (a document: pieces never continue past its end).
    /// Throws `UTF8Bytes.InvalidError` with an offset relative to `text`.
    public mutating func add(_ text: UnsafeBufferPointer<UInt8>) throws {
        try finishStream()
        try count(text)
    }

    /// Counts a chunk of a longer text read piecewise (e.g. a file in blocks of lines).
    /// Only the part up to the last certain piece boundary is counted now; the rest waits
    /// for the next chunk (or `finishStream`), so the counts do not depend on where the
    /// chunks were cut. Each chunk must be valid UTF-8 on its own.
    public mutating func addStreamChunk(_ chunk: UnsafeBufferPointer<UInt8>) throws {
        if let bad = UTF8Bytes.firstInvalidOffset(chunk) { throw UTF8Bytes.InvalidError(offset: bad) }
        pending.append(contentsOf: chunk)
        let cut = pending.withUnsafeBufferPointer { b -> Int in
            let splitter = PreTokenizer()
            var i = b.count - 1
            while i > 0, !splitter.isCertainBoundary(b.baseAddress!, i, b.count) { i -= 1 }
            return i
        }
        guard cut > 0 else { return }
        try pending.withUnsafeBufferPointer { try count(UnsafeBufferPointer(rebasing: $0[0..<cut])) }
        pending.removeFirst(cut)
    }

    /// Counts what a stream left pending: the end of the stream is the end of a text.
    public mutating func finishStream() throws {
        guard !pending.isEmpty else { return }
        let rest = pending
        pending = []
        try rest.withUnsafeBufferPointer { try count($0) }
    }

    private mutating func count(_ text: UnsafeBufferPointer<UInt8>) throws {
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
        try finishStream()
        var pieces: ByteStringTable? = counter.takeMerged()
        statistics.bytes = counter.byteCount
        statistics.pieces = counter.pieceCount
        statistics.distinctPieces = pieces!.count
        statistics.prunedPieces = counter.prunedPieces

        var tokens: [[UInt8]] = []
        var kinds: [Vocabulary.Kind] = []
        for special in options.specialTokens { tokens.append(Array(special.utf8)); kinds.append(.special) }
        for b in 0...255 { tokens.append([UInt8(b)]); kinds.append(.byte) }
        for word in options.userWords { tokens.append(Array(word.utf8)); kinds.append(.user) }

        let alphabet = chooseAlphabet(pieces!, room: options.characterLevel ? Int.max : options.vocabularySize - tokens.count)
        for scalar in alphabet {
            tokens.append(Array(String(Unicode.Scalar(scalar)!).utf8))
            kinds.append(.character)
        }
        statistics.alphabetSize = alphabet.count

        // Validate the fixed part (duplicate user words, specials with line breaks, ...)
        // before spending time on merges.
        let base = try Vocabulary(settings: options.settings, tokens: tokens, kinds: kinds, merges: [])
        if options.characterLevel {
            statistics.stoppedBecause = "character level: no merges"
            return base
        }
        let merges: [Vocabulary.Merge]
        do {  // the learner's arrays are freed before the vocabulary is built
            var merger = MergeLearner(pieces: pieces!, vocabulary: base)
            pieces = nil  // the learner holds its own copy of the symbols: free the table before merging
            merges = merger.learn(tokens: &tokens, kinds: &kinds, upTo: options.vocabularySize,
                                  minFrequency: UInt64(options.minFrequency))
        }
        statistics.merges = merges.count
        statistics.stoppedBecause = tokens.count >= options.vocabularySize
            ? "reached \(options.vocabularySize) entries"
            : "no pair occurs \(options.minFrequency) times or more"
        return try Vocabulary(settings: options.settings, tokens: tokens, kinds: kinds, merges: merges)
    }

    /// Non-ASCII scalars by descending count (ties: smaller scalar first), as many as reach
    /// `characterCoverage` of all non-ASCII occurrences, at most `room`.
    private func chooseAlphabet(_ pieces: ByteStringTable, room: Int) -> [UInt32] {
        var counts = [UInt64](repeating: 0, count: 0x110000)  // 9 MB, freed before merging
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
        let goal = options.characterLevel ? total : UInt64((Double(total) * options.characterCoverage).rounded(.up))
        for entry in seen {
            if covered >= goal || chosen.count >= room { break }
            // A character seen once is no better as a token than as bytes.
            if !options.characterLevel && entry.count < UInt64(options.minFrequency) { break }
            chosen.append(entry.scalar)
            covered += entry.count
        }
        return chosen
    }
}

/// The merge phase of BPE training over distinct pieces.
///
/// Every piece's symbols live in one arena; a piece has at most 256 symbols, so the
/// links to the previous and next live symbol are one-byte distances. A merge rewrites
/// symbols in place. Each adjacent pair keeps its weighted count and the positions where
/// it was formed (entries go stale when a neighbour merges; they are checked on use): the
/// pieces' initial pairs as one contiguous, increasing run per pair, and the pairs merges
/// form as linked lists in one arena, whose entries are recycled once their pair merges.
/// The runs are most of the positions, and reading one is a stream the processor prefetches,
/// where following a list is a chain of dependent cache misses (they were 30% of the merge
/// loop's samples when every position sat in a list). A max-heap holds
/// (count, pair) entries lazily: a popped entry whose count is out of date is pushed back
/// with the current count, and the heap is rebuilt when stale entries outnumber the rest.
private struct MergeLearner {
    private var symbols: [Int32] = []
    private var nextDistance: [UInt8] = []  // 0: no next symbol in the piece
    private var prevDistance: [UInt8] = []  // 0: no previous symbol in the piece
    private var pieceOf: [Int32] = []       // per position: its piece
    private var pieceCount: [UInt64] = []   // per piece: its count

    private var pairIndex = PairTable<Int32>(capacity: 1 << 16)
    private var pairLeft: [Int32] = []
    private var pairRight: [Int32] = []
    private var pairCount: [UInt64] = []
    private var pairHead: [Int32] = []
    /// Per initial pair, its run of positions in `initialPositions` (emptied when it merges).
    private var initialStart: [Int32] = []
    private var initialEnd: [Int32] = []
    private var initialPositions: [Int32] = []
    private var occurrencePosition: [Int32] = []
    private var occurrenceNext: [Int32] = []
    private var freeOccurrence: Int32 = -1
    private var heap: [(count: UInt64, pair: Int32)] = []
    private var livePairs = 0
    private var minFrequency: UInt64 = 1
    private var tokenIDs: ByteStringTable

    init(pieces: ByteStringTable, vocabulary v: Vocabulary) {
        tokenIDs = v.tokenIDs
        // Symbols are about as many as scalars (more where a rare character falls back to
        // bytes): reserve that, so the arrays do not end up doubled by growth.
        var scalars = 0
        for b in pieces.arena where b & 0xC0 != 0x80 { scalars += 1 }
        let expected = scalars + scalars / 16
        symbols.reserveCapacity(expected)
        nextDistance.reserveCapacity(expected)
        prevDistance.reserveCapacity(expected)
        pieceOf.reserveCapacity(expected)
        pieceCount.reserveCapacity(pieces.count)
        let merger = BPEMerger()  // with no merges, it yields the initial symbols
        pieces.arena.withUnsafeBufferPointer { a in
            guard let base = a.baseAddress else { return }
            for index in 0..<pieces.count {
                let r = pieces.keyRange(at: index)
                let count = merger.merge(piece: UnsafeBufferPointer(start: base + r.lowerBound, count: r.count), vocabulary: v)
                pieceCount.append(pieces[valueAt: index])
                for k in 0..<count {
                    symbols.append(merger.symbols[k])
                    prevDistance.append(k == 0 ? 0 : 1)
                    nextDistance.append(k == count - 1 ? 0 : 1)
                    pieceOf.append(Int32(index))
                }
            }
        }
        var pairAt = [Int32](repeating: -1, count: symbols.count)
        for position in stride(from: symbols.count - 1, through: 0, by: -1) where nextDistance[position] != 0 {
            let pair = pairID(symbols[position], symbols[position + 1])
            pairCount[pair] += pieceCount[Int(pieceOf[position])]
            pairAt[position] = Int32(pair)
        }
        // A counting sort of the positions by pair: each run increasing.
        var runLength = [Int32](repeating: 0, count: pairLeft.count)
        for pair in pairAt where pair >= 0 { runLength[Int(pair)] += 1 }
        initialStart = [Int32](repeating: 0, count: pairLeft.count)
        var offset: Int32 = 0
        for pair in runLength.indices {
            initialStart[pair] = offset
            offset += runLength[pair]
        }
        initialEnd = initialStart
        initialPositions = [Int32](repeating: 0, count: Int(offset))
        for (position, pair) in pairAt.enumerated() where pair >= 0 {
            initialPositions[Int(initialEnd[Int(pair)])] = Int32(position)
            initialEnd[Int(pair)] += 1
        }
    }

    @inline(__always) private func next(_ i: Int) -> Int { nextDistance[i] == 0 ? -1 : i + Int(nextDistance[i]) }
    @inline(__always) private func prev(_ i: Int) -> Int { prevDistance[i] == 0 ? -1 : i - Int(prevDistance[i]) }

    private mutating func pairID(_ left: Int32, _ right: Int32) -> Int {
        if let found = pairIndex.value(left, right) { return Int(found) }
        let id = pairLeft.count
        pairIndex.set(left, right, Int32(id))
        pairLeft.append(left); pairRight.append(right)
        pairCount.append(0); pairHead.append(-1)
        return id
    }

    @inline(__always)
    private mutating func addOccurrence(_ pair: Int, _ position: Int32) {
        let entry: Int32
        if freeOccurrence >= 0 {
            entry = freeOccurrence
            freeOccurrence = occurrenceNext[Int(entry)]
            occurrencePosition[Int(entry)] = position
            occurrenceNext[Int(entry)] = pairHead[pair]
        } else {
            entry = Int32(occurrencePosition.count)
            occurrencePosition.append(position)
            occurrenceNext.append(pairHead[pair])
        }
        pairHead[pair] = entry
    }

    mutating func learn(tokens: inout [[UInt8]], kinds: inout [Vocabulary.Kind], upTo size: Int,
                        minFrequency: UInt64) -> [Vocabulary.Merge] {
        var merges: [Vocabulary.Merge] = []
        var touched: [Int] = []
        var isTouched: [Bool] = []
        var positions: [Int32] = []
        self.minFrequency = max(1, minFrequency)
        rebuildHeap()
        while tokens.count < size, let top = popMax() {
            let pair = Int(top.pair)
            if top.count != pairCount[pair] {
                if pairCount[pair] >= self.minFrequency { push((pairCount[pair], top.pair)) }
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

            // Collect the pair's positions: its initial run, then its list, whose entries
            // are recycled.
            positions.removeAll(keepingCapacity: true)
            if pair < initialStart.count, initialStart[pair] < initialEnd[pair] {
                positions.append(contentsOf: initialPositions[Int(initialStart[pair])..<Int(initialEnd[pair])])
                initialEnd[pair] = initialStart[pair]
            }
            var entry = pairHead[pair]
            while entry >= 0 {
                positions.append(occurrencePosition[Int(entry)])
                let following = occurrenceNext[Int(entry)]
                occurrenceNext[Int(entry)] = freeOccurrence
                freeOccurrence = entry
                entry = following
            }
            pairHead[pair] = -1
            // Leftmost first within a piece, as the encoder merges. An initial run alone is
            // already increasing: check before paying for a sort.
            var ordered = true
            for k in positions.indices.dropFirst() where positions[k - 1] > positions[k] { ordered = false; break }
            if !ordered { positions.sort() }
            for position32 in positions {
                let position = Int(position32)
                let q = next(position)
                guard q >= 0, symbols[position] == left, symbols[q] == right else { continue }
                let w = pieceCount[Int(pieceOf[position])]
                let before = prev(position), after = next(q)
                if before >= 0 { pairCount[pairID(symbols[before], left)] -= w }
                if after >= 0 { pairCount[pairID(right, symbols[after])] -= w }
                pairCount[pair] -= w
                symbols[position] = result
                nextDistance[position] = after >= 0 ? UInt8(after - position) : 0
                if after >= 0 { prevDistance[after] = UInt8(after - position) }
                nextDistance[q] = 0; prevDistance[q] = 0
                symbols[q] = -1
                if before >= 0 {
                    let p = pairID(symbols[before], result)
                    pairCount[p] += w
                    addOccurrence(p, Int32(before))
                    mark(p, &touched, &isTouched)
                }
                if after >= 0 {
                    let p = pairID(result, symbols[after])
                    pairCount[p] += w
                    addOccurrence(p, Int32(position))
                    mark(p, &touched, &isTouched)
                }
            }
            for p in touched {
                isTouched[p] = false
                if pairCount[p] >= self.minFrequency { push((pairCount[p], Int32(p))) }
            }
            touched.removeAll(keepingCapacity: true)
            // Stale entries (pairs whose count fell since they were pushed) only cost memory:
            // drop them all when they outnumber the live pairs.
            if heap.count > livePairs + livePairs / 2 + (1 << 16) { rebuildHeap() }
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

    /// One entry per pair that could still be merged (at least `minFrequency`
    /// occurrences), at its current count. Rarer pairs join when a merge raises their count.
    private mutating func rebuildHeap() {
        heap.removeAll(keepingCapacity: false)
        for pair in 0..<pairCount.count where pairCount[pair] >= minFrequency { heap.append((pairCount[pair], Int32(pair))) }
        livePairs = heap.count
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
