import Foundation
import Testing
import CMallocCounter
import TestSupport
@testable import Text

@Suite struct LineReaderTests {
    /// A pipe that delivers `bytes` and then the end of input, written from another thread
    /// (a pipe holds only 64 KiB), so the reader sees short reads, as from standard input.
    static func pipe(_ bytes: [UInt8]) -> Pipe {
        let pipe = Pipe()
        let writer = pipe.fileHandleForWriting
        Thread.detachNewThread {
            writer.write(Data(bytes))
            try? writer.close()
        }
        return pipe
    }

    /// Reads `bytes` through a pipe with the given options; returns the first error thrown
    /// by the reader or by the deferred per-line checks.
    func firstError(_ bytes: [UInt8], _ options: LineReader.Options) -> LineReader.InputError? {
        let pipe = Self.pipe(bytes)
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
        let pipe = Self.pipe(bytes)
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

    /// Eager and deferred checks cut the same lines, across reads of any size.
    @Test func eagerAndDeferredChecksHoldTheSameLines() {
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

    /// The input split at every `\n` (with it when `keep`); the piece after the last `\n`
    /// is a line unless it is empty.
    static func plainSplit(_ input: [UInt8], keep: Bool) -> [[UInt8]] {
        var lines: [[UInt8]] = [], start = 0
        for (i, byte) in input.enumerated() where byte == 0x0A {
            lines.append(Array(input[start..<(keep ? i + 1 : i)]))
            start = i + 1
        }
        if start < input.count { lines.append(Array(input[start...])) }
        return lines
    }

    /// Batches are runs of lines in place in the input as read: for random inputs (CRLF,
    /// empty lines, lines longer than the buffer, a last line with or without a break) and
    /// random buffer and batch sizes, the lines are the input's, in order, each batch's bytes
    /// are the input from `firstOffset` on, line breaks included, and the offsets, line
    /// numbers and byte counts agree with the input. Every batch is kept to the end: the
    /// reader must not overwrite bytes a live batch holds.
    @Test(arguments: [false, true])
    func batchesAreTheInputInPlace(keepLineBreaks: Bool) throws {
        var rng = SeededGenerator(seed: 11)
        let pieces: [[UInt8]] = [Array("a".utf8), Array("中文".utf8), Array("\n".utf8), Array("\r\n".utf8),
                                 Array("\n\n".utf8), Array("long line of text ".utf8),
                                 Array(String(repeating: "长行", count: 40).utf8)]
        for _ in 0..<300 {
            var input: [UInt8] = []
            for _ in 0..<rng.next(upTo: 40) { input += pieces[rng.next(upTo: pieces.count)] }
            if input.isEmpty { continue }
            var options = LineReader.Options()
            options.blockBytes = 1 + rng.next(upTo: 48)
            options.keepLineBreaks = keepLineBreaks
            options.deferChecks = rng.next(upTo: 2) == 0
            let target = 1 + rng.next(upTo: 96)
            let file = try temporaryFile(input)
            defer { unlink(file) }
            let fd = open(file, O_RDONLY)
            defer { close(fd) }
            var reader = LineReader(fileDescriptor: fd, options: options)
            var batches: [LineReader.Batch] = []
            while let batch = try reader.nextBatch(targetBytes: target) { batches.append(batch) }

            var lines: [[UInt8]] = [], lineBytes = 0
            for batch in batches {
                #expect(batch.firstLine == lines.count + 1)
                let bytes = batch.withBytes { Array($0) }
                #expect(bytes == Array(input[batch.firstOffset..<batch.firstOffset + batch.byteCount]))
                for k in 0..<batch.count {
                    let line = batch.line(k)
                    #expect(Array(input[(batch.firstOffset + batch.lineStarts[k])...].prefix(line.count)) == line)
                    lines.append(line)
                }
                lineBytes += batch.lineBytes
            }
            let expected = Self.plainSplit(input, keep: keepLineBreaks)
            #expect(lines == expected)
            #expect(lineBytes == expected.reduce(0) { $0 + $1.count })
            #expect(reader.bytesRead == input.count)
        }
    }

    /// A line far longer than the buffer arrives whole, the buffer grows no further than
    /// the longest line allowed, and a longer line is refused with its number.
    @Test func hugeLinesGrowTheBufferWithinTheLimit() throws {
        let huge = [UInt8](repeating: 0x61, count: 100_000)
        let input = Array("first\n".utf8) + huge + Array("\nlast".utf8)
        var options = LineReader.Options()
        options.blockBytes = 64
        options.maxLineBytes = 150_000
        let (lines, _, error) = read(input, options, targetBytes: 1 << 20)
        #expect(error == nil)
        #expect(lines.map(\.count) == [5, huge.count, 4])
        #expect(Bool(lines == [Array("first".utf8), huge, Array("last".utf8)]))

        let file = try temporaryFile(input)
        defer { unlink(file) }
        let fd = open(file, O_RDONLY)
        defer { close(fd) }
        var reader = LineReader(fileDescriptor: fd, options: options)
        while try reader.nextBatch(targetBytes: 16) != nil {}
        #expect(reader.bufferCapacity <= options.maxLineBytes + 1)

        options.maxLineBytes = 99_999
        #expect(read(input, options, targetBytes: 1 << 20).error == .lineTooLong(line: 2, limit: 99_999))
        #expect(read(Array(huge), options, targetBytes: 1 << 20).error == .lineTooLong(line: 1, limit: 99_999))
    }

    @Test func emptyInputIsRefusedButAnEmptyLineIsALine() {
        #expect(read([], .init(), targetBytes: 16).error == .empty)
        let one = read(Array("\n".utf8), .init(), targetBytes: 16)
        #expect(one.error == nil && one.lines == [[]])
    }

    /// Invalid UTF-8 in the middle of a batch: strict names its line and input offset;
    /// replace repairs that line only, and the batch is still the input's lines in order,
    /// line breaks included when kept.
    @Test(arguments: [false, true])
    func invalidUTF8InTheMiddleIsRefusedOrReplaced(keepLineBreaks: Bool) {
        let input = Array("one\r\ntwo\nth".utf8) + [0xFF] + Array("ree\nfour".utf8)
        var options = LineReader.Options()
        options.keepLineBreaks = keepLineBreaks
        options.blockBytes = 8
        #expect(read(input, options, targetBytes: 1 << 20).error == .invalidUTF8(line: 3, offset: 11))
        options.invalidUTF8 = .replace
        let replaced = read(input, options, targetBytes: 1 << 20)
        let expected = Self.plainSplit(Array("one\r\ntwo\nth\u{FFFD}ree\nfour".utf8), keep: keepLineBreaks)
        #expect(replaced.error == nil)
        #expect(replaced.lines == expected)
        #expect(replaced.bytes == expected.reduce(0) { $0 + $1.count })
    }

    /// Once the reader's buffers have grown, reading a batch allocates nothing: no copy of
    /// the lines, and the line tables of the batch before are reused.
    @Test func steadyStateBatchesAllocateNothing() throws {
        let line = Array("人民日报报道，经济稳定增长。The quick brown fox.\n".utf8)
        let file = try temporaryFile(Array([[UInt8]](repeating: line, count: 20_000).joined()))
        defer { unlink(file) }
        let fd = open(file, O_RDONLY)
        defer { close(fd) }
        var options = LineReader.Options()
        options.blockBytes = 256 << 10
        options.deferChecks = true
        var reader = LineReader(fileDescriptor: fd, options: options)
        for _ in 0..<2 { _ = try reader.nextBatch(targetBytes: 64 << 10) }
        let before = malloc_counter_thread_calls()
        var lines = 0
        for _ in 0..<5 { lines += try #require(try reader.nextBatch(targetBytes: 64 << 10)).count }
        #expect(malloc_counter_thread_calls() - before == 0)
        #expect(lines > 5000)
    }

    func temporaryFile(_ bytes: [UInt8]) throws -> String {
        var template = Array((NSTemporaryDirectory() + "/linereader-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw LineReader.InputError.readFailed("mkstemp") }
        defer { close(fd) }
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        return String(cString: template)
    }
}
