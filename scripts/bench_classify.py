"""Driver for scripts/bench-classify (run it through that script, which sets up the venv).

    bench_classify.py [--ours-command CMD] [--ours-train-seconds [DATASET=]S ...]
                      [--ours-other-sources-command CMD]
    bench_classify.py child JSON          one training and evaluation (internal)

Per system, one process trains every configuration of its grid and prints their accuracies on
the validation split; the best is trained again in a second process (timed, from raw text),
which prints its figures on the test split as one JSON line. The test split plays no part in the
choice. Throughput is lines per second from raw text over the whole test file, featurization
included, best of REPEATS. Other processes' load around each process is measured as
bench_kernels.py does.

Ours: CMD is a shell command that reads lines on standard input and prints one
"label probability" line per line; `{dataset}` in it becomes the dataset's name. Each of its
REPEATS runs starts the command anew, so its throughput includes start-up and model loading;
the table also gives that start-up (the best of REPEATS runs on one line) and the rate without
it, which is what the peers' figures (a model already in memory) measure.

Other sources: each system, as trained and chosen for a dataset, also labels the files of
OTHER_SOURCES for that dataset's language (corpora/en-vader: Amazon review, movie review, New
York Times editorial and tweet sentences rated by people), text like none it trained on;
accuracy and positive-class F1 on each, no timing. With --ours-other-sources-command, that
command labels them too, as one more row of that table only (ours with other options, such as
another class prior, for text from elsewhere).

One more row is not a peer but an ablation of the strongest one: TF-IDF + LR without the inverse
document frequency (`use_idf=False`), tuned the same way, which shows what the idf weighting,
absent from our n-gram table, is worth on these splits.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_kernels import CONTENDED, cpu_name, measure

DATASETS = ["zh-reviews", "en-tweets"]
LABELS = ("positive", "negative")
THREADS = 2
REPEATS = 3
FASTTEXT_LRS = [0.1, 0.25, 0.5, 1.0]
FASTTEXT_VARIANTS = [(1, 5), (1, 25), (2, 5), (2, 25)]  # (wordNgrams, epoch)
TFIDF_CS = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0]
RESULTS = Path(".bench/classify.json")
# Labelled text from sources no system trains on, per dataset whose systems label it.
OTHER_SOURCES = {"en-tweets": {name: f"corpora/en-vader/data/{name}.tsv"
                               for name in ("amazon", "movies", "nyt", "tweets")}}


def read_labelled(path):
    with open(path, encoding="utf-8") as f:
        return [tuple(line.rstrip("\n").split("\t")) for line in f]


def other_sources(dataset, predict):
    """{source: figures} for the OTHER_SOURCES of dataset, labelled by predict(texts)."""
    figures = {}
    for name, path in OTHER_SOURCES.get(dataset, {}).items():
        rows = read_labelled(path)
        accuracy, f1 = scores([label for label, _ in rows], predict([text for _, text in rows]))
        figures[name] = {"accuracy": accuracy, "f1_positive": f1, "lines": len(rows)}
    return figures


def read_split(dataset, split):
    return read_labelled(f"corpora/{dataset}/data/{split}.tsv")


def fasttext_tokens(dataset, text):
    """Characters for Chinese, lower-cased words and punctuation marks for English."""
    if dataset.startswith("zh-"):
        return " ".join(c for c in text.lower() if not c.isspace())
    return " ".join(re.findall(r"\w+|[^\w\s]", text.lower()))


def fasttext_models(dataset, train, grid):
    """Yields one predict function per option set of the grid."""
    import fasttext

    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt") as f:
        f.writelines(f"__label__{label} {fasttext_tokens(dataset, text)}\n" for label, text in train)
        f.flush()
        for o in grid:
            model = fasttext.train_supervised(input=f.name, lr=o["lr"], epoch=o["epoch"],
                                              wordNgrams=o["wordNgrams"], thread=THREADS, verbose=0)

            def predict(texts, model=model):
                labels, _ = model.predict([fasttext_tokens(dataset, text) for text in texts])
                return [label[0].removeprefix("__label__") for label in labels]

            yield predict


def tfidf_models(dataset, train, grid, idf=True):
    """Yields one predict function per option set of the grid; the features are computed once."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    if dataset.startswith("zh-"):
        vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, use_idf=idf)
    else:
        vectorizer = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, use_idf=idf)
    features = vectorizer.fit_transform([text for _, text in train])
    for o in grid:
        # liblinear: the same optimum as lbfgs here, 2-4 times sooner on these sparse features
        model = LogisticRegression(C=o["C"], solver="liblinear").fit(features, [l for l, _ in train])
        yield lambda texts, model=model: list(model.predict(vectorizer.transform(texts)))


