import ArgumentParser
import CLISupport
import DefaultVocabulary
import Foundation
import Network
import Text
import Training

@main
struct TrainLM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trainlm",
        abstract: "Train a next-token language model (embedding, LSTM/attention layers, softmax).",
        discussion: """
            Trains on the text FILEs, or without any, on the default bilingual mix (the \
            beginning of corpora/zh-news and corpora/en-plays, prepared by \
            scripts/prepare-corpora). The last --validation-fraction of each file is held out \
            (or --validation-file texts are). Subword tokens come from the bundled 8,000-entry \
            vocabulary unless --vocab or --char is given.

            Every epoch the validation loss is measured, and the run folder (--run-dir, default \
            runs/lm-DATE) receives best.safetensors and last.safetensors (PyTorch names), \
            run.json, vocab.vocab, metrics.jsonl and loss.svg. Ctrl-C saves a resumable \
            checkpoint (exit code 130); --resume DIR continues it exactly. --init-from DIR \
            starts a new run from the best weights of another (fine-tuning a trained model on \
            your own text, with that run's vocabulary and architecture).

            Layers: --layers lstm,lstm,attention stacks two LSTM layers of --hidden units and \
            one causal self-attention layer of --heads heads.
            """)

    @Argument(help: "Training texts (UTF-8). Default: the bilingual mix of the prepared corpora.")
    var files: [String] = []

    @Option(help: "BPE vocabulary file (default: the bundled 8,000-entry one).")
    var vocab: String?
    @Flag(help: "Character level: a vocabulary of every character in the training text.")
    var char = false
    @Option(help: "Only the first N bytes of each file (cut at a line break).")
    var maxBytesPerFile: Int?
    @Option(help: "Held-out validation text (repeatable); then the training files are used whole.")
    var validationFile: [String] = []
    @Option(help: "Share of each file held out for validation (its last lines).")
    var validationFraction = 0.05

    @Option(help: "Alternate the training files in blocks of about N bytes (whole lines) instead of reading them one after the other (default: 4096 for the default data, off for FILEs). Mixing languages this way teaches the model to tell them apart from a short prompt.")
    var interleaveBytes: Int?
    @Option(help: "Embedding width.")
    var embedding = 256
    @Option(help: "Units of each LSTM layer.")
    var hidden = 256
    @Option(help: "Comma-separated layer types, bottom first: lstm or attention.")
    var layers = "lstm,lstm"
    @Option(help: "Heads of each attention layer.")
    var heads = 4
    @Option(help: "Dropout after the embedding and every layer.")
    var dropout: Float = 0.1
    @Flag(inversion: .prefixedNo, help: "Tie the output layer to the embedding (the last layer's width must equal --embedding).")
    var tie = true
    @Option(help: ArgumentHelp("An adaptive softmax with these cutoffs (comma-separated frequency ranks, e.g. 1000,2500): the most frequent ids in the head, the rest in clusters scored through narrower projections. For large vocabularies, such as Chinese characters. 'seen' stands for the number of ids that occur in the training text: with --char, 'seen' alone puts the byte-fallback ids of characters the text lacks into one cluster that costs nothing in training. Implies --no-tie.", valueName: "ranks"))
    var adaptiveSoftmax: String?
    @Option(help: "Each adaptive-softmax cluster projects to the width of the one before divided by this.")
    var adaptiveDiv = 4.0
    @Option(help: "Longest context an attention layer sees (and the decoding KV cache).")
    var context = 256

    @Option(help: "Streams per batch.")
    var batch = 16
    @Option(help: "Tokens per stream per step (back-propagation through time).")
    var seq = 64
    @Option(help: "Before each batch, zero each stream's carried state with this probability, so that the model also learns to start from nothing, as it does from a prompt. 0: only at the start of each epoch.")
    var stateReset = 0.5
    @Option(help: "Passes over the training text.")
    var epochs: Int?
    @Option(help: "Stop after N steps.")
    var maxSteps: Int?
    @Option(help: "Stop after this many seconds of training (evaluation excluded); the learning rate then decays over the budget.")
    var timeBudget: Double?
    @Option(help: "Peak learning rate (after warm-up).")
    var lr: Float = 5e-3
    @Option(help: "Learning rate at the end of the cosine decay.")
    var minLr: Float = 5e-4
    @Option(help: "Warm-up steps (at most a fifth of the run).")
    var warmup = 50
    @Option(help: "AdamW weight decay (matrices only).")
    var weightDecay: Float = 0.01
    @Option(help: "Clip the global gradient norm to this (0: off).")
    var clip: Float = 1
    @Option(help: "Also evaluate and checkpoint every N steps.")
    var evalEvery: Int?
    @Option(help: "Stop after this many evaluations without a better validation loss (0: never).")
    var patience = 3

    @Option(help: "Random seed (initialization, dropout).")
    var seed: UInt64 = 1
    @Option(help: "Threads (default: all cores). A resumed run is bit-identical only with the same count.")
    var threads: Int?
    @Option(help: "Run folder (default: runs/lm-DATE-TIME).")
    var runDir: String?
    @Option(help: "Continue the run in this folder from its last checkpoint, with its options.")
    var resume: String?
    @Option(help: "Start a new run from the best weights of this run (fine-tuning): its vocabulary and architecture are used, --dropout and the training options are this command's.")
    var initFrom: String?
    @Flag(help: "Print each evaluation and a final summary as JSON lines on standard output.")
    var json = false
    @Flag(help: "No progress bar.")
    var quiet = false

    func validate() throws {
        if char && vocab != nil { throw ValidationError("--char and --vocab exclude each other") }
        if initFrom != nil {
            if resume != nil { throw ValidationError("--init-from starts a new run; --resume continues one") }
            if char || vocab != nil { throw ValidationError("with --init-from the vocabulary is that run's: drop --char and --vocab") }
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if let maxBytesPerFile, maxBytesPerFile < 1 { throw ValidationError("--max-bytes-per-file must be positive") }
        if adaptiveSoftmax != nil, resume != nil || initFrom != nil {
            throw ValidationError("--adaptive-softmax shapes a new model: it does not apply with --resume or --init-from")
        }
        _ = try adaptiveCutoffs()
    }

    /// The cutoffs of --adaptive-softmax, if given.
    private func adaptiveCutoffs() throws -> [AdaptiveCutoff]? {
        guard let adaptiveSoftmax else { return nil }
        let parts = adaptiveSoftmax.split(separator: ",", omittingEmptySubsequences: false).map { AdaptiveCutoff($0) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else {
            throw ValidationError("--adaptive-softmax takes comma-separated ranks such as 1000,2500 (or 'seen'), got '\(adaptiveSoftmax)'")
        }
        return parts.map { $0! }
    }

    func run() throws {
        let threadCount = threads ?? ProcessInfo.processInfo.activeProcessorCount
        let folder: RunFolder
        var options: TrainingOptions
        let vocabulary: Vocabulary
        do {
            if let resume {
                folder = RunFolder(path: resume)
                options = try folder.readOptions()
                vocabulary = try folder.readVocabulary()
            } else {
                folder = RunFolder(path: runDir ?? Self.defaultRunFolder())
                (options, vocabulary) = try makeOptions(threads: threadCount)
            }
        } catch let error as TrainingError {
            throw CLIError("\(error)")
        }
        let tokenizer = try Tokenizer(vocabulary: vocabulary)
        let corpus: TokenCorpus
        do {
            corpus = try TokenCorpus.load(train: options.train, validationFiles: options.validationFiles,
                                          validationFraction: options.validationFraction,
                                          interleaveBytes: options.interleaveBytes,
                                          tokenizer: tokenizer, threads: threadCount)
        } catch {
            throw CLIError("\(error)")
        }
        if let cutoffs = try adaptiveCutoffs(), resume == nil {
            do {
                try options.useAdaptiveSoftmax(cutoffs: cutoffs, divValue: adaptiveDiv, trainTokens: corpus.train)
            } catch {
                throw ValidationError("--adaptive-softmax: \(error)")
            }
        }
        let trainer: LanguageModelTrainer
        do {
            trainer = try LanguageModelTrainer(options: options, vocabulary: vocabulary, corpus: corpus,
                                               folder: folder, threads: threadCount, resume: resume != nil)
        } catch {
            throw CLIError("\(error)")
        }
        Terminal.note(String(format: "run %@: %d parameters, vocabulary %d, %d training and %d validation tokens (%.2f characters/token), %d steps/epoch, %d steps%@",
                             folder.path, trainer.model.parameters.count, vocabulary.count, corpus.train.count,
                             corpus.validation.count, Double(corpus.trainCharacters) / Double(max(1, corpus.train.count)),
                             trainer.batcher.batchesPerEpoch, trainer.totalSteps,
                             trainer.progress.step > 0 ? ", resuming at step \(trainer.progress.step)" : ""))

        let bar = ProgressBar(label: "train", total: 10_000, unit: "steps", force: false)
        let quiet = self.quiet
        trainer.onStep = { report in
            guard !quiet else { return }
            let fraction = report.timeBudget.map { max(Double(report.step) / Double(report.totalSteps), report.trainSeconds / $0) }
                ?? Double(report.step) / Double(report.totalSteps)
            bar.update(Int(fraction * 10_000), detail: String(format: "epoch %.2f step %d/%d loss %.3f %@ tok/s",
                                                                 report.epoch, report.step, report.totalSteps,
                                                                 report.loss, Self.compact(report.tokensPerSecond)))
        }
        let json = self.json
        trainer.onEvaluation = { m in
            let best = trainer.progress.bestStep == m.step ? " (best)" : ""
            bar.note(String(format: "step %d, epoch %.2f: train %.4f, validation %.4f nats/token, perplexity %.2f, %.4f bits/char%@",
                            m.step, m.epoch, m.trainLoss ?? .nan, m.validationLoss ?? .nan,
                            m.validationPerplexity ?? .nan, m.validationBitsPerCharacter ?? .nan, best))
            if json { try? JSONLine.print(m) }
        }
        let monitor = InterruptMonitor()
        let outcome: LanguageModelTrainer.Outcome
        do {
            outcome = try trainer.run(shouldStop: { monitor.isRequested })
        } catch {
            monitor.cancel()
            bar.note("")
            throw CLIError("\(error)")
        }
        monitor.cancel()
        if !quiet { bar.note("") }
        let p = trainer.progress
        let summary = Summary(run: folder.path, outcome: outcome.rawValue, steps: p.step, trainSeconds: p.trainSeconds,
                              trainTokensPerSecond: p.trainSeconds > 0 ? Double(p.step * options.batch * options.length) / p.trainSeconds : 0,
                              bestValidationLoss: p.bestValidationLoss, bestStep: p.bestStep, skippedBatches: p.skippedBatches,
                              parameters: trainer.model.parameters.count)
        switch outcome {
        case .interrupted:
            Terminal.note("interrupted at step \(p.step): saved; continue with: trainlm --resume \(folder.path)")
        default:
            Terminal.note(String(format: "%@ after %d steps (%.0f s of training, %@ tokens/s); best validation %.4f nats/token at step %d; weights in %@",
                                 outcome.rawValue, p.step, p.trainSeconds, Self.compact(summary.trainTokensPerSecond),
                                 p.bestValidationLoss ?? .nan, p.bestStep ?? 0, folder.weightsPath(.best)))
        }
        if json { try JSONLine.print(summary) }
        if outcome == .interrupted { throw ExitCode(130) }
    }

    /// Options for a new run from the command line, and its vocabulary.
    private func makeOptions(threads: Int) throws -> (TrainingOptions, Vocabulary) {
        let sources: [TokenCorpus.Source]
        if files.isEmpty {
            sources = LanguageModelData.defaultSources()
            for source in sources where !FileManager.default.fileExists(atPath: source.path) {
                throw CLIError("no training files given and the default data '\(source.path)' is missing: run scripts/prepare-corpora (or pass FILEs)")
            }
        } else {
            sources = files.map { TokenCorpus.Source(path: $0, limit: maxBytesPerFile) }
        }
        let validationSources = validationFile.map { TokenCorpus.Source(path: $0) }
        if let initFrom {
            return try fineTuningOptions(from: RunFolder(path: initFrom), sources: sources, validationSources: validationSources)
        }
        let vocabulary: Vocabulary
        if char {
            let texts = try TokenCorpus.trainingTexts(sources, validationFiles: validationSources,
                                                      validationFraction: validationFraction)
            vocabulary = try LanguageModelData.characterVocabulary(texts, threads: threads)
        } else {
            let path = try vocab ?? DefaultVocabulary.path() ?? {
                throw CLIError("no --vocab given and the bundled vocabulary is not installed next to this executable")
            }()
            do { vocabulary = try VocabularyFile.read(path: path) } catch {
                throw CLIError("cannot use vocabulary '\(path)': \(error)")
            }
        }
        let layerList: [ModelConfig.Layer]
        do { layerList = try ModelConfig.layers(layers, hidden: hidden, heads: heads) } catch {
            throw ValidationError("--layers: \(error)")
        }
        let model = ModelConfig(vocabularySize: vocabulary.count, embeddingSize: embedding, layers: layerList,
                                dropout: dropout, tieEmbeddings: tie && adaptiveSoftmax == nil,
                                maxSequenceLength: max(context, seq))
        var options = TrainingOptions(train: sources, model: model)
        options.characterLevel = char
        try setTrainingOptions(&options, validationSources: validationSources)
        do { try options.validate() } catch {
            let hint = model.tieEmbeddings && model.width(before: layerList.count) != embedding ? " (or pass --no-tie)" : ""
            throw ValidationError("\(error)\(hint)")
        }
        return (options, vocabulary)
    }

    /// A new run that starts from the best weights of `source`, with its vocabulary and
    /// architecture (the architecture flags of this command do not apply; --dropout does).
    private func fineTuningOptions(from source: RunFolder, sources: [TokenCorpus.Source],
                                   validationSources: [TokenCorpus.Source]) throws -> (TrainingOptions, Vocabulary) {
        let original = try source.readOptions()
        let vocabulary = try source.readVocabulary()
        guard FileManager.default.fileExists(atPath: source.weightsPath(.best)) else {
            throw CLIError("'\(source.path)' has no best checkpoint yet (\(source.weightsPath(.best)))")
        }
        var model = original.model
        model.dropout = dropout
        var options = TrainingOptions(train: sources, model: model)
        options.characterLevel = original.characterLevel
        options.initialWeights = source.weightsPath(.best)
        try setTrainingOptions(&options, validationSources: validationSources)
        do { try options.validate() } catch { throw ValidationError("\(error)") }
        return (options, vocabulary)
    }

    /// The options every new run takes from the command line: validation, optimization, schedule.
    private func setTrainingOptions(_ options: inout TrainingOptions, validationSources: [TokenCorpus.Source]) throws {
        options.validationFiles = validationSources
        options.validationFraction = validationFraction
        options.batch = batch
        options.length = seq
        // With only a time budget the epochs do not limit the run.
        options.epochs = epochs ?? (timeBudget != nil ? 1_000_000 : 10)
        options.maxSteps = maxSteps
        options.timeBudget = timeBudget
        options.learningRate = lr
        options.minLearningRate = min(minLr, lr)
        options.warmupSteps = warmup
        options.optimizer.weightDecay = weightDecay
        options.clip = clip
        options.seed = seed
        options.evaluateEvery = evalEvery
        options.patience = patience > 0 ? patience : nil
        options.stateReset = stateReset == 0 ? nil : stateReset
        options.interleaveBytes = interleaveBytes ?? (files.isEmpty ? LanguageModelData.defaultInterleaveBytes : nil)
    }

    struct Summary: Encodable {
        var run: String, outcome: String, steps: Int, trainSeconds: Double, trainTokensPerSecond: Double
        var bestValidationLoss: Double?, bestStep: Int?, skippedBatches: Int, parameters: Int
        enum CodingKeys: String, CodingKey {
            case run, outcome, steps, trainSeconds = "train_seconds", trainTokensPerSecond = "train_tokens_per_second"
            case bestValidationLoss = "best_validation_loss", bestStep = "best_step"
            case skippedBatches = "skipped_batches", parameters
        }
    }

    static func compact(_ x: Double) -> String {
        x >= 10_000 ? String(format: "%.1fk", x / 1000) : String(format: "%.0f", x)
    }

    static func defaultRunFolder() -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        formatter.locale = Locale(identifier: "en_US_POSIX")
        return "runs/lm-" + formatter.string(from: Date())
    }
}
