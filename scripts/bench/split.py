"""Writes the deterministic train / held-out split of the two corpora."""
from common import HELD_OUT_EVERY, LANGS, ROOT, read_lines

QUICK_SHARE = 5  # --quick keeps one line in this many of each part


def write(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def split(out_dir, quick):
    """Every HELD_OUT_EVERY-th line is held out, so both parts sample the whole corpus
    (the plays corpus is ordered by author, a head/tail split would hold out Milton only)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    train_all = []
    for lang, corpus in LANGS.items():
        lines = read_lines(ROOT / "corpora" / corpus / "data" / "text.txt")
        held = [line for i, line in enumerate(lines, 1) if i % HELD_OUT_EVERY == 0]
        train = [line for i, line in enumerate(lines, 1) if i % HELD_OUT_EVERY != 0]
        if lang == "zh":
            gold = read_lines(ROOT / "corpora" / corpus / "data" / "gold.txt")
            assert len(gold) == len(lines), "gold.txt and text.txt differ in line count"
            gold_held = [line for i, line in enumerate(gold, 1) if i % HELD_OUT_EVERY == 0]
        if quick:
            held, train = held[::QUICK_SHARE], train[::QUICK_SHARE]
            if lang == "zh":
                gold_held = gold_held[::QUICK_SHARE]
        write(out_dir / f"{lang}.held.txt", held)
        write(out_dir / f"{lang}.train.txt", train)
        if lang == "zh":
            write(out_dir / "zh.gold.held.txt", gold_held)
        train_all += train
    write(out_dir / "train.txt", train_all)
    return {
        "rule": f"line numbers divisible by {HELD_OUT_EVERY} (1-based) held out, the rest trains"
        + (f"; --quick keeps every {QUICK_SHARE}th line of each part" if quick else ""),
        "train_file": str((out_dir / "train.txt").relative_to(ROOT)),
    }
