import Testing
import TestSupport
@testable import Text

/// Random bytes and random Unicode through every stage that sees untrusted text: the
/// validator, the repairer, the normalizer, the pre-tokenizer, the encoder and decoder,
/// the streaming decoder and the vocabulary reader. Each case must end in a clean error or
/// an exact round trip, never a crash.
@Suite struct FuzzTests {
    static let tokenizer = try! Tokenizer(vocabulary: Fixtures.vocabulary())

    /// Scalars drawn from every region that has caused trouble somewhere: ASCII controls,
    /// combining marks, Hangul jamo, surrogate neighbours, CJK extensions, emoji and their
    /// modifiers, tags, private use and noncharacters.
    static let pools: [ClosedRange<UInt32>] = [
        0x00...0x7F, 0x80...0x24F, 0x300...0x36F, 0x1100...0x11FF, 0x2000...0x206F, 0x3000...0x30FF,
        0x4E00...0x9FFF, 0xAC00...0xD7A3, 0xD7FC...0xD7FF, 0xE000...0xE0FF, 0xFE00...0xFE0F, 0xFF00...0xFFEF,
        0xFFF0...0xFFFF, 0x1F1E6...0x1F1FF, 0x1F300...0x1FAFF, 0x20000...0x2A6DF, 0xE0000...0xE01EF,
        0xF0000...0xF00FF, 0x10FFF0...0x10FFFF,
    ]

    static func randomText(_ rng: inout SeededGenerator, maxScalars: Int) -> [UInt8] {
        var s = String.UnicodeScalarView()
        for _ in 0..<rng.next(upTo: maxScalars + 1) {
            let pool = pools[rng.next(upTo: pools.count)]
            let value = pool.lowerBound + UInt32(rng.next(upTo: Int(pool.upperBound - pool.lowerBound) + 1))
            if let scalar = Unicode.Scalar(value) { s.append(scalar) }
        }
        return Array(String(s).utf8)
    }

    @Test func randomUnicodeRoundTripsThroughTheEncoder() throws {
        var rng = SeededGenerator(seed: 2024)
        var encoder = Encoder(Self.tokenizer)
        var encoding = Encoding()
        for _ in 0..<150_000 {
            let text = Self.randomText(&rng, maxScalars: 24)
            encoding.removeAll()
            try text.withUnsafeBufferPointer { try encoder.encode($0, into: &encoding) }
            #expect(try Self.tokenizer.decode(encoding.ids) == text)
            #expect(encoding.ends.last ?? 0 == text.count)
        }
    }

    @Test func randomBytesAreValidatedRepairedOrEncoded() throws {
        var rng = SeededGenerator(seed: 99)
        var encoder = Encoder(Self.tokenizer)
        var encoding = Encoding()
        let normalizer = Normalizer(form: .nfkcCasefold)
        for _ in 0..<150_000 {
            var bytes = [UInt8](repeating: 0, count: rng.next(upTo: 16))
            for i in bytes.indices {
                // Bias toward bytes that start or continue multi-byte sequences.
                bytes[i] = rng.next(upTo: 2) == 0 ? UInt8(0x80 + rng.next(upTo: 0x80)) : UInt8(rng.next(upTo: 256))
            }
            let bad = UTF8Bytes.firstInvalidOffset(bytes)
            encoding.removeAll()
            do {
                try bytes.withUnsafeBufferPointer { try encoder.encode($0, into: &encoding) }
                #expect(bad == nil)
                #expect(try Self.tokenizer.decode(encoding.ids) == bytes)
            } catch let error as UTF8Bytes.InvalidError {
                #expect(error.offset == bad)
            }
            let (fixed, replacements) = bytes.withUnsafeBufferPointer { UTF8Bytes.repaired($0) }
            #expect(UTF8Bytes.firstInvalidOffset(fixed) == nil)
            #expect((replacements == 0) == (bad == nil))
            let normalized = try normalizer.normalize(fixed)
            #expect(UTF8Bytes.firstInvalidOffset(normalized.bytes) == nil)
        }
    }

    @Test func streamingDecoderOutputIsAlwaysValidUTF8() throws {
        var rng = SeededGenerator(seed: 5)
        let v = Self.tokenizer.vocabulary
        for _ in 0..<20_000 {
            var decoder = StreamingDecoder(vocabulary: v)
            var out: [UInt8] = []
            for _ in 0..<rng.next(upTo: 12) {
                let chunk = try decoder.push(Int32(rng.next(upTo: v.count)))
                #expect(UTF8Bytes.firstInvalidOffset(chunk) == nil)
                out += chunk
            }
            out += decoder.finish()
            #expect(UTF8Bytes.firstInvalidOffset(out) == nil)
        }
    }

    @Test func mutatedVocabularyFilesNeverCrashTheReader() {
        var rng = SeededGenerator(seed: 77)
        let good = VocabularyFile.serialize(Self.tokenizer.vocabulary)
        var refused = 0, mutated = 0
        for _ in 0..<2_000 {
            var bytes = good
            switch rng.next(upTo: 3) {
            case 0: bytes = Array(bytes.prefix(rng.next(upTo: bytes.count)))
            case 1: for _ in 0...rng.next(upTo: 4) { bytes[rng.next(upTo: bytes.count)] = UInt8(rng.next(upTo: 256)) }
            default: bytes.insert(UInt8(rng.next(upTo: 256)), at: rng.next(upTo: bytes.count))
            }
            if bytes == good { continue }  // a byte replaced by itself
            mutated += 1
            if (try? VocabularyFile.parse(bytes)) == nil { refused += 1 }
        }
        #expect(mutated > 1_900)
        #expect(refused == mutated)  // every real change breaks the checksum or the structure
    }
}
