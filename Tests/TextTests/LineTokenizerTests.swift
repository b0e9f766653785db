import Testing
@testable import Text

/// A batch of lines as `LineReader` delivers them, with the checks left to the encoder threads.
private func batch(_ lines: [[UInt8]]) -> LineReader.Batch {
    var batch = LineReader.Batch()
    batch.checksDeferred = true
    for line in lines {
        batch.lineStarts.append(batch.bytes.count)
        batch.bytes += line
        batch.lineEnds.append(batch.bytes.count)
        batch.bytes.append(0x0A)
        batch.lineBytes += line.count
    }
    batch.verbatim = true
    return batch
}

/// The lines of a batch are cut into more chunks than threads, claimed as threads get to
/// them: on any thread count the output is the same, in input order, and an invalid line is
/// reported by number (the first one, wherever its chunk ran).
@Test(arguments: [2, 3])
func everyThreadCountGivesTheSameOutputInOrder(threads: Int) throws {
    let tokenizer = try Tokenizer(vocabulary: Fixtures.vocabulary())
    let lines = (0..<3_000).map { k in Array(Fixtures.lines[k % Fixtures.lines.count].utf8) + Array(" \(k)".utf8) }
    var one = LineTokenizer(tokenizer: tokenizer, format: .ids, threads: 1)
    var many = LineTokenizer(tokenizer: tokenizer, format: .ids, threads: threads)
    let expected = try one.process(batch(lines))
    #expect(try many.process(batch(lines)) == expected)
    #expect(many.statistics.tokens == one.statistics.tokens && many.statistics.characters == one.statistics.characters)
    #expect(expected.split(separator: 0x0A, omittingEmptySubsequences: false).count == lines.count + 1)

    var bad = lines
    bad[2_100] = [0x61, 0xFF]
    bad[2_900] = [0xC3]
    #expect(throws: LineReader.InputError.invalidUTF8(line: 2_101, offset: batch(Array(bad[..<2_100])).bytes.count + 1)) {
        _ = try many.process(batch(bad))
    }
}

/// The same through blocks (`TextBlock`), whose lines the threads cut and check themselves.
@Test(arguments: [2, 3])
func blocksGiveTheOutputOfBatches(threads: Int) throws {
    let tokenizer = try Tokenizer(vocabulary: Fixtures.vocabulary())
    let lines = (0..<3_000).map { k in Array(Fixtures.lines[k % Fixtures.lines.count].utf8) + Array(" \(k)".utf8) }
    func block(_ lines: [[UInt8]]) -> TextBlock {
        let bytes = batch(lines).bytes
        return bytes.withUnsafeBufferPointer { TextBlock(copying: $0, firstLine: 1, firstOffset: 0) }
    }
    for format in [LineTokenizer.Format.ids, .json] {
        var one = LineTokenizer(tokenizer: tokenizer, format: format, threads: 1)
        var many = LineTokenizer(tokenizer: tokenizer, format: format, threads: threads)
        let expected = try one.process(batch(lines))
        #expect(try many.process(block(lines)) == expected)
        #expect(many.statistics.lines == lines.count && many.statistics.bytes == one.statistics.bytes)
        #expect(many.statistics.tokens == one.statistics.tokens && many.statistics.characters == one.statistics.characters)
    }
    var many = LineTokenizer(tokenizer: tokenizer, format: .ids, threads: threads)
    var bad = lines
    bad[2_100] = [0x61, 0xFF]
    bad[2_900] = [0xC3]
    #expect(throws: LineReader.InputError.invalidUTF8(line: 2_101, offset: batch(Array(bad[..<2_100])).bytes.count + 1)) {
        _ = try many.process(block(bad))
    }
}
