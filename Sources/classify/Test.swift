import ArgumentParser
import CLISupport
import Classification
import Foundation

struct Test: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Score a classifier on labelled data: accuracy, per-class and macro precision, recall, F1, confusion matrix.")

    @Argument(help: "Labelled data (TSV, fastText or JSON lines).")
    var data: String
    @Option(help: "Classifier folder (default: $CLASSIFY_MODEL or the main job's runs/main-job/sentiment).")
    var model: String?
    @Option(help: "Input format: auto, tsv, fasttext or jsonl.")
    var format = "auto"
    @Option(help: "Threads (default: all cores).")
    var threads: Int?
    @Option(help: Classify.priorHelp)
    var prior: String?
    @Flag(help: "Print the report as one JSON object.")
    var json = false

    func validate() throws {
        guard LabelledDataFormat(rawValue: format) != nil else {
            throw ValidationError("--format must be auto, tsv, fasttext or jsonl")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        try Classify.validatePrior(prior)
    }

    func run() throws {
        let classifier = try Classify.loadModel(model, threads: threads, prior: prior)
        let result: ClassifierEvaluation.Result
        do {
            let examples = try LabelledData.read(path: data, format: LabelledDataFormat(rawValue: format)!)
            result = try ClassifierEvaluation.evaluate(classifier, on: examples)
        } catch let error as ClassificationError {
            throw CLIError("\(error)")
        }
        if json {
            try JSONLine.print(Summary(report: result.report, textsPerSecond: result.textsPerSecond))
        } else {
            print(result.report.table)
            Terminal.note(String(format: "%d texts, %.0f texts/s", result.report.count, result.textsPerSecond))
        }
    }

    struct Summary: Encodable {
        var report: ClassificationReport
        var textsPerSecond: Double
        func encode(to encoder: Encoder) throws {
            try report.encode(to: encoder)
            var c = encoder.container(keyedBy: Key.self)
            try c.encode(textsPerSecond, forKey: .textsPerSecond)
        }
        enum Key: String, CodingKey { case textsPerSecond = "texts_per_second" }
    }
}
