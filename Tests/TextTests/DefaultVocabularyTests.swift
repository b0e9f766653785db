import DefaultVocabulary
import Testing
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
}
