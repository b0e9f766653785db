"""Driver for scripts/bench-train (run it through that script, which sets up the venv and builds
ours).

    bench_train.py [--budget S] [--only DATASET] [--systems LIST] [--threads N] [--skip-ours]
                   [--repeat N] [--allow-contended] [--scale-to-gflops G --kernelbench PATH]
                   [--trainlm PATH --evaluate PATH] [--ours-error TEXT]
                                     train every system on every dataset, print the tables
    bench_train.py torch lstm|gpt|gpt-budget TRAIN VALID BUDGET THREADS
                                     one PyTorch training + evaluation (internal)

Language-model quality at a fixed wall-clock training budget, character level. Each dataset is
split once (first 90% of the characters train, last 10% validate) into .bench/train/<dataset>/,
and every system reads those two files. Each training runs in its own process for BUDGET
seconds of training (evaluation is not counted) on THREADS threads with fixed seeds; then the
whole validation text is scored in nats per character two ways:

  stream     the text cut into 16 contiguous streams of equal length (the < 16 leftover
             characters dropped), fed in chunks of 64 characters with the state carried;
  window-64  every non-overlapping 64-character window from an empty state: inputs v[i:i+64],
             targets v[i+1:i+65] for i = 0, 64, 128, ... while i + 65 <= len(v).

With --scale-to-gflops G, the budget stands for a machine whose THREADS-thread FMA ceiling is
G GFLOP/s: the ceiling here is measured first (`kernelbench peak THREADS`, best of its runs) and
each system trains for BUDGET x G / ceiling seconds, about the work that machine does in BUDGET
seconds (a model of a slower machine that scales only the arithmetic, for both sides alike).

With --repeat N, the systems train in N rounds, each round every system once in turn (PyTorch
first), so that a slow spell of a shared machine falls on both sides of a round rather than on
one system; the table has a row per run, and each comparison with PyTorch's LSTM is made
within a round and reported as the median of the N rounds with their range.

The other processes' load is measured before (a few seconds' sample of /proc/stat), during
(around PyTorch's training loop inside its process; bench_kernels.measure around `trainlm`)
and after each training. Without
--allow-contended, a training does not start while others use more than CONTENDED cores, and
the run stops (exit 1) after a training during which they did; with it, such rows are flagged.
Results: .bench/train.json.
"""
import argparse
import json
import math
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

from bench_kernels import CONTENDED, cpu_jiffies, cpu_name, measure
from bench_kernels import run as run_kernelbench

ROOT = Path(__file__).resolve().parent.parent
# Relative to the repository root; $TINYSHAKESPEARE overrides it (relative to the root too).
TINYSHAKESPEARE = "../shared/corpora/tinyshakespeare.txt"
ZH_NEWS = "corpora/zh-news/data/text.txt"
DATASETS = ["shakespeare", "zh-news"]
OUT_DIR = Path(".bench/train")
RESULTS = Path(".bench/train.json")

SEED = 1
STREAMS, LENGTH = 16, 64  # evaluation protocols
# Model options passed through to `trainlm` (after the fixed ones), for the character models
# and for the zh-news BPE row.
OURS_ARGS = []
OURS_BPE_ARGS = []
# The "ours-same" row: PyTorch's LSTM model and recipe in trainlm (embedding 128, two LSTM
# layers of 256, untied linear head, no dropout, batch 32 x 64, Adam 2e-3 cosine to 2e-4,
# clip 1, the state carried from batch to batch and never reset, as PyTorch's is): the
# same-size training speed the 1.5x target is about. Its output layer scores the characters
# of the training text as PyTorch's does; `--adaptive-softmax seen` puts the byte-fallback
# ids of the characters the text lacks (192 of tiny Shakespeare's 257 ids, which PyTorch's
# model cannot produce at all) into one cluster that costs nothing in training, instead of a
# 257-way product over every position.
OURS_SAME_ARGS = ["--embedding", "128", "--hidden", "256", "--layers", "lstm,lstm", "--no-tie",
                  "--dropout", "0", "--batch", "32", "--seq", "64", "--lr", "2e-3", "--min-lr", "2e-4",
                  "--weight-decay", "0", "--clip", "1", "--adaptive-softmax", "seen", "--state-reset", "0"]
