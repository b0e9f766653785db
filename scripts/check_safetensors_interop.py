"""Both directions of the SafeTensors interop check, and a whole trained model loaded into
PyTorch; run by scripts/check-safetensors-interop.

usage: check_safetensors_interop.py SAFETENSORS_TOOL WORK_DIR [TRAINLM EVALUATE]
"""
import json
import os
import subprocess
import sys

import numpy as np
import safetensors
from safetensors.numpy import load_file as np_load_file, save as np_save

try:
    import torch
    from safetensors.torch import load_file as torch_load_file, save_file as torch_save_file
    from torch_network import Network
except ImportError:
    torch = None

INPUT_SIZE, HIDDEN_SIZE = 5, 3
failures = []


def check(condition, message):
    print(("  ok    " if condition else "  FAIL  ") + message)
    if not condition:
        failures.append(message)


def sample_value(tensor_index, k):
    """Mirrors sampleValue in Sources/safetensors-tool/main.swift: exact in float32."""
    return ((k * 37 + tensor_index * 11) % 101 - 50) / 64


def header_of(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        return n, json.loads(f.read(n))


def ours_to_reference(tool, work):
    print("1. our writer -> safetensors" + (" + torch" if torch else " (numpy only)"))
    path = os.path.join(work, "ours.safetensors")
    subprocess.run([tool, "write-lstm", path, str(INPUT_SIZE), str(HIDDEN_SIZE)], check=True)
    H, I = HIDDEN_SIZE, INPUT_SIZE
    expected_shapes = [("weight_ih_l0", (4 * H, I)), ("weight_hh_l0", (4 * H, H)),
                       ("bias_ih_l0", (4 * H,)), ("bias_hh_l0", (4 * H,))]
    expected = {name: np.array([sample_value(t, k) for k in range(int(np.prod(shape)))],
                               dtype=np.float32).reshape(shape)
                for t, (name, shape) in enumerate(expected_shapes)}
    expected_metadata = {"format": "pt", "model": "lstm", "gate_order": "i,f,g,o",
                         "input_size": str(I), "hidden_size": str(H)}

    loaded = np_load_file(path)
    check(sorted(loaded) == sorted(expected), f"tensor names {sorted(loaded)}")
    for name, want in expected.items():
        got = loaded.get(name)
        check(got is not None and got.dtype == np.float32 and got.shape == want.shape
              and np.array_equal(got, want), f"{name} {want.shape} float32 values identical")
    with safetensors.safe_open(path, framework="np") as f:
        check(f.metadata() == expected_metadata, f"__metadata__ {f.metadata()}")

    n, header = header_of(path)
    check(n % 8 == 0, f"header length {n} is a multiple of 8")
    # The reference writer's layout for the same tensors must match ours; only the order of
    # metadata keys may differ (it keeps them in a hash map), so compare the parsed headers
    # and the byte buffers.
    reference = np_save(expected, metadata=expected_metadata)
    ref_n = int.from_bytes(reference[:8], "little")
    ref_header = json.loads(reference[8:8 + ref_n])
    with open(path, "rb") as f:
        ours = f.read()
    check(ref_n == n and ref_header == header and list(ref_header) == list(header),
          "header equals the reference writer's for the same tensors (same tensor order and offsets)")
    check(reference[8 + ref_n:] == ours[8 + n:], "byte buffer identical to the reference writer's")
    print(f"  info  whole file byte-identical to the reference writer's: {reference == ours}"
          " (the reference orders __metadata__ keys by hash, ours sorts them)")

    if torch:
        lstm = torch.nn.LSTM(I, H)
        result = lstm.load_state_dict(torch_load_file(path), strict=True)
        check(not result.missing_keys and not result.unexpected_keys, "torch.nn.LSTM load_state_dict(strict=True)")
        check(all(torch.equal(getattr(lstm, name).detach(), torch.from_numpy(want))
                  for name, want in expected.items()), "LSTM parameters equal the written values")


def reference_to_ours(tool, work):
    print("2. " + ("safetensors.torch.save_file" if torch else "safetensors.numpy.save_file") + " -> our reader")
    path = os.path.join(work, "reference.safetensors")
    metadata = {"format": "pt", "source": "interop check", "quote\"and\\slash": "ünïcode ✓"}
    if torch:
        torch.manual_seed(0)
        module = torch.nn.Sequential(torch.nn.Embedding(7, 4), torch.nn.LSTM(4, 3))
        tensors = {k: v.detach().clone() for k, v in module.state_dict().items()}
        tensors["extra.f16"] = torch.tensor([1.5, -0.0, 65504.0, 2 ** -24], dtype=torch.float16)
        tensors["extra.bf16"] = torch.tensor([[1.0, -3.0], [1e30, 2 ** -100]], dtype=torch.bfloat16)
        tensors["extra.f64"] = torch.tensor([0.1, -1e300], dtype=torch.float64)
        tensors["extra.i64"] = torch.tensor([-(2 ** 63), 2 ** 63 - 1], dtype=torch.int64)
        tensors["extra.i32"] = torch.tensor([[-5], [7]], dtype=torch.int32)
        tensors["extra.u8"] = torch.tensor([0, 255], dtype=torch.uint8)
        tensors["extra.empty"] = torch.zeros(0, 3)
        tensors["extra.scalar"] = torch.tensor(2.5)
        torch_save_file(tensors, path, metadata=metadata)
        as_lists = {k: (v.to(torch.float64) if v.is_floating_point() else v.to(torch.int64)).flatten().tolist()
                    for k, v in tensors.items()}
        shapes = {k: list(v.shape) for k, v in tensors.items()}
    else:
        from safetensors.numpy import save_file as np_save_file
        rng = np.random.default_rng(0)
        tensors = {"embedding.weight": rng.standard_normal((7, 4)).astype(np.float32),
                   "extra.f16": np.array([1.5, -0.0, 65504.0, 2 ** -24], dtype=np.float16),
                   "extra.f64": np.array([0.1, -1e300]), "extra.i64": np.array([-(2 ** 63), 2 ** 63 - 1]),
                   "extra.empty": np.zeros((0, 3), dtype=np.float32), "extra.scalar": np.array(2.5, dtype=np.float32)}
        np_save_file(tensors, path, metadata=metadata)
        as_lists = {k: v.astype(np.float64 if v.dtype.kind == "f" else np.int64).flatten().tolist()
                    for k, v in tensors.items()}
        shapes = {k: list(v.shape) for k, v in tensors.items()}

    dump = subprocess.run([tool, "dump", path], check=True, capture_output=True, text=True)
    ours = json.loads(dump.stdout)
    check(ours["metadata"] == metadata, "our reader's __metadata__ equals the written one")
    check(sorted(ours["tensors"]) == sorted(as_lists), f"our reader sees {len(ours['tensors'])} tensors")
    _, header = header_of(path)
    for name, want in as_lists.items():
        got = ours["tensors"].get(name, {})
        same = (got.get("shape") == shapes[name] and got.get("values") == want
                and got.get("dtype") == header[name]["dtype"]
                and got.get("data_offsets") == header[name]["data_offsets"])
        check(same, f"{name} {header[name]['dtype']} {shapes[name]}: shape, offsets and every value identical")


def write_text(path, lines, seed):
    """A deterministic ASCII text of `lines` lines of 12 words."""
    words = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "far", "away", "and", "slept"]
    state = seed
    out = []
    for _ in range(lines):
        line = []
        for _ in range(12):
            state = (state * 1103515245 + 12345) % 2 ** 31
            line.append(words[(state >> 16) % len(words)])
        out.append(" ".join(line))
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def byte_ids(vocab_path):
    """byte -> token id from a character-level vocabulary file (its `byte` entries)."""
    ids = {}
    with open(vocab_path, encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) == 3 and fields[1] == "byte":
                # The file's escapes (Sources/Text/VocabularyFile.swift): \xHH, \\ for a
                # backslash; a printable byte stands for itself.
                text = fields[2]
                value = int(text[2:], 16) if text.startswith("\\x") else 92 if text == "\\\\" else ord(text)
                ids[value] = int(fields[0])
    return ids


