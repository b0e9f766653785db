import Foundation
import Testing
import TestSupport
@testable import Text

/// `LineReader.nextBlock` hands out whole lines uncut; the consumer cuts them into parts and
/// checks them on its own threads. Whatever the source (a pipe is read, a regular file is
/// mapped), the block size and the limits, the lines, their numbers and the first error must
/// be those that the line-by-line reader gives.
@Suite struct TextBlockTests {
    enum Source: CaseIterable { case pipe, file }

    /// A reader of `bytes` from a pipe or from a regular file; the file is removed at once
    /// (the open descriptor keeps it readable).
    func reader(_ bytes: [UInt8], from source: Source, _ options: LineReader.Options) throws -> LineReader {
        switch source {
        case .pipe:
            // A descriptor of its own (a `Pipe` object would close it when released); the
            // inputs fit in the pipe's buffer.
            var ends: [Int32] = [0, 0]
            #expect(pipe(&ends) == 0 && bytes.count < 60_000)
            #expect(bytes.withUnsafeBytes { write(ends[1], $0.baseAddress, $0.count) } == bytes.count)
            close(ends[1])
            return LineReader(fileDescriptor: ends[0], options: options)
        case .file:
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("textblock-\(UUID()).txt").path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let fd = open(path, O_RDONLY)
            unlink(path)
            return LineReader(fileDescriptor: fd, options: options)
        }
    }

    /// Every line with its number, or the first error, as batches of checked lines give them.
    func linesByBatch(_ bytes: [UInt8], _ options: LineReader.Options) throws -> (lines: [[UInt8]], error: LineReader.InputError?) {
        var reader = try reader(bytes, from: .pipe, options)
        var lines: [[UInt8]] = []
        do {
            while let batch = try reader.nextBatch(targetBytes: 7) {
                for k in 0..<batch.count {
                    try batch.checkLine(k)
                    lines.append(Array(batch.line(k)))
                }
            }
        } catch let error as LineReader.InputError {
            return (lines, error)
        }
        return (lines, nil)
    }

    /// The same through blocks cut into `parts` parts, checking each part's line numbers.
    func linesByBlock(_ bytes: [UInt8], from source: Source, _ options: LineReader.Options, targetBytes: Int,
                      parts: Int) throws -> (lines: [[UInt8]], error: LineReader.InputError?, bytes: Int) {
        var reader = try reader(bytes, from: source, options)
        var lines: [[UInt8]] = [], lineBytes = 0
        do {
            while let block = try reader.nextBlock(targetBytes: targetBytes) {
                #expect(block.firstLine == lines.count + 1)
                let cut = block.parts(parts)
                #expect(cut.count <= parts && cut.first?.bytes.lowerBound == 0 && cut.last?.bytes.upperBound == block.bytes.count)
                for (part, next) in zip(cut, cut.dropFirst()) { #expect(part.bytes.upperBound == next.bytes.lowerBound) }
                var count = 0
                for part in cut {
                    #expect(part.firstLine == block.firstLine + count)
                    try block.forEachLine(in: part) { line, number in
                        #expect(number == lines.count + 1)
                        lines.append(Array(line))
                        count += 1
                    }
                }
                #expect(count == block.lineCount)
                lineBytes += block.lineBytes
            }
        } catch let error as LineReader.InputError {
            return (lines, error, lineBytes)
        }
        return (lines, nil, lineBytes)
    }

    @Test(arguments: Source.allCases)
    func blocksHoldTheLinesOfTheLineReader(source: Source) throws {
        var rng = SeededGenerator(seed: 11)
        let pieces: [[UInt8]] = [Array("a".utf8), Array("中文".utf8), Array("\n".utf8), Array("\r\n".utf8),
                                 Array("\n\n".utf8), Array("long line of text ".utf8), [0xE4, 0xB8], [0]]
        for trial in 0..<300 {
            var input: [UInt8] = []
            // Bad bytes (a cut UTF-8 sequence, NUL) in a fifth of the inputs.
            let choices = trial % 5 == 0 ? pieces.count : pieces.count - 2
            for _ in 0..<rng.next(upTo: 60) { input += pieces[rng.next(upTo: choices)] }
            var options = LineReader.Options()
            options.deferChecks = true
            options.blockBytes = 1 + rng.next(upTo: 24)
            options.maxLineBytes = trial % 4 == 0 ? 30 : 1 << 20
            let expected = try linesByBatch(input, options)
            do {
                let got = try linesByBlock(input, from: source, options, targetBytes: 1 + rng.next(upTo: 64),
                                           parts: 1 + rng.next(upTo: 5))
                #expect(got.error == expected.error, "trial \(trial)")
                if expected.error == nil {
                    #expect(got.lines == expected.lines, "trial \(trial)")
                    #expect(got.bytes == expected.lines.reduce(0) { $0 + $1.count })
                } else {
                    // Which lines before the error came depends on where batches and blocks end.
                    let n = min(got.lines.count, expected.lines.count)
                    #expect(Array(got.lines.prefix(n)) == Array(expected.lines.prefix(n)), "trial \(trial)")
                }
            }
        }
    }

    @Test func emptyInputIsAnErrorFromEitherSource() throws {
        var options = LineReader.Options()
        options.deferChecks = true
        for source in Source.allCases {
            var reader = try reader([], from: source, options)
            #expect(throws: LineReader.InputError.empty) { _ = try reader.nextBlock() }
        }
    }

    /// A line longer than the limit, with no line break anywhere near: the reader stops at
    /// the limit instead of holding the whole line.
    @Test(arguments: Source.allCases)
    func aLineWithoutEndPastTheLimitIsRefused(source: Source) throws {
        var options = LineReader.Options()
        options.deferChecks = true
        options.maxLineBytes = 1000
        options.blockBytes = 64
        var reader = try reader(Array("first\n".utf8) + Array(repeating: 0x61, count: 5000), from: source, options)
        let block = try #require(try reader.nextBlock(targetBytes: 16))
        #expect(block.lineCount == 1)
        #expect(throws: LineReader.InputError.lineTooLong(line: 2, limit: 1000)) { _ = try reader.nextBlock(targetBytes: 16) }
    }

    /// A regular file is mapped up to the size it had when the reader was made; what it gains
    /// later (a log being written), and a last line without a line break, come through `read`.
    @Test func aFileThatGrowsIsReadToItsNewEnd() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("textblock-\(UUID()).txt").path
        defer { unlink(path) }
        try Data("one\ntwo\nthr".utf8).write(to: URL(fileURLWithPath: path))
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        var options = LineReader.Options()
        options.deferChecks = true
        var reader = LineReader(fileDescriptor: fd, options: options)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data("ee\nfour\n".utf8))
        try handle.close()
        var lines: [String] = []
        while let block = try reader.nextBlock(targetBytes: 4) {
            for part in block.parts(2) {
                try block.forEachLine(in: part) { line, _ in lines.append(String(decoding: line, as: UTF8.self)) }
            }
        }
        #expect(lines == ["one", "two", "three", "four"])
    }

    @Test func newlineCountMatchesAPlainCount() {
        var rng = SeededGenerator(seed: 5)
        for length in [0, 1, 7, 8, 9, 31, 64, 257, 1000, 4099] {
            let bytes = (0..<length).map { _ in [0x0A, 0x0B, 0x8A, 0x00, 0xFF, 0x09, 0x61][rng.next(upTo: 7)] as UInt8 }
            let expected = bytes.filter { $0 == 0x0A }.count
            #expect(bytes.withUnsafeBufferPointer { TextBlock.countNewlines($0) } == expected, "length \(length)")
        }
    }
}
