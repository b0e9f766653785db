"""Turns the collected figures into ratios and printed tables."""

LOSSY = {"spm-bpe-nfkc"}  # not a lossless peer: left out of "best peer" comparisons


def _rows(results, **match):
    return [r for r in results["encoding"] if all(r.get(k) == v for k, v in match.items())]


def _one(results, **match):
    rows = _rows(results, **match)
    return rows[0] if rows else None


def _best_line_speed(results, tokenizer, vocab, lang):
    """A peer's best single-thread MB per CPU-second over its ways of encoding lines."""
    rows = [r for r in _rows(results, tokenizer=tokenizer, vocab=vocab, lang=lang, threads=1)
            if r["mode"].startswith("lines")]
    return max((r["cpu_mb_per_second"]["best"], r["mode"]) for r in rows) if rows else None


def _peers(results, vocab):
    return sorted({r["tokenizer"] for r in results["encoding"] if r["vocab"] == vocab} - {"ours"})


def ratios(results):
    size = max(results["settings"]["sizes"])
    fixed = sorted({r["vocab"] for r in results["encoding"] if isinstance(r["vocab"], str)})
    out = []

    def add(kind, what, peer, lang, ours_value, peer_value, better, note=""):
        if ours_value is None or not peer_value:
            return
        out.append({"kind": kind, "what": what, "peer": peer, "lang": lang, "ours": ours_value,
                    "peer_value": peer_value, "ratio": ours_value / peer_value, "better": better, "note": note})

    for lang in ("zh", "en"):
        ours_speed = _best_line_speed(results, "ours", size, lang)
        ours_speed = ours_speed and ours_speed[0]
        for peer in sorted(set(_peers(results, size)) - LOSSY):
            best = _best_line_speed(results, peer, size, lang)
            if best:
                add("speed", f"encode MB/CPU-s, 1 thread, held-out lines, vocab {size} (peer: its faster of batch / loop)", peer, lang, ours_speed, best[0], "higher",
                    f"peer's {best[1]}")
        for vocab in fixed:
            for peer in _peers(results, vocab):
                best = _best_line_speed(results, peer, vocab, lang)
                if best:
                    add("speed", f"encode MB/CPU-s, 1 thread, lines, ours at {size} vs OpenAI vocabularies",
                        f"{peer}-{vocab}", lang, ours_speed, best[0], "higher", f"peer's {best[1]}")
        for vocab in [size] + fixed:
            for peer in sorted(set(_peers(results, vocab)) - LOSSY):
                doc = _one(results, tokenizer=peer, vocab=vocab, lang=lang, mode="doc")
                if doc:
                    label = peer if vocab == size else f"{peer}-{vocab}"
                    add("doc", f"encode MB/CPU-s, 1 thread: ours on the file (line by line) vs peer on the whole document as one string", label, lang,
                        ours_speed, doc["cpu_mb_per_second"]["best"], "higher")
        one = _one(results, tokenizer="ours", vocab=size, lang=lang, threads=1, mode="lines")
        two = _one(results, tokenizer="ours", vocab=size, lang=lang, threads=2, mode="lines")
        if one and two:
            add("threads", "ours' 2-thread over 1-thread wall MB/s (target >= 1.8)", "ours-1-thread", lang,
                two["wall_mb_per_second"]["best"], one["wall_mb_per_second"]["best"], "higher")
        for peer in sorted(set(_peers(results, size)) - LOSSY):
            p2 = _one(results, tokenizer=peer, vocab=size, lang=lang, threads=2, mode="lines")
            if two and p2:
                add("speed2", f"encode wall MB/s, 2 threads, held-out lines, vocab {size}", peer, lang,
                    two["wall_mb_per_second"]["best"], p2["wall_mb_per_second"]["best"], "higher")
        ours_rows = _one(results, tokenizer="ours", vocab=size, lang=lang, threads=1, mode="lines")
        peers_tpm = [(r["tokens_per_mb"], r["tokenizer"]) for r in _rows(results, vocab=size, lang=lang, mode="lines")
                     if "tokens_per_mb" in r and r["tokenizer"] not in LOSSY | {"ours"}]
        if ours_rows and peers_tpm:
            best_tpm, best_peer = min(peers_tpm)
            add("compression", f"tokens per MB at {size} vs the best lossless peer", best_peer, lang,
                ours_rows["tokens_per_mb"], best_tpm, "lower")

    training = {(t["trainer"], t["size"]): t for t in results["training"]}
    for (trainer, tsize), t in sorted(training.items(), key=lambda item: (item[0][1], item[0][0])):
        if trainer.startswith("ours") or trainer in LOSSY:
            continue
        ours_t = training.get(("ours", tsize))
        if ours_t:
            add("training", f"training time at {tsize} (ours: 2 threads)", trainer, "",
                ours_t["seconds"]["best"], t["seconds"]["best"], "lower")
            add("memory", f"training peak RSS at {tsize}", trainer, "",
                ours_t["peak_rss_mib"]["best"], t["peak_rss_mib"]["best"], "lower")
    return out


