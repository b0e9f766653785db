"""Paths and small helpers shared by the benchmark's scripts."""
import json
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / ".bench"
BIN = ROOT / ".build" / "release"
LANGS = {"zh": "zh-news", "en": "en-plays"}
HELD_OUT_EVERY = 5  # line numbers 5, 10, 15, ... (1-based) are held out; the rest is training text

# The GPT-4 (cl100k) split pattern as rustbpe trains with it; tiktoken is built with the same one.
GPT4_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*"""
    r"""|\s*[\r\n]|\s+(?!\S)|\s+"""
)


def data_dir(quick):
    return BENCH / ("data-quick" if quick else "data")


def model_dir(quick):
    return BENCH / ("models-quick" if quick else "models")


def read_lines(path):
    """Lines of a UTF-8 file without their newlines (a final newline ends the last line)."""
    text = Path(path).read_text(encoding="utf-8")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def spread(values, higher_is_better):
    """Best and median of repeated measurements, plus the raw values."""
    if not values:
        return None
    best = max(values) if higher_is_better else min(values)
    return {"best": best, "median": statistics.median(values), "all": values}


def emit(obj):
    print(json.dumps(obj), flush=True)
