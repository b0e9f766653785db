@testable import Text

/// Deliberately plain BPE, to check the fast trainer and encoder against.
enum ReferenceBPE {
    /// Initial symbols of a piece: character tokens where the alphabet has them, bytes otherwise.
    static func initialSymbols(_ piece: [UInt8], _ v: Vocabulary) -> [Int32] {
        var out: [Int32] = []
        for scalar in String(decoding: piece, as: Unicode.UTF8.self).unicodeScalars {
            let bytes = Array(String(scalar).utf8)
            if bytes.count > 1, let id = v.kinds.indices.first(where: { v.kinds[$0] == .character && v.tokens[$0] == bytes }) {
                out.append(Int32(id))
            } else {
                out += bytes.map { b in Int32(v.kinds.indices.first { v.kinds[$0] == .byte && v.tokens[$0] == [b] }!) }
            }
        }
        return out
    }

    /// Merges the lowest-ranked adjacent pair, leftmost first, until none applies.
    static func encodePiece(_ piece: [UInt8], _ v: Vocabulary) -> [Int32] {
        var rank: [Int64: (Int, Int32)] = [:]
        for (r, m) in v.merges.enumerated() { rank[Int64(m.left) << 32 | Int64(m.right)] = (r, m.result) }
        var s = initialSymbols(piece, v)
        while s.count > 1 {
            var best: (rank: Int, at: Int, result: Int32)?
            for k in 0..<(s.count - 1) {
                if let (r, result) = rank[Int64(s[k]) << 32 | Int64(s[k + 1])], best == nil || r < best!.rank {
                    best = (r, k, result)
                }
            }
            guard let b = best else { break }
            s[b.at] = b.result
            s.remove(at: b.at + 1)
        }
        return s
    }

    /// User words (leftmost, longest) are tokens of their own; the text between them is
    /// pre-tokenized and merged.
    static func encode(_ text: String, _ v: Vocabulary) -> [Int32] {
        let users = v.userWords.sorted { $0.text.utf8.count > $1.text.utf8.count }
        var out: [Int32] = [], plain: [UInt8] = []
        var rest = Array(text.utf8)[...]
        func flush() { out += PreTokenizer().pieces(plain).flatMap { encodePiece($0, v) }; plain = [] }
        while let first = rest.first {
            if let word = users.first(where: { rest.starts(with: Array($0.text.utf8)) }) {
                flush()
                out.append(word.id)
                rest = rest.dropFirst(word.text.utf8.count)
            } else {
                plain.append(first)
                rest = rest.dropFirst()
            }
        }
        flush()
        return out
    }

    /// The merges a plain trainer learns: recount every pair of every word each step,
    /// take the most frequent (ties: smaller left id, then smaller right id), merge it
    /// everywhere leftmost first.
    static func trainMerges(words: [[UInt8]: Int], base: Vocabulary, size: Int, minFrequency: Int) -> [Vocabulary.Merge] {
        var tokens = base.tokens
        var seqs = words.map { (initialSymbols($0.key, base), $0.value) }
        var merges: [Vocabulary.Merge] = []
        while tokens.count < size {
            var counts: [Int64: Int] = [:]
            for (s, w) in seqs where s.count > 1 {
                for k in 0..<(s.count - 1) { counts[Int64(s[k]) << 32 | Int64(s[k + 1]), default: 0] += w }
            }
            guard let top = counts.max(by: { a, b in
                a.value != b.value ? a.value < b.value : a.key > b.key
            }), top.value >= minFrequency else { break }
            let left = Int32(top.key >> 32), right = Int32(top.key & 0xFFFF_FFFF)
            let bytes = tokens[Int(left)] + tokens[Int(right)]
            let result: Int32
            let mergeable = { (id: Int) in id >= base.count || (base.kinds[id] != .special && base.kinds[id] != .user) }
            if let existing = tokens.indices.first(where: { tokens[$0] == bytes && mergeable($0) }) {
                result = Int32(existing)
            } else {
                result = Int32(tokens.count)
                tokens.append(bytes)
            }
            merges.append(.init(left: left, right: right, result: result))
            for i in seqs.indices {
                var s = seqs[i].0, k = 0
                while k < s.count - 1 {
                    if s[k] == left && s[k + 1] == right { s[k] = result; s.remove(at: k + 1) }
                    k += 1
                }
                seqs[i].0 = s
            }
        }
        return merges
    }
}