def _fmt(spread, digits=2):
    if not spread:
        return "-"
    return f"{spread['best']:.{digits}f} ({spread['median']:.{digits}f})"


def _table(header, rows):
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    print(line(header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))


def _targets(results):
    rs = results["ratios"]
    size = max(results["settings"]["sizes"])

    def verdict(kind, ok, peer_filter=lambda r: True):
        chosen = [r for r in rs if r["kind"] == kind and peer_filter(r)]
        if not chosen:
            return "n/a"
        worst = min(chosen, key=lambda r: r["ratio"]) if chosen[0]["better"] == "higher" \
            else max(chosen, key=lambda r: r["ratio"])
        passed = all(ok(r["ratio"]) for r in chosen)
        return (f"{'MET' if passed else 'MISSED'} (worst: ours/{worst['peer']} {worst['lang']} "
                f"{worst['ratio']:.3f}x)")

    print(f"  encoder faster than every peer per CPU-second, both languages: {verdict('speed', lambda x: x > 1)}")
    print(f"  2 threads >= 1.8x one thread:                                  {verdict('threads', lambda x: x >= 1.8)}")
    spm = lambda r: r["peer"] == "spm-bpe" and str(size) in r["what"]
    print(f"  training time <= 0.5x sentencepiece-BPE at {size}:              {verdict('training', lambda x: x <= 0.5, spm)}")
    print(f"  training memory <= 0.5x sentencepiece-BPE at {size}:            {verdict('memory', lambda x: x <= 0.5, spm)}")
    print(f"  compression no worse than the best peer at {size}:              {verdict('compression', lambda x: x <= 1)}")


