import DefaultVocabulary
import Testing
import TestSupport
@testable import Text

@Suite struct DefaultVocabularyTests {
    @Test(arguments: [(DefaultVocabulary.small, 8000), (DefaultVocabulary.large, 32000)])
    func bundledVocabulariesLoad(name: String, size: Int) throws {
        let path = try #require(DefaultVocabulary.path(name))
        let v = try VocabularyFile.read(path: path)
        #expect(v.count == size)
        #expect(v.specialID("<eos>") != nil)
        let tokenizer = try Tokenizer(vocabulary: v)
        for probe in Fixtures.probes {
            #expect(try tokenizer.decode(tokenizer.encode(probe).ids) == Array(probe.utf8))
        }
    }

    /// The encoder against the plain reference on the 32,000-entry vocabulary, whose long
    /// Chinese merges and large merge table the small test vocabulary does not exercise:
    /// random texts made of its own tokens, so that long merge chains apply.
    @Test func largeVocabularyEncodesAsThePlainReference() throws {
        let path = try #require(DefaultVocabulary.path(DefaultVocabulary.large))
        let v = try VocabularyFile.read(path: path)
        let tokenizer = try Tokenizer(vocabulary: v)
        let words = v.kinds.indices.filter { v.kinds[$0] == .merge || v.kinds[$0] == .character }
            .map { v.tokens[$0] }.filter { UTF8Bytes.firstInvalidOffset($0) == nil }
        var rng = SeededGenerator(seed: 7)
        for _ in 0..<60 {
            var bytes: [UInt8] = []
            for _ in 0..<(1 + rng.next(upTo: 24)) { bytes += words[rng.next(upTo: words.count)] }
            let text = String(decoding: bytes, as: Unicode.UTF8.self)
            #expect(try tokenizer.encode(text).ids == ReferenceBPE.encode(text, v), "\(text)")
        }
    }
}