def scores(gold, predicted):
    """(accuracy, F1 of the positive class)."""
    pairs = list(zip(gold, predicted, strict=True))
    tp = sum(1 for g, p in pairs if g == p == "positive")
    fp = sum(1 for g, p in pairs if g != p == "positive")
    fn = sum(1 for g, p in pairs if p != g == "positive")
    return sum(1 for g, p in pairs if g == p) / len(pairs), 2 * tp / max(1, 2 * tp + fp + fn)


def child(spec):
    """Tuning: trains every option set of spec["grid"], prints their validation accuracies.
    Final: trains spec["grid"][0] (timed, from raw text), scores it on valid and on test, with
    REPEATS timed predictions of the whole test file."""
    dataset, grid = spec["dataset"], spec["grid"]
    models = {"fasttext": fasttext_models, "tfidf-lr": tfidf_models,
              "tf-lr": lambda *a: tfidf_models(*a, idf=False)}[spec["system"]]
    train, valid = read_split(dataset, "train"), read_split(dataset, "valid")
    gold, texts = [l for l, _ in valid], [t for _, t in valid]
    if not spec["final"]:
        print(json.dumps([scores(gold, predict(texts))[0] for predict in models(dataset, train, grid)]))
        return
    start = time.perf_counter()
    predict = next(models(dataset, train, grid[:1]))
    result = {"train_seconds": time.perf_counter() - start,
              "valid_accuracy": scores(gold, predict(texts))[0]}
    test = read_split(dataset, "test")
    texts = [text for _, text in test]
    seconds = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        predicted = predict(texts)
        seconds.append(time.perf_counter() - start)
    result.update(test_figures([label for label, _ in test], predicted, seconds))
    result["other_sources"] = other_sources(dataset, predict)
    print(json.dumps(result))


def run_ours(command, texts):
    """(seconds, labels): `command` run once with `texts` on stdin, one per line; exits unless
    it succeeds with one 'label probability' line per text."""
    data = "".join(f"{text}\n" for text in texts).encode("utf-8")
    start = time.perf_counter()
    out = subprocess.run(["sh", "-c", command], input=data, capture_output=True)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"{command} exited with {out.returncode}:\n{out.stderr.decode()}")
    lines = out.stdout.decode("utf-8").splitlines()
    if len(lines) != len(texts):
        sys.exit(f"{command} printed {len(lines)} lines for {len(texts)} inputs")
    for number, line in enumerate(lines, 1):
        if not is_prediction(line):
            sys.exit(f"{command}: output line {number} is not 'label probability': {line!r}")
    return elapsed, [line.split()[0] for line in lines]


def ours_child(spec):
    """Runs the command REPEATS times over the raw test texts; scores the last output. Also
    times it REPEATS times on the first text alone: its start-up (process, model loading,
    preparation), which the peers' in-process figures do not pay."""
    command = spec["command"]
    test = read_split(spec["dataset"], "test")
    texts = [text for _, text in test]
    startup = min(run_ours(command, texts[:1])[0] for _ in range(REPEATS))
    seconds = []
    for _ in range(REPEATS):
        elapsed, predicted = run_ours(command, texts)
        seconds.append(elapsed)
    figures = test_figures([label for label, _ in test], predicted, seconds)
    figures["startup_seconds"] = startup
    figures["best_lines_per_second_after_startup"] = len(test) / max(1e-9, min(seconds) - startup)
    figures["other_sources"] = other_sources(spec["dataset"], lambda texts: run_ours(command, texts)[1])
    print(json.dumps(figures))


def ours_other_sources_child(spec):
    """Only the other sources of spec["dataset"], labelled by spec["command"]."""
    figures = other_sources(spec["dataset"], lambda texts: run_ours(spec["command"], texts)[1])
    print(json.dumps({"other_sources": figures}))


