"""en-vader: English sentences from four other sources with human sentiment ratings, for
scoring a classifier on text unlike anything it trained on.

The VADER sdist carries the ground truth of its paper (Hutto & Gilbert, ICWSM 2014) as a
.tar.gz inside the .tar.gz: per source, lines `id<TAB>mean rating<TAB>text`, the mean of about
20 raters on -4 (extremely negative) to +4 (extremely positive). A sentence rated at least
+0.5 is positive, at most -0.5 negative; the ones between, which the raters found about
neutral, are left out. Each source becomes one label<TAB>text file, in file order.
"""
import io
import tarfile

from prepare_lib import CorpusError, check_columns, decode_utf8, lines_of
from sources import VADER_SDIST as SOURCE

INNER = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
MEMBERS = {"amazon.tsv": "hutto_ICWSM_2014/amazonReviewSnippets_GroundTruth.txt",
           "movies.tsv": "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt",
           "nyt.tsv": "hutto_ICWSM_2014/nytEditorialSnippets_GroundTruth.txt",
           "tweets.tsv": "hutto_ICWSM_2014/tweets_GroundTruth.txt"}
THRESHOLD = 0.5  # |mean rating| at least this: a positive or negative sentence
LABELS = ("positive", "negative")
SUMMARY_FILE = "all.tsv"


def rated(member: str, data: bytes) -> list[tuple[float, str]]:
    rows = []
    for number, line in enumerate(decode_utf8(member, data).splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t", 2)
        if len(fields) != 3:
            raise CorpusError(f"{member} line {number} is not id<TAB>rating<TAB>text")
        try:
            rating = float(fields[1])
        except ValueError:
            raise CorpusError(f"{member} line {number} has the rating {fields[1]!r}") from None
        if not -4 <= rating <= 4:
            raise CorpusError(f"{member} line {number} has a rating outside [-4, 4]: {rating}")
        text = " ".join(fields[2].split())
        if text:
            rows.append((rating, text))
    return rows


def build(archive) -> dict[str, str]:
    with tarfile.open(fileobj=io.BytesIO(archive.read(INNER))) as inner:
        data = {name: inner.extractfile(member).read() for name, member in MEMBERS.items()}
    outputs = {}
    for name, member in MEMBERS.items():
        rows = rated(member, data[name])
        labelled = [("positive" if r > 0 else "negative", t) for r, t in rows if abs(r) >= THRESHOLD]
        positive = sum(1 for label, _ in labelled if label == "positive")
        print(f"  {name}: {len(rows):,} rated sentences; {positive:,} positive, "
              f"{len(labelled) - positive:,} negative, {len(rows) - len(labelled):,} near neutral left out")
        outputs[name] = "".join(f"{label}\t{text}\n" for label, text in labelled)
    outputs[SUMMARY_FILE] = "".join(outputs[name] for name in MEMBERS)
    return outputs


def check(outputs: dict[str, str]) -> None:
    for name in list(MEMBERS) + [SUMMARY_FILE]:
        check_columns(name, outputs[name], 2)
        for number, line in enumerate(lines_of(outputs[name]), 1):
            label, text = line.split("\t")
            if label not in LABELS or not text:
                raise CorpusError(f"{name} line {number} has the label {label!r} or no text")
    if outputs[SUMMARY_FILE] != "".join(outputs[name] for name in MEMBERS):
        raise CorpusError(f"{SUMMARY_FILE} is not the sources' files in order")
