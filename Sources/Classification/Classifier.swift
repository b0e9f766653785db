import Dispatch
import Foundation
import Network
import Text

/// What a classifier is, stored as `classifier.json` beside its weights.
public struct ClassifierSpec: Codable, Equatable, Sendable {
    /// Class names; a class's index is its position.
    public var labels: [String]
    /// The encoder (the language model's configuration; its output head is not used).
    public var model: ModelConfig
    /// Longer texts are cut to their first `maxTokens` tokens.
    public var maxTokens: Int
    /// The language-model run the encoder started from, if any (provenance only).
    public var languageModel: String?
    /// Links become "http" and @-mentions "@user" before tokenizing (`Classifier.simplified`).
    public var simplifyLinks = true
    /// Rows of the head's hashed n-gram table (0: none; see `ClassifierHead`).
    public var ngramBuckets = 0
    /// The longest token n-gram the table sees.
    public var ngramOrder = 3
    /// The longest character n-gram of Han text the table sees (0: none).
    public var hanNgramOrder = 0
    /// The weight of the TF-IDF model's log-probabilities in the mixture with the network's,
    /// for texts of `ScriptGroup.other` and of `.han` (0 for both: the network alone, no
    /// `TfidfModel`; see `Classifier.useTfidf`). Files from before the Han weight existed use
    /// one weight for both.
    public var tfidfWeight = 0.0
    public var tfidfHanWeight = 0.0
    /// Per `ScriptGroup` (its raw value), how many training texts had each label, in `labels`
    /// order: what `LabelPrior.uniform` divides out. Nil in files from before it was recorded.
    public var labelCounts: [String: [Int]]?
    public static let ngramBucketRange = 0...(1 << 26)
    public static let ngramOrderRange = 1...8

    public init(labels: [String], model: ModelConfig, maxTokens: Int, languageModel: String?,
                ngrams: TokenNgrams? = nil) {
        self.labels = labels
        self.model = model
        self.maxTokens = maxTokens
        self.languageModel = languageModel
        if let ngrams {
            ngramBuckets = ngrams.buckets
            ngramOrder = ngrams.order
            hanNgramOrder = ngrams.hanOrder
        }
    }

    /// The n-grams the head reads, if it has a table.
    public var ngrams: TokenNgrams? {
        TokenNgrams.table(buckets: ngramBuckets, order: ngramOrder, hanOrder: hanNgramOrder)
    }

    enum CodingKeys: String, CodingKey {
        case labels, model, maxTokens = "max_tokens", languageModel = "language_model"
        case simplifyLinks = "simplify_links", ngramBuckets = "ngram_buckets", ngramOrder = "ngram_order"
        case hanNgramOrder = "han_ngram_order", tfidfWeight = "tfidf_weight", tfidfHanWeight = "tfidf_han_weight"
        case labelCounts = "label_counts"
    }

    /// Whether predictions mix in a TF-IDF model.
    public var mixesTfidf: Bool { tfidfWeight > 0 || tfidfHanWeight > 0 }

    /// The TF-IDF mixture weight of a text of `group`.
    public func tfidfWeight(for group: ScriptGroup) -> Double {
        group == .han ? tfidfHanWeight : tfidfWeight
    }

