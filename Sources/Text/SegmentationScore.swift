/// Word-segmentation precision, recall and F1 against a gold segmentation, the
/// span-based way (as in the SIGHAN bakeoff scoring): a predicted word is correct when
/// its [start, end) span over the same text equals the span of a gold word.
/// Counts accumulate over any number of lines; the scores are micro-averaged.
public struct SegmentationScore: Sendable, Equatable {
    public private(set) var goldWords = 0
    public private(set) var predictedWords = 0
    public private(set) var correctWords = 0

    public init() {}

    /// Adds one line: predicted and gold words as spans over the same text (any unit,
    /// e.g. UTF-8 byte offsets). Spans within each list must not repeat. O(n) when
    /// both lists are sorted by position, O(n log n) otherwise.
    public mutating func add(predicted: [Range<Int>], gold: [Range<Int>]) {
        let p = Self.sorted(predicted), g = Self.sorted(gold)
        var i = 0, j = 0, correct = 0
        while i < p.count && j < g.count {
            if p[i] == g[j] {
                correct += 1
                i += 1
                j += 1
            } else if Self.precedes(p[i], g[j]) {
                i += 1
            } else {
                j += 1
            }
        }
        predictedWords += p.count
        goldWords += g.count
        correctWords += correct
    }

    /// Merges the counts of another score (e.g. from another thread).
    public mutating func add(_ other: SegmentationScore) {
        goldWords += other.goldWords
        predictedWords += other.predictedWords
        correctWords += other.correctWords
    }

    /// Correct / predicted; 0 when nothing was predicted.
    public var precision: Double { predictedWords == 0 ? 0 : Double(correctWords) / Double(predictedWords) }
    /// Correct / gold; 0 when there are no gold words.
    public var recall: Double { goldWords == 0 ? 0 : Double(correctWords) / Double(goldWords) }
    /// Harmonic mean of precision and recall; 0 when both are 0.
    public var f1: Double {
        let p = precision, r = recall
        return p + r == 0 ? 0 : 2 * p * r / (p + r)
    }

    /// Splits a gold line whose words are separated by ASCII spaces into the text without
    /// the spaces and the words' byte spans in that text. Runs of spaces count as one
    /// separator, so there are no empty words. O(n).
    public static func goldWords(spaceSeparated line: some Collection<UInt8>)
        -> (text: [UInt8], words: [Range<Int>])
    {
        var text: [UInt8] = []
        text.reserveCapacity(line.count)
        var words: [Range<Int>] = []
        var start = 0
        for byte in line {
            if byte == 0x20 {
                if text.count > start { words.append(start..<text.count) }
                start = text.count
            } else {
                text.append(byte)
            }
        }
        if text.count > start { words.append(start..<text.count) }
        return (text, words)
    }

    private static func precedes(_ a: Range<Int>, _ b: Range<Int>) -> Bool {
        a.lowerBound != b.lowerBound ? a.lowerBound < b.lowerBound : a.upperBound < b.upperBound
    }

    private static func sorted(_ spans: [Range<Int>]) -> [Range<Int>] {
        for k in spans.indices.dropFirst() where !precedes(spans[k - 1], spans[k]) {
            return spans.sorted(by: precedes)
        }
        return spans
    }
}
