import CMallocCounter
import Foundation
import Testing
import TestSupport
@testable import Text

/// Collects what `LineTokenizer` writes.
final class CollectedOutput: OutputSink {
    var bytes: [UInt8] = []
    func write(_ bytes: [UInt8]) { self.bytes += bytes }
    func flush() {}
}

/// Drops what `LineTokenizer` writes, without allocating.
final class DiscardedOutput: OutputSink {
    var count = 0
    func write(_ bytes: [UInt8]) { count += bytes.count }
    func flush() {}
}

@Suite struct LineTokenizerTests {
    static let tokenizer = Result { try Tokenizer(vocabulary: Fixtures.vocabulary()) }

    /// `lines` random lines of the fixtures' text, probes and CRLF, some empty, the last one
    /// ("end") without a line break.
    static func randomText(lines: Int, seed: UInt64) -> [UInt8] {
        var rng = SeededGenerator(seed: seed)
        let pool = Fixtures.lines + Fixtures.probes.filter { !$0.contains("\n") && !$0.contains("\u{0}") } + ["", "crlf\r"]
        return Array(((1..<lines).map { _ in pool[rng.next(upTo: pool.count)] } + ["end"]).joined(separator: "\n").utf8)
    }

    /// Where `a` and `b` first differ (or nil), rather than both arrays in a failure message.
    static func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> Int? {
        zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? (a.count == b.count ? nil : min(a.count, b.count))
    }

    /// Through a small buffer (hundreds of batches, lines across the buffer's end) and on
    /// 1, 2 and 3 threads, the output is each line's ids, one line each, in input order.
    @Test(arguments: [1, 2, 3])
    func outputIsEveryLineInOrder(threads: Int) throws {
        let tokenizer = try Self.tokenizer.get()
        let input = Self.randomText(lines: 3000, seed: UInt64(threads))
        var expected: [UInt8] = []
        for line in input.split(separator: 0x0A, omittingEmptySubsequences: false) {
            expected += Array(try tokenizer.encode(Array(line)).ids.map(String.init).joined(separator: " ").utf8) + [0x0A]
        }
        let pipe = LineReaderTests.pipe(input)
        var options = LineReader.Options()
        options.blockBytes = 1 << 10
        options.deferChecks = true
        var job = LineTokenizer(tokenizer: tokenizer, format: .ids, threads: threads)
        let output = CollectedOutput()
        try job.run(reader: LineReader(fileDescriptor: pipe.fileHandleForReading.fileDescriptor, options: options), output: output)
        #expect(Self.firstDifference(output.bytes, expected) == nil)
        #expect(job.statistics.lines == 3000)
        #expect(job.statistics.bytes == input.count - 2999)
    }

    /// An error in a line encoded by a later thread stops the batch before any of its output
    /// is written, and names the line and the offset in the input.
    @Test func invalidUTF8OnAWorkerThreadNamesTheLine() throws {
        var input = Self.randomText(lines: 400, seed: 7)
        input.append(0x0A)
        let offset = input.count + 3
        input += Array("bad".utf8) + [0xC3, 0x28] + Array("\nafter\n".utf8)
        let pipe = LineReaderTests.pipe(input)
        var options = LineReader.Options()
        options.deferChecks = true
        var job = LineTokenizer(tokenizer: try Self.tokenizer.get(), format: .ids, threads: 2)
        let output = CollectedOutput()
        #expect(throws: LineReader.InputError.invalidUTF8(line: 401, offset: offset)) {
            try job.run(reader: LineReader(fileDescriptor: pipe.fileHandleForReading.fileDescriptor, options: options),
                        output: output)
        }
        #expect(output.bytes.isEmpty)
    }

    /// Once its buffers have grown, encoding a batch makes the same number of allocations
    /// however many lines it has: the per-line loop allocates nothing. (One thread, so
    /// the loop runs on this thread, where the allocations are counted.)
    @Test func encodingABatchAllocatesNothingPerLine() throws {
        let lines = Self.randomText(lines: 200, seed: 5).split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
        let short = LineReader.Batch(lines: lines), long = LineReader.Batch(lines: Array(repeating: lines, count: 8).flatMap { $0 })
        var job = LineTokenizer(tokenizer: try Self.tokenizer.get(), format: .ids, threads: 1)
        let output = DiscardedOutput()
        for _ in 0..<2 { try job.process(long, into: output) }
        func allocations(_ batch: LineReader.Batch) throws -> UInt {
            let before = malloc_counter_thread_calls()
            try job.process(batch, into: output)
            return malloc_counter_thread_calls() - before
        }
        let a = try allocations(short), b = try allocations(long)
        #expect(a == b, "\(a) allocations for \(short.count) lines, \(b) for \(long.count)")
    }
}
