import ArgumentParser
import CLISupport
import Classification
import Foundation

@main
struct Classify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify lines of text (sentiment by default) with a model fine-tuned from a trainlm language model.",
        discussion: """
            `classify` reads lines from standard input (or FILEs) and prints one verdict per \
            line, in order, as soon as it is computed: `positive 0.9731`. `classify train` \
            trains a classifier from labelled data, `classify test` scores one on labelled data.
            """,
        subcommands: [Predict.self, Train.self, Test.self],
        defaultSubcommand: Predict.self)

    /// The classifier folder used when --model is not given: $CLASSIFY_MODEL, else the one the
    /// main job builds (runs/main-job/sentiment) under the current directory or the package
    /// this executable was built in.
    static func defaultModel() -> String? {
        if let path = ProcessInfo.processInfo.environment["CLASSIFY_MODEL"], !path.isEmpty { return path }
        let relative = "runs/main-job/sentiment"
        var candidates = [relative]
        if let root = executablePackageRoot() { candidates.append((root as NSString).appendingPathComponent(relative)) }
        return candidates.first { FileManager.default.fileExists(atPath: ($0 as NSString).appendingPathComponent("classifier.json")) }
    }

    /// <package>/.build/<config>/classify -> <package>
    private static func executablePackageRoot() -> String? {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let root = executable.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.path
    }

    /// Loads the classifier and sets its class prior: `prior` (a `LabelPrior` name), or when
    /// nil uniform if the classifier records its training labels' counts, else training.
    static func loadModel(_ path: String?, threads: Int?, prior: String? = nil) throws -> Classifier {
        guard let path = path ?? defaultModel() else {
            throw CLIError("no classifier: pass --model DIR (a folder written by `classify train`), set CLASSIFY_MODEL, or run scripts/main-job to build the default sentiment model")
        }
        let classifier: Classifier
        do { classifier = try ClassifierFolder(path: path).load(threads: threads) } catch {
            throw CLIError("\(error)")
        }
        if let prior {
            classifier.prior = LabelPrior(rawValue: prior)!
            if classifier.prior == .uniform && classifier.spec.labelCounts == nil {
                throw CLIError("--prior uniform: '\(path)' does not record its training labels' counts (trained before they were kept); retrain it or use --prior training")
            }
        } else {
            classifier.prior = classifier.spec.labelCounts == nil ? .training : .uniform
        }
        return classifier
    }

    static let priorHelp = ArgumentHelp(
        "The class prior: uniform (every label equally likely before the text is read: for text from elsewhere) or training (the training data's label frequencies within the text's script: for more text drawn like it). Default: uniform, or training for a classifier that does not record its training labels' counts.",
        valueName: "uniform|training")

    static func validatePrior(_ prior: String?) throws {
        if let prior, LabelPrior(rawValue: prior) == nil { throw ValidationError("--prior must be uniform or training") }
    }
}

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Print one verdict per input line (the default subcommand).",
        discussion: """
            Output per line: the label and its probability (`positive 0.9731`); with -k N the N \
            most likely labels and their probabilities; with --threshold P a line whose best \
            probability is below P is labelled `uncertain` (with that probability). An empty or \
            blank line prints `no-text`; a line that cannot be read (invalid UTF-8, a NUL byte, \
            longer than --max-line-bytes) prints `error: <reason>`, and the stream goes on. \
            --json prints one object per line instead: index, label, probability, and the \
            probability of every label. Exit code 0, or 2 when some line got an error verdict.
            """)

    @Argument(help: "Files to classify line by line ('-' or none: standard input).")
    var files: [String] = []
    @Option(help: "Classifier folder (default: $CLASSIFY_MODEL or the main job's runs/main-job/sentiment).")
    var model: String?
    @Option(name: .short, help: "Print the K most likely labels.")
    var k = 1
    @Option(help: "Label lines whose best probability is below this `uncertain`.")
    var threshold: Float?
    @Option(help: "Lines longer than this many bytes get an error verdict.")
    var maxLineBytes = 1 << 20
    @Option(help: Classify.priorHelp)
    var prior: String?
    @Option(help: "Threads (default: all cores).")
    var threads: Int?
    @Flag(help: "One JSON object per line.")
    var json = false

    func validate() throws {
        if k < 1 { throw ValidationError("-k must be at least 1") }
        if let threshold, !(threshold >= 0 && threshold <= 1) { throw ValidationError("--threshold must be in [0, 1]") }
        if maxLineBytes < 1 { throw ValidationError("--max-line-bytes must be positive") }
        try Classify.validatePrior(prior)
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        let classifier = try Classify.loadModel(model, threads: threads, prior: prior)
        let lineClassifier = LineClassifier(classifier: classifier, maxLineBytes: maxLineBytes)
        let source = LineSource(paths: files.isEmpty ? ["-"] : files, maxLineBytes: maxLineBytes)
        let formatter = VerdictFormatter(labels: classifier.labels, k: min(k, classifier.labels.count),
                                         threshold: threshold, json: json)
        var index = 0, errors = 0
        while true {
            let lines: [LineSource.Line]?
            // Up to 4,096 lines at once when they come fast: sorted by length, 64 to a
            // batch, a longer sorted run pads fewer steps (1,024 lines ran 7% slower on the
            // tweets test); slow input still comes back line by line.
            do { lines = try source.next(limit: 4096) } catch {
                throw CLIError("\(error)")
            }
            guard let lines else { break }
            var verdicts = try lineClassifier.classify(lines.map { $0.oversized ? [] : $0.bytes })
            for (i, line) in lines.enumerated() where line.oversized {
                verdicts[i] = .error("line of \(line.length) bytes exceeds the limit of \(maxLineBytes)")
            }
            var output: [UInt8] = []
            for verdict in verdicts {
                if case .error = verdict { errors += 1 }
                output += formatter.line(verdict, index: index)
                index += 1
            }
            // Written at once, unbuffered: a reader of a pipe sees each answer as it is made.
            output.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = write(1, raw.baseAddress! + offset, raw.count - offset)
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { Foundation.exit(n < 0 && errno == EPIPE ? 0 : 1) }
                    offset += n
                }
            }
        }
        if errors > 0 { throw ExitCode(2) }
    }
}

