import Foundation
import Testing
@testable import Classification

@Test func everyRunOfUpToOrderIdsGetsOneRow() {
    let ngrams = TokenNgrams(order: 3, buckets: 1 << 20)
    var rows: [Int32] = []
    ngrams.append([5, 9, 5, 9], to: &rows)
    // Starts 0 and 1 give 3 n-grams, start 2 two, start 3 one.
    #expect(rows.count == 3 + 3 + 2 + 1)
    #expect(rows.allSatisfy { $0 >= 0 && $0 < 1 << 20 })
    // The same n-gram wherever it stands gets the same row: "5", "5 9" at starts 0 and 2.
    #expect(rows[0] == rows[6] && rows[1] == rows[7])
    // Order matters: "5 9" and "9 5" differ, and so do "5" and "5 5".
    var other: [Int32] = []
    ngrams.append([9, 5, 5], to: &other)
    #expect(other[1] != rows[1])
    #expect(other[3] != other[4] || other[3] != rows[0])
    var none: [Int32] = []
    ngrams.append([], to: &none)
    #expect(none.isEmpty)
}

@Test func theHashIsFixedAcrossProcessesAndVersions() {
    // A saved classifier finds its table rows through this function: changing it silently
    // breaks every saved model, so its output is pinned: these rows come from an independent
    // implementation of the definition (FNV-1a steps over the ids, the length mixed in,
    // SplitMix64's finalizer, modulo the buckets).
    var rows: [Int32] = []
    TokenNgrams(order: 2, buckets: 1000).append([0, 1, 7999], to: &rows)
    #expect(rows == [270, 66, 299, 268, 828])
}

@Test func specsWrittenBeforeNgramsReadAsNone() throws {
    let old = #"{"labels":["a","b"],"max_tokens":8,"model":{"dropout":0,"embedding_size":4,"layers":[{"hidden":4,"type":"lstm"}],"max_sequence_length":16,"tie_embeddings":false,"vocab_size":10}}"#
    let spec = try JSONDecoder().decode(ClassifierSpec.self, from: Data(old.utf8))
    #expect(spec.ngramBuckets == 0 && spec.ngrams == nil && spec.simplifyLinks)
}