# The "ours-adaptive" row (zh-news): the default character model with an adaptive softmax, the
# 500 most frequent characters in its head and two clusters (ranks 500-1,999 projected to 64,
# the rest to 16), instead of a softmax over all 4,871 ids of its vocabulary.
OURS_ADAPTIVE_ARGS = ["--adaptive-softmax", "500,2000"]
# ours - PyTorch LSTM on the stream protocol, nats per character, for ours to meet.
TARGETS = {"shakespeare": -0.06, "zh-news": -1.0}
SPEED_TARGET = 1.5  # ours / PyTorch LSTM, training characters per second
# Every system's label in the tables, in the order they train.
LABELS = {"lstm": "PyTorch LSTM", "gpt": "nanoGPT (PyTorch)", "gpt-budget": "nanoGPT, whole budget",
          "ours": "ours (char)", "ours-same": "ours, PyTorch's LSTM size and recipe (char)",
          "ours-adaptive": "ours, adaptive softmax (char)", "ours-bpe": "ours (BPE, default)"}
SYSTEMS = list(LABELS)

LSTM = dict(embedding=128, hidden=256, layers=2, batch=32, seq=64, lr=2e-3, min_lr=2e-4, clip=1.0)
# nanoGPT's config/train_shakespeare_char.py with its own CPU overrides (block 64, batch 12,
# 4 layers, 4 heads, width 128, max_iters = lr_decay_iters = 2000, dropout 0) and train.py's
# defaults for what that file does not set (weight decay 0.1, clip 1.0).
GPT = dict(layers=4, heads=4, width=128, block=64, batch=12, dropout=0.0, lr=1e-3, min_lr=1e-4,
           betas=(0.9, 0.99), weight_decay=0.1, warmup=100, max_iters=2000, lr_decay_iters=2000,
           clip=1.0)
LOAD_SAMPLE = 3.0  # seconds of /proc/stat before and after each training
QUIET_TRIES, QUIET_WAIT = 4, 20.0  # before refusing to start: samples, seconds between them


# ---------------------------------------------------------------------------------------------
# PyTorch systems (run in a child process: bench_train.py torch lstm|gpt ...)

