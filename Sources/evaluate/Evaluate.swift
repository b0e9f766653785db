import ArgumentParser
import CLISupport
import Foundation
import Text
import Training

@main
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure a trained model's loss on a text: nats per token and per character, bits per character, perplexity.",
        discussion: """
            Protocols: 'stream' cuts the text into --streams contiguous streams read --length \
            tokens at a time with the recurrent state carried through; 'window' scores every \
            non-overlapping window of --length tokens from an empty state (nanoGPT's estimate).
            """)

    @Argument(help: "The text to score (UTF-8).")
    var file: String
    @Option(name: .customLong("run"), help: "Run folder written by trainlm (default: the most recent under runs/).")
    var runFolder: String?
    @Option(help: "Which checkpoint: best or last.")
    var checkpoint = "best"
    @Option(help: "stream or window.")
    var `protocol` = "stream"
    @Option(help: "Streams (stream) or windows (window) per batch.")
    var streams = 16
    @Option(help: "Tokens per chunk or window.")
    var length = 64
    @Option(help: "Threads (default: all cores).")
    var threads: Int?
    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        guard EvaluationProtocol(rawValue: `protocol`) != nil else { throw ValidationError("--protocol must be stream or window") }
        guard RunFolder.Checkpoint(rawValue: checkpoint) != nil else { throw ValidationError("--checkpoint must be best or last") }
        if streams < 1 || length < 1 { throw ValidationError("--streams and --length must be positive") }
    }

    func run() throws {
        guard let folder = runFolder.map(RunFolder.init(path:)) ?? RunFolder.mostRecent() else {
            throw CLIError("no --run given and no trained run under runs/")
        }
        let result: EvaluationResult
        do {
            let vocabulary = try folder.readVocabulary()
            let (model, _) = try folder.loadModel(RunFolder.Checkpoint(rawValue: checkpoint)!, threads: threads)
            let tokens = try TokenCorpus.tokens(of: TokenCorpus.Source(path: file),
                                                tokenizer: Tokenizer(vocabulary: vocabulary),
                                                threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
            let evaluator = Evaluator(sharing: model, vocabulary: vocabulary, threads: threads)
            result = try evaluator.evaluate(tokens, protocol: EvaluationProtocol(rawValue: `protocol`)!,
                                            streams: streams, length: length)
        } catch {
            throw CLIError("\(error)")
        }
        guard result.tokens > 0, result.characters > 0 else {
            throw CLIError("'\(file)' is too short to score with --length \(length) (\(`protocol`) protocol)")
        }
        if json {
            try JSONLine.print(Report(protocol: `protocol`, tokens: result.tokens, characters: result.characters,
                                      natsPerToken: result.natsPerToken, natsPerChar: result.natsPerCharacter,
                                      bitsPerChar: result.bitsPerCharacter, perplexity: result.perplexity))
        } else {
            print(String(format: "%@: %d tokens, %d characters: %.4f nats/token (perplexity %.2f), %.4f nats/char, %.4f bits/char",
                         `protocol`, result.tokens, result.characters, result.natsPerToken, result.perplexity,
                         result.natsPerCharacter, result.bitsPerCharacter))
        }
    }

    struct Report: Encodable {
        var `protocol`: String, tokens: Int, characters: Int
        var natsPerToken: Double, natsPerChar: Double, bitsPerChar: Double, perplexity: Double
        enum CodingKeys: String, CodingKey {
            case `protocol`, tokens, characters, natsPerToken = "nats_per_token", natsPerChar = "nats_per_char"
            case bitsPerChar = "bits_per_char", perplexity
        }
    }
}
