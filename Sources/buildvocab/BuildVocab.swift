import ArgumentParser
import CLISupport
import Foundation
import Text

@main
struct BuildVocab: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Learn a byte-level BPE vocabulary from text files.",
        discussion: """
            Streams every FILE (standard input for '-') through the pre-tokenizer, counts pieces in \
            bounded memory, and learns merges until the vocabulary has --size entries. The result \
            is deterministic for the same input, options and thread count, and is written \
            atomically. The file format is documented in Sources/Text/VocabularyFile.swift.
            """)

    @Argument(help: "Training text files ('-' for standard input).")
    var files: [String]

    @Option(name: [.short, .long], help: "Where to write the vocabulary.")
    var output: String

    @Option(name: .long, help: "Number of entries, including the 256 bytes, special tokens and user words.")
    var size = 8000

    @Option(name: .long, help: "Stop when no pair of tokens occurs this often.")
    var minFrequency = 2

    @Option(name: .long, help: "Share of non-ASCII character occurrences whose characters become tokens; the rarest fall back to bytes.")
    var characterCoverage = 0.999

    @Option(name: .customLong("special"), help: "A special token (repeatable), e.g. --special '<eos>'.")
    var specials: [String] = []

    @Option(name: .customLong("user-word"), help: "A word that always stays one token (repeatable).")
    var userWords: [String] = []

    @Option(name: .long, help: "Unicode normalization applied before training and encoding: none, nfc or nfkc.")
    var normalize = "none"

    @Flag(name: .long, help: "Fold case (with --normalize nfc or nfkc).")
    var caseFold = false

    @Flag(name: .long, help: "Character level: every character seen becomes a token and nothing is merged (--size is ignored).")
    var characters = false

    @Flag(name: .long, help: "Cut Han runs at ICU's dictionary word boundaries, so no token straddles a Chinese word (slower, compresses Chinese less; see the README).")
    var chineseWords = false

    @Option(name: .long, help: "Bound on distinct pieces held while counting; rarer pieces are dropped beyond it.")
    var maxDistinctPieces = 2_000_000

    @Option(name: .long, help: "Invalid UTF-8: 'strict' stops with the byte offset, 'replace' substitutes U+FFFD.")
    var errors: LineReader.InvalidUTF8Policy = .strict

    @Option(name: .long, help: "Threads used to count pieces.")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Flag(name: .long, help: "Print the statistics as JSON on standard output.")
    var json = false

    func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one training file") }
        if threads < 1 { throw ValidationError("--threads must be at least 1") }
        if !["none", "nfc", "nfkc"].contains(normalize) { throw ValidationError("--normalize must be none, nfc or nfkc") }
        if caseFold && normalize == "none" { throw ValidationError("--case-fold needs --normalize nfc or nfkc") }
    }

    func run() throws {
        var options = BPETrainer.Options()
        options.vocabularySize = size
        options.minFrequency = minFrequency
        options.characterCoverage = characterCoverage
        options.specialTokens = specials
        options.userWords = userWords
        options.maxDistinctPieces = maxDistinctPieces
        options.threads = threads
        options.characterLevel = characters
        options.settings = Vocabulary.Settings(normalization: normalize, caseFold: caseFold,
                                               pretokenizer: chineseWords ? "script-words-v1" : PreTokenizer.version)
        var trainer: BPETrainer
        do { trainer = try BPETrainer(options: options) } catch { throw CLIError("\(error)") }

        let start = Terminal.now()
        let sizes = files.map { file -> Int in
            var s = stat()
            return file != "-" && stat(file, &s) == 0 ? Int(s.st_size) : 0
        }
        let progress = ProgressBar(label: "counting", total: sizes.reduce(0, +))
        var done = 0
        var readerOptions = LineReader.Options()
        readerOptions.invalidUTF8 = errors
        readerOptions.keepLineBreaks = true
        readerOptions.allowNUL = true
        readerOptions.blockBytes = 1 << 20
        for (file, size) in zip(files, sizes) {
            let fd = file == "-" ? 0 : open(file, O_RDONLY)
            guard fd >= 0 else { throw CLIError("cannot open '\(file)': \(String(cString: strerror(errno)))") }
            defer { if fd != 0 { close(fd) } }
            var reader = LineReader(fileDescriptor: fd, options: readerOptions)
            do {
                while let batch = try reader.nextBatch(targetBytes: 1 << 20) {
                    try batch.bytes.withUnsafeBufferPointer { try trainer.addStreamChunk($0) }
                    progress.update(done + reader.bytesRead)
                }
                try trainer.finishStream()  // each file is a text of its own
            } catch {
                throw CLIError("\(file): \(error)")
            }
            done += size
        }
        progress.finish()
        let counted = Terminal.now()
        let vocabulary: Vocabulary
        do { vocabulary = try trainer.train() } catch { throw CLIError("\(error)") }
        do { try VocabularyFile.write(vocabulary, to: output) } catch { throw CLIError("cannot write '\(output)': \(error)") }
        let end = Terminal.now()

        let s = trainer.statistics
        let peak = Terminal.peakMemoryBytes() ?? 0
        if json {
            print("""
                {"entries":\(vocabulary.count),"merges":\(s.merges),"alphabet":\(s.alphabetSize),\
                "bytes":\(s.bytes),"pieces":\(s.pieces),"distinct_pieces":\(s.distinctPieces),\
                "pruned_pieces":\(s.prunedPieces),"count_seconds":\(counted - start),\
                "merge_seconds":\(end - counted),"seconds":\(end - start),"peak_memory_bytes":\(peak)}
                """)
        } else {
            Terminal.note(String(format: "%@: %d entries (%d characters, %d merges; %@) from %.1f MB, %d distinct pieces%@ in %.2f s (counting %.2f s), peak memory %.0f MiB",
                                 output, vocabulary.count, s.alphabetSize, s.merges, s.stoppedBecause,
                                 Double(s.bytes) / 1e6, s.distinctPieces,
                                 s.prunedPieces > 0 ? " (\(s.prunedPieces) rare ones pruned)" : "",
                                 end - start, counted - start, Double(peak) / 1_048_576))
        }
    }
}

extension LineReader.InvalidUTF8Policy: ExpressibleByArgument {}