def torch_train(kind, train_path, valid_path, budget, threads):
    import torch
    from torch import nn
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    torch.manual_seed(SEED)
    train_text = Path(train_path).read_text(encoding="utf-8")
    valid_text = Path(valid_path).read_text(encoding="utf-8")
    # As nanoGPT's prepare.py: the alphabet of the whole text, so validation characters never
    # seen in training still have an id (and a very low probability).
    chars = sorted(set(train_text) | set(valid_text))
    index = {c: i for i, c in enumerate(chars)}
    vocab = len(chars)
    train = torch.tensor([index[c] for c in train_text], dtype=torch.long)
    valid = torch.tensor([index[c] for c in valid_text], dtype=torch.long)

    class CharLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(vocab, LSTM["embedding"])
            self.lstm = nn.LSTM(LSTM["embedding"], LSTM["hidden"], num_layers=LSTM["layers"])
            self.head = nn.Linear(LSTM["hidden"], vocab)

        def forward(self, x, state=None):
            """x (T, B) -> logits (T, B, V), (h, c)."""
            y, state = self.lstm(self.embedding(x), state)
            return self.head(y), state

    class CausalSelfAttention(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.c_attn = nn.Linear(c["width"], 3 * c["width"], bias=False)
            self.c_proj = nn.Linear(c["width"], c["width"], bias=False)
            self.resid_dropout = nn.Dropout(c["dropout"])
            self.heads, self.width, self.dropout = c["heads"], c["width"], c["dropout"]

        def forward(self, x):
            b, t, c = x.shape
            q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2)
                       for z in self.c_attn(x).split(self.width, dim=2))
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=None, is_causal=True,
                                               dropout_p=self.dropout if self.training else 0)
            return self.resid_dropout(self.c_proj(y.transpose(1, 2).contiguous().view(b, t, c)))

    class MLP(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.c_fc = nn.Linear(c["width"], 4 * c["width"], bias=False)
            self.gelu = nn.GELU()
            self.c_proj = nn.Linear(4 * c["width"], c["width"], bias=False)
            self.dropout = nn.Dropout(c["dropout"])

        def forward(self, x):
            return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))

    class Block(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.ln_1 = nn.LayerNorm(c["width"], bias=False)
            self.attn = CausalSelfAttention(c)
            self.ln_2 = nn.LayerNorm(c["width"], bias=False)
            self.mlp = MLP(c)

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPTModel(nn.Module):
        """nanoGPT's model.py GPT (bias=False, as train_shakespeare_char.py sets it)."""

        def __init__(self, c):
            super().__init__()
            self.block = c["block"]
            self.transformer = nn.ModuleDict(dict(
                wte=nn.Embedding(vocab, c["width"]),
                wpe=nn.Embedding(c["block"], c["width"]),
                drop=nn.Dropout(c["dropout"]),
                h=nn.ModuleList(Block(c) for _ in range(c["layers"])),
                ln_f=nn.LayerNorm(c["width"], bias=False),
            ))
            self.lm_head = nn.Linear(c["width"], vocab, bias=False)
            self.transformer.wte.weight = self.lm_head.weight  # weight tying
            self.apply(self._init_weights)
            for name, p in self.named_parameters():
                if name.endswith("c_proj.weight"):
                    nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * c["layers"]))

        @staticmethod
        def _init_weights(module):
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)

        def forward(self, idx):
            """idx (B, T) -> logits (B, T, V) at every position."""
            t = idx.shape[1]
            pos = torch.arange(0, t, dtype=torch.long)
            x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
            for block in self.transformer.h:
                x = block(x)
            return self.lm_head(self.transformer.ln_f(x))

    def summed_nats(logits, targets):
        losses = F.cross_entropy(logits.reshape(-1, vocab), targets.reshape(-1), reduction="none")
        return losses.double().sum().item(), targets.numel()

    losses = []
    load = LoadMeter()  # the other processes' load during the training loop only
    if kind == "lstm":
        model = CharLSTM()
        opt = torch.optim.Adam(model.parameters(), lr=LSTM["lr"])
        b, t = LSTM["batch"], LSTM["seq"]
        length = len(train) // b
        streams = train[:b * length].view(b, length).t().contiguous()  # (length, B)
        pos, state, steps = 0, None, 0
        start = time.perf_counter()
        while (elapsed := time.perf_counter() - start) < budget:
            if pos + t + 1 > length:  # end of an epoch: back to the start, empty state
                pos, state = 0, None
            x, y = streams[pos:pos + t], streams[pos + 1:pos + t + 1]
            pos += t
            # Cosine from lr to min_lr over the budget (the number of steps is not known).
            progress = min(1.0, elapsed / budget)
            lr = LSTM["min_lr"] + 0.5 * (LSTM["lr"] - LSTM["min_lr"]) * (1 + math.cos(math.pi * progress))
            for group in opt.param_groups:
                group["lr"] = lr
            logits, state = model(x, state)
            state = tuple(s.detach() for s in state)  # truncated BPTT
            loss = F.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), LSTM["clip"])
            opt.step()
            losses.append(loss.item())
            steps += 1
        seconds = time.perf_counter() - start
        stop = "budget"
        tokens = steps * b * t
    else:
        c = GPT
        model = GPTModel(c)
        # nanoGPT's configure_optimizers: decay every parameter of 2 or more dimensions.
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW([
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": c["weight_decay"]},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ], lr=c["lr"], betas=c["betas"])

        whole_budget = kind == "gpt-budget"

        def get_lr(it, elapsed):  # nanoGPT's train.py
            if it < c["warmup"]:
                return c["lr"] * (it + 1) / (c["warmup"] + 1)
            if whole_budget:  # the decay spans the budget's time after the warm-up
                warmed = warm_seconds if warm_seconds is not None else elapsed
                ratio = min(1.0, (elapsed - warmed) / max(1e-9, budget - warmed))
            elif it > c["lr_decay_iters"]:
                return c["min_lr"]
            else:
                ratio = (it - c["warmup"]) / (c["lr_decay_iters"] - c["warmup"])
            return c["min_lr"] + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (c["lr"] - c["min_lr"])

        steps, stop, warm_seconds = 0, "max_iters", None
        start = time.perf_counter()
        while whole_budget or steps < c["max_iters"]:
            elapsed = time.perf_counter() - start
            if elapsed >= budget:
                stop = "budget"
                break
            if steps == c["warmup"]:
                warm_seconds = elapsed
            for group in opt.param_groups:
                group["lr"] = get_lr(steps, elapsed)
            # nanoGPT's get_batch: batch random windows.
            ix = torch.randint(len(train) - c["block"], (c["batch"],))
            x = torch.stack([train[i:i + c["block"]] for i in ix])
            y = torch.stack([train[i + 1:i + 1 + c["block"]] for i in ix])
            logits = model(x)
            loss = F.cross_entropy(logits.view(-1, vocab), y.view(-1), ignore_index=-1)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), c["clip"])
            opt.step()
            opt.zero_grad(set_to_none=True)
            losses.append(loss.item())
            steps += 1
        seconds = time.perf_counter() - start
        tokens = steps * c["batch"] * c["block"]

    load_during = load.stop()
    model.eval()
    eval_start = time.perf_counter()
    with torch.no_grad():
        stream = None
        if kind == "lstm":
            length = len(valid) // STREAMS
            streams = valid[:STREAMS * length].view(STREAMS, length).t()  # (length, STREAMS)
            nats, count, state = 0.0, 0, None
            for i in range(0, length - 1, LENGTH):
                y = streams[i + 1:i + 1 + LENGTH]
                logits, state = model(streams[i:i + len(y)], state)
                n, k = summed_nats(logits, y)
                nats, count = nats + n, count + k
            stream = dict(nats_per_char=nats / count, characters=count)
        starts = list(range(0, len(valid) - LENGTH, LENGTH))  # i + 65 <= len
        per_batch = max(1, min(256, 4_000_000 // (LENGTH * vocab)))  # logits under 16 MB
        nats, count = 0.0, 0
        for j in range(0, len(starts), per_batch):
            ix = starts[j:j + per_batch]
            x = torch.stack([valid[i:i + LENGTH] for i in ix])
            y = torch.stack([valid[i + 1:i + 1 + LENGTH] for i in ix])
            logits = model(x) if kind != "lstm" else model(x.t())[0].transpose(0, 1)
            n, k = summed_nats(logits, y)
            nats, count = nats + n, count + k
        window = dict(nats_per_char=nats / count, characters=count)
    tail = losses[-50:]
    print(json.dumps({
        "system": kind, "steps": steps, "stop": stop, "train_seconds": seconds,
        "train_tokens": tokens, "train_chars_per_second": tokens / seconds if seconds else 0.0,
        "final_train_loss": sum(tail) / len(tail) if tail else None,
        "stream": stream, "window": window, "eval_seconds": time.perf_counter() - eval_start,
        "load_during_training": load_during,
        "parameters": sum(p.numel() for p in model.parameters()), "vocabulary": vocab,
        "threads": torch.get_num_threads(), "torch": torch.__version__, "seed": SEED,
    }))


# ---------------------------------------------------------------------------------------------
# The driver

class LoadMeter:
    """Other processes' load in cores from creation to stop(): the machine's busy time from
    /proc/stat minus this process's own CPU time (all its threads), over the wall time."""

    def __init__(self):
        self.busy, self.own, self.t0 = cpu_jiffies()[0], os.times(), time.perf_counter()

    def stop(self):
        busy, own, wall = cpu_jiffies()[0], os.times(), time.perf_counter() - self.t0
        mine = (own.user - self.own.user) + (own.system - self.own.system)
        return max(0.0, (busy - self.busy) / os.sysconf("SC_CLK_TCK") - mine) / wall


def other_load(seconds=LOAD_SAMPLE):
    """Other processes' load in cores over `seconds` while this process sleeps."""
    meter = LoadMeter()
    time.sleep(seconds)
    return meter.stop()


def attempt(cmd):
    """Runs one process through measure(); returns (stdout, other load, error or None)."""
    try:
        out, load = measure([str(x) for x in cmd])
        return out, load, None
    except SystemExit as e:  # measure() exits with the command's output when it fails
        return "", None, str(e.code)[-2000:]
    except OSError as e:
        return "", None, str(e)


def last_json(stdout):
    lines = [line for line in stdout.strip().splitlines() if line.strip()]
    if not lines:
        raise ValueError("no output")
    return json.loads(lines[-1])


def prepare(name):
    """Splits the dataset into OUT_DIR/<name>/{train,valid}.txt; returns its description."""
    if name == "shakespeare":
        source = os.environ.get("TINYSHAKESPEARE", TINYSHAKESPEARE)
        hint = "set TINYSHAKESPEARE to tinyshakespeare.txt (char-rnn's input.txt)"
    else:
        source, hint = ZH_NEWS, "run scripts/prepare-corpora zh-news"
    path = Path(source)  # relative paths are relative to the repository root (the cwd)
    if not path.is_file():
        sys.exit(f"bench-train: {name}: no file {source}; {hint}")
    text = path.read_text(encoding="utf-8")
    cut = int(len(text) * 0.9)  # nanoGPT's split
    out = OUT_DIR / name
    out.mkdir(parents=True, exist_ok=True)
    for part, chunk in (("train", text[:cut]), ("valid", text[cut:])):
        with open(out / f"{part}.txt", "w", encoding="utf-8", newline="") as f:
            f.write(chunk)
    valid = text[cut:]
    return dict(name=name, source=source, train=str(out / "train.txt"), valid=str(out / "valid.txt"),
                train_chars=cut, valid_chars=len(valid), alphabet=len(set(text)),
                unseen_valid_chars=len(set(valid) - set(text[:cut])),
                stream_chars=STREAMS * (len(valid) // STREAMS - 1),
                window_chars=LENGTH * len(range(0, len(valid) - LENGTH, LENGTH)))


class Run:
    def __init__(self, args):
        self.args = args
        self.results = dict(cpu=cpu_name(), logical_cpus=os.cpu_count(), budget=args.budget,
                            threads=args.threads, repeat=args.repeat, seed=SEED, contended_threshold=CONTENDED,
                            allow_contended=args.allow_contended, ours_args=OURS_ARGS, ours_adaptive_args=OURS_ADAPTIVE_ARGS,
                            ours_bpe_args=OURS_BPE_ARGS, lstm=LSTM, gpt=GPT, datasets={})
        self.contended = False

    def save(self):
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(self.results, indent=1) + "\n")

    def wait_for_quiet(self, label):
        for i in range(QUIET_TRIES):
            load = other_load()
            if load <= CONTENDED or self.args.allow_contended:
                return load
            if i + 1 < QUIET_TRIES:
                log(f"  other processes use {load:.2f} cores; waiting {QUIET_WAIT:.0f} s")
                time.sleep(QUIET_WAIT)
        self.refuse(f"before {label}, other processes used {load:.2f} cores (> {CONTENDED}) "
                    f"in {QUIET_TRIES} samples")

    def refuse(self, why):
        self.results["refused"] = why
        self.save()
        self.report()
        sys.exit(f"bench-train: refused: {why}; rerun on a quiet machine, or pass "
                 "--allow-contended to continue anyway (rows flagged)")

    def train(self, dataset, key, label, cmd, then=None):
        """Trains one system (cmd prints a JSON line); `then(result)` evaluates it (ours)."""
        log(f"{dataset['name']}: {label}, {self.args.budget:g} s of training ...")
        row = dict(label=label)
        self.results["datasets"][dataset["name"]]["systems"][key] = row
        row["error"] = "not run: the machine was contended"  # until it has run
        row["load_before"] = self.wait_for_quiet(f"{dataset['name']} {label}")
        del row["error"]
        t0 = time.perf_counter()
        out, row["load_during"], error = attempt(cmd)
        row["wall_seconds"] = time.perf_counter() - t0
        if error is None:
            try:
                row.update(last_json(out))
                # PyTorch's children measure the training loop alone (measure() also counts
                # their evaluation); ours' evaluation runs in separate processes.
                row["load_during"] = row.get("load_during_training", row["load_during"])
                if then is not None:
                    then(row)
            except (ValueError, KeyError, TypeError) as e:
                error = f"{type(e).__name__}: {e}; output: {out[-500:]!r}"
        if error is not None:
            row["error"] = error
            log(f"  failed: {error.splitlines()[0] if error else '?'}")
        row["load_after"] = other_load()
        loads = [row[k] for k in ("load_before", "load_during", "load_after") if row[k] is not None]
        row["contended"] = max(loads) > CONTENDED
        self.save()
        if row["contended"]:
            self.contended = True
            if not self.args.allow_contended:
                self.refuse(f"other processes used more than {CONTENDED} cores around "
                            f"{dataset['name']} {label} ({fmt_load(row)})")

    def ours(self, dataset, key, label, char, extra):
        if self.args.ours_error or not self.args.trainlm:
            row = dict(label=label, error=self.args.ours_error or "no trainlm given")
            self.results["datasets"][dataset["name"]]["systems"][key] = row
            return
        run_dir = OUT_DIR / dataset["name"] / f"run-{key}"
        shutil.rmtree(run_dir, ignore_errors=True)
        cmd = [self.args.trainlm] + (["--char"] if char else []) + [
            "--validation-file", dataset["valid"], "--time-budget", f"{self.args.budget:g}",
            "--threads", self.args.threads, "--seed", SEED, "--run-dir", run_dir, "--json",
            *extra, dataset["train"]]

        def evaluate(row):
            row["train_chars_per_second"] = row["train_tokens_per_second"]
            for protocol, options in (("stream", ["--streams", STREAMS, "--length", LENGTH]),
                                      ("window", ["--length", LENGTH])):
                out, _, error = attempt([self.args.evaluate, "--run", row.get("run", run_dir),
                                         "--protocol", protocol, *options, "--json", dataset["valid"]])
                try:  # a failed protocol is reported in its cell; the other one still counts
                    row[protocol] = last_json(out) if error is None else dict(error=error)
                except ValueError as e:
                    row[protocol] = dict(error=f"{e}; output: {out[-500:]!r}")
            if not char:  # tokens/s to characters/s at the validation text's characters per token
                s = next((row[p] for p in ("stream", "window") if "tokens" in row[p]), None)
                row["train_chars_per_second"] = (None if s is None else
                                                 row["train_tokens_per_second"] * s["characters"] / s["tokens"])

        self.train(dataset, key, label, cmd, evaluate)

    def dataset(self, d):
        name = d["name"]
        d["systems"] = {}
        self.results["datasets"][name] = d
        log(f"{name}: train {d['train_chars']:,} characters, validation {d['valid_chars']:,}, "
            f"alphabet {d['alphabet']:,}")
        torch_cmd = [sys.executable, __file__, "torch"]
        rest = [d["train"], d["valid"], f"{self.args.budget:g}", self.args.threads]
        wanted = [k for k in SYSTEMS if k in self.args.systems and
                  (k in ("lstm", "gpt", "gpt-budget") or not self.args.skip_ours) and
                  (k not in ("ours-adaptive", "ours-bpe") or name == "zh-news")]
        for round_ in range(1, self.args.repeat + 1):
            number = round_ if self.args.repeat > 1 else None
            for system in wanted:
                key, label = round_key(system, number), round_label(system, number)
                if system.startswith("ours"):
                    char = system != "ours-bpe"
                    extra = {"ours": OURS_ARGS, "ours-same": OURS_SAME_ARGS, "ours-adaptive": OURS_ADAPTIVE_ARGS,
                             "ours-bpe": OURS_BPE_ARGS}[system]
                    self.ours(d, key, label, char, extra)
                else:
                    self.train(d, key, label, torch_cmd + [system] + rest)

    def report(self):
        r = self.results
        print(f"CPU: {r['cpu']}, {r['logical_cpus']} logical CPUs; loadavg now "
              f"{open('/proc/loadavg').read().split()[:3]}")
        print(f"budget {r['budget']:g} s of training per system (evaluation not counted), "
              f"{r['threads']} threads, seed {SEED}; PyTorch {torch_version()}")
        if r.get("repeat", 1) > 1:
            print(f"{r['repeat']} rounds: each round trains every system once, in the order of the table")
        if scaling := r.get("budget_scaling"):
            print(f"budget scaled: {scaling['stated_budget']:g} s on a machine of {scaling['target_gflops']:g} "
                  f"GFLOP/s FMA ceiling ({r['threads']} threads) is {r['budget']:.1f} s on this one's "
                  f"{scaling['measured_gflops']:.1f} GFLOP/s (kernelbench peak {r['threads']})")
        print(f"PyTorch LSTM: embedding {LSTM['embedding']}, nn.LSTM({LSTM['embedding']}, "
              f"{LSTM['hidden']}, num_layers={LSTM['layers']}), linear head; Adam {LSTM['lr']:g} cosine "
              f"to {LSTM['min_lr']:g} over the budget, clip {LSTM['clip']:g}; {LSTM['batch']} "
              f"contiguous streams x {LSTM['seq']}, state carried (truncated BPTT)")
        print(f"nanoGPT: {GPT['layers']} layers, {GPT['heads']} heads, width {GPT['width']}, block "
              f"{GPT['block']}, batch {GPT['batch']}, dropout {GPT['dropout']:g}; AdamW {GPT['lr']:g} "
              f"betas {GPT['betas']}, wd {GPT['weight_decay']:g}, {GPT['warmup']} warm-up steps, "
              f"cosine to {GPT['min_lr']:g} at step {GPT['lr_decay_iters']}, clip {GPT['clip']:g}; "
              f"stops at {GPT['max_iters']} steps or the budget; \"whole budget\": the same, but "
              f"trained for the whole budget with the cosine spanning the time after the warm-up")
        print(f"ours: trainlm --char --seed {SEED} {' '.join(OURS_ARGS) or '(default model)'}; "
              f"zh-news BPE row: trainlm {' '.join(OURS_BPE_ARGS) or '(default model)'}; "
              f"same-size row: trainlm --char {' '.join(OURS_SAME_ARGS)}; "
              f"zh-news adaptive row: trainlm --char {' '.join(OURS_ADAPTIVE_ARGS)}")
        print(f"stream: {STREAMS} contiguous streams, chunks of {LENGTH}, state carried (n/a for the "
              f"transformer, which carries none); window-64: non-overlapping {LENGTH}-character "
              "windows from an empty state. Loss in nats per character over the whole validation text.")
        for name, d in r["datasets"].items():
            report_dataset(name, d)
        if "refused" in r:
            print(f"\nREFUSED: {r['refused']}")
        if self.contended:
            print(f"\n* contended: other processes used more than {CONTENDED} cores before, during "
                  "or after that training; its figures are unreliable")


def torch_version():
    import torch
    return torch.__version__


def fmt_load(row):
    return "/".join("-" if row.get(k) is None else f"{row[k]:.2f}"
                    for k in ("load_before", "load_during", "load_after"))


def per_char(result, key):
    value = (result.get(key) or {}).get("nats_per_char")
    return None if value is None else float(value)


def cell(result, protocol):
    if "error" in (result.get(protocol) or {}):
        return "failed"
    value = per_char(result, protocol)
    return "n/a" if value is None else f"{value:.3f}"


def round_key(system, number):
    """A run's key in the results: the system, with "@N" for round N of a run with --repeat."""
    return system if number is None else f"{system}@{number}"


def round_label(system, number):
    return LABELS[system] if number is None else f"{LABELS[system]}, round {number}"


def round_of(key):
    """(system, round number or None) of a key from round_key."""
    system, _, number = key.partition("@")
    return system, int(number) if number else None


def in_rounds(values, fmt):
    """The median of per-round values, and every value when there are several."""
    middle = fmt(statistics.median(values))
    if len(values) == 1:
        return middle
    return (f"{middle} (median of {len(values)} rounds; range {fmt(min(values))} to {fmt(max(values))}: "
            f"{', '.join(fmt(v) for v in values)})")


def report_dataset(name, d):
    systems = d["systems"]
    print(f"\n### {name}: train {d['train_chars']:,} characters, validation {d['valid_chars']:,} "
          f"(first 90% / last 10%), alphabet {d['alphabet']:,} "
          f"(uniform: {math.log(d['alphabet']):.2f} nats/char), {d['unseen_valid_chars']} "
          "validation characters unseen in training\n")
    print("| system | stream nats/char | window-64 nats/char | train chars/s | steps | train s "
          "| other load before/during/after | ours − LSTM (stream / window) | ours/LSTM chars/s | notes |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for key, s in systems.items():
        base, number = round_of(key)
        lstm = systems.get(round_key("lstm", number), {})  # the same round's
        flag = "*" if s.get("contended") else ""
        if "error" in s:
            error = " ".join(s["error"].split())[:200].replace("|", "/")
            print(f"| {s['label']}{flag} | - | - | - | - | - | {fmt_load(s)} | - | - | failed: {error} |")
            continue
        stream, window = per_char(s, "stream"), per_char(s, "window")
        notes = [f"{p} evaluation failed: {' '.join(s[p]['error'].split())[:200].replace('|', '/')}"
                 for p in ("stream", "window") if "error" in (s.get(p) or {})]
        if base in ("gpt", "gpt-budget"):
            notes.append(f"the budget ran out at step {s['steps']:,}" if s["stop"] == "budget"
                         else f"its {GPT['max_iters']:,}-step recipe done in {s['train_seconds']:.0f} s")
        if base.startswith("ours"):
            if base in ("ours", "ours-same"):
                for protocol, want in (("stream", d["stream_chars"]), ("window", d["window_chars"])):
                    got = (s.get(protocol) or {}).get("characters")
                    if got != want:
                        notes.append(f"{protocol} scored {got} characters, PyTorch {want}")
            else:
                notes.append(f"{s['train_tokens_per_second']:,.0f} tokens/s; window = {LENGTH} tokens")
        if s.get("parameters"):
            notes.append(f"{s['parameters'] / 1e6:.2f}M parameters")
        diff = ratio = "-"
        if base.startswith("ours") and "error" not in lstm and lstm:
            ds, dw = (None if a is None or b is None else a - b
                      for a, b in ((stream, per_char(lstm, "stream")), (window, per_char(lstm, "window"))))
            diff = " / ".join("-" if x is None else f"{x:+.3f}" for x in (ds, dw))
            if s["train_chars_per_second"] is not None:
                ratio = f"{s['train_chars_per_second'] / lstm['train_chars_per_second']:.2f}"
        speed = s["train_chars_per_second"]
        cells = [cell(s, "stream"), cell(s, "window"), "-" if speed is None else f"{speed:,.0f}",
                 f"{s['steps']:,}", f"{s['train_seconds']:.1f}"]
        print(f"| {s['label']}{flag} | {' | '.join(cells)} | {fmt_load(s)} | {diff} | {ratio} | "
              f"{'; '.join(notes)} |")
    target = TARGETS[name]
    rounds = sorted({round_of(k)[1] for k in systems}, key=lambda n: n or 0)

    def ran(key):
        return key in systems and "error" not in systems[key]

    for base in ("ours", "ours-same", "ours-bpe"):
        # Each comparison within a round: ours against the PyTorch LSTM trained next to it.
        pairs = [(systems[round_key(base, n)], systems[round_key("lstm", n)]) for n in rounds
                 if ran(round_key(base, n)) and ran(round_key("lstm", n))]
        if not pairs:
            continue
        label = LABELS[base]
        diffs = [per_char(s, "stream") - per_char(l, "stream") for s, l in pairs
                 if per_char(s, "stream") is not None and per_char(l, "stream") is not None]
        if not diffs:
            continue
        diff = statistics.median(diffs)
        print(f"\n{label} − PyTorch LSTM on stream: {in_rounds(diffs, lambda v: f'{v:+.3f}')} nats/char, "
              f"target ≤ {target:+.2f}: {'met' if diff <= target else 'missed'}")
        ratios = [s["train_chars_per_second"] / l["train_chars_per_second"] for s, l in pairs
                  if s.get("train_chars_per_second") and l.get("train_chars_per_second")]
        if ratios and base in ("ours", "ours-same"):
            what = ("training chars/s / PyTorch LSTM's (same model, same batch)" if base == "ours-same"
                    else "training chars/s / PyTorch LSTM's")
            ratio = statistics.median(ratios)
            print(f"{label}: {what}: {in_rounds(ratios, lambda v: f'{v:.3f}')}, target ≥ {SPEED_TARGET:g}: "
                  f"{'met' if ratio >= SPEED_TARGET else 'missed'}")
        if base != "ours":
            continue
        beaten = scored = 0
        for n in rounds:
            if not ran(round_key(base, n)):
                continue
            ours = systems[round_key(base, n)]
            for p in ("lstm", "gpt", "gpt-budget"):
                if not ran(round_key(p, n)):
                    continue
                for protocol in ("stream", "window"):
                    v = per_char(systems[round_key(p, n)], protocol)
                    if v is None:
                        continue
                    scored += 1
                    beaten += per_char(ours, protocol) is not None and per_char(ours, protocol) < v
        rounds_text = f" (in {len(rounds)} rounds)" if len(rounds) > 1 else ""
        print(f"{label} below the PyTorch models on {beaten} of their {scored} scored protocol "
              f"rows{rounds_text}: {'met' if beaten == scored else 'missed'}")


def log(message):
    print(message, file=sys.stderr, flush=True)


def main():
    parser = argparse.ArgumentParser(description="Language-model training at a fixed wall-clock "
                                     "budget: PyTorch LSTM, nanoGPT and ours (see scripts/bench-train).")
    parser.add_argument("--budget", type=float, default=600, help="seconds of training per system")
    parser.add_argument("--only", choices=DATASETS)
    parser.add_argument("--skip-ours", action="store_true")
    parser.add_argument("--systems", default=",".join(SYSTEMS),
                        help=f"comma-separated subset of {','.join(SYSTEMS)} (default: all)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1,
                        help="train the systems in N interleaved rounds; comparisons are per round, "
                             "reported as medians (default 1)")
    parser.add_argument("--allow-contended", action="store_true",
                        help="continue when other processes load the machine (rows flagged)")
    parser.add_argument("--trainlm", help="our trainlm executable")
    parser.add_argument("--evaluate", help="our evaluate executable")
    parser.add_argument("--ours-error", help="why ours cannot run (reported in the tables)")
    parser.add_argument("--scale-to-gflops", type=float,
                        help="train for BUDGET x this / the FMA ceiling measured here (GFLOP/s on THREADS threads)")
    parser.add_argument("--kernelbench", help="our kernelbench executable (for --scale-to-gflops)")
    args = parser.parse_args()
    if args.budget <= 0 or args.threads < 1 or args.repeat < 1:
        parser.error("--budget, --threads and --repeat must be positive")
    if args.scale_to_gflops is not None:
        if args.scale_to_gflops <= 0 or not args.kernelbench:
            parser.error("--scale-to-gflops needs a positive value and --kernelbench")
    args.systems = args.systems.split(",")
    if unknown := set(args.systems) - set(SYSTEMS):
        parser.error(f"--systems: unknown {', '.join(sorted(unknown))}; known: {', '.join(SYSTEMS)}")
    os.chdir(ROOT)
    names = [args.only] if args.only else DATASETS
    scaling = None
    if args.scale_to_gflops is not None:
        ceiling = run_kernelbench([args.kernelbench, "peak", str(args.threads)])[2]
        scaling = dict(stated_budget=args.budget, target_gflops=args.scale_to_gflops, measured_gflops=ceiling)
        args.budget = args.budget * args.scale_to_gflops / ceiling
        log(f"FMA ceiling here on {args.threads} threads: {ceiling:.1f} GFLOP/s; {scaling['stated_budget']:g} s at "
            f"{args.scale_to_gflops:g} GFLOP/s is {args.budget:.1f} s here")
    run = Run(args)
    run.results["budget_scaling"] = scaling
    log(f"CPU: {run.results['cpu']}; {len(names)} datasets, {args.budget:g} s per training")
    datasets = [prepare(name) for name in names]  # all corpora present before the first training
    for d in datasets:
        run.dataset(d)
    run.save()
    run.report()
    print(f"\nresults: {RESULTS}")


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "torch":
        torch_train(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]), int(sys.argv[6]))
    elif len(sys.argv) > 1 and sys.argv[1] == "torch":
        sys.exit(__doc__)
    else:
        main()
