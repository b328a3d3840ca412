"""What every Toy Operations analyzer reads: the hooks of both blocks and the probe's arrays.

The probe is every input in ``op * 1000 + a * 100 + b * 10 + c`` order (:mod:`.data`),
so ``probe["operation"]``, ``probe["args"]`` and ``probe["labels"]`` index every
activation's first axis. The module also holds the citation the descriptions share.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tdw.family.analyzer import CheckpointInputs

if TYPE_CHECKING:
    import torch

__all__ = ["LOGITS", "N_LAYERS", "D_MODEL", "N_HEADS", "D_HEAD", "D_MLP", "PATTERNS",
           "MLP_POSTS", "SEED", "to_numpy", "probe_arrays"]

LOGITS = "logits"  # (input, pos, digit)
# The seed study's architecture (102k parameters there with a 20-token vocabulary); the
# hooks below and the analyzers' arrays follow its shape.
N_LAYERS, D_MODEL, N_HEADS, D_HEAD, D_MLP = 2, 64, 4, 16, 256


def _pattern(layer: int) -> str:
    return f"blocks.{layer}.attn.hook_pattern"  # (input, head, query_pos, key_pos)


def _mlp_post(layer: int) -> str:
    return f"blocks.{layer}.mlp.hook_post"  # (input, pos, d_mlp)


PATTERNS = tuple(_pattern(layer) for layer in range(N_LAYERS))
MLP_POSTS = tuple(_mlp_post(layer) for layer in range(N_LAYERS))

SEED = "seed study 002"


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    import torch
    return tensor.detach().to("cpu", torch.float64).numpy()


def probe_arrays(inputs: CheckpointInputs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(input,)`` operation, ``(input, 3)`` digits and ``(input,)`` answers as int64."""
    probe = inputs.probe
    return tuple(probe[k].cpu().numpy().astype(np.int64) for k in ("operation", "args", "labels"))