def whole_model(trainlm, evaluate, work, number, extra, what):
    print(f"{number}. a model trained by trainlm ({what}) -> torch load_state_dict(strict=True), same loss")
    if not torch:
        print("  skip  needs torch")
        return
    train, valid, run = (os.path.join(work, name) for name in ("train.txt", "valid.txt", f"run{number}"))
    write_text(train, 300, seed=1)
    write_text(valid, 20, seed=2)
    trained = subprocess.run([trainlm, "--char", "--max-steps", "100", "--embedding", "16",
                              "--hidden", "24", "--layers", "lstm,lstm,attention", "--heads", "2",
                              "--no-tie", "--batch", "4", "--seq", "16", "--threads", "1",
                              "--validation-file", valid, "--run-dir", run, "--quiet", *extra, train],
                             capture_output=True, text=True)
    if trained.returncode != 0:
        sys.exit(f"trainlm failed:\n{trained.stdout}{trained.stderr}")
    path = os.path.join(run, "best.safetensors")
    with safetensors.safe_open(path, framework="pt") as f:
        cfg = json.loads(f.metadata()["config"])
    model = Network(cfg)
    result = model.load_state_dict(torch_load_file(path), strict=True)
    check(not result.missing_keys and not result.unexpected_keys,
          f"load_state_dict(strict=True) of {len(model.state_dict())} tensors "
          f"({', '.join(layer['type'] for layer in cfg['layers'])})")
    # Our loss under evaluate's window protocol (every whole window of L tokens from an empty
    # state, `streams` windows per batch), against the same windows through PyTorch in float64.
    streams, length = 2, 32
    out = subprocess.run([evaluate, valid, "--run", run, "--protocol", "window", "--streams",
                          str(streams), "--length", str(length), "--threads", "1", "--json"],
                         check=True, capture_output=True, text=True)
    ours = json.loads(out.stdout.strip().splitlines()[-1])
    ids = byte_ids(os.path.join(run, "vocab.vocab"))
    with open(valid, "rb") as f:
        tokens = [ids[b] for b in f.read()]
    windows = [tokens[i:i + length + 1] for i in range(0, len(tokens) - length, length)]
    model = model.double().eval()
    with torch.no_grad():
        batch = torch.tensor(windows)
        logits, _ = model(batch[:, :-1])
        nats = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), batch[:, 1:].t().reshape(-1), reduction="sum").item()
    reference = nats / (len(windows) * length)
    error = abs(ours["nats_per_token"] - reference) / reference
    check(ours["tokens"] == len(windows) * length, f"both score {len(windows) * length} tokens")
    check(error <= 1e-5, f"nats/token: ours {ours['nats_per_token']:.9f}, torch (float64) "
          f"{reference:.9f}, relative difference {error:.1e} (<= 1e-5)")


def main():
    tool, work = sys.argv[1], sys.argv[2]
    print(f"safetensors {safetensors.__version__}, numpy {np.__version__}, "
          + (f"torch {torch.__version__}" if torch else "torch not installed: numpy-only checks"))
    ours_to_reference(tool, work)
    reference_to_ours(tool, work)
    if len(sys.argv) == 5:
        whole_model(sys.argv[3], sys.argv[4], work, 3, [], "full softmax")
        # 14 characters in use of 270 ids: 4 in the head, two clusters (PyTorch's
        # AdaptiveLogSoftmaxWithLoss, classes in the frequency order the config stores).
        whole_model(sys.argv[3], sys.argv[4], work, 4, ["--adaptive-softmax", "4,10", "--adaptive-div", "2"],
                    "adaptive softmax")
        # `seen`: the ids the training text never uses in one cluster, scored by PyTorch too.
        whole_model(sys.argv[3], sys.argv[4], work, 5, ["--adaptive-softmax", "seen"],
                    "adaptive softmax, unused ids in one cluster")
    if failures:
        print(f"FAIL: {len(failures)} check(s) failed")
        sys.exit(1)
    print("PASS" + ("" if torch else " (without torch: safetensors + numpy only)"))


if __name__ == "__main__":
    main()