def print_report(results):
    m, s = results["machine"], results["settings"]
    print("\n=== bench-tokenize ===")
    print(f"CPU: {m['cpu_model']}; {m['cores']} cores")
    print(f"Load average before: {' '.join(map(str, m['loadavg_before']))}; highest 1-min during: {m['loadavg_max_during']}")
    print(f"Other processes' CPU use: {m['others_cores_before']:.2f} cores before, {m['others_cores_during']:.2f} "
          f"on average during the run -> {'CONTENDED: figures unreliable' if m['contended'] else 'not contended'}")
    print(f"Repetitions: {s['repeat']} (figures are best (median)); split: {s['split']['rule']}; "
          f"run took {s['run_seconds'] / 60:.1f} min{'; QUICK smoke run' if s['quick'] else ''}")
    print("Ours: binaries (copied to .bench/bin at the start) built " + ", ".join(f"{k} {v}" for k, v in results["versions"]["ours"].items()))
    print("Peers: " + ", ".join(f"{k} {v}" if v else f"{k}: not available" for k, v in results["versions"].items()
                                if k != "ours"))

    print("\n-- 1. Vocabulary training (time: s, lower is better; peak RSS of the trainer's own process: MiB) --")
    _table(["trainer", "entries", "threads", "seconds", "peak RSS MiB"],
           [[t["trainer"], t["entries"], t["threads"], _fmt(t["seconds"]), _fmt(t["peak_rss_mib"], 0)]
            for t in results["training"]])

    vocabs = []
    for r in results["encoding"]:
        if r["vocab"] not in vocabs:
            vocabs.append(r["vocab"])
    print("\n-- 2. Encode speed on held-out text (MB per CPU-second on 1 thread; wall MB/s on 2 threads) --")
    print("   lines = one call per line / the batch API; doc = the held-out text as one string; "
          "ours: the file, line by line")
    rows = []
    for vocab in vocabs:
        names = []
        for r in _rows(results, vocab=vocab):
            if (r["tokenizer"], r["mode"]) not in names and r["mode"] != "doc":
                names.append((r["tokenizer"], r["mode"]))
        for name, mode in names:
            cell = lambda lang, threads, md, key: _fmt((_one(results, tokenizer=name, vocab=vocab, lang=lang,
                                                             threads=threads, mode=md) or {}).get(key))
            doc = lambda lang: "=lines" if name == "ours" else cell(lang, 1, "doc", "cpu_mb_per_second") \
                if mode == "lines" else ""
            rows.append([f"{name} ({mode})" if mode != "lines" else name, vocab,
                         cell("zh", 1, mode, "cpu_mb_per_second"), cell("en", 1, mode, "cpu_mb_per_second"),
                         cell("zh", 2, mode, "wall_mb_per_second"), cell("en", 2, mode, "wall_mb_per_second"),
                         doc("zh"), doc("en")])
    _table(["tokenizer", "vocab", "zh 1t CPU", "en 1t CPU", "zh 2t wall", "en 2t wall", "zh doc CPU", "en doc CPU"],
           rows)

    print("\n-- 3./4. Compression (tokens per MB of held-out text, lower is better) and round-trip failures (lines) --")
    rows = []
    for vocab in vocabs:
        for name in dict.fromkeys(r["tokenizer"] for r in _rows(results, vocab=vocab, mode="lines")):
            zh = _one(results, tokenizer=name, vocab=vocab, lang="zh", mode="lines", threads=1) or {}
            en = _one(results, tokenizer=name, vocab=vocab, lang="en", mode="lines", threads=1) or {}
            f = lambda r, k, fmt: fmt.format(r[k]) if k in r else "-"
            rows.append([name, vocab, f(zh, "tokens_per_mb", "{:,.0f}"), f(en, "tokens_per_mb", "{:,.0f}"),
                         f(zh, "roundtrip_failures", "{}") + f" / {zh.get('lines', '-')}",
                         f(en, "roundtrip_failures", "{}") + f" / {en.get('lines', '-')}"])
    _table(["tokenizer", "vocab", "zh tokens/MB", "en tokens/MB", "zh round-trip fail", "en round-trip fail"], rows)
    print("   spm-* use normalization_rule_name=identity, add_dummy_prefix=False, remove_extra_whitespaces=False "
          "(lossless);\n   spm-bpe-nfkc keeps sentencepiece's defaults (NFKC, dummy prefix, whitespace collapsing).")

    print("\n-- 5. Chinese word segmentation vs gold (held-out lines, span-based) --")
    rows = []
    for r in results["segmentation"]:
        if "unavailable" in r:
            print(f"   {r['segmenter'].split(' ')[0]}: {r['unavailable']}")
            continue
        speed = f"{r['mb_per_cpu_second']:.2f}" if "mb_per_cpu_second" in r else "-"
        rows.append([r["segmenter"], f"{r['precision']:.4f}", f"{r['recall']:.4f}", f"{r['f1']:.4f}", speed])
    _table(["segmenter", "precision", "recall", "F1", "MB/CPU-s"], rows)

    print("\n-- Ratios ours/peer (speed: higher is better for us; time, memory and tokens/MB: lower is better) --")
    groups = {}
    for r in results["ratios"]:
        groups.setdefault((r["what"], r["better"]), {}).setdefault(r["peer"], {})[r["lang"] or "all"] = r
    for (what, better), by_peer in groups.items():
        langs = [lang for lang in ("zh", "en", "all") if any(lang in cells for cells in by_peer.values())]
        print(f"  {what} ({better} is better for us):")
        for peer, cells in by_peer.items():
            digits = 3 if what.startswith("tokens") else 2  # compression differences are small
            values = "  ".join(f"{lang} {cells[lang]['ratio']:5.{digits}f}x" if lang in cells else f"{lang}     -"
                               for lang in langs)
            print(f"    ours/{peer:<24} {values}")

    print("\n-- Project targets --")
    _targets(results)
