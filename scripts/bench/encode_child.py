"""Times one peer tokenizer on the held-out text with one thread count, in its own process
(thread pools are fixed when a library is first used). Prints one JSON list of rows."""
import argparse
import gc
import time
from pathlib import Path

import peers
from common import emit, read_lines


def timed(fn, arg, repeat):
    """CPU seconds (all threads of this process) and wall seconds of each call, and the last result.
    The collector is paused so that building the result lists is not charged for collection passes."""
    cpu, wall, result = [], [], None
    for _ in range(repeat):
        result = None
        gc.collect()
        gc.disable()
        c0, w0 = time.process_time(), time.perf_counter()
        result = fn(arg)
        c1, w1 = time.process_time(), time.perf_counter()
        gc.enable()
        cpu.append(c1 - c0)
        wall.append(w1 - w0)
    return cpu, wall, result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kind", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", required=True)
    parser.add_argument("--train-file")
    parser.add_argument("--size", type=int)
    parser.add_argument("--quality", action="store_true", help="also count tokens and round-trip failures")
    args = parser.parse_args()

    tok = peers.make(args.kind, args.model, args.threads, args.train_file, args.size)
    rows = []
    for lang in ("zh", "en"):
        path = Path(args.data) / f"{lang}.held.txt"
        lines = read_lines(path)
        doc = path.read_text(encoding="utf-8")
        line_bytes = sum(len(line.encode("utf-8")) for line in lines)
        modes = {"lines": (tok.encode_lines, lines, line_bytes)}
        if args.threads == 1:
            for name, fn in tok.extra_line_modes().items():
                modes[name] = (fn, lines, line_bytes)
            modes["doc"] = (tok.encode_doc, doc, len(doc.encode("utf-8")))
        for mode, (fn, arg, nbytes) in modes.items():
            cpu, wall, result = timed(fn, arg, args.repeat)
            row = {"lang": lang, "mode": mode, "threads": args.threads, "bytes": nbytes,
                   "lines": len(lines), "cpu_seconds": cpu, "wall_seconds": wall}
            if args.quality and mode in ("lines", "doc"):
                ids = tok.ids(result)
                row["tokens"] = sum(len(x) for x in ids)
                if mode == "lines":
                    row["roundtrip_failures"] = sum(
                        1 for line, x in zip(lines, ids) if tok.decode(x) != line)
            rows.append(row)
            del result
    emit(rows)


if __name__ == "__main__":
    main()
