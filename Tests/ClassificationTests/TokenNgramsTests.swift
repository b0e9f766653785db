import Foundation
import Testing
@testable import Classification

@Test func everyRunOfUpToOrderIdsGetsOneRow() {
    let ngrams = TokenNgrams(order: 3, buckets: 1 << 20)
    let rows = ngrams.rows(of: [5, 9, 5, 9])
    // Starts 0 and 1 give 3 n-grams, start 2 two, start 3 one.
    #expect(rows.count == 3 + 3 + 2 + 1)
    #expect(rows.allSatisfy { $0 >= 0 && $0 < 1 << 20 })
    // The same n-gram wherever it stands gets the same row: "5", "5 9" at starts 0 and 2.
    #expect(rows[0] == rows[6] && rows[1] == rows[7])
    // [9, 5, 5] gives "9", "9 5", "9 5 5", "5", "5 5", "5": order and length matter.
    let other = ngrams.rows(of: [9, 5, 5])
    #expect(other[1] != rows[1])                 // "9 5" is not "5 9"
    #expect(other[3] == rows[0] && other[5] == rows[0])
    #expect(other[4] != other[3])                // "5 5" is not "5"
    #expect(ngrams.rows(of: []).isEmpty)
}

@Test func theHashIsFixedAcrossProcessesAndVersions() {
    // A saved classifier finds its table rows through this function: changing it silently
    // breaks every saved model, so its output is pinned: these rows come from an independent
    // implementation of the definition (FNV-1a steps over the ids, the length mixed in,
    // SplitMix64's finalizer, modulo the buckets).
    #expect(TokenNgrams(order: 2, buckets: 1000).rows(of: [0, 1, 7999]) == [270, 66, 299, 268, 828])
}

@Test func specsWrittenBeforeNgramsReadAsNone() throws {
    let old = #"{"labels":["a","b"],"max_tokens":8,"model":{"dropout":0,"embedding_size":4,"layers":[{"hidden":4,"type":"lstm"}],"max_sequence_length":16,"tie_embeddings":false,"vocab_size":10}}"#
    let spec = try JSONDecoder().decode(ClassifierSpec.self, from: Data(old.utf8))
    #expect(spec.ngramBuckets == 0 && spec.ngrams == nil && spec.simplifyLinks)
}