    /// Files written before a field existed read as its old behaviour.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        labels = try c.decode([String].self, forKey: .labels)
        model = try c.decode(ModelConfig.self, forKey: .model)
        maxTokens = try c.decode(Int.self, forKey: .maxTokens)
        languageModel = try c.decodeIfPresent(String.self, forKey: .languageModel)
        simplifyLinks = try c.decodeIfPresent(Bool.self, forKey: .simplifyLinks) ?? true
        ngramBuckets = try c.decodeIfPresent(Int.self, forKey: .ngramBuckets) ?? 0
        ngramOrder = try c.decodeIfPresent(Int.self, forKey: .ngramOrder) ?? 3
        hanNgramOrder = try c.decodeIfPresent(Int.self, forKey: .hanNgramOrder) ?? 0
        tfidfWeight = try c.decodeIfPresent(Double.self, forKey: .tfidfWeight) ?? 0
        tfidfHanWeight = try c.decodeIfPresent(Double.self, forKey: .tfidfHanWeight) ?? tfidfWeight
        labelCounts = try c.decodeIfPresent([String: [Int]].self, forKey: .labelCounts)
    }

    /// Refuses settings no classifier can have.
    public func validate() throws {
        try model.validate()
        guard labels.count >= 2 else { throw ClassificationError.data("a classifier needs at least 2 labels, got \(labels.count)") }
        guard maxTokens >= 2 else { throw ClassificationError.data("max tokens must be at least 2") }
        guard Self.ngramBucketRange.contains(ngramBuckets) else {
            throw ClassificationError.data("n-gram buckets must be in \(Self.ngramBucketRange), got \(ngramBuckets)")
        }
        guard Self.ngramOrderRange.contains(ngramOrder) else {
            throw ClassificationError.data("the n-gram order must be in \(Self.ngramOrderRange), got \(ngramOrder)")
        }
        guard hanNgramOrder == 0 || Self.ngramOrderRange.contains(hanNgramOrder) else {
            throw ClassificationError.data("the Han n-gram order must be 0 or in \(Self.ngramOrderRange), got \(hanNgramOrder)")
        }
        for weight in [tfidfWeight, tfidfHanWeight] where !(weight >= 0 && weight <= 1) {
            throw ClassificationError.data("a TF-IDF weight must be in [0, 1], got \(weight)")
        }
        for (group, counts) in labelCounts ?? [:] {
            guard ScriptGroup(rawValue: group) != nil, counts.count == labels.count, counts.allSatisfy({ $0 >= 0 }) else {
                throw ClassificationError.data("label counts of '\(group)' must be \(labels.count) counts of a script group (han, other)")
            }
        }
        guard !mixesTfidf || ngramBuckets > 0 else {
            throw ClassificationError.data("a TF-IDF model needs the n-gram rows (n-gram buckets above 0)")
        }
    }
}

/// A text classifier: tokenizer -> encoder (embedding and LSTM/attention layers of a
/// `Model`) -> `ClassifierHead` (concat pooling, linear, softmax).
///
/// Every text is encoded as a line of the language model's training text would be: a line
/// break, then the text (cut to `spec.maxTokens` tokens), and runs from a zero state. Texts are
/// sorted by length before they are cut into batches, so padding costs little. In training a
/// batch is padded to one of a few lengths (`paddedLength`), for which the model keeps its
/// buffers; prediction runs the model's inference path (`Model.inferFeatures`).
///
/// Prediction runs on `threads` workers at once, each a model over the same parameters (with
/// its own buffers, sharing one inference gate table) and a head over the same weights, taking every
/// `threads`-th batch: no synchronization per time step, as splitting each product would need.
/// A classifier is not thread-safe itself: one call at a time.
public final class Classifier {
    public private(set) var spec: ClassifierSpec
    public let model: Model<Float>
    public let head: ClassifierHead<Float>
    public let tokenizer: Tokenizer
    /// Texts per forward when predicting: the recurrent product of a step is (batch, H) by
    /// (H, 4H), and 64 rows keep the micro-kernel on full 6-row panels more of the time than 32.
    public var batchSize = 64
    /// Workers of `probabilities`.
    public let threads: Int
    /// The class prior `probabilities` assume (`LabelPrior`); `.uniform` needs the spec's
    /// `labelCounts`.
    public var prior = LabelPrior.training
    /// The TF-IDF model mixed in at `spec.tfidfWeight(for:)`, if any.
    public private(set) var tfidf: TfidfModel?
    private var workers: [(model: Model<Float>, head: ClassifierHead<Float>)] = []
    /// The workers' shared gate table (`GateTable`).
    private var gateTable: GateTable<Float>?
    /// Whether the workers' gate table matches the current weights.
    private var workersReady = false

