import Foundation
import Text

/// Where the default training data of `trainlm` comes from, and how a character-level
/// vocabulary is made.
public enum LanguageModelData {
    /// The embedded default: the beginning of the prepared People's Daily text and of the
    /// Shakespeare/Milton plays (`scripts/prepare-corpora` writes them under `corpora/`),
    /// sized so that ten epochs of the default model fit the main job's time budget.
    public static func defaultSources(corpora: String = "corpora") -> [TokenCorpus.Source] {
        [TokenCorpus.Source(path: (corpora as NSString).appendingPathComponent("zh-news/data/text.txt"),
                            limit: defaultBytesPerCorpus.chinese),
         TokenCorpus.Source(path: (corpora as NSString).appendingPathComponent("en-plays/data/text.txt"),
                            limit: defaultBytesPerCorpus.english)]
    }

    /// Bytes read from each default corpus. Chinese takes 3 bytes a character and about 1.5
    /// characters a token with the 8k vocabulary; English about 4 bytes a token: the two
    /// limits give similar numbers of tokens.
    public static let defaultBytesPerCorpus = (chinese: 210_000, english: 180_000)

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
