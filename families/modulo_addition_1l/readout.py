"""The answer-position forward pass: the same function as the bridge's forward, minus the
work nobody reads.

The loss reads only the logits at ``=`` (position 2). In a one-layer model that position
needs keys and values at every position but a query, attention output, MLP and
unembedding only at itself, so this computes exactly those, from the bridge's own
parameters (gradients flow to them). ``tests/families/test_modulo_addition.py`` proves it equal to
``model(tokens)[:, -1]``. Measured here at several times the bridge's speed per epoch.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from tdw.family.model import live_tensors

if TYPE_CHECKING:
    import torch

__all__ = ["answer_logits"]


def answer_logits(model, tokens: torch.Tensor) -> torch.Tensor:
    """``(batch, 3)`` tokens -> ``(batch, p)`` logits at the answer position."""
    import torch
    w = live_tensors(model)
    n_heads, d_head = model.cfg.n_heads, model.cfg.d_head
    batch, n_pos = tokens.shape
    x = w["embed.weight"][tokens] + w["pos_embed.weight"][:n_pos]  # (batch, pos, d_model)
    last = x[:, -1]  # (batch, d_model)
    q = (last @ w["blocks.0.attn.q.weight"].T + w["blocks.0.attn.q.bias"]).view(
        batch, n_heads, d_head)
    k = (x @ w["blocks.0.attn.k.weight"].T + w["blocks.0.attn.k.bias"]).view(
        batch, n_pos, n_heads, d_head)
    v = (x @ w["blocks.0.attn.v.weight"].T + w["blocks.0.attn.v.bias"]).view(
        batch, n_pos, n_heads, d_head)
    # The last query sees every position, so the causal mask removes nothing here.
    pattern = (torch.einsum("bhd,bphd->bhp", q, k) / math.sqrt(d_head)).softmax(-1)
    z = torch.einsum("bhp,bphd->bhd", pattern, v).reshape(batch, n_heads * d_head)
    resid = last + z @ w["blocks.0.attn.o.weight"].T + w["blocks.0.attn.o.bias"]
    hidden = torch.relu(resid @ w["blocks.0.mlp.in.weight"].T + w["blocks.0.mlp.in.bias"])
    resid = resid + hidden @ w["blocks.0.mlp.out.weight"].T + w["blocks.0.mlp.out.bias"]
    return resid @ w["unembed.weight"].T + w["unembed.bias"]  # (batch, p)