    public var labels: [String] { spec.labels }

    /// A classifier over `model` (whose weights it uses as they are) with a fresh head.
    /// `threads`: prediction workers (nil: every online core).
    public init(spec: ClassifierSpec, model: Model<Float>, tokenizer: Tokenizer, seed: UInt64, threads: Int? = nil) throws {
        try spec.validate()
        guard tokenizer.vocabulary.count == spec.model.vocabularySize else {
            throw ClassificationError.model("the vocabulary has \(tokenizer.vocabulary.count) tokens, the model \(spec.model.vocabularySize)")
        }
        self.spec = spec
        self.model = model
        self.tokenizer = tokenizer
        self.threads = max(1, threads ?? ProcessInfo.processInfo.activeProcessorCount)
        head = ClassifierHead(width: spec.model.width(before: spec.model.layers.count), classes: spec.labels.count,
                              ngramBuckets: spec.ngramBuckets)
        head.initialize(seed: seed ^ 0x636C_6173_7369_6679)
        // Every padded length keeps its buffers (see `paddedLength`).
        model.retainedShapes = 32
    }

    /// The padded length of a batch whose longest text has n tokens: multiples of 8 up to 64,
    /// then of 32 — at most 14 shapes up to 256 tokens, and under 1/3 of a batch padding.
    public static func paddedLength(_ n: Int) -> Int {
        n <= 64 ? (n + 7) / 8 * 8 : (n + 31) / 32 * 32
    }

    /// The token ids the encoder reads for `text`: a line break, then the text's tokens, cut
    /// to `spec.maxTokens`.
    public func tokens(_ text: String) throws -> [Int32] {
        var encoder = Encoder(tokenizer)
        return try tokens(text, encoder: &encoder)
    }

    /// `tokens(_:)` of every text, with one encoder: its piece cache carries over, and a fresh
    /// encoder per text cost its allocations each time.
    public func tokens(_ texts: [String]) throws -> [[Int32]] {
        var encoder = Encoder(tokenizer)
        return try texts.map { try tokens($0, encoder: &encoder) }
    }

    /// `tokens(_:)` with a caller's encoder, whose piece cache carries over from one text to
    /// the next (one encoder per thread).
    public func tokens(_ text: String, encoder: inout Encoder) throws -> [Int32] {
        let line = Array(("\n" + (spec.simplifyLinks ? Self.simplified(text) : text)).utf8)
        var encoding = Encoding()
        try line.withUnsafeBufferPointer { try encoder.encode($0, into: &encoding) }
        let ids = encoding.ids
        return ids.count > spec.maxTokens ? Array(ids[..<spec.maxTokens]) : ids
    }

