import FileSupport
import Foundation
import Network
import SafeTensors
import Text

/// A trained classifier on disk. Every file is written atomically (temporary file + rename):
///
/// | File | What |
/// |---|---|
/// | `classifier.json` | the `ClassifierSpec`: labels, encoder configuration, token limit |
/// | `vocab.vocab` | the vocabulary the encoder's ids refer to |
/// | `model.safetensors` | encoder weights with PyTorch's names (see `ParameterStore`) plus `classifier.weight` (K, 3C), `classifier.bias` (K) and, with n-grams, `ngrams.weight` (buckets, K); with a TF-IDF model (`TfidfModel`), `tfidf.idf` (buckets), `tfidf.weight` (buckets, K) and `tfidf.bias` (K); the spec in the metadata |
/// | `metrics.jsonl` | one record per validation during training |
public struct ClassifierFolder: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    public func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }
    public var specPath: String { file("classifier.json") }
    public var vocabularyPath: String { file("vocab.vocab") }
    public var weightsPath: String { file("model.safetensors") }
    public var metricsPath: String { file("metrics.jsonl") }

    /// Writes the spec, the vocabulary and the weights (the weights last: a folder whose
    /// model.safetensors exists is complete).
    public func save(_ classifier: Classifier) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw ClassificationError.model("cannot create '\(path)': \(error.localizedDescription)")
        }
        let spec = try Self.json(classifier.spec)
        try writeAtomically(path: specPath) { sink in
            try Array((spec + "\n").utf8).withUnsafeBytes { try sink($0) }
        }
        try VocabularyFile.write(classifier.tokenizer.vocabulary, to: vocabularyPath)
        let head = classifier.head
        let headTensors = head.tensors.map { t in
            NamedTensor(t.name, shape: t.shape, Array(head.values[t.range]))
        }
        var tfidfTensors: [NamedTensor] = []
        if let tfidf = classifier.tfidf, classifier.spec.mixesTfidf {
            tfidfTensors = [NamedTensor("tfidf.idf", shape: [tfidf.buckets], tfidf.idf),
                            NamedTensor("tfidf.weight", shape: [tfidf.buckets, tfidf.classes], tfidf.weight),
                            NamedTensor("tfidf.bias", shape: [tfidf.classes], tfidf.bias)]
        }
        try writeSafeTensors(classifier.model.parameters.namedTensors() + headTensors + tfidfTensors,
                             metadata: ["format": "bilingual-classifier", "classifier": spec],
                             to: URL(fileURLWithPath: weightsPath))
    }

    /// Loads the classifier, refusing with the reason a missing folder or file, a damaged or
    /// truncated file, and weights that do not match the spec or the vocabulary.
    public func load(threads: Int?) throws -> Classifier {
        guard FileManager.default.fileExists(atPath: specPath) else {
            throw ClassificationError.model("'\(path)' is not a classifier folder (no classifier.json); train one with `classify train`")
        }
        let spec: ClassifierSpec
        do {
            spec = try JSONDecoder().decode(ClassifierSpec.self, from: Data(try readWholeFile(path: specPath)))
            try spec.validate()
        } catch {
            throw ClassificationError.model("'\(specPath)' is damaged: \(error)")
        }
        let vocabulary: Vocabulary
        do { vocabulary = try VocabularyFile.read(path: vocabularyPath) } catch {
            throw ClassificationError.model("the classifier's vocabulary '\(vocabularyPath)' is missing or damaged: \(error)")
        }
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: weightsPath)) } catch {
            throw ClassificationError.model("the classifier's weights '\(weightsPath)' are missing or damaged: \(error)")
        }
        let model = try Model<Float>(zeroed: spec.model, threads: threads)
        let classifier = try Classifier(spec: spec, model: model, tokenizer: try Tokenizer(vocabulary: vocabulary), seed: 0, threads: threads)
        let head = classifier.head
        do {
            try model.parameters.load(from: file, others: Set(head.tensors.map(\.name) + Self.tfidfNames))
            func checked(_ name: String, _ shape: [Int]) throws -> String {
                guard let info = file.info(name), info.shape == shape else {
                    throw ClassificationError.model("no tensor '\(name)' of shape \(shape)")
                }
                return name
            }
            func tensor(_ name: String, _ shape: [Int]) throws -> [Float] {
                try file.floats(checked(name, shape), requireFinite: true)
            }
            for t in head.tensors {
                try file.copyFloats(checked(t.name, t.shape), into: UnsafeMutableBufferPointer(rebasing: head.values[t.range]),
                                    requireFinite: true)
            }
            if spec.mixesTfidf, let buckets = spec.ngrams?.buckets {
                let k = spec.labels.count
                let tfidf = TfidfModel(buckets: buckets, classes: k, idf: try tensor("tfidf.idf", [buckets]),
                                       weight: try tensor("tfidf.weight", [buckets, k]), bias: try tensor("tfidf.bias", [k]))
                try classifier.useTfidf(tfidf, weight: spec.tfidfWeight, hanWeight: spec.tfidfHanWeight)
            }
        } catch {
            throw ClassificationError.model("'\(weightsPath)' does not fit the classifier: \(error)")
        }
        return classifier
    }

    static let tfidfNames = ["tfidf.idf", "tfidf.weight", "tfidf.bias"]

    static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
