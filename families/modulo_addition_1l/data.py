"""Modulo addition data: every pair (a, b) of residues, the tokens ``a b =``, label (a+b) mod p.

Pairs are indexed ``a * p + b`` everywhere (dataset split, probe, analyzer grids), so a
(p*p,) vector reshapes to a (p, p) grid over (a, b).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from tdw.family.family import Dataset

if TYPE_CHECKING:
    import torch

__all__ = ["grid_tokens", "train_mask", "dataset", "probe"]


def grid_tokens(p: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All p*p inputs ``[a, b, p]`` (token p is '=') and their labels, in (a, b) order."""
    import torch
    a = torch.arange(p).repeat_interleave(p)  # (p*p,)
    b = torch.arange(p).repeat(p)  # (p*p,)
    tokens = torch.stack([a, b, torch.full_like(a, p)], dim=1)  # (p*p, 3)
    return tokens, (a + b) % p


def train_mask(p: int, data_seed: int, train_fraction: float) -> torch.Tensor:
    """Boolean (p*p,) mask of the training pairs: a seeded random subset of the grid."""
    import torch
    n = p * p
    n_train = max(1, min(n - 1, round(train_fraction * n)))
    order = np.random.default_rng(data_seed).permutation(n)
    mask = np.zeros(n, dtype=bool)
    mask[order[:n_train]] = True
    return torch.from_numpy(mask)


def dataset(values: Mapping[str, Any]) -> Dataset:
    """A seeded split of the p x p grid: ``train_fraction`` of the pairs train, the rest test."""
    p = values["p"]
    tokens, labels = grid_tokens(p)
    mask = train_mask(p, values["data_seed"], values["train_fraction"])
    return Dataset(tokens[mask], labels[mask], tokens[~mask], labels[~mask])


def probe(values: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The full grid in (a, b) order, with its labels and which pairs were trained on."""
    import torch
    p = values["p"]
    tokens, labels = grid_tokens(p)
    mask = train_mask(p, values["data_seed"], values["train_fraction"])
    return {"tokens": tokens, "labels": labels, "is_train": mask.to(torch.uint8)}
