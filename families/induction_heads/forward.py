"""The attention-only forward pass, written out from the bridge's own parameters.

Training and the Hessian analyzer call this instead of the bridge's ``forward``: it is the
same function (no LayerNorm, learned positions, causal attention with scores scaled by
1 / sqrt(d_head), heads as contiguous blocks of the q/k/v output rows, residual stream,
unembedding) with none of the hook machinery, and it is twice differentiable, which
Hessian-vector products need. ``tests/families/test_induction_heads.py`` proves it equal to the
bridge's logits and attention patterns, in values and gradients.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from tdw.family.model import live_tensors

if TYPE_CHECKING:
    import torch

__all__ = ["forward", "sequence_logits"]


def _heads(x: torch.Tensor, w: Mapping[str, torch.Tensor], name: str, n_heads: int
           ) -> torch.Tensor:
    """``(batch, pos, d_model)`` -> ``(batch, head, pos, d_head)`` for q, k or v."""
    out = x @ w[f"{name}.weight"].T + w[f"{name}.bias"]  # (batch, pos, head * d_head)
    batch, n_pos, width = out.shape
    return out.view(batch, n_pos, n_heads, width // n_heads).transpose(1, 2)


def forward(w: Mapping[str, torch.Tensor], tokens: torch.Tensor, n_heads: int,
            patterns: list[torch.Tensor] | None = None) -> torch.Tensor:
    """``(batch, pos)`` tokens -> ``(batch, pos, d_vocab)`` logits under weights ``w``.

    Args:
        w: tensors under TransformerLens names (``blocks.0.attn.q.weight``, ...).
        tokens: int64 token ids.
        n_heads: heads per layer.
        patterns: if given, each layer's ``(batch, head, query, key)`` attention pattern
            is appended to it.
    """
    import torch
    n_pos = tokens.shape[1]
    x = w["embed.weight"][tokens] + w["pos_embed.weight"][:n_pos]  # (batch, pos, d_model)
    causal = torch.ones(n_pos, n_pos, dtype=torch.bool, device=tokens.device).tril()
    layer = 0
    while f"blocks.{layer}.attn.q.weight" in w:
        prefix = f"blocks.{layer}.attn"
        q, k, v = (_heads(x, w, f"{prefix}.{p}", n_heads) for p in "qkv")
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])  # (batch, head, q, k)
        pattern = scores.masked_fill(~causal, float("-inf")).softmax(-1)
        if patterns is not None:
            patterns.append(pattern)
        z = (pattern @ v).transpose(1, 2).reshape(x.shape[0], n_pos, -1)  # (b, pos, h*d)
        x = x + z @ w[f"{prefix}.o.weight"].T + w[f"{prefix}.o.bias"]
        layer += 1
    return x @ w["unembed.weight"].T + w["unembed.bias"]


def sequence_logits(model, tokens: torch.Tensor) -> torch.Tensor:
    """The family's readout: ``(batch, pos)`` -> ``(batch, pos, d_vocab)`` next-token
    logits of the bridge ``model``, from its live parameters (gradients reach them)."""
    return forward(live_tensors(model), tokens, model.cfg.n_heads)
