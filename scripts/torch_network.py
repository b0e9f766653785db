"""The Network module's model in PyTorch, with its parameter names (embedding, lstm{k},
attn{k}, head: ParameterStore's table), so that `state_dict()` keys are the Swift names and
`load_state_dict(strict=True)` takes our safetensors files unchanged. Time-major like Network:
activations are (T, B, C). Used by scripts/network-parity.py and
scripts/check_safetensors_interop.py."""
import math

import torch
from torch import nn


class Attention(nn.Module):
    """y = x + proj(causal multi-head attention(norm(x))), x (T, B, C)."""

    def __init__(self, c, heads):
        super().__init__()
        self.heads = heads
        self.norm = nn.LayerNorm(c, eps=1e-5)
        self.qkv = nn.Linear(c, 3 * c)
        self.proj = nn.Linear(c, c)

    def forward(self, x):
        t, b, c = x.shape
        d = c // self.heads
        q, k, v = self.qkv(self.norm(x)).split(c, dim=-1)
        # (T, B, C) -> (B, heads, T, D)
        q, k, v = (z.reshape(t, b, self.heads, d).permute(1, 2, 0, 3) for z in (q, k, v))
        scores = q @ k.transpose(-2, -1) / math.sqrt(d)
        future = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
        att = scores.masked_fill(future, float("-inf")).softmax(dim=-1)
        y = (att @ v).permute(2, 0, 1, 3).reshape(t, b, c)
        return x + self.proj(y)


class Network(nn.Module):
    """Embedding -> the configuration's LSTM and attention layers -> linear head (untied) or
    adaptive softmax."""

    def __init__(self, cfg):
        super().__init__()
        v, e = cfg["vocab_size"], cfg["embedding_size"]
        self.embedding = nn.Embedding(v, e)
        self.kinds = []
        width = e
        for k, layer in enumerate(cfg["layers"]):
            if layer["type"] == "lstm":
                setattr(self, f"lstm{k}", nn.LSTM(width, layer["hidden"]))
                width = layer["hidden"]
            else:
                setattr(self, f"attn{k}", Attention(width, layer["heads"]))
            self.kinds.append(layer["type"])
        adaptive = cfg.get("adaptive_softmax")
        if adaptive:
            # PyTorch ranks the classes by frequency; `order[r]` is the id of rank r.
            self.adaptive = nn.AdaptiveLogSoftmaxWithLoss(width, v, adaptive["cutoffs"],
                                                          div_value=adaptive["div_value"], head_bias=True)
            self.order = torch.tensor(adaptive["order"])
        else:
            self.head = nn.Linear(width, v)

    def forward(self, tokens, states=None):
        """tokens (B, T) -> logits (T, B, V) and each LSTM's state after the last step, from
        `states` ({layer index: (h, c)}; empty or None: a zero state)."""
        states = states or {}
        x = self.embedding(tokens.t())
        new_states = {}
        for k, kind in enumerate(self.kinds):
            if kind == "lstm":
                x, new_states[k] = getattr(self, f"lstm{k}")(x, states.get(k))
            else:
                x = getattr(self, f"attn{k}")(x)
        if hasattr(self, "adaptive"):
            # Log-probabilities in id order: their cross-entropy is the adaptive softmax's loss.
            ranked = self.adaptive.log_prob(x.reshape(-1, x.shape[-1]))
            scores = torch.empty_like(ranked)
            scores[:, self.order] = ranked
            return scores.reshape(*x.shape[:-1], -1), new_states
        return self.head(x), new_states
