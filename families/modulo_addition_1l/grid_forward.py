"""The probe's forward pass, computed from token tables: the same function as the bridge's,
at the answer position, with a fifth to a tenth of its arithmetic.

The probe is the full p x p grid of ``(a, b, =)`` (``grid.py``), and the analyzers read
every activation at ``=`` only. In this one-layer model without LayerNorm, what reaches
``=`` is a function of few inputs:

* the keys and values at position 0 depend on ``a`` alone, at position 1 on ``b`` alone,
  and the query at ``=`` on nothing: they are tables of ``p`` rows (or one), not ``p^2``;
* so the attention pattern at ``=`` is a softmax of three table lookups per head, and the
  attention output is a pattern-weighted sum of table rows ``v @ W_O`` (per head);
* the MLP's input, ``(resid_pre + attn_out) @ W_in``, is linear in those rows too, so its
  table ``v @ W_O @ W_in`` is computed once per head and position, and each pair's
  pre-activation is a 12-term weighted sum of rows (three small batched products) instead
  of a ``d_model x d_mlp`` product;
* when nothing reads the MLP's output, the logits are ``resid_mid @ W_U + post @ (W_U
  W_out)``: one ``d_mlp x p`` product instead of two.

That is about 190 M multiply-adds for the logits of p = 59, where the answer-position
readout (``readout.py``) does 1,050 M and the bridge's full forward 2,100 M. The results
are the bridge's in exact arithmetic; in float32 they differ by rounding (``tests/families/
test_grid_forward.py`` holds them to the bridge's hooks within 1e-5). Training keeps its
readout, so a trained run stays bit for bit what it was.

:func:`grid_activations` is the family's ``probe_forward`` (the analysis engine's shared
forward): each hook it returns has a position axis of length one, the answer; the
analyzers read position ``ANSWER`` (-1), which is the same in the bridge's full tensors.
:func:`grid_logits` is the probe loss of ``flatness``.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from tdw.family.model import live_tensors

from . import data
from .grid import LOGITS, MLP_POST, PATTERN

if TYPE_CHECKING:
    import torch

__all__ = ["HOOKS", "grid_activations", "grid_logits", "is_grid"]

RESID_PRE, ATTN_OUT = "blocks.0.hook_resid_pre", "blocks.0.hook_attn_out"
MLP_OUT, RESID_POST = "blocks.0.hook_mlp_out", "blocks.0.hook_resid_post"
HOOKS = frozenset({RESID_PRE, ATTN_OUT, MLP_OUT, RESID_POST, MLP_POST, PATTERN, LOGITS})
"""The hooks :func:`grid_activations` computes; asked for any other, it declines."""


def is_grid(tokens: torch.Tensor, p: int) -> bool:
    """Whether ``tokens`` is the full p x p grid of ``(a, b, =)`` in ``a * p + b`` order."""
    import torch
    expected, _ = data.grid_tokens(p)
    return tokens.shape == expected.shape and bool(torch.equal(tokens.cpu(), expected))


def _linear(w: Mapping[str, torch.Tensor], name: str, x: torch.Tensor) -> torch.Tensor:
    return x @ w[f"{name}.weight"].T + w[f"{name}.bias"]


class _Grid:
    """The pattern at ``=`` and the per-head value tables, for one model's weights."""

    def __init__(self, model: Any, p: int) -> None:
        import torch
        w = live_tensors(model)
        heads, d_head = model.cfg.n_heads, model.cfg.d_head
        embed, pos = w["embed.weight"], w["pos_embed.weight"]
        x_a, x_b = embed[:p] + pos[0], embed[:p] + pos[1]  # (p, d_model): a at 0, b at 1
        self.x_eq = embed[p] + pos[2]  # (d_model,): '=' at 2
        q = _linear(w, "blocks.0.attn.q", self.x_eq).view(heads, d_head)

        def scores(x):  # (rows, d_model) -> (rows, head)
            k = _linear(w, "blocks.0.attn.k", x).view(-1, heads, d_head)
            return (k * q).sum(-1) / math.sqrt(d_head)

        s_a, s_b, s_eq = scores(x_a), scores(x_b), scores(self.x_eq[None])[0]
        # (a, b, head, key): the softmax over the three keys of every pair, written out (a
        # softmax over a last axis of three is slower than these few broadcasts)
        s_a, s_b = s_a[:, None], s_b[None]  # (a, 1, head), (1, b, head)
        top = torch.maximum(torch.maximum(s_a, s_b), s_eq)  # (a, b, head)
        e_a, e_b, e_eq = (s_a - top).exp(), (s_b - top).exp(), (s_eq - top).exp()
        total = e_a + e_b + e_eq
        self.pattern = torch.stack([e_a / total, e_b / total, e_eq / total], dim=-1)
        self._from_b = self.pattern[..., 1].transpose(0, 1).contiguous()  # (b, a, head)
        self._from_a = self.pattern[..., 0].contiguous()  # (a, b, head)
        self._from_eq = self.pattern[..., 2].reshape(p * p, heads)  # (a*b, head)
        w_o = w["blocks.0.attn.o.weight"].view(-1, heads, d_head)  # (d_model, head, d_head)

        def value_out(x):  # (rows, d_model) -> (rows, head, d_model): v_h @ W_O^h
            v = _linear(w, "blocks.0.attn.v", x).view(-1, heads, d_head)
            return torch.einsum("rhe,dhe->rhd", v, w_o)

        self.vo = (value_out(x_a), value_out(x_b), value_out(self.x_eq[None])[0])
        self.b_o = w["blocks.0.attn.o.bias"]
        self.w = w

    def mix(self, tables: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """``sum over head and key of pattern * table[key][token at key]``: (a*b, width)
        from per-head tables ``(p, head, width)``, ``(p, head, width)``, ``(head, width)``."""
        import torch
        at_a, at_b, at_eq = tables
        # batched over a: (b, head) @ (head, width); over b likewise, then laid out as (a, b)
        out = torch.bmm(self._from_a, at_a)  # (a, b, width)
        out += torch.bmm(self._from_b, at_b).transpose(0, 1)
        return out.view(-1, out.shape[-1]).addmm_(self._from_eq, at_eq)


def _through(tables, weight):  # per-head residual tables -> their images under a linear map
    return tuple(t @ weight.T for t in tables)


def _logits(model: Any, p: int) -> torch.Tensor:
    """``(a*b, p)`` logits alone: the MLP's input and the attention's share of the logits
    come from one mix of the value tables through ``[W_in | W_U]``, and ``W_out`` is folded
    into the unembedding."""
    import torch
    g = _Grid(model, p)
    w = g.w
    w_in, unembed = w["blocks.0.mlp.in.weight"], w["unembed.weight"]
    d_mlp = w_in.shape[0]
    mixed = g.mix(tuple(torch.cat([t @ w_in.T, t @ unembed.T], dim=-1) for t in g.vo))
    fixed = g.x_eq + g.b_o  # the residual's part that no pair changes
    post = (mixed[:, :d_mlp] + _linear(w, "blocks.0.mlp.in", fixed)).relu()  # (a*b, d_mlp)
    bias = fixed @ unembed.T + unembed @ w["blocks.0.mlp.out.bias"] + w["unembed.bias"]
    return torch.addmm(mixed[:, d_mlp:] + bias, post,
                       (unembed @ w["blocks.0.mlp.out.weight"]).T)


def _forward(model: Any, p: int, wanted: Collection[str]) -> dict[str, torch.Tensor]:
    g = _Grid(model, p)
    w, out = g.w, {}
    resid_pre = g.x_eq.expand(p * p, -1)
    w_in = w["blocks.0.mlp.in.weight"]
    pre = g.mix(_through(g.vo, w_in)) + (_linear(w, "blocks.0.mlp.in", g.x_eq + g.b_o))
    post = pre.relu()  # (a*b, d_mlp)
    attn_out = g.mix(g.vo) + g.b_o  # (a*b, d_model)
    if wanted & {MLP_OUT, RESID_POST, LOGITS}:  # logits alone, faster: _logits
        mlp_out = _linear(w, "blocks.0.mlp.out", post)
        resid_post = resid_pre + attn_out + mlp_out
        out.update({MLP_OUT: mlp_out, RESID_POST: resid_post,
                    LOGITS: _linear(w, "unembed", resid_post)})
    out.update({RESID_PRE: resid_pre, ATTN_OUT: attn_out, MLP_POST: post})
    out[PATTERN] = g.pattern.reshape(p * p, g.pattern.shape[2], 1, 3)  # (pair, head, q, key)
    return {h: (t if h == PATTERN else t[:, None]) for h, t in out.items() if h in wanted}


def grid_activations(model: Any, probe: Mapping[str, torch.Tensor],
                     hooks: Collection[str]) -> dict[str, torch.Tensor] | None:
    """The family's ``probe_forward``: ``hooks`` at the answer position, each with a
    position axis of length one (``(p*p, 1, ...)``; the pattern ``(p*p, head, 1, key)``).
    None when a hook is not one of :data:`HOOKS` or the probe is not the grid: the engine
    then runs the bridge."""
    tokens = probe["tokens"]
    p = int(tokens[0, 2])  # '=' is token p
    if not set(hooks) <= HOOKS or not is_grid(tokens, p):
        return None
    return _forward(model, p, frozenset(hooks))


def grid_logits(model: Any, p: int) -> torch.Tensor:
    """``(p*p, p)`` answer logits over the grid, in ``a * p + b`` order."""
    return _logits(model, p)
