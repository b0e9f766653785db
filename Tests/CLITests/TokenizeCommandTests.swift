import Foundation
import Testing

@Suite struct TokenizeCommandTests {
    let sample = "The river runs to the sea.\n我们喜欢自然语言处理，也喜欢机器学习。\nmixed 中文 and English 123\n"

    @Test func helpDescribesTheTool() throws {
        let r = try CommandRunner.run("tokenize", ["--help"])
        #expect(r.status == 0)
        #expect(r.text.contains("USAGE: tokenize"))
        #expect(r.text.contains("--json"))
    }

    @Test func wrongUsageExitsWithEXUSAGE() throws {
        let unknown = try CommandRunner.run("tokenize", ["--bogus"])
        #expect(unknown.status == 64 && unknown.stderr.contains("--bogus"))
        let exclusive = try CommandRunner.run("tokenize", ["--ids", "--json"])
        #expect(exclusive.status == 64 && exclusive.stderr.contains("exclusive"))
    }

    @Test func printsOneLineOfTokensPerInputLine() throws {
        let r = try CommandRunner.run("tokenize", [], stdin: Array(sample.utf8))
        #expect(r.status == 0)
        let lines = r.text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 4 && lines[3].isEmpty)
        #expect(lines[0].hasPrefix("The ") && lines[0].contains("▁the") && lines[0].hasSuffix("."))
    }

    @Test func idsDecodeBackToTheExactInput() throws {
        let probes = sample + "\u{FEFF}BOM\r\n，（）１２３\tTAB  spaces\n👨\u{200D}👩\u{200D}👧 cafe\u{0301} 𠀀\n<eos> literal\n"
        let ids = try CommandRunner.run("tokenize", ["--ids"], stdin: Array(probes.utf8))
        #expect(ids.status == 0)
        let back = try CommandRunner.run("tokenize", ["--decode"], stdin: ids.stdout)
        #expect(back.status == 0)
        #expect(back.stdout == Array(probes.utf8))
    }

    @Test func jsonGivesTokensIdsAndOffsets() throws {
        let r = try CommandRunner.run("tokenize", ["--json", "-"], stdin: Array("中文 text\n".utf8))
        #expect(r.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout)) as! [String: Any]
        let offsets = object["offsets"] as! [[Int]]
        #expect(object["line"] as? Int == 1)
        #expect((object["tokens"] as! [String]).joined() == "中文 text")
        #expect(offsets.first?.first == 0 && offsets.last?.last == "中文 text".utf8.count)
    }

    @Test func specialTokensOnlyWhenAsked() throws {
        let plain = try CommandRunner.run("tokenize", ["--ids"], stdin: Array("a<eos>\n".utf8))
        let special = try CommandRunner.run("tokenize", ["--ids", "--special"], stdin: Array("a<eos>\n".utf8))
        #expect(plain.text != special.text)
        #expect(special.text.split(separator: " ").count < plain.text.split(separator: " ").count)
    }

    @Test func statsReportRatesAsJSON() throws {
        let r = try CommandRunner.run("tokenize", ["--stats", "--stats-json"], stdin: Array(sample.utf8))
        let stats = try JSONSerialization.jsonObject(with: Data(r.stderr.utf8)) as! [String: Any]
        #expect(stats["lines"] as? Int == 3)
        #expect((stats["tokens_per_character"] as! Double) > 0)
    }

    @Test func invalidUTF8StopsWithTheByteOffset() throws {
        let input: [UInt8] = Array("ok\nab".utf8) + [0xC3, 0x28] + Array("\n".utf8)
        let r = try CommandRunner.run("tokenize", [], stdin: input)
        #expect(r.status == 1)
        #expect(r.stderr.contains("invalid UTF-8 at byte offset 5 (line 2)"))
        let replaced = try CommandRunner.run("tokenize", ["--errors", "replace", "--ids"], stdin: input)
        #expect(replaced.status == 0)
        let back = try CommandRunner.run("tokenize", ["--decode"], stdin: replaced.stdout)
        #expect(back.text == "ok\nab\u{FFFD}(\n")
    }

    @Test func emptyBinaryAndOversizeInputsAreRefusedClearly() throws {
        let empty = try CommandRunner.run("tokenize", [], stdin: [])
        #expect(empty.status == 1 && empty.stderr.contains("empty"))
        let binary = try CommandRunner.run("tokenize", [], stdin: [0x7F, 0x45, 0x4C, 0x46, 0x00, 0x01, 0x0A])
        #expect(binary.status == 1 && binary.stderr.contains("NUL byte at byte offset 4"))
        let long = try CommandRunner.run("tokenize", ["--max-line-bytes", "100"], stdin: [UInt8](repeating: 0x61, count: 1000))
        #expect(long.status == 1 && long.stderr.contains("longer than 100 bytes"))
        let missing = try CommandRunner.run("tokenize", ["/nonexistent/file.txt"])
        #expect(missing.status == 1 && missing.stderr.contains("cannot open"))
    }

    @Test func damagedVocabularyFilesAreRefused() throws {
        let folder = try CommandRunner.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let corpus = folder.appendingPathComponent("corpus.txt")
        try Data(String(repeating: sample, count: 20).utf8).write(to: corpus)
        let vocab = folder.appendingPathComponent("v.vocab").path
        let built = try CommandRunner.run("buildvocab", [corpus.path, "-o", vocab, "--size", "400"])
        #expect(built.status == 0, "\(built.stderr)")
        let good = try CommandRunner.run("tokenize", ["--vocab", vocab, "--ids"], stdin: Array(sample.utf8))
        #expect(good.status == 0)

        let bytes = try Data(contentsOf: URL(fileURLWithPath: vocab))
        let truncated = folder.appendingPathComponent("truncated.vocab")
        try bytes.prefix(bytes.count / 2).write(to: truncated)
        let r1 = try CommandRunner.run("tokenize", ["--vocab", truncated.path], stdin: Array(sample.utf8))
        #expect(r1.status == 1 && r1.stderr.contains("truncated"))

        var edited = bytes
        edited[edited.count / 2] ^= 0x01
        let editedURL = folder.appendingPathComponent("edited.vocab")
        try edited.write(to: editedURL)
        let r2 = try CommandRunner.run("tokenize", ["--vocab", editedURL.path], stdin: Array(sample.utf8))
        #expect(r2.status == 1 && (r2.stderr.contains("checksum") || r2.stderr.contains("UTF-8")))

        let r3 = try CommandRunner.run("tokenize", ["--vocab", corpus.path], stdin: Array(sample.utf8))
        #expect(r3.status == 1 && r3.stderr.contains("cannot use vocabulary"))

        let missing = try CommandRunner.run("tokenize", ["--vocab", folder.appendingPathComponent("absent.vocab").path],
                                            stdin: Array(sample.utf8))
        #expect(missing.status == 1 && missing.stderr.contains("No such file or directory"))
    }

    @Test func decodeRefusesWhatIsNotAnID() throws {
        let r = try CommandRunner.run("tokenize", ["--decode"], stdin: Array("12 34\n5 x7\n".utf8))
        #expect(r.status == 1 && r.stderr.contains("line 2: 'x7' is not a token id"))
        let unknown = try CommandRunner.run("tokenize", ["--decode"], stdin: Array("99999999\n".utf8))
        #expect(unknown.status == 1 && unknown.stderr.contains("not in the vocabulary"))
    }
}

