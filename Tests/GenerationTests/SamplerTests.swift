import Foundation
import Testing
@testable import Generation

@Suite struct SamplerTests {
    let logits: [Float] = [1.0, 3.0, 0.5, 2.9, -1.0, 2.0]

    func draws(_ settings: Sampler.Settings, _ n: Int, seed: UInt64 = 7) -> [Int32] {
        var sampler = Sampler(settings: settings, seed: seed)
        return (0..<n).map { _ in logits.withUnsafeBufferPointer { sampler.sample($0) } }
    }

    @Test func greedyTakesTheArgMaxAndTopOneIsGreedy() {
        #expect(Set(draws(.init(greedy: true), 50)) == [1])
        #expect(Set(draws(.init(temperature: 1, topK: 1), 50)) == [1])
    }

    @Test func frequenciesFollowTheSoftmaxAtTheTemperature() {
        for temperature: Float in [0.5, 1, 2] {
            let n = 40_000
            let counts = draws(.init(temperature: temperature), n).reduce(into: [Int](repeating: 0, count: logits.count)) { $0[Int($1)] += 1 }
            let weights = logits.map { exp(Double($0 / temperature)) }
            let total = weights.reduce(0, +)
            for i in logits.indices {
                #expect(abs(Double(counts[i]) / Double(n) - weights[i] / total) < 0.01, "T=\(temperature) id \(i)")
            }
        }
    }

    @Test func topKAndTopPKeepOnlyTheMostLikely() {
        #expect(Set(draws(.init(temperature: 1, topK: 2), 2000)) == [1, 3])
        // p(1) ≈ 0.36, p(3) ≈ 0.33: a nucleus of 0.5 needs both, of 0.3 only the first.
        #expect(Set(draws(.init(temperature: 1, topP: 0.5), 2000)) == [1, 3])
        #expect(Set(draws(.init(temperature: 1, topP: 0.3), 2000)) == [1])
    }

    @Test func aSeedFixesTheDrawsAndAnotherSeedChangesThem() {
        let a = draws(.init(temperature: 1), 100, seed: 1)
        #expect(a == draws(.init(temperature: 1), 100, seed: 1))
        #expect(a != draws(.init(temperature: 1), 100, seed: 2))
    }

    @Test func settingsOutOfRangeAreRefused() {
        #expect(throws: GenerationError.self) { try Sampler.Settings(temperature: 0).validate() }
        #expect(throws: GenerationError.self) { try Sampler.Settings(topK: -1).validate() }
        #expect(throws: GenerationError.self) { try Sampler.Settings(topP: 0).validate() }
        #expect(throws: GenerationError.self) { try Sampler.Settings(topP: 1.5).validate() }
        #expect(throws: Never.self) { try Sampler.Settings(temperature: 0, greedy: true).validate() }
    }
}