/// The text and JSON forms of a verdict.
struct VerdictFormatter {
    let labels: [String]
    let k: Int
    let threshold: Float?
    let json: Bool

    func line(_ verdict: Verdict, index: Int) -> [UInt8] {
        json ? jsonLine(verdict, index: index) : Array((textLine(verdict) + "\n").utf8)
    }

    private func ranked(_ p: [Float]) -> [Int] {
        p.indices.sorted { (p[$0], -$0) > (p[$1], -$1) }
    }

    private func textLine(_ verdict: Verdict) -> String {
        switch verdict {
        case .noText: return "no-text"
        case let .error(reason): return "error: \(reason)"
        case let .probabilities(p):
            let order = ranked(p)
            if let threshold, p[order[0]] < threshold {
                return "uncertain " + String(format: "%.4f", p[order[0]])
            }
            return order.prefix(k).map { labels[$0] + " " + String(format: "%.4f", p[$0]) }.joined(separator: " ")
        }
    }

    private struct Record: Encodable {
        var index: Int
        var label: String?
        var probability: Float?
        var probabilities: [String: Float]?
        var top: [Entry]?
        var verdict: String?
        var error: String?
        struct Entry: Encodable { var label: String; var probability: Float }
    }

    private func jsonLine(_ verdict: Verdict, index: Int) -> [UInt8] {
        var record = Record(index: index)
        switch verdict {
        case .noText:
            record.verdict = "no-text"
        case let .error(reason):
            record.verdict = "error"
            record.error = reason
        case let .probabilities(p):
            let order = ranked(p)
            let uncertain = threshold.map { p[order[0]] < $0 } ?? false
            record.label = uncertain ? "uncertain" : labels[order[0]]
            record.probability = p[order[0]]
            record.probabilities = Dictionary(uniqueKeysWithValues: zip(labels, p))
            if k > 1 { record.top = order.prefix(k).map { Record.Entry(label: labels[$0], probability: p[$0]) } }
        }
        return (try? JSONLine.bytes(record)) ?? Array("{\"index\":\(index),\"verdict\":\"error\"}\n".utf8)
    }
}
