"""Benchmark driver: split, train, encode, segment, then report. Started by scripts/bench-tokenize."""
import argparse
import json
import os
import sys
import time
from importlib import metadata

import machine
import ours
import report
from children import progress, python, run_json
from common import BENCH, ROOT, data_dir, model_dir, read_lines, spread
from split import split

PEER_PACKAGES = ["tokenizers", "sentencepiece", "rustbpe", "tiktoken", "bpe-openai", "jieba"]
SPM_NFKC = "spm-bpe-nfkc"  # trained once at the largest size, only to show what NFKC does to round trips


class Contended(Exception):
    pass


class Bench:
    def __init__(self, args):
        self.args = args
        self.repeat = args.repeat
        self.data = data_dir(args.quick)
        self.models = model_dir(args.quick)
        self.sizes = [8000] if args.quick else [8000, 32000]
        self.versions = {}
        for name in PEER_PACKAGES:
            try:
                self.versions[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                self.versions[name] = None
        self.monitor = machine.Monitor()
        self.results = {"training": [], "encoding": [], "segmentation": []}

    def available(self, package):
        return self.versions.get(package) is not None

    def check(self):
        others = self.monitor.check()
        elapsed = time.monotonic() - self.monitor.start[0]
        if self.args.strict and elapsed > 10 and others > machine.CONTENDED_CORES:
            raise Contended(f"other processes used {others:.2f} cores on average during the run")

    # --- training -------------------------------------------------------------------------
    def trainers(self, size):
        kinds = ["ours-t1", "ours", "spm-bpe", "spm-unigram", "hf-bpe"]
        if self.available("rustbpe"):
            kinds.append("rustbpe")
        if size == max(self.sizes):
            kinds.append(SPM_NFKC)
        return kinds

    def train_once(self, kind, size):
        train = self.data / "train.txt"
        if kind.startswith("ours"):
            threads = 1 if kind == "ours-t1" else 2
            stats = ours.train(train, self.models / f"{kind}-{size}.vocab", size, threads)
            return {"seconds": stats["seconds"], "rss_bytes": stats["rss_bytes"], "entries": stats["entries"],
                    "self_reported_peak_bytes": stats["peak_memory_bytes"]}
        result, rss, _ = run_json(python("train_child.py", kind, str(size), str(train),
                                         str(self.models / f"{kind}-{size}")))
        result["rss_bytes"] = rss
        return result

    def train_all(self):
        self.models.mkdir(parents=True, exist_ok=True)
        for size in self.sizes:
            for kind in self.trainers(size):
                repeat = 1 if kind == SPM_NFKC else self.repeat
                runs = []
                for i in range(repeat):
                    runs.append(self.train_once(kind, size))
                    self.check()
                    progress(f"[train] {kind:<12} {size:>6}  run {i + 1}/{repeat}: "
                             f"{runs[-1]['seconds']:.2f} s, {runs[-1]['rss_bytes'] / 2**20:.0f} MiB")
                self.results["training"].append({
                    "trainer": kind, "size": size, "entries": runs[-1]["entries"],
                    "threads": 1 if kind == "ours-t1" else 2,
                    "seconds": spread([r["seconds"] for r in runs], higher_is_better=False),
                    "peak_rss_mib": spread([r["rss_bytes"] / 2**20 for r in runs], higher_is_better=False),
                    **({"self_reported_peak_mib": runs[-1]["self_reported_peak_bytes"] / 2**20}
                       if "self_reported_peak_bytes" in runs[-1] else {}),
                })

    # --- encoding -------------------------------------------------------------------------
    def add_row(self, tokenizer, vocab, row):
        nbytes = row["bytes"]
        entry = {"tokenizer": tokenizer, "vocab": vocab, **{k: row[k] for k in ("lang", "mode", "threads", "bytes", "lines")},
                 "cpu_mb_per_second": spread([nbytes / 1e6 / s for s in row["cpu_seconds"]], True),
                 "wall_mb_per_second": spread([nbytes / 1e6 / s for s in row["wall_seconds"]], True)}
        if "tokens" in row:
            entry["tokens"] = row["tokens"]
            entry["tokens_per_mb"] = row["tokens"] / (nbytes / 1e6)
        if "roundtrip_failures" in row:
            entry["roundtrip_failures"] = row["roundtrip_failures"]
        self.results["encoding"].append(entry)

    def encode_ours(self, size):
        vocab = self.models / f"ours-{size}.vocab"
        for lang in ("zh", "en"):
            held = self.data / f"{lang}.held.txt"
            lines = read_lines(held)
            nbytes = sum(len(line.encode("utf-8")) for line in lines)
            # The 1- and 2-thread runs alternate: on a shared machine whose speed drifts (a
            # 1-thread run of the same file took 41 to 65 MB per CPU-second from one bench
            # run to the next), runs in two blocks would put the drift into the thread ratio.
            runs = {1: [], 2: []}
            for _ in range(self.repeat):
                for threads in (1, 2):
                    runs[threads].append(ours.encode_stats(vocab, held, threads))
                self.check()
            for threads in (1, 2):
                stats = runs[threads]
                row = {"lang": lang, "mode": "lines", "threads": threads, "bytes": nbytes, "lines": len(lines),
                       "cpu_seconds": [s["cpu_seconds"] for s in stats],
                       "wall_seconds": [s["wall_seconds"] for s in stats]}
                if threads == 1:
                    row["tokens"] = stats[0]["tokens"]
                    row["roundtrip_failures"] = ours.roundtrip_failures(vocab, held, BENCH / f"decoded-{lang}.txt")
                self.add_row("ours", size, row)
        progress(f"[encode] ours {size} done")

    def encode_peer(self, name, kind, model, vocab, size=None, thread_counts=(1, 2)):
        for threads in thread_counts:
            env = dict(os.environ, RAYON_NUM_THREADS=str(threads),
                       TOKENIZERS_PARALLELISM="true" if threads > 1 else "false")
            cmd = python("encode_child.py", "--kind", kind, "--model", str(model), "--threads", str(threads),
                         "--repeat", str(self.repeat), "--data", str(self.data))
            if threads == 1:
                cmd.append("--quality")
            if size:
                cmd += ["--train-file", str(self.data / "train.txt"), "--size", str(size)]
            rows, _, _ = run_json(cmd, env)
            self.check()
            for row in rows:
                self.add_row(name, vocab, row)
        progress(f"[encode] {name} {vocab} done")

    def encode_all(self):
        for size in reversed(self.sizes):
            m = self.models
            self.encode_ours(size)
            self.encode_peer("hf-bpe", "hf-bpe", m / f"hf-bpe-{size}.json", size)
            self.encode_peer("spm-bpe", "spm-bpe", m / f"spm-bpe-{size}.model", size)
            self.encode_peer("spm-unigram", "spm-unigram", m / f"spm-unigram-{size}.model", size)
            if size == max(self.sizes):
                self.encode_peer(SPM_NFKC, SPM_NFKC, m / f"{SPM_NFKC}-{size}.model", size, thread_counts=(1,))
            if self.available("rustbpe"):
                self.encode_peer("rustbpe", "rustbpe", "-", size, size)
                self.encode_peer("tiktoken", "tiktoken", m / f"rustbpe-{size}.tiktoken", size)
            else:
                self.encode_peer("tiktoken", "tiktoken", m / f"hf-bpe-{size}.json", size)
        if self.available("bpe-openai"):
            for name in ("cl100k_base", "o200k_base"):
                self.encode_peer("tiktoken", "tiktoken", name, name)
                self.encode_peer("bpe-openai", "bpe-openai", name, name, thread_counts=(1,))

    # --- segmentation ---------------------------------------------------------------------
    def segment(self):
        held, gold = self.data / "zh.held.txt", self.data / "zh.gold.held.txt"
        rows, _, _ = run_json(python("segment.py", str(held), str(gold)))
        if ours.has_words():
            predicted = BENCH / "ours-words.txt"
            ours.words(held, predicted)
            rows += run_json(python("segment.py", str(held), str(gold), str(predicted)))[0]
        else:
            rows.append({"segmenter": "ours (tokenize --words)", "unavailable": "not available in this build"})
        self.check()
        self.results["segmentation"] = rows
        progress("[segment] done")


def main():
    parser = argparse.ArgumentParser(prog="bench-tokenize")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 repetition, 8,000 entries, 1/5 of the text")
    parser.add_argument("--repeat", type=int, default=None, help="repetitions of each timing (default 3; 1 with --quick)")
    parser.add_argument("--strict", action="store_true", help="refuse to run (or go on) while other processes load the CPU")
    args = parser.parse_args()
    args.repeat = args.repeat or (1 if args.quick else 3)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    started = time.time()
    info = machine.describe()
    info["others_cores_before"] = machine.idle_sample()
    progress(f"CPU: {info['cpu_model']}, {info['cores']} cores; load average {info['loadavg_before']}; "
             f"other processes before the run: {info['others_cores_before']:.2f} cores")
    if args.strict and info["others_cores_before"] > machine.CONTENDED_CORES:
        sys.exit(f"bench-tokenize: --strict: other processes use {info['others_cores_before']:.2f} cores; not starting")

    built = ours.snapshot()
    bench = Bench(args)
    split_info = split(bench.data, args.quick)
    try:
        bench.train_all()
        bench.encode_all()
        bench.segment()
    except Contended as error:
        sys.exit(f"bench-tokenize: --strict: {error}; stopping (partial figures discarded)")
    info["others_cores_during"] = bench.monitor.check()
    info["loadavg_max_during"] = bench.monitor.max_load
    info["contended"] = max(info["others_cores_before"], info["others_cores_during"]) > machine.CONTENDED_CORES

    results = {
        "machine": info,
        "settings": {"repeat": args.repeat, "quick": args.quick, "sizes": bench.sizes, "split": split_info,
                     "run_seconds": None},
        "versions": {**bench.versions, "ours": built},
        **bench.results,
    }
    results["settings"]["run_seconds"] = time.time() - started
    results["ratios"] = report.ratios(results)
    out = BENCH / ("tokenize-results-quick.json" if args.quick else "tokenize-results.json")
    out.write_text(json.dumps(results, indent=1), encoding="utf-8")
    report.print_report(results)
    print(f"\nAll figures: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
