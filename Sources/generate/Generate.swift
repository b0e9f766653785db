import ArgumentParser
import CLISupport
import Foundation
import Generation
import Text
import Training

@main
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Continue a prompt with a model trained by trainlm, streaming the text to standard output.",
        discussion: """
            Loads the best checkpoint of --run (default: the run under runs/ trained most \
            recently). The prompt may be any Unicode text; '--prompt -' reads it from standard \
            input. Samples are repeatable with --seed. With -n N, samples are separated by a \
            line '---' (or printed as JSON lines with --json).
            """)

    @Option(help: "The text to continue ('-': read it from standard input).")
    var prompt = ""
    @Option(name: .customLong("run"), help: "Run folder written by trainlm (default: the most recent under runs/).")
    var runFolder: String?
    @Option(help: "Which checkpoint: best or last.")
    var checkpoint = "best"
    @Option(help: "Tokens to generate per sample.")
    var maxTokens = 200
    @Option(help: "Softmax temperature (lower: more conservative).")
    var temperature: Float = 0.8
    @Option(help: "Sample only among the K most likely tokens (0: all).")
    var topK = 0
    @Option(help: "Sample only from the smallest set of tokens holding this probability (1: all).")
    var topP: Float = 0.95
    @Flag(help: "Always take the most likely token.")
    var greedy = false
    @Option(help: "Random seed of the sampling.")
    var seed: UInt64 = 1
    @Option(name: .short, help: "Number of samples.")
    var n = 1
    @Option(help: "Stop a sample where this text appears (repeatable; not printed).")
    var stop: [String] = []
    @Flag(help: "Do not print the prompt before the continuation.")
    var noEcho = false
    @Option(help: "Threads (default: 1; decoding one token at a time gains little from more).")
    var threads = 1
    @Flag(help: "Report prompt tokens, generated tokens and tokens/s on standard error.")
    var verbose = false
    @Flag(help: "One JSON object per sample (prompt, text, token counts, tokens/s) instead of streaming.")
    var json = false

    func validate() throws {
        if n < 1 { throw ValidationError("-n must be at least 1") }
        if maxTokens < 0 { throw ValidationError("--max-tokens must be >= 0") }
        if threads < 1 { throw ValidationError("--threads must be at least 1") }
        guard RunFolder.Checkpoint(rawValue: checkpoint) != nil else {
            throw ValidationError("--checkpoint must be 'best' or 'last'")
        }
        do {
            try Sampler.Settings(temperature: temperature, topK: topK, topP: topP, greedy: greedy).validate()
        } catch { throw ValidationError("\(error)") }
    }

    func run() throws {
        guard let folder = runFolder.map(RunFolder.init(path:)) ?? RunFolder.mostRecent() else {
            throw CLIError("no --run given and no trained run under runs/ (train one with trainlm)")
        }
        let promptText: String
        if prompt == "-" {
            let bytes = FileHandle.standardInput.readDataToEndOfFile()
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw CLIError("the prompt on standard input is not valid UTF-8")
            }
            promptText = text.hasSuffix("\n") ? String(text.dropLast()) : text
        } else {
            promptText = prompt
        }
        let generator: Generator
        do {
            let vocabulary = try folder.readVocabulary()
            let (model, _) = try folder.loadModel(RunFolder.Checkpoint(rawValue: checkpoint)!, threads: threads)
            generator = Generator(model: model, tokenizer: try Tokenizer(vocabulary: vocabulary))
        } catch {
            throw CLIError("cannot load the model of '\(folder.path)': \(error)")
        }
        let out = OutputBuffer()
        let settings = Sampler.Settings(temperature: temperature, topK: topK, topP: topP, greedy: greedy)
        for k in 0..<n {
            if k > 0 && !json { out.write(Array("\n---\n".utf8)) }
            var sampler = Sampler(settings: settings, seed: seed &+ UInt64(k))
            if !noEcho && !json { out.write(Array(promptText.utf8)); out.flush() }
            let result = try generator.generate(prompt: promptText, maxTokens: maxTokens, sampler: &sampler,
                                                stops: stop) { piece in
                guard !json else { return }
                out.write(piece)
                out.flush()
            }
            if json {
                let record = Record(index: k, prompt: promptText, text: String(decoding: result.text, as: UTF8.self),
                                    promptTokens: result.promptTokens, generatedTokens: result.generatedTokens,
                                    tokensPerSecond: result.tokensPerSecond, stopReason: result.stopReason)
                out.write(try JSONLine.bytes(record))
                out.flush()
            }
            if verbose {
                Terminal.note(String(format: "\nsample %d: %d prompt tokens, %d generated tokens, %.1f tokens/s (%@)",
                                     k + 1, result.promptTokens, result.generatedTokens, result.tokensPerSecond,
                                     result.stopReason))
            }
        }
        if !json { out.write([0x0A]) }
        out.flush()
    }

    struct Record: Encodable {
        var index: Int, prompt: String, text: String, promptTokens: Int, generatedTokens: Int
        var tokensPerSecond: Double, stopReason: String
        enum CodingKeys: String, CodingKey {
            case index, prompt, text, promptTokens = "prompt_tokens", generatedTokens = "generated_tokens"
            case tokensPerSecond = "tokens_per_second", stopReason = "stop_reason"
        }
    }
}