@Suite struct BuildVocabCommandTests {
    @Test func buildsADeterministicVocabularyWithStatistics() throws {
        let folder = try CommandRunner.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let corpus = folder.appendingPathComponent("corpus.txt")
        let text = (0..<200).map { "第\($0)行：自然语言处理 natural language processing line \($0 % 7)\n" }.joined()
        try Data(text.utf8).write(to: corpus)
        var outputs: [Data] = []
        for threads in ["1", "2"] {
            let out = folder.appendingPathComponent("v\(threads).vocab").path
            let r = try CommandRunner.run("buildvocab", [corpus.path, "-o", out, "--size", "500", "--special", "<eos>",
                                                         "--user-word", "自然语言处理", "--threads", threads, "--json"])
            #expect(r.status == 0, "\(r.stderr)")
            let stats = try JSONSerialization.jsonObject(with: Data(r.stdout)) as! [String: Any]
            // The corpus runs out of pairs occurring twice before 500 entries.
            let entries = try #require(stats["entries"] as? Int)
            #expect(entries > 260 && entries < 500)
            #expect(stats["merges"] as? Int == entries - 256 - 2 - (stats["alphabet"] as! Int))
            outputs.append(try Data(contentsOf: URL(fileURLWithPath: out)))
        }
        #expect(outputs[0] == outputs[1])
    }