def is_prediction(line):
    label, _, probability = line.partition(" ")
    try:
        return label in LABELS and 0 <= float(probability) <= 1
    except ValueError:
        return False


def test_figures(gold, predicted, seconds):
    accuracy, f1 = scores(gold, predicted)
    rates = sorted((len(gold) / s for s in seconds), reverse=True)
    return {"test_accuracy": accuracy, "test_f1_positive": f1, "test_lines": len(gold),
            "lines_per_second": rates, "best_lines_per_second": rates[0],
            "spread": (rates[0] - rates[-1]) / rates[0]}


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def run(command, env=None):
    """One child process; its JSON output and the load of other processes around it."""
    before = loadavg()
    stdout, other = measure(command, env)
    load = dict(other_load_cores=other, loadavg_before=before, loadavg_after=loadavg())
    return json.loads(stdout.strip().splitlines()[-1]), load


def tuned(dataset, system, grid, label):
    """Scores every option set of the grid on valid in one process; the best (the first of
    equals) is trained again in another and measured on test."""
    env = dict(os.environ, OMP_NUM_THREADS=str(THREADS), OPENBLAS_NUM_THREADS=str(THREADS))
    spec = dict(dataset=dataset, system=system, grid=grid, final=False)
    accuracies, tuning_load = run([sys.executable, __file__, "child", json.dumps(spec)], env)
    best = grid[accuracies.index(max(accuracies))]
    print(f"  {dataset} {label}: valid " + ", ".join(
        f"{describe(o)}: {a:.4f}" for o, a in zip(grid, accuracies)), file=sys.stderr, flush=True)
    spec = dict(spec, grid=[best], final=True)
    final, load = run([sys.executable, __file__, "child", json.dumps(spec)], env)
    return dict(final, **load, system=label, options=best,
                tuning=[dict(options=o, valid_accuracy=a) for o, a in zip(grid, accuracies)],
                tuning_load=tuning_load)


def describe(options):
    return ", ".join(f"{key} {value}" for key, value in options.items()) if options else "-"


