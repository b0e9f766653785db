import ArgumentParser
import CLISupport
import Classification
import DefaultVocabulary
import Foundation
import Network
import Text
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a classifier on labelled lines (TSV, fastText or JSON lines).",
        discussion: """
            With --lm RUN the encoder starts from that trainlm run (ULMFiT): optionally the \
            language model is first fine-tuned on the training texts (--finetune-lm-epochs); \
            each lower layer trains at the rate of the one above / --layer-factor, and with \
            --unfreeze-epochs N the head trains alone for N epochs, then one layer more per N \
            epochs (gradual unfreezing; by default everything trains from the start, which \
            did better from the small default language model); --encoder-layers N keeps only \
            the lowest N layers (faster prediction). Without --lm the encoder (--embedding, \
            --hidden, --layers) trains from scratch over the bundled vocabulary (or --vocab).

            The head pools the encoder's output (last state, mean, max) into a linear layer and \
            adds a linear model over the text's hashed token 1- to --ngram-order-grams and \
            its Han character 1- to --han-ngram-order-grams (--ngram-buckets rows; 0 turns it \
            off): the bag of phrases that fastText and TF-IDF models read, trained together \
            with the encoder. After training, a logistic regression over the same rows \
            weighted by TF-IDF is fitted to its optimum (C chosen on validation) and its \
            log-probabilities are mixed with the network's at the weight that validates best, \
            chosen apart for texts mostly in Han characters and for the rest (--no-tfidf: the \
            network alone).

            Labels usually belong to whole texts, and short texts often lean to one class; \
            every epoch therefore also trains on the clauses (cut at , . ; ! ? and their \
            full-width forms) of each text that has two or more, labelled as its text, at \
            --clause-weight.

            Every epoch the validation data (--valid FILE, or --valid-fraction of the training \
            lines, split by a hash of the text) is scored; the weights of the best macro F1 are \
            kept in --out (classifier.json, vocab.vocab, model.safetensors) with a log of every \
            validation in metrics.jsonl. Ctrl-C stops the run and keeps the best weights so far.
            """)

    @Argument(help: "Labelled training data: label<TAB>text, __label__X text, or {\"label\":..,\"text\":..} lines.")
    var data: String
    @Option(help: "Validation data in the same formats.")
    var valid: String?
    @Option(help: "Without --valid: the share of the training lines held out for validation.")
    var validFraction = 0.1
    @Option(help: "Also score this labelled file at the end, under the training prior (reported, never used for choices).")
    var test: String?
    @Option(help: "Input format: auto, tsv, fasttext or jsonl.")
    var format = "auto"
    @Option(help: "Classifier folder to write (default: runs/classify-DATE-TIME).")
    var out: String?

    @Option(help: "Language-model run (trainlm --run-dir) whose model the encoder starts from.")
    var lm: String?
    @Option(help: "With --lm: first fine-tune the language model on the training texts for this many epochs.")
    var finetuneLmEpochs = 0
    @Option(name: .customLong("lm-text"),
            help: "With --finetune-lm-epochs: fine-tune the language model on this file of unlabelled text too, one text per line (repeatable): more text of the same domain than the labelled lines hold.")
    var lmTexts: [String] = []
    @Option(help: "With --lm: keep only the embedding and the lowest N layers of the language model (default: all).")
    var encoderLayers: Int?
    @Option(help: "Without --lm: BPE vocabulary file (default: the bundled 8,000-entry one).")
    var vocab: String?
    @Option(help: "Without --lm: embedding width.")
    var embedding = 128
    @Option(help: "Without --lm: units of each LSTM layer.")
    var hidden = 256
    @Option(help: "Without --lm: comma-separated layer types, bottom first (lstm, attention).")
    var layers = "lstm"
    @Option(help: "Dropout after the embedding and every encoder layer while training.")
    var dropout: Float = 0.3
    @Option(help: "Texts are cut to their first N tokens.")
    var maxTokens = 256
    @Option(help: "Rows of the head's hashed token n-gram table (0: the pooled encoder features alone).")
    var ngramBuckets = 1 << 20
    @Option(help: "The longest token n-gram the table sees.")
    var ngramOrder = 3
    @Option(help: "The longest character n-gram of Han text the table also sees (0: none).")
    var hanNgramOrder = 3

    @Flag(inversion: .prefixedNo, help: "After training, fit a TF-IDF logistic regression on the n-gram rows and mix its log-probabilities with the network's, at the weight (possibly 0) that scores best on validation.")
    var tfidf = true

    @Option(help: "Passes over the training data.")
    var epochs = 6
    @Option(help: "Texts per step.")
    var batch = 32
    @Option(help: "Peak learning rate of the head.")
    var lr: Float = 3e-3
    @Option(help: "Each lower layer trains at the rate of the one above divided by this (ULMFiT: 2.6).")
    var layerFactor: Float = 1.5
    @Option(help: "Epochs per gradual-unfreezing stage; 0 trains everything from the start (ULMFiT: 1).")
    var unfreezeEpochs = 0
    @Option(help: "AdamW weight decay (matrices only).")
    var weightDecay: Float = 0.01
    @Option(help: "Clip the global gradient norm to this (0: off).")
    var clip: Float = 1
    @Option(help: "Class weights: balanced (N / (K * count)), per-script (balanced within the texts mostly in Han characters and within the rest) or none.")
    var classWeights = "balanced"
    @Option(help: "Stop after this many validations without a better macro F1.")
    var patience = 3
    @Option(help: "Also validate every N steps.")
    var evalEvery: Int?
    @Option(help: "Each epoch also trains on every clause of each text that has two or more, labelled as its text, at this loss weight (0: whole texts only).")
    var clauseWeight: Float = 0.2
    @Option(help: "Validate and keep a moving average of the weights with this decay per step (0: the last step's weights).")
    var averageDecay: Float = 0
    @Option(help: "Random seed (initialization, dropout, batches).")
    var seed: UInt64 = 1
    @Option(help: "Threads (default: all cores).")
    var threads: Int?
    @Flag(help: "Print every validation and the final reports as JSON lines on standard output.")
    var json = false
    @Flag(help: "No progress bar.")
    var quiet = false

    func validate() throws {
        guard LabelledDataFormat(rawValue: format) != nil else {
            throw ValidationError("--format must be auto, tsv, fasttext or jsonl")
        }
        guard ClassWeighting(rawValue: classWeights) != nil else {
            throw ValidationError("--class-weights must be one of \(ClassWeighting.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if !(validFraction > 0 && validFraction < 1) { throw ValidationError("--valid-fraction must be in (0, 1)") }
        if maxTokens < 2 { throw ValidationError("--max-tokens must be at least 2") }
        if finetuneLmEpochs < 0 { throw ValidationError("--finetune-lm-epochs must be at least 0") }
        if finetuneLmEpochs > 0 && lm == nil { throw ValidationError("--finetune-lm-epochs needs --lm") }
        if !lmTexts.isEmpty && finetuneLmEpochs == 0 { throw ValidationError("--lm-text needs --finetune-lm-epochs") }
        if let encoderLayers {
            if lm == nil { throw ValidationError("--encoder-layers needs --lm") }
            if encoderLayers < 1 { throw ValidationError("--encoder-layers must be at least 1") }
        }
        // Checked here too, not only by the spec: a bad value should not surface after the
        // language model's fine-tuning.
        if !ClassifierSpec.ngramBucketRange.contains(ngramBuckets) {
            throw ValidationError("--ngram-buckets must be in \(ClassifierSpec.ngramBucketRange)")
        }
        if !ClassifierSpec.ngramOrderRange.contains(ngramOrder) {
            throw ValidationError("--ngram-order must be in \(ClassifierSpec.ngramOrderRange)")
        }
        if hanNgramOrder != 0 && !ClassifierSpec.ngramOrderRange.contains(hanNgramOrder) {
            throw ValidationError("--han-ngram-order must be 0 or in \(ClassifierSpec.ngramOrderRange)")
        }
        if !(dropout >= 0 && dropout < 1) { throw ValidationError("--dropout must be in [0, 1)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        let threadCount = threads ?? ProcessInfo.processInfo.activeProcessorCount
        let format = LabelledDataFormat(rawValue: self.format)!
        let folder = ClassifierFolder(path: out ?? Self.defaultFolder())
        let monitor = InterruptMonitor()
        defer { monitor.cancel() }
        do {
            let all = try LabelledData.read(path: data, format: format)
            let (trainSet, validSet) = try valid.map { (all, try LabelledData.read(path: $0, format: format)) }
                ?? LabelledData.holdOut(all, fraction: validFraction, seed: seed)
            let labels = try ClassifierSetup.labels(of: trainSet)
            guard !validSet.isEmpty else {
                throw CLIError("holding out \(validFraction) of '\(data)' left no validation text (copies of a text stay on one side): pass --valid FILE")
            }
            Terminal.note("\(trainSet.count) training and \(validSet.count) validation texts; labels: \(labels.joined(separator: ", "))")

            let classifier = try makeClassifier(labels: labels, train: trainSet, valid: validSet, folder: folder,
                                                threads: threadCount, monitor: monitor)
            var options = ClassifierTrainingOptions()
            options.epochs = epochs
            options.batch = batch
            options.learningRate = lr
            options.layerFactor = layerFactor
            options.unfreezeEpochs = unfreezeEpochs
            options.weightDecay = weightDecay
            options.clip = clip
            options.classWeights = ClassWeighting(rawValue: classWeights)!
            options.patience = patience
            options.evaluateEvery = evalEvery
            options.clauseWeight = clauseWeight
            options.averageDecay = averageDecay
            options.seed = seed
            let trainer = try ClassifierTrainer(classifier: classifier, train: trainSet, validation: validSet,
                                                options: options, folder: folder, pretrained: lm != nil)
            Terminal.note("classifier \(folder.path): \(classifier.model.parameters.count + classifier.head.values.count) parameters, \(trainer.stepsPerEpoch) steps/epoch")
            let outcome = try train(trainer, monitor: monitor)
            guard let best = trainer.best else {
                throw CLIError("stopped before the first validation: nothing saved")
            }
            Terminal.note(String(format: "%@; best validation macro F1 %.4f, accuracy %.4f (epoch %.2f); model in %@",
                                 outcome.rawValue, best.macroF1, best.accuracy, best.epoch, folder.path))
            if tfidf && outcome != .interrupted && ngramBuckets > 0 {
                _ = try trainer.fitTfidf { Terminal.note($0) }
            }
            if let test {
                let result = try ClassifierEvaluation.evaluate(classifier, on: try LabelledData.read(path: test, format: format))
                if json { try JSONLine.print(result.report) } else {
                    print("test (\(test)):\n\(result.report.table)\n")
                }
            }
            if outcome == .interrupted { throw ExitCode(130) }
        } catch let error as ClassificationError {
            throw CLIError("\(error)")
        } catch let error as TrainingError {
            throw CLIError("\(error)")
        }
    }

    private func makeClassifier(labels: [String], train: [LabelledExample], valid: [LabelledExample],
                                folder: ClassifierFolder, threads: Int, monitor: InterruptMonitor) throws -> Classifier {
        guard var run = lm.map(RunFolder.init(path:)) else {
            let path = try vocab ?? DefaultVocabulary.path() ?? {
                throw CLIError("no --vocab given and the bundled vocabulary is not installed next to this executable")
            }()
            let vocabulary: Vocabulary
            do { vocabulary = try VocabularyFile.read(path: path) } catch {
                throw CLIError("cannot use vocabulary '\(path)': \(error)")
            }
            let stack: [ModelConfig.Layer]
            do { stack = try ModelConfig.layers(layers, hidden: hidden, heads: 4) } catch {
                throw ValidationError("--layers: \(error)")
            }
            let config = ModelConfig(vocabularySize: vocabulary.count, embeddingSize: embedding, layers: stack,
                                     dropout: dropout, maxSequenceLength: max(256, maxTokens))
            return try ClassifierSetup.fromScratch(config: config, vocabulary: vocabulary, labels: labels,
                                                   maxTokens: maxTokens, ngrams: ngrams, seed: seed, threads: threads)
        }
        if finetuneLmEpochs > 0 {
            let into = RunFolder(path: folder.file("lm"))
            let more = lmTexts.isEmpty ? "" : " and \(lmTexts.joined(separator: ", "))"
            Terminal.note("fine-tuning the language model of \(run.path) on the training texts\(more) for \(finetuneLmEpochs) epoch(s) in \(into.path)")
            if FileManager.default.fileExists(atPath: into.path) { try FileManager.default.removeItem(atPath: into.path) }
            let quiet = self.quiet
            run = try ClassifierSetup.fineTuneLanguageModel(
                run: run, texts: train.map(\.text), moreTextFiles: lmTexts, validationTexts: valid.map(\.text), into: into,
                epochs: finetuneLmEpochs, threads: threads,
                onEvaluation: { m in
                    if !quiet {
                        Terminal.note(String(format: "  language model: epoch %.2f, validation %.4f nats/token", m.epoch, m.validationLoss ?? .nan))
                    }
                },
                shouldStop: { monitor.isRequested })
            if monitor.isRequested { throw ExitCode(130) }
        }
        return try ClassifierSetup.fromLanguageModel(run: run, labels: labels, dropout: dropout, maxTokens: maxTokens,
                                                     encoderLayers: encoderLayers, ngrams: ngrams, seed: seed, threads: threads)
    }

    private var ngrams: TokenNgrams? {
        TokenNgrams.table(buckets: ngramBuckets, order: ngramOrder, hanOrder: hanNgramOrder)
    }

    private func train(_ trainer: ClassifierTrainer, monitor: InterruptMonitor) throws -> ClassifierTrainer.Outcome {
        let bar = ProgressBar(label: "train", total: trainer.totalSteps, unit: "steps")
        let quiet = self.quiet, json = self.json
        trainer.onStep = { r in
            guard !quiet else { return }
            bar.update(r.step, detail: String(format: "epoch %.2f loss %.4f %.0f texts/s", r.epoch, r.loss, r.textsPerSecond))
        }
        trainer.onEvaluation = { m in
            let f1 = m.f1.keys.sorted().map { String(format: "%@ %.4f", $0, m.f1[$0]!) }.joined(separator: ", ")
            bar.note(String(format: "step %d, epoch %.2f: train loss %.4f, validation loss %.4f, accuracy %.4f, macro F1 %.4f (F1 %@), %d layer group(s) training%@",
                            m.step, m.epoch, m.trainLoss ?? .nan, m.validationLoss, m.accuracy, m.macroF1, f1,
                            m.trainableGroups, m.best ? " (best)" : ""))
            if json { try? JSONLine.print(m) }
        }
        let outcome = try trainer.run(shouldStop: { monitor.isRequested })
        if !quiet { bar.finish() }
        return outcome
    }

    static func defaultFolder() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        return "runs/classify-" + formatter.string(from: Date())
    }
}
