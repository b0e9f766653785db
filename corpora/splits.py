"""Deduplicated train/valid/test splits of a labelled corpus, with no near-copy across splits.

A corpus gives its rows (label, text) and its Keys. Texts with the same exact key are one
text (the first copy is written); a key found under both labels is dropped with all its
copies. Texts with the same near key or with similar shingle sets (Jaccard >= 0.8) are
joined into clusters (union-find), and each cluster goes whole to the split a hash of its
smallest exact key picks, so the split depends neither on file order nor on Python's hash seed.
"""
import hashlib
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Callable

from prepare_lib import CorpusError, check_columns, lines_of

LABELS = ("positive", "negative")
SPLITS = {"train": 0.8, "valid": 0.1, "test": 0.1}
SEED = "splits-v1"
SIMILAR = (4, 5)  # Jaccard threshold 0.8 as a fraction: exact integer comparisons
TOLERANCE = 0.02  # how far a split's share of the rows may be from SPLITS


@dataclass(frozen=True)
class Keys:
    exact: Callable[[str], str]  # text -> key under which texts are duplicates
    near: Callable[[str], str]  # exact key -> coarser key ("" when nothing is left)
    shingles: Callable[[str], set[str]]  # near key -> the set Jaccard similarity compares


def light_key(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def letter_runs(key: str) -> list[str]:
    """The key without digits, punctuation, symbols and spaces, as runs of letters."""
    return re.findall(r"[^\W\d_]+", key)


def char_shingles(text: str, n: int) -> set[str]:
    return {text[i:i + n] for i in range(len(text) - n + 1)} or {text}


def word_shingles(text: str, n: int) -> set[str]:
    words = text.split()
    return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)} or {text}


