"""QK and OV circuits of every head, read from the weights with TransformerLens'
``FactoredMatrix`` (Elhage et al. 2021, "A mathematical framework for transformer
circuits"; Olsson et al. 2022).

Conventions (row vectors, as TransformerLens): a head's ``W_QK = W_Q W_K^T`` and
``W_OV = W_V W_O`` are ``d_model x d_model``; the full OV circuit is ``W_E W_OV W_U``
(token -> logits). Biases are left out, as in both papers. Heads are numbered
layer-major; a pair ``(head, src)`` is filled only when ``src`` is in an earlier layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from tdw.family.analyzer import Analyzer, CheckpointInputs, Output
from tdw.family.artifacts import ArraySpec, AttrSpec

if TYPE_CHECKING:
    import torch

__all__ = ["circuits_analyzer", "head_weights", "copying_scores", "composition_scores",
           "qk_matching_scores", "BASELINE_SAMPLES"]

BASELINE_SAMPLES = 16
"""Random Gaussian matrix pairs behind the composition-score baseline."""


def head_weights(weights: Mapping[str, torch.Tensor], n_heads: int
                 ) -> dict[str, torch.Tensor]:
    """Per-head matrices stacked over all layers' heads (layer-major), float64:
    ``W_Q``, ``W_K``, ``W_V`` ``(head, d_model, d_head)``, ``W_O`` ``(head, d_head,
    d_model)``, and ``W_E`` ``(vocab, d_model)``, ``W_U`` ``(d_model, vocab)``."""
    import torch
    w = {name: t.detach().to("cpu", torch.float64) for name, t in weights.items()}
    out: dict[str, list[torch.Tensor]] = {"W_Q": [], "W_K": [], "W_V": [], "W_O": []}
    layer = 0
    while f"blocks.{layer}.attn.q.weight" in w:
        prefix = f"blocks.{layer}.attn"
        for key, part in (("W_Q", "q"), ("W_K", "k"), ("W_V", "v")):
            rows = w[f"{prefix}.{part}.weight"]  # (head * d_head, d_model): Linear layout
            out[key].append(rows.view(n_heads, -1, rows.shape[-1]).transpose(1, 2))
        cols = w[f"{prefix}.o.weight"]  # (d_model, head * d_head)
        out["W_O"].append(cols.T.reshape(n_heads, -1, cols.shape[0]))
        layer += 1
    stacked = {key: torch.cat(parts) for key, parts in out.items()}
    return {**stacked, "W_E": w["embed.weight"], "W_U": w["unembed.weight"].T}


def _positive_share(eigenvalues: torch.Tensor) -> torch.Tensor:
    """``(..., n)`` complex -> ``(...)``: Re(sum lambda) / sum |lambda|, in [-1, 1]."""
    return eigenvalues.real.sum(-1) / eigenvalues.abs().sum(-1).clamp_min(1e-300)


def copying_scores(h: Mapping[str, torch.Tensor]) -> np.ndarray:
    """``(head,)``: the positive-eigenvalue share of each full OV circuit
    ``W_E W_V W_O W_U``, Elhage et al.'s copying measure: 1 for a head that raises the
    logit of the token it attends to, -1 for one that suppresses it."""
    from transformer_lens import FactoredMatrix

    ov = FactoredMatrix(h["W_E"] @ h["W_V"], h["W_O"] @ h["W_U"])  # (head, vocab, vocab)
    return _positive_share(ov.eigenvalues).numpy()


def _frobenius_ratio(product, left, right) -> torch.Tensor:
    return product.norm() / (left.norm() * right.norm())


def composition_scores(h: Mapping[str, torch.Tensor], n_heads: int
                       ) -> dict[str, np.ndarray]:
    """``(head, src)`` Q-, K- and V-composition scores ``|A B|_F / (|A|_F |B|_F)`` of
    Elhage et al. 2021 between a head and every head ``src`` of an earlier layer (NaN
    elsewhere): K uses ``W_QK W_OV(src)^T`` (src writes into the keys), Q uses
    ``W_OV(src) W_QK`` (into the queries), V uses ``W_OV(src) W_OV``."""
    from transformer_lens import FactoredMatrix

    n = h["W_Q"].shape[0]
    qk = FactoredMatrix(h["W_Q"], h["W_K"].transpose(-1, -2))  # (head, d_model, d_model)
    ov = FactoredMatrix(h["W_V"], h["W_O"])  # (head, d_model, d_model)
    ov_t = FactoredMatrix(h["W_O"].transpose(-1, -2), h["W_V"].transpose(-1, -2))
    out = {kind: np.full((n, n), np.nan) for kind in ("q", "k", "v")}
    for dest in range(n):
        for src in range(n):
            if src // n_heads >= dest // n_heads:
                continue
            out["k"][dest, src] = _frobenius_ratio(qk[dest] @ ov_t[src], qk[dest], ov[src])
            out["q"][dest, src] = _frobenius_ratio(ov[src] @ qk[dest], ov[src], qk[dest])
            out["v"][dest, src] = _frobenius_ratio(ov[src] @ ov[dest], ov[src], ov[dest])
    return out


def composition_baseline(d_model: int, d_head: int, seed: int = 0) -> float:
    """The mean composition score of random Gaussian low-rank pairs of the same shapes
    (``BASELINE_SAMPLES`` seeded pairs), the level above which composition is learned."""
    import torch
    from transformer_lens import FactoredMatrix

    generator = torch.Generator().manual_seed(seed)

    def draw():
        import torch
        return FactoredMatrix(
            torch.randn(BASELINE_SAMPLES, d_model, d_head, generator=generator,
                        dtype=torch.float64),
            torch.randn(BASELINE_SAMPLES, d_head, d_model, generator=generator,
                        dtype=torch.float64))

    left, right = draw(), draw()
    return float(((left @ right).norm() / (left.norm() * right.norm())).mean())


def qk_matching_scores(h: Mapping[str, torch.Tensor], n_heads: int) -> np.ndarray:
    """``(head, src)``: positive-eigenvalue share of the K-composed token QK circuit
    ``W_E W_QK (W_E W_OV(src))^T`` (vocab x vocab): how much a query token attends to keys
    whose ``src`` head carries *the same* token. An induction head composed with a
    previous-token head scores near 1 (Olsson et al.'s prefix matching, in the weights)."""
    from transformer_lens import FactoredMatrix

    n = h["W_Q"].shape[0]
    out = np.full((n, n), np.nan)
    for dest in range(n):
        for src in range(n):
            if src // n_heads >= dest // n_heads:
                continue
            left = h["W_E"] @ h["W_Q"][dest]  # (vocab, d_head)
            right = (h["W_K"][dest].T @ h["W_O"][src].T @ h["W_V"][src].T
                     @ h["W_E"].T)  # (d_head, vocab)
            out[dest, src] = float(_positive_share(FactoredMatrix(left, right).eigenvalues))
    return out


def _circuits(inputs: CheckpointInputs) -> Output:
    n_heads = inputs.values["n_heads"]
    h = head_weights(inputs.weights, n_heads)
    comp = composition_scores(h, n_heads)
    d_model, d_head = h["W_Q"].shape[1:]
    arrays = {"ov_copying": copying_scores(h).astype(np.float32),
              "qk_matching": qk_matching_scores(h, n_heads).astype(np.float32),
              **{f"{kind}_composition": comp[kind].astype(np.float32) for kind in "qkv"}}
    k = comp["k"]
    best = None if np.all(np.isnan(k)) else np.unravel_index(np.nanargmax(k), k.shape)
    names = [f"L{i // n_heads}H{i % n_heads}" for i in range(k.shape[0])]
    return arrays, {
        "heads": names,
        "composition_baseline": composition_baseline(int(d_model), int(d_head)),
        "max_k_composition": None if best is None else float(k[best]),
        "best_k_composition": None if best is None else [names[best[0]], names[best[1]]],
        "max_ov_copying": float(arrays["ov_copying"].max()),
    }


_PAIR = ("head", "src")
circuits_analyzer = Analyzer(
    name="circuits", version=1,
    description="QK and OV circuits from the weights (TransformerLens FactoredMatrix; Elhage "
                "et al. 2021): each head's OV copying score (positive-eigenvalue share of "
                "W_E W_OV W_U), Q/K/V-composition scores with every earlier-layer head, and "
                "the positive-eigenvalue share of the K-composed token QK circuit.",
    arrays=(ArraySpec("ov_copying", "float32", ("head",),
                      "Re(sum eig) / sum |eig| of W_E W_V W_O W_U"),
            ArraySpec("qk_matching", "float32", _PAIR,
                      "Re(sum eig) / sum |eig| of W_E W_QK (W_E W_OV(src))^T; NaN if src is "
                      "not in an earlier layer"),
            ArraySpec("q_composition", "float32", _PAIR, "|W_OV(src) W_QK| / (|.| |.|)"),
            ArraySpec("k_composition", "float32", _PAIR, "|W_QK W_OV(src)^T| / (|.| |.|)"),
            ArraySpec("v_composition", "float32", _PAIR, "|W_OV(src) W_OV| / (|.| |.|)")),
    attrs=(AttrSpec("heads", "json", "head names, layer-major"),
           AttrSpec("composition_baseline", "float",
                    "mean composition score of random Gaussian matrices of these shapes"),
           AttrSpec("max_k_composition", "json", "largest K-composition score, or null"),
           AttrSpec("best_k_composition", "json", "[head, src] of the largest, or null"),
           AttrSpec("max_ov_copying", "float", "largest OV copying score over heads")),
    compute=_circuits,
)
