import Foundation
import Testing
import TestSupport
@testable import Text

@Suite struct LineReaderTests {
    /// Reads `bytes` through a pipe with the given options; returns the first error thrown
    /// by the reader or by the deferred per-line checks.
    func firstError(_ bytes: [UInt8], _ options: LineReader.Options) -> LineReader.InputError? {
        let pipe = Pipe()
        pipe.fileHandleForWriting.write(Data(bytes))
        try? pipe.fileHandleForWriting.close()
        var reader = LineReader(fileDescriptor: pipe.fileHandleForReading.fileDescriptor, options: options)
        do {
            while let batch = try reader.nextBatch(targetBytes: 16) {
                for k in 0..<batch.count { try batch.checkLine(k) }
            }
        } catch let error as LineReader.InputError {
            return error
        } catch {
            return .readFailed("\(error)")
        }
        return nil
    }

    @Test(arguments: [false, true])
    func deferredChecksReportTheSamePlaceAsEagerOnes(keepLineBreaks: Bool) {
        let bad: [UInt8] = Array("first line\nsecond 中文\nthird ".utf8) + [0xE4, 0xB8] + Array("x\nfourth\n".utf8)
        let nul: [UInt8] = Array("ok\nalso ok\nbin".utf8) + [0] + Array("ary\n".utf8)
        for input in [bad, nul] {
            var eager = LineReader.Options()
            eager.keepLineBreaks = keepLineBreaks
            var deferred = eager
            deferred.deferChecks = true
            let a = firstError(input, eager), b = firstError(input, deferred)
            #expect(a != nil)
            #expect(a == b)
        }
        #expect(firstError(bad, .init()) == .invalidUTF8(line: 3, offset: 31))  // 11 + 14 + 6 bytes before it
    }

    @Test func crlfStaysInTheLineAndTheLastLineNeedsNoBreak() throws {
        let pipe = Pipe()
        pipe.fileHandleForWriting.write(Data("a\r\nb\nlast".utf8))
        try pipe.fileHandleForWriting.close()
        var reader = LineReader(fileDescriptor: pipe.fileHandleForReading.fileDescriptor)
        let batch = try #require(try reader.nextBatch())
        #expect((0..<batch.count).map { Array(batch.line($0)) } == [Array("a\r".utf8), Array("b".utf8), Array("last".utf8)])
        #expect(try reader.nextBatch() == nil)
    }

    /// Every line (number, bytes and byte count) or error that `options` make of `bytes`.
    func read(_ bytes: [UInt8], _ options: LineReader.Options, targetBytes: Int) -> (lines: [[UInt8]], bytes: Int, error: LineReader.InputError?) {
        let pipe = Pipe()
        pipe.fileHandleForWriting.write(Data(bytes))
        try? pipe.fileHandleForWriting.close()
        var reader = LineReader(fileDescriptor: pipe.fileHandleForReading.fileDescriptor, options: options)
        var lines: [[UInt8]] = [], count = 0
        do {
            while let batch = try reader.nextBatch(targetBytes: targetBytes) {
                #expect(batch.firstLine == lines.count + 1)
                for k in 0..<batch.count { lines.append(Array(batch.line(k))) }
                count += batch.lineBytes
            }
        } catch {
            return (lines, count, error as? LineReader.InputError)
        }
        return (lines, count, nil)
    }

    /// Deferred checks take the verbatim path (whole runs of lines copied at once); it must
    /// cut the same lines as the line-by-line path, across reads of any size.
    @Test func verbatimBatchesHoldTheSameLines() {
        var rng = SeededGenerator(seed: 3)
        let pieces: [[UInt8]] = [Array("a".utf8), Array("中文".utf8), Array("\n".utf8), Array("\r\n".utf8),
                                 Array("\n\n".utf8), Array("long line of text ".utf8)]
        for trial in 0..<200 {
            var input: [UInt8] = []
            for _ in 0..<rng.next(upTo: 40) { input += pieces[rng.next(upTo: pieces.count)] }
            var eager = LineReader.Options()
            eager.blockBytes = 1 + rng.next(upTo: 24)
            eager.maxLineBytes = trial % 4 == 0 ? 30 : 1 << 20
            var deferred = eager
            deferred.deferChecks = true
            let target = 1 + rng.next(upTo: 64)
            let a = read(input, eager, targetBytes: target), b = read(input, deferred, targetBytes: target)
            #expect(a.error == b.error)
            // After an error, which batches came before it depends on where batches end.
            if a.error == nil {
                #expect(a.lines == b.lines)
                #expect(a.bytes == b.bytes)
            }
        }
    }
}
