"""Driver for scripts/bench-train-step (run it through that script, which sets up the venv).

    bench_train_step.py KERNELBENCH TRAINBENCH [--only a,s]   run every config (or these), print the table
    bench_train_step.py torch train|decode --OPTION N... one PyTorch measurement (internal)

Each measurement runs in its own process, ours through `trainbench`, PyTorch through this file,
with the same options, and prints one JSON line (tokens/s best and median over N runs). The
other processes' load around each is measured as bench_kernels.py does.
"""
import json
import math
import os
import sys
import time

from bench_kernels import CONTENDED, cpu_name, measure, run

# name -> trainbench options; decoding is measured for the configs in DECODE.
CONFIGS = {
    "a": dict(vocab=5000, embedding=128, hidden=256, **{"lstm-layers": 2}, heads=0, batch=32, seq=64),
    "b": dict(vocab=8000, embedding=128, hidden=512, **{"lstm-layers": 2}, heads=0, batch=32, seq=64),
    "c": dict(vocab=5000, embedding=128, hidden=256, **{"lstm-layers": 2}, heads=4, batch=32, seq=64),
    # bench-train's same-size character model of tiny Shakespeare (its 65-character alphabet)
    "s": dict(vocab=65, embedding=128, hidden=256, **{"lstm-layers": 2}, heads=0, batch=32, seq=64),
}
DECODE = ["a", "b"]
THREADS = [1, 2]
TIMING = dict(warmup=3, steps=30, tokens=256)


