"""Invocations of the project's own tools: buildvocab and tokenize."""
import json
import subprocess

import shutil
import time

from children import run
from common import BENCH, BIN, read_lines

BUILDVOCAB = BIN / "buildvocab"
TOKENIZE = BIN / "tokenize"


def snapshot():
    """Copies the release binaries (and their resource bundles) into .bench/bin, so that a rebuild
    by someone else during the run cannot mix two builds. Returns when each binary was built."""
    global BUILDVOCAB, TOKENIZE
    dest = BENCH / "bin"
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    built = {}
    for name in ("tokenize", "buildvocab"):
        shutil.copy2(BIN / name, dest / name)
        built[name] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime((dest / name).stat().st_mtime))
    for bundle in BIN.glob("*.resources"):
        shutil.copytree(bundle, dest / bundle.name)
    BUILDVOCAB, TOKENIZE = dest / "buildvocab", dest / "tokenize"
    return built


def train(train_file, out, size, threads):
    """Returns buildvocab's --json statistics plus the child's peak RSS and wall time."""
    stdout, _, rss, wall = run([BUILDVOCAB, train_file, "-o", out, "--size", size,
                                "--threads", threads, "--json"])
    stats = json.loads(stdout)
    stats.update(rss_bytes=rss, process_seconds=wall)
    return stats


def encode_stats(vocab, held, threads):
    # --count: encode and count only, as the peers are timed (no per-line output to format).
    _, stderr, _, _ = run([TOKENIZE, held, "--vocab", vocab, "--threads", threads,
                           "--count", "--stats-json"], stdout_to_null=True)
    return json.loads(stderr.strip().splitlines()[-1])


def roundtrip_failures(vocab, held, decoded_path):
    """Lines where `tokenize --ids | tokenize --decode` does not give back the input line."""
    with open(decoded_path, "wb") as out:
        ids = subprocess.Popen([TOKENIZE, held, "--vocab", vocab, "--ids"], stdout=subprocess.PIPE)
        decode = subprocess.Popen([TOKENIZE, "--vocab", vocab, "--decode"], stdin=ids.stdout, stdout=out)
        ids.stdout.close()
        if decode.wait() != 0 or ids.wait() != 0:
            raise RuntimeError("tokenize --ids | tokenize --decode failed")
    original, decoded = read_lines(held), read_lines(decoded_path)
    failures = sum(1 for a, b in zip(original, decoded) if a != b)
    return failures + abs(len(original) - len(decoded))


def has_words():
    help_text = subprocess.run([TOKENIZE, "--help"], capture_output=True, text=True).stdout
    return "--words" in help_text


def words(held, out_path):
    with open(out_path, "wb") as out:
        subprocess.run([TOKENIZE, held, "--words"], stdout=out, check=True)
