import Foundation
import Text

/// Where the default training data of `trainlm` comes from, and how a character-level
/// vocabulary is made.
public enum LanguageModelData {
    /// The embedded default: the beginning of the prepared People's Daily text and of the
    /// modern-spelling Shakespeare plays of en-plays (`scripts/prepare-corpora` writes both
    /// under `corpora/`), sized so that ten epochs of the default model fit the main job's
    /// time budget.
    public static func defaultSources(corpora: String = "corpora") -> [TokenCorpus.Source] {
        [TokenCorpus.Source(path: (corpora as NSString).appendingPathComponent("zh-news/data/text.txt"),
                            limit: defaultBytesPerCorpus.chinese),
         TokenCorpus.Source(path: (corpora as NSString).appendingPathComponent("en-plays/data/text.txt"),
                            offset: englishOffset, limit: defaultBytesPerCorpus.english)]
    }

    /// Bytes read from each default corpus: about 140k tokens of each with the 8k vocabulary
    /// (Chinese takes 3 bytes a character and about 1.5 characters a token, English about 3.5
    /// bytes a token). Ten epochs took 5 minutes on 2 cores of a Zen 5 (about 15 on a Zen 1).
    public static let defaultBytesPerCorpus = (chinese: 500_000, english: 440_000)

    /// The default data's training texts alternate in blocks of this many bytes (whole lines):
    /// about 1,000 tokens of Chinese, then of English (`TokenCorpus.interleaved`).
    public static let defaultInterleaveBytes = 4096

    /// Where en-plays' modern-spelling edition of All's Well That Ends Well (its first such
    /// Shakespeare play) starts. Before it come Milton (Comus with its editor's notes, Paradise
    /// Lost) and the First Folio's spelling of the same play: a model trained on them samples
    /// footnotes and "vncropped". The corpus is pinned by its package's SHA-256, so the offset
    /// is stable; a test checks the text there.
    public static let englishOffset = 1_522_760

    /// A vocabulary with every character of `texts` as a token (byte fallback for the rest)
    /// and `<eos>` as its special token.
    public static func characterVocabulary(_ texts: [[UInt8]], threads: Int) throws -> Vocabulary {
        var options = BPETrainer.Options()
        options.characterLevel = true
        options.specialTokens = ["<eos>"]
        options.threads = threads
        var trainer = try BPETrainer(options: options)
        for text in texts {
            try text.withUnsafeBufferPointer { try trainer.add($0) }
        }
        return try trainer.train()
    }
}

extension RunFolder {
    /// The run folder under `root` whose best checkpoint was written last, or nil.
    public static func mostRecent(in root: String = "runs") -> RunFolder? {
        let manager = FileManager.default
        guard let names = try? manager.contentsOfDirectory(atPath: root) else { return nil }
        var best: (Date, RunFolder)?
        for name in names {
            let folder = RunFolder(path: (root as NSString).appendingPathComponent(name))
            guard let attributes = try? manager.attributesOfItem(atPath: folder.weightsPath(.best)),
                  let date = attributes[.modificationDate] as? Date else { continue }
            if best == nil || date > best!.0 { best = (date, folder) }
        }
        return best?.1
    }
}