    /// The probability of every class (K per text, in `labels` order) for token sequences
    /// from `tokens(_:)`, in their order. Runs in inference mode (no dropout).
    public func probabilities(_ sequences: [[Int32]]) throws -> [[Float]] {
        prepareWorkers()
        // Id 0 pads the shorter texts of a batch (`forward`).
        if let gateTable { try model.fillGateTable(gateTable, for: sequences + [[0]]) }
        let batchSize = self.batchSize
        let order = sequences.indices.sorted { sequences[$0].count < sequences[$1].count }
        let batches = stride(from: 0, to: order.count, by: batchSize).map {
            Array(order[$0..<min(order.count, $0 + batchSize)])
        }
        let results = Results(count: sequences.count)
        let k = labels.count
        // Each worker touches only its own model, head copy and result rows.
        let workers = UncheckedSendable(value: self.workers)
        let ngrams = spec.ngrams, pieces = tokenizer.vocabulary.tokens
        let tfidf = spec.mixesTfidf ? self.tfidf : nil, spec = self.spec, prior = self.prior
        if prior == .uniform && spec.labelCounts == nil {
            throw ClassificationError.model("this classifier does not record its training labels' counts (trained before they were kept): only the training prior is available")
        }
        DispatchQueue.concurrentPerform(iterations: workers.value.count) { w in
            let (model, head) = workers.value[w]
            let mine = stride(from: w, to: batches.count, by: workers.value.count).map { batches[$0] }
            // Sized once for this worker's longest batch (the last: lengths ascend).
            if let last = mine.last?.last { model.reserveInference(batch: batchSize, steps: max(1, sequences[last].count)) }
            for batch in mine {
                do {
                    let texts = batch.map { sequences[$0] }
                    // The n-gram rows of each text, for the head and the TF-IDF model alike.
                    let rows = Self.ngramRows(texts, ngrams: ngrams, pieces: pieces)
                    let logits = try Self.forward(texts, model: model, head: head, ngramRows: rows, inference: true)
                    for (row, index) in batch.enumerated() {
                        let z = Array(logits[(row * k)..<((row + 1) * k)])
                        let mixes = tfidf != nil && !rows.isEmpty
                        let group = mixes || prior != .training ? ScriptGroup.of(ids: texts[row], pieces: pieces) : nil
                        var p: [Float]
                        if let tfidf, let group, mixes {
                            let linear = tfidf.logits(tfidf.features(rows[row]))
                            p = TfidfModel.mixture(z, linear, weight: spec.tfidfWeight(for: group))
                        } else {
                            p = Self.softmax(z[...])
                        }
                        if let group { p = prior.adjust(p, counts: spec.labelCounts?[group.rawValue]) }
                        results.set(index, p)
                    }
                } catch {
                    results.fail(error)
                }
            }
        }
        return try results.values()
    }

    /// Records how many training texts had each label in each script group
    /// (`ClassifierSpec.labelCounts`), for `LabelPrior.uniform`.
    public func recordLabelCounts(_ counts: [String: [Int]]) throws {
        var spec = self.spec
        spec.labelCounts = counts
        try spec.validate()
        self.spec = spec
    }

    /// Mixes `model`'s log-probabilities into every prediction at `weight`, and into those
    /// of Han texts (`ScriptGroup`) at `hanWeight` (by default the same; 0 for both, or a nil
    /// model: the network alone). The model must read the spec's n-gram rows.
    public func useTfidf(_ model: TfidfModel?, weight: Double, hanWeight: Double? = nil) throws {
        let hanWeight = hanWeight ?? weight
        guard let model, weight > 0 || hanWeight > 0 else {
            tfidf = nil
            (spec.tfidfWeight, spec.tfidfHanWeight) = (0, 0)
            return
        }
        for w in [weight, hanWeight] where !(w >= 0 && w <= 1) {
            throw ClassificationError.model("a TF-IDF weight must be in [0, 1], got \(w)")
        }
        guard let ngrams = spec.ngrams, model.buckets == ngrams.buckets, model.classes == labels.count else {
            throw ClassificationError.model("the TF-IDF model does not fit the classifier's n-grams and labels")
        }
        tfidf = model
        (spec.tfidfWeight, spec.tfidfHanWeight) = (weight, hanWeight)
    }

    /// The n-gram rows (`TokenNgrams`) of token sequences from `tokens(_:)`, which the head's
    /// table and the TF-IDF model both read; empty without an n-gram table.
    public func ngramRows(_ sequences: [[Int32]]) -> [[Int32]] {
        Self.ngramRows(sequences, ngrams: spec.ngrams, pieces: tokenizer.vocabulary.tokens)
    }

    private static func ngramRows(_ sequences: [[Int32]], ngrams: TokenNgrams?, pieces: [[UInt8]]) -> [[Int32]] {
        guard let ngrams else { return [] }
        return sequences.map { ngrams.rows(of: $0, pieces: pieces) }
    }

    /// Says that the weights changed outside `forward` (a restore): the workers start over.
    public func weightsChanged() { workersReady = false }