def unit_hash(key: str, salt: str) -> float:
    digest = hashlib.sha256(f"{SEED}\0{salt}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64


def split_of(cluster_key: str) -> str:
    position, bound = unit_hash(cluster_key, "split"), 0.0
    for name, share in SPLITS.items():
        bound += share
        if position < bound:
            return name
    return name


def similar_pairs(sets: list[set[str]]):
    """Yields every pair (i, j) of non-empty sets with Jaccard >= SIMILAR, exactly: prefix
    filtering (two sets that similar share one of their few rarest elements), then a check."""
    num, den = SIMILAR
    frequency = Counter(element for elements in sets for element in elements)
    # Any one order of the elements is exact; rarest first keeps the candidate lists short.
    # Elements of one set only come first and match nothing: they are counted, not indexed.
    shared = sorted((e for e, n in frequency.items() if n > 1), key=frequency.__getitem__)
    rank = {element: r for r, element in enumerate(shared)}
    index = defaultdict(list)
    for i in sorted(range(len(sets)), key=lambda i: (len(sets[i]), i)):
        size = len(sets[i])
        if size == 0:
            continue
        needed = -(-num * size // den)  # the least overlap with a set no larger than this one
        ranks = sorted(rank[e] for e in sets[i] if e in rank)
        candidates = set()
        for r in ranks[:max(0, len(ranks) - needed + 1)]:
            candidates.update(index[r])
            index[r].append(i)
        for j in candidates:
            if len(sets[j]) * den >= num * size:
                overlap = len(sets[i] & sets[j])
                if overlap * den >= num * (size + len(sets[j]) - overlap):
                    yield j, i


def clusters_of(keys: list[str], corpus: Keys) -> list[int]:
    """For each exact key, the index of its cluster's representative (union-find)."""
    parent = list(range(len(keys)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i, j):
        i, j = find(i), find(j)
        if i != j:
            parent[max(i, j)] = min(i, j)

    near = [corpus.near(key) for key in keys]
    first_with = {}
    for i, near_key in enumerate(near):
        if near_key:
            union(first_with.setdefault(near_key, i), i)
    for i, j in similar_pairs([corpus.shingles(n) if n else set() for n in near]):
        union(i, j)
    return [find(i) for i in range(len(keys))]


def make_splits(rows: list[tuple[str, str]], corpus: Keys) -> dict[str, str]:
    """rows: (label, text) in file order -> {"train.tsv": ..., "valid.tsv": ..., "test.tsv": ...}."""
    first, labels_of = {}, defaultdict(set)
    for label, text in rows:
        key = corpus.exact(text)
        first.setdefault(key, (label, text))
        labels_of[key].add(label)
    contradictory = {key for key, labels in labels_of.items() if len(labels) > 1}
    keys = sorted(key for key in first if key not in contradictory)
    root = clusters_of(keys, corpus)
    smallest = {}
    for key, r in zip(keys, root):
        smallest.setdefault(r, key)  # keys are sorted: the first seen is the smallest
    members = Counter(root)
    chosen = defaultdict(list)
    for key, r in zip(keys, root):
        chosen[split_of(smallest[r])].append(key)

    dropped_lines = sum(1 for _, text in rows if corpus.exact(text) in contradictory)
    print(f"  splits: {len(rows):,} rows, {len(first):,} distinct keys; {len(contradictory):,} keys "
          f"under both labels dropped ({dropped_lines:,} rows); {len(keys):,} texts in "
          f"{len(members):,} clusters ({sum(1 for n in members.values() if n > 1):,} of several "
          f"texts, {len(keys) - len(members):,} texts merged)")
    outputs = {}
    for name in SPLITS:
        in_split = sorted(chosen[name], key=lambda key: unit_hash(key, "order"))
        counts = Counter(first[key][0] for key in in_split)
        print(f"  {name}: {len(in_split):,} ({', '.join(f'{l} {counts[l]:,}' for l in LABELS)})")
        outputs[f"{name}.tsv"] = "".join("\t".join(first[key]) + "\n" for key in in_split)
    return outputs


def check_splits(outputs: dict[str, str], corpus: Keys) -> None:
    """No label but LABELS, no key twice, no near-copy in two splits, shares near SPLITS."""
    split_of_key, texts, where = {}, [], []
    for name in SPLITS:
        file = f"{name}.tsv"
        check_columns(file, outputs[file], 2)
        for number, line in enumerate(lines_of(outputs[file]), 1):
            label, text = line.split("\t")
            if label not in LABELS or not text:
                raise CorpusError(f"{file} line {number} has the label {label!r} or no text")
            key = corpus.exact(text)
            if key in split_of_key:
                raise CorpusError(f"{file} line {number}: its key is in {split_of_key[key]} too")
            split_of_key[key] = file
            texts.append(key)
            where.append(file)
    near_split = {}
    for key, file in zip(texts, where):
        near = corpus.near(key)
        if near and near_split.setdefault(near, file) != file:
            raise CorpusError(f"the near key {near!r} is in {near_split[near]} and {file}")
    shingles = [corpus.shingles(n) if (n := corpus.near(key)) else set() for key in texts]
    for i, j in similar_pairs(shingles):
        if where[i] != where[j]:
            raise CorpusError(f"near-copies in {where[i]} and {where[j]}: {texts[i]!r}, {texts[j]!r}")
    for name, share in SPLITS.items():
        actual = where.count(f"{name}.tsv") / len(where)
        if abs(actual - share) > TOLERANCE:
            raise CorpusError(f"{name}.tsv holds {actual:.1%} of the rows, not about {share:.0%}")


def held_out_entries(outputs: dict[str, str], corpus: Keys) -> tuple[set[str], set[str], list[set[str]]]:
    """The exact keys, near keys and shingle sets of the valid and test splits' texts."""
    keys = [corpus.exact(line.split("\t", 1)[1]) for name in ("valid", "test")
            for line in lines_of(outputs[f"{name}.tsv"])]
    near = [corpus.near(key) for key in keys]
    return set(keys), {n for n in near if n}, [corpus.shingles(n) for n in near if n]


def outside_held_out(texts: list[str], outputs: dict[str, str], corpus: Keys) -> list[str]:
    """Unlabelled texts for language-model fine-tuning: each distinct text once (first copy,
    in file order), without any that is a copy or near-copy of a valid or test text."""
    exact, near, shingles = held_out_entries(outputs, corpus)
    kept, seen = [], set()
    for text in texts:
        key = corpus.exact(text)
        if key in seen or key in exact or corpus.near(key) in near:
            continue
        seen.add(key)
        kept.append(text)
    sets = shingles + [corpus.shingles(n) if (n := corpus.near(corpus.exact(t))) else set() for t in kept]
    held = len(shingles)
    copies = {max(i, j) - held for i, j in similar_pairs(sets) if min(i, j) < held <= max(i, j)}
    return [text for k, text in enumerate(kept) if k not in copies]


def check_outside_held_out(name: str, text: str, outputs: dict[str, str], corpus: Keys) -> None:
    """No line of `text` is a copy or near-copy of a valid or test text."""
    lines = lines_of(text)
    if outside_held_out(lines, outputs, corpus) != lines:
        raise CorpusError(f"{name} repeats a text or holds a copy or near-copy of a valid or test text")

