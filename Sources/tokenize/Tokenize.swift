import ArgumentParser
import CLISupport
import DefaultVocabulary
import Foundation
import Text

@main
struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Split text into subword tokens, losslessly, and back.",
        discussion: """
            Reads each FILE (or standard input when none is given or FILE is -) and prints one \
            line of tokens per input line. Spaces in tokens show as ▁, bytes that are not whole \
            characters as <0xHH>. Use --json for tokens, ids and byte offsets into the input line.
            Without --vocab the bundled 8,000-entry bilingual vocabulary is used. Build your own \
            with `buildvocab`. A vocabulary built with --normalize normalizes the input before \
            encoding; offsets still point into the original line, and --stats counts the lines \
            normalization changed.
            """)

    @Argument(help: "Input files; standard input when none is given or for '-'.")
    var files: [String] = []

    @Option(name: .long, help: "Vocabulary file (default: the bundled 8,000-entry one).")
    var vocab: String?

    @Flag(name: .long, help: "Print token ids instead of tokens.")
    var ids = false

    @Flag(name: .long, help: "Print one JSON object per line: tokens, ids and byte offsets.")
    var json = false

    @Flag(name: .long, help: "Read lines of token ids and print the text they decode to.")
    var decode = false

    @Flag(name: .long, help: "Encode and print only the statistics (--stats), nothing per line.")
    var count = false

    @Flag(name: .long, help: "Print words found by ICU's dictionary word break (Chinese word segmentation) instead of tokens.")
    var words = false

    @Flag(name: .long, help: "Recognize special-token text (e.g. <eos>) in the input as special tokens.")
    var special = false

    @Flag(name: .long, help: "Print lines, characters, tokens per character and speed to standard error.")
    var stats = false

    @Flag(name: .long, help: "With --stats: print the statistics as one JSON object.")
    var statsJson = false

    @Option(name: .long, help: "Invalid UTF-8: 'strict' stops with the byte offset, 'replace' substitutes U+FFFD.")
    var errors: LineReader.InvalidUTF8Policy = .strict

    @Flag(name: .long, help: "Accept NUL bytes (refused by default: they mark binary files).")
    var allowNul = false

    @Option(name: .long, help: "Longest line accepted, in bytes.")
    var maxLineBytes = 64 << 20

    @Option(name: .long, help: "Threads used to encode (default: all cores).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        if [ids, json, decode, words, count].filter({ $0 }).count > 1 {
            throw ValidationError("--ids, --json, --decode, --words and --count are exclusive")
        }
        if threads < 1 { throw ValidationError("--threads must be at least 1") }
        if maxLineBytes < 1 { throw ValidationError("--max-line-bytes must be positive") }
    }

    func run() throws {
        let vocabularyPath = try vocab ?? DefaultVocabulary.path() ?? {
            throw CLIError("no --vocab given and the bundled vocabulary is not installed next to this executable")
        }()
        let tokenizer: Tokenizer
        do {
            tokenizer = try Tokenizer(vocabulary: VocabularyFile.read(path: vocabularyPath))
        } catch {
            throw CLIError("cannot use vocabulary '\(vocabularyPath)': \(error)")
        }
        var options = LineReader.Options()
        options.invalidUTF8 = errors
        options.allowNUL = allowNul
        options.maxLineBytes = maxLineBytes
        options.deferChecks = !decode  // checked by the encoding threads
        let format: LineTokenizer.Format = count ? .count : decode ? .decode : words ? .words : json ? .json : ids ? .ids : .pieces
        var job = LineTokenizer(tokenizer: tokenizer, format: format, allowSpecial: special, threads: threads)
        let output = OutputBuffer()
        for file in files.isEmpty ? ["-"] : files {
            let fd = file == "-" ? 0 : open(file, O_RDONLY)
            guard fd >= 0 else { throw CLIError("cannot open '\(file)': \(String(cString: strerror(errno)))") }
            defer { if fd != 0 { close(fd) } }
            var size = stat()
            let total = fstat(fd, &size) == 0 && size.st_mode & S_IFMT == S_IFREG ? Int(size.st_size) : 0
            let progress = total > 8 << 20 ? ProgressBar(label: file, total: total) : nil
            do {
                try job.run(reader: LineReader(fileDescriptor: fd, options: options), output: output,
                            interactive: total == 0) { progress?.update($0) }
            } catch {
                output.flush()
                throw CLIError(file == "-" ? "\(error)" : "\(file): \(error)")
            }
            progress?.finish()
        }
        output.flush()
        if stats || count { Terminal.note(statsJson ? job.statistics.json : job.statistics.summary) }
    }
}

extension LineReader.InvalidUTF8Policy: ExpressibleByArgument {}