    private func prepareWorkers() {
        guard !workersReady else { return }
        if workers.isEmpty {
            workers = (0..<threads).map { _ in
                (Model(sharingParametersOf: model, threads: 1), ClassifierHead(predictingWith: head))
            }
        }
        // One gate table, read by every worker and filled here before they run (on all of the
        // model's threads): half the work and cache footprint of one table per worker.
        gateTable = model.makeGateTable()
        for (copy, _) in workers { copy.prepareForInference(shared: gateTable) }
        workersReady = true
    }

    /// Encoder and head on one training batch: the logits (B, K), valid until the next forward.
    func forward(_ batch: [[Int32]]) throws -> UnsafeBufferPointer<Float> {
        workersReady = false  // the weights are about to change
        return try Self.forward(batch, model: model, head: head, ngramRows: ngramRows(batch))
    }

    /// Pads every sequence to the longest (in training to its `paddedLength`, one of the few
    /// shapes whose buffers the model keeps; in inference, one set of buffers serves every length).
    /// `ngramRows`: each sequence's n-gram rows (empty without an n-gram table).
    private static func forward(_ batch: [[Int32]], model: Model<Float>, head: ClassifierHead<Float>,
                                ngramRows rows: [[Int32]], inference: Bool = false) throws -> UnsafeBufferPointer<Float> {
        let lengths = batch.map { max(1, $0.count) }
        let steps = inference ? lengths.max()! : paddedLength(lengths.max()!)
        var ids = [Int32](repeating: 0, count: batch.count * steps)
        for (b, sequence) in batch.enumerated() {
            for (t, id) in sequence.enumerated() { ids[b * steps + t] = id }
        }
        let features = inference ? try model.inferFeatures(tokens: ids, batch: batch.count, steps: steps)
                                 : try model.forwardFeatures(tokens: ids, batch: batch.count, steps: steps)
        return head.forward(features, lengths: lengths, steps: steps, ngrams: rows)
    }

    /// Results written by the workers, each to its own rows.
    private final class Results: @unchecked Sendable {  // rows are disjoint; `error` is locked
        private let rows: UnsafeMutableBufferPointer<[Float]>
        private var error: Error?
        private let lock = NSLock()
        init(count: Int) { rows = .allocate(capacity: count); rows.initialize(repeating: []) }
        deinit { rows.deinitialize().deallocate() }
        func set(_ index: Int, _ value: [Float]) { rows[index] = value }
        func fail(_ e: Error) { lock.lock(); if error == nil { error = e }; lock.unlock() }
        func values() throws -> [[Float]] {
            if let error { throw error }
            return Array(rows)
        }
    }

    /// `text` with every link (a word starting http://, https:// or www.) replaced by "http"
    /// and every @-mention by "@user": their characters are noise to a classifier (a t.co
    /// link costs a dozen tokens) and what remains is that there was one.
    public static func simplified(_ text: String) -> String {
        guard text.contains("http") || text.contains("www.") || text.contains("@") else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count)
        var word = Substring()
        func flush() {
            if word.hasPrefix("http://") || word.hasPrefix("https://") || word.hasPrefix("www.") {
                out += "http"
            } else if word.hasPrefix("@"), word.count > 1 {
                let name = word.dropFirst().prefix { $0.isLetter || $0.isNumber || $0 == "_" }
                out += name.isEmpty ? String(word) : "@user" + word.dropFirst(1 + name.count)
            } else {
                out += word
            }
        }
        var start = text.startIndex
        for i in text.indices where text[i].isWhitespace {
            word = text[start..<i]
            flush()
            out.append(text[i])
            start = text.index(after: i)
        }
        word = text[start...]
        flush()
        return out
    }

    /// A numerically stable softmax in Double, returned as Float probabilities summing to 1.
    static func softmax(_ z: ArraySlice<Float>) -> [Float] {
        let top = Double(z.max()!)
        let e = z.map { exp(Double($0) - top) }
        let sum = e.reduce(0, +)
        return e.map { Float($0 / sum) }
    }
}

/// A value handed to worker threads that touch disjoint parts of it.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
}