    @Test func refusesBadOptionsAndInput() throws {
        let folder = try CommandRunner.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("never.vocab").path
        let r = try CommandRunner.run("buildvocab", ["-o", out])
        #expect(r.status != 0)
        let small = try CommandRunner.run("buildvocab", ["-", "-o", out, "--size", "10"], stdin: Array("abc\n".utf8))
        #expect(small.status == 1 && small.stderr.contains("smaller than"))
        let bad = try CommandRunner.run("buildvocab", ["-", "-o", out], stdin: [0x61, 0xFF, 0x0A])
        #expect(bad.status == 1 && bad.stderr.contains("invalid UTF-8 at byte offset 1"))
        #expect(!FileManager.default.fileExists(atPath: out))  // nothing is written on failure
    }
}

@Suite struct WordsCommandTests {
    @Test func segmentsChineseIntoWords() throws {
        let r = try CommandRunner.run("tokenize", ["--words"], stdin: Array("我们喜欢自然语言处理。\n".utf8))
        #expect(r.status == 0)
        let words = r.text.split(separator: "\n")[0].split(separator: " ")
        #expect(words.joined() == "我们喜欢自然语言处理。")
        #expect(words.contains("我们") && words.count >= 4)
    }
}

@Suite struct StreamingMemoryTests {
    /// A 64 MB file goes through in 1 MB batches: the process never holds the whole input.
    @Test func largeInputsStreamInBoundedMemory() throws {
        let folder = try CommandRunner.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("large.txt")
        let block = String(repeating: "人民日报报道，经济稳定增长。The quick brown fox jumps over the lazy dog.\n", count: 10_000)
        FileManager.default.createFile(atPath: file.path, contents: nil)
        let handle = try FileHandle(forWritingTo: file)
        let data = Data(block.utf8)
        for _ in 0..<(64_000_000 / data.count) { handle.write(data) }
        try handle.close()

        // The peak is read by a python parent of its own: this test process has other
        // children (the suites run in parallel), and RUSAGE_CHILDREN takes the largest.
        let tool = CommandRunner.productsFolder.appendingPathComponent("tokenize").path
        let probe = """
            import resource, subprocess, sys
            r = subprocess.run([sys.argv[1], "--ids", "--stats", sys.argv[2]], stdout=subprocess.DEVNULL)
            print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", probe, tool, file.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let fields = output.split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        #expect(fields.count == 2 && fields[0] == 0, "\(output)")
        let peakMiB = (fields.last ?? .infinity) / 1024  // kilobytes on Linux
        #expect(peakMiB < 200, "peak resident memory of a child: \(peakMiB) MiB")
    }
}

@Suite struct CountCommandTests {
    @Test func countPrintsOnlyTheStatistics() throws {
        let input = Array("我们喜欢自然语言处理。\nThe river runs to the sea.\n".utf8)
        let r = try CommandRunner.run("tokenize", ["--count", "--stats-json"], stdin: input)
        #expect(r.status == 0 && r.stdout.isEmpty)
        let stats = try JSONSerialization.jsonObject(with: Data(r.stderr.utf8)) as! [String: Any]
        let ids = try CommandRunner.run("tokenize", ["--ids"], stdin: input)
        #expect(stats["lines"] as? Int == 2)
        #expect(stats["tokens"] as? Int == ids.text.split(whereSeparator: { $0 == " " || $0 == "\n" }).count)
    }
}
