import Foundation
import Network
import Testing
import Text
import Training
@testable import Generation

@Suite struct GeneratorTests {
    static let text = "春眠不觉晓，处处闻啼鸟。The quick brown fox jumps over the lazy dog.\n"

    func generator(layers: [ModelConfig.Layer] = [.lstm(hidden: 16), .attention(heads: 2)], context: Int = 64) throws -> Generator {
        let vocabulary = try LanguageModelData.characterVocabulary([Array(Self.text.utf8)], threads: 1)
        let config = ModelConfig(vocabularySize: vocabulary.count, embeddingSize: 16, layers: layers,
                                 maxSequenceLength: context)
        return Generator(model: try Model<Float>(config: config, seed: 5), tokenizer: try Tokenizer(vocabulary: vocabulary))
    }

    func sample(_ g: Generator, prompt: String = "春眠", seed: UInt64, tokens: Int = 40, stops: [String] = []) throws -> (Generator.Result, [UInt8]) {
        var sampler = Sampler(settings: .init(temperature: 1), seed: seed)
        var streamed: [UInt8] = []
        let result = try g.generate(prompt: prompt, maxTokens: tokens, sampler: &sampler, stops: stops) { streamed += $0 }
        return (result, streamed)
    }

    @Test func aFixedSeedRepeatsTheSampleAndTheStreamIsTheText() throws {
        let g = try generator()
        let (a, streamedA) = try sample(g, seed: 3)
        let (b, _) = try sample(g, seed: 3)
        let (c, _) = try sample(g, seed: 4)
        #expect(a.text == b.text)
        #expect(a.text != c.text)
        #expect(streamedA == a.text)
        #expect(a.generatedTokens == 40)
        #expect(String(validating: a.text, as: UTF8.self) != nil)  // never half a character
    }

    @Test func anyPromptIsAccepted() throws {
        let g = try generator()
        for prompt in ["", "🙂 unseen ✓ 字", "\u{0}\u{7}", String(repeating: "x", count: 500)] {
            let (result, _) = try sample(g, prompt: prompt, seed: 1, tokens: 5)
            #expect(result.generatedTokens == 5)
        }
    }

    @Test func generationGoesOnPastTheAttentionContext() throws {
        let g = try generator(context: 8)
        let (result, _) = try sample(g, seed: 2, tokens: 50)
        #expect(result.generatedTokens == 50)
    }

    @Test func aStopStringEndsTheSampleAndIsNotEmitted() throws {
        let g = try generator(layers: [.lstm(hidden: 16)])
        let (free, _) = try sample(g, seed: 9, tokens: 60)
        let text = free.text
        // Stop at a piece of text the free sample contains past its start.
        let stop = Array(text[10..<12])
        let (stopped, streamed) = try sample(g, seed: 9, tokens: 60, stops: [String(decoding: stop, as: UTF8.self)])
        #expect(stopped.stopReason == "stop")
        #expect(streamed == stopped.text)
        let first = Generator.firstStop(text, [stop])!
        #expect(stopped.text == Array(text[..<first]))
    }

    @Test func bytesThatMayStartAStopWaitUntilDecided() {
        let stops = [Array("END".utf8)]
        #expect(Generator.longestStopPrefixSuffix(Array("abcEN".utf8), stops) == 2)
        #expect(Generator.longestStopPrefixSuffix(Array("abcE".utf8), stops) == 1)
        #expect(Generator.longestStopPrefixSuffix(Array("abc".utf8), stops) == 0)
        #expect(Generator.firstStop(Array("xxENDyyEND".utf8), stops) == 2)
    }
}