def torch_measure(mode, o):
    import torch
    from torch import nn
    import torch.nn.functional as F

    torch.set_num_threads(o["threads"])
    torch.manual_seed(1)

    class Attention(nn.Module):
        """x + proj(causal multi-head attention(LayerNorm(x))), x (T, B, C): as in Network."""

        def __init__(self, c, heads):
            super().__init__()
            self.heads, self.norm = heads, nn.LayerNorm(c)
            self.qkv, self.proj = nn.Linear(c, 3 * c), nn.Linear(c, c)

        def forward(self, x):
            t, b, c = x.shape
            q, k, v = (z.reshape(t, b, self.heads, c // self.heads).permute(1, 2, 0, 3)
                       for z in self.qkv(self.norm(x)).split(c, dim=-1))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return x + self.proj(y.permute(2, 0, 1, 3).reshape(t, b, c))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(o["vocab"], o["embedding"])
            # One multi-layer nn.LSTM: bench-train's peer, the one the speed target names.
            self.lstm = nn.LSTM(o["embedding"], o["hidden"], num_layers=o["lstm-layers"])
            self.attn = Attention(o["hidden"], o["heads"]) if o["heads"] else None
            self.head = nn.Linear(o["hidden"], o["vocab"])

        def forward(self, tokens, state):
            """tokens (T, B) -> logits (T, B, V), the new LSTM state (carried, like ours)."""
            x, state = self.lstm(self.embedding(tokens), state)
            if self.attn is not None:
                x = self.attn(x)
            return self.head(x), state

    model = Net()
    runs, times = o["warmup"] + o["steps"], []
    state = None
    if mode == "train":
        b, t = o["batch"], o["seq"]
        decay = [p for p in model.parameters() if p.dim() > 1]
        rest = [p for p in model.parameters() if p.dim() <= 1]
        opt = torch.optim.AdamW([{"params": decay}, {"params": rest, "weight_decay": 0}],
                                lr=1e-3, weight_decay=0.01)
        per_run = b * t
        for i in range(runs):
            # A fresh batch every step, as trainbench draws (see there why).
            tokens = torch.randint(0, o["vocab"], (t, b))
            targets = torch.randint(0, o["vocab"], (t, b))
            t0 = time.perf_counter()
            logits, (h, c) = model(tokens, state)
            state = (h.detach(), c.detach())  # truncated BPTT, as ours
            loss = F.cross_entropy(logits.reshape(-1, o["vocab"]), targets.reshape(-1))
            opt.zero_grad(set_to_none=False)
            loss.backward()
            opt.step()
            if i >= o["warmup"]:
                times.append(time.perf_counter() - t0)
    else:
        model.eval()
        per_run = o["tokens"]
        tokens = torch.randint(0, o["vocab"], (per_run, 1, 1))
        with torch.no_grad():
            for i in range(runs):
                state = None
                t0 = time.perf_counter()
                for token in tokens:
                    _, state = model(token, state)
                if i >= o["warmup"]:
                    times.append(time.perf_counter() - t0)
    mean = per_run * len(times) / sum(times)
    times.sort()
    print(json.dumps({"mode": mode, "threads": o["threads"], "best": per_run / times[0],
                      "median": per_run / times[len(times) // 2], "mean": mean, "n": len(times),
                      "parameters": sum(p.numel() for p in model.parameters()),
                      "torch": torch.__version__}))


def options(name, threads):
    o = dict(CONFIGS[name], threads=threads, **TIMING)
    return [x for k, v in o.items() for x in (f"--{k}", str(v))]


def main(kernelbench, trainbench, only=None):
    import torch

    configs = {n: c for n, c in CONFIGS.items() if only is None or n in only}

    print(f"CPU: {cpu_name()}, {os.cpu_count()} logical CPUs")
    print(f"loadavg before: {open('/proc/loadavg').read().split()[:3]}")
    print(f"ours: trainbench, swift build -c release; peer: PyTorch {torch.__version__}, "
          "torch.set_num_threads(threads)")
    print(f"timing: {TIMING['warmup']} warm-up + {TIMING['steps']} timed runs; train = forward + "
          f"zero grads + backward + AdamW, B*T tokens; decode = batch 1, {TIMING['tokens']} tokens")
    for name, c in configs.items():
        print(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in c.items()))
    print()

    peak = {t: run([kernelbench, "peak", str(t)])[2] for t in THREADS}
    rows = []
    jobs = [("train", n) for n in configs] + [("decode", n) for n in DECODE if n in configs]
    for mode, name in jobs:
        for threads in THREADS:
            args = [mode] + options(name, threads)
            # The machine's cores can be taken from outside this system (a virtual machine's
            # second vCPU sharing a physical core, or the host's other tenants), which no load
            # figure here sees: the FMA ceiling of this row's thread count, measured just
            # before ours and just after the peer, shows it.
            before = run([kernelbench, "peak", str(threads)])[2]
            ours_out, ours_load = measure([trainbench] + args)
            peer_out, peer_load = measure([sys.executable, __file__, "torch"] + args)
            ceiling = min(before, run([kernelbench, "peak", str(threads)])[2])
            ours, peer = json.loads(ours_out), json.loads(peer_out)
            if ours["parameters"] != peer["parameters"]:
                sys.exit(f"{name}: parameter counts differ: {ours['parameters']} vs {peer['parameters']}")
            rows.append((mode, name, threads, ours, peer, max(ours_load, peer_load), ceiling))

    header = (f"{'mode':<7}{'cfg':>4}{'thr':>4}  {'ours tok/s best (med, mean, N)':>37} {'%peak':>6}  "
              f"{'torch tok/s best (med, mean, N)':>37} {'%peak':>6}  {'other load':>10}  {'ceiling':>8}  "
              f"{'ratio best':>10}  {'ratio mean':>10}")
    print(header)
    print("-" * len(header))
    contended = shrunk = False
    # The highest ceiling seen for a thread count (at the start or around any row): a start
    # measured while the machine gave one core's worth must not pass for the machine's ceiling.
    for _, _, threads, _, _, _, ceiling in rows:
        peak[threads] = max(peak[threads], ceiling)
    for mode, name, threads, ours, peer, other, ceiling in rows:
        flag = "*" if other > CONTENDED else " "
        contended |= other > CONTENDED
        # Below 90% of the highest ceiling seen, the row ran on less machine.
        short = ceiling < 0.9 * peak[threads]
        shrunk |= short
        # Estimate: 6 FLOPs per matmul weight per token (forward 2, backward 4); the embedding
        # is a gather, attention scores are left out. Decoding: 2 per weight per token.
        c = CONFIGS[name]
        weights = ours["parameters"] - c["vocab"] * c["embedding"]
        per_token = (6 if mode == "train" else 2) * weights
        cells = []
        for r in (ours, peer):
            cells.append(f"{r['best']:9.0f} ({r['median']:9.0f}, {r['mean']:9.0f}, {r['n']:2d})")
            cells.append(f"{100 * r['best'] * per_token / 1e9 / ceiling:5.1f}%")
        print(f"{mode:<7}{name:>4}{threads:>4}  {cells[0]:>37} {cells[1]:>6}  {cells[2]:>37} "
              f"{cells[3]:>6}  {other:9.2f}{flag}  {ceiling:7.1f}{'!' if short else ' '}  "
              f"{ours['best'] / peer['best']:10.2f}  {ours['mean'] / peer['mean']:10.2f}")
    print()
    print(f"loadavg after: {open('/proc/loadavg').read().split()[:3]}")
    print(f"FMA peak (kernelbench peak), the highest seen in the run: " + ", ".join(f"{t} thr {peak[t]:.1f} GFLOP/s" for t in THREADS))
    if contended:
        print(f"* contended: other processes used more than {CONTENDED} cores on average during "
              "that row; its figures are unreliable")
    if shrunk:
        print("! the FMA ceiling measured around that row (GFLOP/s, the lower of before ours and after the "
              "peer) was under 90% of the highest seen in the run: the machine gave it less CPU than its load "
              "shows (taken from outside this system); its figures are unreliable")
    print("%peak is an estimate: FLOPs = 6 (train) or 2 (decode) x non-embedding parameters x "
          "tokens, over the row's own ceiling, from the best run; mean = all timed tokens over all timed seconds "
          "(what a training run sees); ratio best = best / best, ratio mean = mean / mean")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "torch":
        o = {a.lstrip("-"): int(v) for a, v in zip(sys.argv[3::2], sys.argv[4::2])}
        torch_measure(sys.argv[2], o)
    elif len(sys.argv) == 3:
        main(sys.argv[1], sys.argv[2])
    elif len(sys.argv) == 5 and sys.argv[3] == "--only":
        main(sys.argv[1], sys.argv[2], set(sys.argv[4].split(",")))
    else:
        sys.exit(__doc__)
