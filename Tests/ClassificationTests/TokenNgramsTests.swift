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

@Test func hanRunsAddTheirCharacterNgrams() {
    let ngrams = TokenNgrams(order: 1, buckets: 1 << 20, hanOrder: 2)
    var rows: [Int32] = []
    ngrams.appendHanRows(of: "好书 and 太好", to: &rows)
    // "好", "好书", "书", then "太", "太好", "好": no n-gram spans the Latin text between runs.
    #expect(rows.count == 6)
    #expect(rows[0] == rows[5])
    #expect(Set(rows).count == 5)
    rows = []
    ngrams.appendHanRows(of: "no Han here, ，。！ 123", to: &rows)
    #expect(rows.isEmpty)
}

@Test func hanNgramsComeFromTheTextTheIdsSpell() {
    let pieces = [Array("好".utf8), Array("书".utf8), Array("a".utf8), Array("太好".utf8)]
    let ids: [Int32] = [0, 1, 2, 3]
    let plain = TokenNgrams(order: 2, buckets: 1 << 20)
    #expect(plain.rows(of: ids, pieces: pieces) == plain.rows(of: ids))
    let withHan = TokenNgrams(order: 2, buckets: 1 << 20, hanOrder: 2)
    var han: [Int32] = []
    withHan.appendHanRows(of: "好书a太好", to: &han)
    #expect(withHan.rows(of: ids, pieces: pieces) == plain.rows(of: ids) + han)
}

@Test func theHanHashIsPinnedToo() {
    // From an independent implementation: FNV-1a steps over the code points from their own
    // basis, the length mixed in, SplitMix64's finalizer, modulo the buckets.
    var rows: [Int32] = []
    TokenNgrams(order: 1, buckets: 1000, hanOrder: 2).appendHanRows(of: "好书,太好", to: &rows)
    #expect(rows == [986, 399, 949, 34, 227, 986])
}

@Test func specsWrittenBeforeHanNgramsReadAsNone() throws {
    let old = #"{"labels":["a","b"],"max_tokens":8,"ngram_buckets":64,"ngram_order":2,"model":{"dropout":0,"embedding_size":4,"layers":[{"hidden":4,"type":"lstm"}],"max_sequence_length":16,"tie_embeddings":false,"vocab_size":10}}"#
    let spec = try JSONDecoder().decode(ClassifierSpec.self, from: Data(old.utf8))
    #expect(spec.ngrams == TokenNgrams(order: 2, buckets: 64, hanOrder: 0))
    var bad = spec
    bad.hanNgramOrder = 99
    #expect(throws: ClassificationError.self) { try bad.validate() }
}

@Test func noScalarBelowTheFirstUnifiedIdeographIsOne() {
    // `TokenNgrams.isHan` skips the property lookup below U+3400 (CJK Extension A).
    #expect((0..<0x3400).compactMap(Unicode.Scalar.init).allSatisfy { !$0.properties.isUnifiedIdeograph })
    #expect(Unicode.Scalar(0x3400)!.properties.isUnifiedIdeograph)
}

/// The Han n-grams skip the property lookup for U+4E00-U+9FFF, which must all be unified
/// ideographs in the library's Unicode data, or saved classifiers would find other rows.
@Test func theWholeMainIdeographBlockIsUnified() {
    #expect((0x4E00...0x9FFF).allSatisfy { Unicode.Scalar(UInt32($0))!.properties.isUnifiedIdeograph })
}
