@testable import Text

/// Small bilingual texts written for these tests.
enum Fixtures {
    static let lines = [
        "The river runs to the sea, and the sea runs back to the river.",
        "She said: \"We'll train the tokenizer on Chinese and English text.\"",
        "In 1998, the newspaper printed 12,345 copies every day.",
        "我们喜欢自然语言处理，也喜欢机器学习。",
        "今天天气很好，我们去公园散步。",
        "人民日报报道：经济稳定增长，人民生活水平不断提高。",
        "这本书写得太好了，强烈推荐！",
        "质量很差，我要退货。",
        "Tokenizers should give back exactly the text they were given.",
        "自然语言处理是人工智能的一个重要方向。",
        "the the the river river sea",
        "中国 China 北京 Beijing 上海 Shanghai",
    ]

    static var text: String { lines.joined(separator: "\n") + "\n" }

    static func vocabulary(size: Int = 400, specials: [String] = ["<pad>", "<eos>"], userWords: [String] = ["人工智能"],
                           minFrequency: Int = 2, threads: Int = 2) throws -> Vocabulary {
        var options = BPETrainer.Options()
        options.vocabularySize = size
        options.specialTokens = specials
        options.userWords = userWords
        options.minFrequency = minFrequency
        options.threads = threads
        var trainer = try BPETrainer(options: options)
        for _ in 0..<3 { try trainer.add(text) }
        return try trainer.train()
    }

    /// Adversarial round-trip probes: every one must decode to exactly its input.
    static let probes: [String] = [
        "", " ", "  ", "\t\t", "\n", "\r\n", "a\r\nb\r\n", "\u{FEFF}BOM at the start",
        "，（）１２３：；！？　全角标点", "control \u{0}\u{1}\u{7}\u{1B}[0m \u{7F} chars",
        "cafe\u{0301} vs café", "\u{0301}\u{0301}leading marks", "👨\u{200D}👩\u{200D}👧\u{200D}👦 family",
        "🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F} flag", "🇨🇳🇺🇸", "𠀀𪚥𰻞 rare Han",
        "<eos> <pad> literal specials", "Ελληνικά русский עברית العربية हिन्दी ไทย",
        "\u{2028}\u{2029}\u{85}", String(repeating: "中", count: 300), String(repeating: "a", count: 300),
        "\u{10FFFF}\u{E000}\u{FFFD}", "mixed中文English混合123四五六",
    ]
}
