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

__all__ = ["answer_logits", "table_logits"]


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


def table_logits(model, tokens: torch.Tensor) -> torch.Tensor:
    """:func:`answer_logits` with the keys, values and query taken from tables over the
    vocabulary: a position's key and value depend only on its token (no LayerNorm, one
    layer), so they are computed for ``n_pos x d_vocab`` rows and looked up, not for
    ``batch x n_pos``. Equal in exact arithmetic (``tests/families/test_grid_forward.py``);
    about 40% fewer multiply-adds on a batch of pairs, forward and backward. ``gradient_sites``
    uses it on the training split (a third faster there); the LLC sampler's batches of 256
    gain 2% and keep :func:`answer_logits`, as training does, so trained runs and LLC
    estimates stay bit for bit what they were."""
    import torch
    w = live_tensors(model)
    n_heads, d_head = model.cfg.n_heads, model.cfg.d_head
    batch, n_pos = tokens.shape
    table = w["embed.weight"][None] + w["pos_embed.weight"][:n_pos, None]  # (pos, vocab, d)
    at = (torch.arange(n_pos, device=tokens.device), tokens)  # (batch, pos) lookups

    def rows(name: str) -> torch.Tensor:  # (pos, vocab, d) -> (batch, pos, head, d_head)
        projected = table @ w[f"blocks.0.attn.{name}.weight"].T + w[f"blocks.0.attn.{name}.bias"]
        return projected[at].view(batch, n_pos, n_heads, d_head)

    last = table[-1][tokens[:, -1]]  # (batch, d_model)
    q = (table[-1] @ w["blocks.0.attn.q.weight"].T + w["blocks.0.attn.q.bias"])[tokens[:, -1]]
    pattern = (torch.einsum("bhd,bphd->bhp", q.view(batch, n_heads, d_head), rows("k"))
               / math.sqrt(d_head)).softmax(-1)
    z = torch.einsum("bhp,bphd->bhd", pattern, rows("v")).reshape(batch, n_heads * d_head)
    resid = last + z @ w["blocks.0.attn.o.weight"].T + w["blocks.0.attn.o.bias"]
    hidden = torch.relu(resid @ w["blocks.0.mlp.in.weight"].T + w["blocks.0.mlp.in.bias"])
    resid = resid + hidden @ w["blocks.0.mlp.out.weight"].T + w["blocks.0.mlp.out.bias"]
    return resid @ w["unembed.weight"].T + w["unembed.bias"]  # (batch, p)