def table(dataset, rows):
    print(f"\n### {dataset}: test {rows[0]['test_lines']:,} lines\n")
    print("| system | chosen on valid | valid acc. | test acc. | test F1 (positive) | train, s | "
          f"lines/s, best of {REPEATS} | spread | start-up, s | lines/s after start-up | other load |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        flag = " *" if r["other_load_cores"] > CONTENDED else ""
        valid = f"{100 * r['valid_accuracy']:.2f}%" if "valid_accuracy" in r else "-"
        train = f"{r['train_seconds']:.2f}" if r.get("train_seconds") is not None else "-"
        print(f"| {r['system']} | {describe(r.get('options'))} | {valid} | "
              f"{100 * r['test_accuracy']:.2f}% | {100 * r['test_f1_positive']:.2f} | {train} | "
              f"{r['best_lines_per_second']:,.0f} | {100 * r['spread']:.1f}% | "
              + (f"{r['startup_seconds']:.3f} | {r['best_lines_per_second_after_startup']:,.0f} | "
                 if "startup_seconds" in r else "- | - | ")
              + f"{r['other_load_cores']:.2f}{flag} |")


def other_sources_table(dataset, rows):
    names = list(OTHER_SOURCES.get(dataset, {}))
    if not names:
        return
    lines = {name: rows[0]["other_sources"][name]["lines"] for name in names}
    print(f"\n### {dataset}'s systems on other sources (corpora/en-vader): accuracy, F1 (positive)\n")
    print("| system | " + " | ".join(f"{name}, {lines[name]:,} lines" for name in names) + " |")
    print("|---|" + "---:|" * len(names))
    for r in rows:
        cells = [f"{100 * r['other_sources'][n]['accuracy']:.2f}%, {100 * r['other_sources'][n]['f1_positive']:.2f}"
                 for n in names]
        print(f"| {r['system']} | " + " | ".join(cells) + " |")


def train_seconds_of(values):
    """['12.5'] or ['zh-reviews=12.5', 'en-tweets=3'] -> {dataset: seconds}."""
    seconds = {}
    for value in values or []:
        dataset, _, number = value.rpartition("=")
        for name in ([dataset] if dataset else DATASETS):
            if name not in DATASETS:
                sys.exit(f"--ours-train-seconds: unknown dataset {name}")
            seconds[name] = float(number)
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ours-command", help="shell command: test lines on stdin, "
                        "'label probability' lines on stdout; {dataset} is replaced")
    parser.add_argument("--ours-other-sources-command", help="shell command like --ours-command, "
                        "for one more row of the other-sources table only")
    parser.add_argument("--ours-train-seconds", action="append", metavar="[DATASET=]S",
                        help="our training time, for all datasets or for one (repeatable)")
    args = parser.parse_args()
    ours_seconds = train_seconds_of(args.ours_train_seconds)

    from importlib.metadata import version

    machine = {"cpu": cpu_name(), "logical_cpus": os.cpu_count(), "threads": THREADS,
               "fasttext-wheel": version("fasttext-wheel"), "scikit-learn": version("scikit-learn"),
               "numpy": version("numpy"), "python": sys.version.split()[0]}
    print(f"CPU: {machine['cpu']}, {machine['logical_cpus']} logical CPUs")
    print(f"loadavg before: {open('/proc/loadavg').read().split()[:3]}")
    print(f"peers: fasttext-wheel {machine['fasttext-wheel']} ({THREADS} training threads), "
          f"scikit-learn {machine['scikit-learn']}, numpy {machine['numpy']}")
    print(f"timing: training from raw text, once; prediction of the whole test file from raw text, "
          f"best of N={REPEATS} (spread = (best - worst) / best)")

    results = {"machine": machine, "datasets": {}}
    for dataset in DATASETS:
        rows = []
        for ngrams, epoch in FASTTEXT_VARIANTS:
            grid = [dict(wordNgrams=ngrams, epoch=epoch, lr=lr) for lr in FASTTEXT_LRS]
            rows.append(tuned(dataset, "fasttext", grid, f"fastText, wordNgrams {ngrams}, {epoch} epochs"))
        rows.append(tuned(dataset, "tfidf-lr", [dict(C=c) for c in TFIDF_CS], "TF-IDF + LogisticRegression"))
        rows.append(tuned(dataset, "tf-lr", [dict(C=c) for c in TFIDF_CS],
                          "(ablation) TF-IDF without idf + LogisticRegression"))
        if args.ours_command:
            command = args.ours_command.replace("{dataset}", dataset)
            spec = dict(dataset=dataset, command=command)
            figures, load = run([sys.executable, __file__, "ours", json.dumps(spec)])
            rows.append(dict(figures, **load, system="ours", command=command, options=None,
                             train_seconds=ours_seconds.get(dataset)))
        results["datasets"][dataset] = rows
        table(dataset, rows)
        other_rows = list(rows)
        if args.ours_other_sources_command and dataset in OTHER_SOURCES:
            command = args.ours_other_sources_command.replace("{dataset}", dataset)
            figures, load = run([sys.executable, __file__, "ours-other", json.dumps(dict(dataset=dataset, command=command))])
            other_rows.append(dict(figures, **load, system=f"ours: `{command}`", command=command))
            results.setdefault("other_sources_rows", {})[dataset] = other_rows[-1]
        other_sources_table(dataset, other_rows)

    print(f"\nloadavg after: {open('/proc/loadavg').read().split()[:3]}")
    if any(r["other_load_cores"] > CONTENDED for rows in results["datasets"].values() for r in rows):
        print(f"* contended: other processes used more than {CONTENDED} cores on average during "
              "that row's final run; its time figures are unreliable")
    print("other load: cores' worth of other processes' CPU time during the row's final run. "
          "fastText trains on 2 threads with hogwild updates, so its figures vary between runs.")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    print(f"results: {RESULTS}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "child":
        child(json.loads(sys.argv[2]))
    elif len(sys.argv) == 3 and sys.argv[1] == "ours":
        ours_child(json.loads(sys.argv[2]))
    elif len(sys.argv) == 3 and sys.argv[1] == "ours-other":
        ours_other_sources_child(json.loads(sys.argv[2]))
    else:
        main()
