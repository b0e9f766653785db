#!/usr/bin/env python3
"""Writes Tests/NetworkTests/Fixtures/pytorch-parity.json: the Network module's model built in
PyTorch (float64) for a small config (2 LSTM layers + 1 attention layer), with its weights,
two consecutive batches (the LSTM state carried from the first into the second, no gradient
across them), the losses, the second batch's logits and every parameter's gradient of the
second loss. NetworkTests/PyTorchParityTests.swift loads it.

Needs PyTorch: Debian's CPU build works (`apt-get install python3-torch`, 1.13), run with the
system python3:  /usr/bin/python3 scripts/network-parity.py
The model is scripts/torch_network.py's, whose `state_dict()` keys are the Swift names.
"""
import json
import os

import torch
from torch import nn

from torch_network import Network

torch.set_default_dtype(torch.float64)
torch.manual_seed(1234)

CONFIG = {
    "vocab_size": 13, "embedding_size": 8,
    "layers": [{"type": "lstm", "hidden": 10}, {"type": "lstm", "hidden": 8},
               {"type": "attention", "heads": 2}],
    "dropout": 0.0, "tie_embeddings": False, "max_sequence_length": 8,
}
B, T = 2, 5


model = Network(CONFIG)
with torch.no_grad():
    for p in model.parameters():
        # Values a Float32 model holds exactly, so the Float and Double Swift models share them.
        p.copy_(p.float().double())
        if p.dim() == 1:
            p.add_(0.1 * torch.randn_like(p)).copy_(p.float().double())

v = CONFIG["vocab_size"]
batches = []
for i in range(2):
    tokens = torch.randint(0, v, (B, T))
    targets = torch.randint(0, v, (B, T))
    targets[0, 1] = -1
    batches.append((tokens, targets))

with torch.no_grad():
    logits0, states = model(batches[0][0], {})
    loss0 = nn.functional.cross_entropy(logits0.reshape(-1, v), batches[0][1].t().reshape(-1),
                                        ignore_index=-1)
states = {k: (h.detach(), c.detach()) for k, (h, c) in states.items()}
logits1, _ = model(batches[1][0], states)
loss1 = nn.functional.cross_entropy(logits1.reshape(-1, v), batches[1][1].t().reshape(-1),
                                    ignore_index=-1)
loss1.backward()


def flat(t):
    return [float(x) for x in t.detach().reshape(-1)]


fixture = {
    "config": CONFIG, "batch": B, "steps": T, "torch_version": torch.__version__,
    "batches": [{"tokens": [int(x) for x in tok.reshape(-1)],
                 "targets": [int(x) for x in tgt.reshape(-1)],
                 "loss": float(loss)}
                for (tok, tgt), loss in zip(batches, (loss0, loss1))],
    "logits": flat(logits1),
    "parameters": {name: flat(p) for name, p in model.named_parameters()},
    "gradients": {name: flat(p.grad) for name, p in model.named_parameters()},
}
out = os.path.join(os.path.dirname(__file__), "..", "Tests", "NetworkTests", "Fixtures",
                   "pytorch-parity.json")
with open(out, "w") as f:
    json.dump(fixture, f, separators=(",", ":"))
print(f"wrote {os.path.normpath(out)}: loss {float(loss0):.6f}, {float(loss1):.6f}, "
      f"{sum(p.numel() for p in model.parameters())} parameters")
