"""The probe grid as every Modulo Addition analyzer reads it.

The probe is the full p x p grid of pairs in ``a * p + b`` order (``data.grid_tokens``),
read at the answer position ``=`` (position 2), so an activation ``(p*p, ...)`` reshapes
to a grid ``(..., a, b)``. Frequencies are k = 1 .. p // 2 of :mod:`.fourier`, stored on a
``freq`` axis whose index i is frequency i + 1; 0 in a ``dominant`` array means "no
variance, no frequency". This module holds the hooks the analyzers read, the checks and
reshapes that go with that order, and the citation their descriptions share.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tdw.family.analyzer import CheckpointInputs

from . import data

if TYPE_CHECKING:
    import torch

__all__ = ["D_MODEL", "N_HEADS", "D_HEAD", "D_MLP", "ANSWER", "MLP_POST", "PATTERN", "LOGITS",
           "CITE", "to_numpy", "grid_p", "as_grids", "dominant_frequency"]

# Nanda et al.'s architecture; the family fixes it, variants differ only in their parameters.
D_MODEL, N_HEADS, D_HEAD, D_MLP = 128, 4, 32, 512
ANSWER = -1
"""The position of '=' (the last, 2), where the answer is read; counted from the end
because the analysis engine's forward (``grid_forward.py``) keeps only that position."""
# The hooks' shapes: the position axis has 3 entries from the bridge, 1 (the answer) from
# the engine's table forward (grid_forward.py); read position ANSWER.
MLP_POST = "blocks.0.mlp.hook_post"  # (p*p, pos, d_mlp)
PATTERN = "blocks.0.attn.hook_pattern"  # (p*p, head, query_pos, key_pos)
LOGITS = "logits"  # (p*p, pos, p)

CITE = "Nanda et al. 2023, arXiv:2301.05217"


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """The tensor as a float64 numpy array on the CPU: every analyzer computes in float64."""
    import torch
    return tensor.detach().to("cpu", torch.float64).numpy()


def grid_p(inputs: CheckpointInputs) -> int:
    """p, after checking that the probe is the full grid in ``a * p + b`` order."""
    import torch
    p = inputs.values["p"]
    expected, _ = data.grid_tokens(p)  # (p*p, 3)
    tokens = inputs.probe["tokens"].cpu()
    if tokens.shape != expected.shape or not torch.equal(tokens, expected):
        raise ValueError(f"the probe is not the {p} x {p} grid of pairs in a * p + b order")
    return p


def as_grids(rows: np.ndarray, p: int) -> np.ndarray:
    """``(p*p, n)`` rows in ``a * p + b`` order -> ``(n, a, b)`` grids."""
    return np.moveaxis(rows.reshape(p, p, -1), -1, 0)


def dominant_frequency(fraction: np.ndarray) -> np.ndarray:
    """``(..., freq)`` shares -> ``(...,)`` int32 frequency of the largest, 0 if all are 0."""
    best = fraction.argmax(-1) + 1  # (...,)
    return np.where(fraction.max(-1) > 0, best, 0).astype(np.int32)
