/// Counts pre-tokenized pieces of a text stream, in bounded memory, on several threads.
///
/// Each thread counts into its own table. When a table holds more than its share of
/// `maxDistinctPieces`, the pieces seen only rarely so far are dropped (lossy counting):
/// the threshold starts at 1 and doubles each time pruning is needed, so the memory stays
/// bounded on inputs larger than RAM while frequent pieces keep exact counts. The pieces
/// dropped are reported in `prunedPieces`.
struct PieceCounter {
    struct Limits {
        var maxDistinctPieces = 2_000_000
        var threads = 2
    }

    private(set) var tables: [ByteStringTable]
    private var pruneThresholds: [UInt64]
    private let limits: Limits
    private let preTokenizer = PreTokenizer()
    private let userWords: PhraseMatcher
    private(set) var prunedPieces = 0
    private(set) var pieceCount = 0
    private(set) var byteCount = 0

    private let wordSplitters: [HanWordSplitter]?

    init(limits: Limits, userWords: [[UInt8]], splitChineseWords: Bool = false) throws {
        self.limits = limits
        let threads = max(1, limits.threads)
        wordSplitters = splitChineseWords ? try (0..<threads).map { _ in try HanWordSplitter() } : nil
        tables = (0..<threads).map { _ in ByteStringTable(capacity: 1 << 14) }
        pruneThresholds = Array(repeating: 1, count: threads)
        self.userWords = PhraseMatcher(phrases: userWords.map { (Int32(0), $0) })
    }

    /// Counts the pieces of `text`, which must be valid UTF-8 and end at a line break (or
    /// be the end of the input): pieces never cross the cut between two calls.
    mutating func add(_ text: UnsafeBufferPointer<UInt8>) {
        byteCount += text.count
        let cuts = Tokenizer.cutPoints(text, parts: tables.count)
        let parts = cuts.count - 1
        let perTableLimit = max(1024, limits.maxDistinctPieces / tables.count)
        if parts == 1 {
            pieceCount += Self.count(text, into: &tables[0], preTokenizer, wordSplitters?[0], userWords)
            prune(0, limit: perTableLimit)
            return
        }
        var counts = [Int](repeating: 0, count: parts)
        let preTokenizer = self.preTokenizer, userWords = self.userWords, splitters = self.wordSplitters
        tables.withUnsafeMutableBufferPointer { tablesBuffer in
            counts.withUnsafeMutableBufferPointer { countsBuffer in
                let t = tablesBuffer.baseAddress!, c = countsBuffer.baseAddress!
                parallelFor(parts) { part in
                    let slice = UnsafeBufferPointer(rebasing: text[cuts[part]..<cuts[part + 1]])
                    c[part] = Self.count(slice, into: &t[part], preTokenizer, splitters?[part], userWords)
                }
            }
        }
        pieceCount += counts.reduce(0, +)
        for k in 0..<parts { prune(k, limit: perTableLimit) }
    }

    private static func count(_ text: UnsafeBufferPointer<UInt8>, into table: inout ByteStringTable,
                              _ preTokenizer: PreTokenizer, _ wordSplitter: HanWordSplitter?,
                              _ userWords: PhraseMatcher) -> Int {
        guard let p = text.baseAddress else { return 0 }
        var pieces = 0
        func countPlain(_ s: Int, _ e: Int) {
            let part = UnsafeBufferPointer(start: p + s, count: e - s)
            let add = { (a: Int, b: Int) in
                table.add(p + s + a, b - a, 1)
                pieces += 1
            }
            if let wordSplitter {
                wordSplitter.forEachPiece(part, add)
            } else {
                preTokenizer.forEachPiece(part, add)
            }
        }
        if userWords.isEmpty {
            countPlain(0, text.count)
            return pieces
        }
        // User words are tokens of their own: the text between them is counted.
        var plainStart = 0, i = 0
        while i < text.count {
            if let match = userWords.longestMatch(p, i, text.count) {
                if plainStart < i { countPlain(plainStart, i) }
                i = match.end
                plainStart = i
            } else {
                i += 1
            }
        }
        if plainStart < text.count { countPlain(plainStart, text.count) }
        return pieces
    }

    private mutating func prune(_ k: Int, limit: Int) {
        while tables[k].count > limit {
            let threshold = pruneThresholds[k]
            let before = tables[k].count
            tables[k] = tables[k].filtered { $0 > threshold }
            prunedPieces += before - tables[k].count
            pruneThresholds[k] = threshold * 2
        }
    }

    /// All counted pieces with their counts, the per-thread tables summed; the counter
    /// is empty afterwards (its tables are released as they are merged).
    mutating func takeMerged() -> ByteStringTable {
        var total = tables[0]
        let others = tables.dropFirst()
        tables = []
        for table in others {
            table.arena.withUnsafeBufferPointer { a in
                guard let base = a.baseAddress else { return }
                for index in 0..<table.count {
                    let r = table.keyRange(at: index)
                    total.add(base + r.lowerBound, r.count, table[valueAt: index])
                }
            }
        }
        return total
    }
}
