"""The answer-position forward pass: the bridge's function, computing only what ``)`` reads.

The loss reads the logits at ``)`` (the last position). The first block must run at every
position (the second block's keys and values come from all of them), but the second
block's query, attention output and MLP, the final LayerNorm and the unembedding are
needed only at ``)``. This computes exactly those from the bridge's own parameters
(``live_tensors``, so gradients reach the optimiser), with torch's ``layer_norm`` and
``scaled_dot_product_attention``. ``tests/families/test_toy_operations.py`` proves it equal to
``model(tokens)[:, -1]`` in values and gradients.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tdw.family.model import live_tensors

if TYPE_CHECKING:
    import torch

__all__ = ["answer_logits"]


def _linear(x: torch.Tensor, w: dict[str, torch.Tensor], name: str) -> torch.Tensor:
    return x @ w[f"{name}.weight"].T + w[f"{name}.bias"]


def _layer_norm(x: torch.Tensor, w: dict[str, torch.Tensor], name: str, eps: float
                ) -> torch.Tensor:
    import torch.nn.functional as F
    return F.layer_norm(x, x.shape[-1:], w[f"{name}.weight"], w[f"{name}.bias"], eps)


def _block(x: torch.Tensor, w: dict[str, torch.Tensor], prefix: str, cfg, *,
           last_only: bool) -> torch.Tensor:
    """One pre-LayerNorm block on ``(batch, pos, d_model)``; with ``last_only`` it returns
    only the last position, ``(batch, 1, d_model)``."""
    import torch
    import torch.nn.functional as F
    batch, n_pos, _ = x.shape
    h = _layer_norm(x, w, f"{prefix}.ln1", cfg.eps)

    def heads(v: torch.Tensor) -> torch.Tensor:  # (batch, pos, d) -> (batch, head, pos, d_head)
        return v.view(batch, -1, cfg.n_heads, cfg.d_head).transpose(1, 2)

    queries = h[:, -1:] if last_only else h
    q = heads(_linear(queries, w, f"{prefix}.attn.q"))
    k, v = heads(_linear(h, w, f"{prefix}.attn.k")), heads(_linear(h, w, f"{prefix}.attn.v"))
    # The last query sees every key, so it needs no mask; the full block is causal.
    z = F.scaled_dot_product_attention(q, k, v, is_causal=not last_only)
    z = z.transpose(1, 2).reshape(batch, q.shape[2], cfg.n_heads * cfg.d_head)
    resid = (x[:, -1:] if last_only else x) + _linear(z, w, f"{prefix}.attn.o")
    hidden = torch.relu(_linear(_layer_norm(resid, w, f"{prefix}.ln2", cfg.eps), w,
                                f"{prefix}.mlp.in"))
    return resid + _linear(hidden, w, f"{prefix}.mlp.out")


def answer_logits(model, tokens: torch.Tensor) -> torch.Tensor:
    """``(batch, n_ctx)`` tokens -> ``(batch, d_vocab_out)`` logits at the last position."""
    w = live_tensors(model)
    cfg = model.cfg
    x = w["embed.weight"][tokens] + w["pos_embed.weight"][:tokens.shape[1]]  # (batch, pos, d)
    for layer in range(cfg.n_layers):
        x = _block(x, w, f"blocks.{layer}", cfg, last_only=layer == cfg.n_layers - 1)
    final = _layer_norm(x[:, -1], w, "ln_final", cfg.eps)  # (batch, d_model)
    return _linear(final, w, "unembed")
