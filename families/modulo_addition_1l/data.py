"""Modulo addition data: every pair (a, b) of residues, the tokens ``a b =``, label (a+b) mod p.

Pairs are indexed ``a * p + b`` everywhere (dataset split, probe, analyzer grids), so a
(p*p,) vector reshapes to a (p, p) grid over (a, b). The split depends on the variant's
recipe (:mod:`.recipes`): ``tdw`` draws it with numpy and trains in grid order, ``miscope``
with ``torch.randperm`` and trains in that permutation's order, as MIScope did.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from tdw.family.family import Dataset

from .recipes import miscope_split, recipe_of

if TYPE_CHECKING:
    import torch

__all__ = ["grid_tokens", "train_mask", "split", "split_mask", "dataset", "probe"]


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


def split(values: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(train, test)`` pair indices of the variant's recipe, in the order it trains on them."""
    import torch
    p, seed, fraction = values["p"], values["data_seed"], values["train_fraction"]
    if recipe_of(values) == "miscope":
        return miscope_split(p, seed, fraction)
    mask = train_mask(p, seed, fraction)
    return torch.nonzero(mask).flatten(), torch.nonzero(~mask).flatten()


def split_mask(values: Mapping[str, Any]) -> torch.Tensor:
    """Boolean (p*p,) mask of the variant's training pairs, whatever its recipe."""
    import torch
    mask = torch.zeros(values["p"] ** 2, dtype=torch.bool)
    mask[split(values)[0]] = True
    return mask


def dataset(values: Mapping[str, Any]) -> Dataset:
    """A seeded split of the p x p grid: ``train_fraction`` of the pairs train, the rest test."""
    tokens, labels = grid_tokens(values["p"])
    train, test = split(values)
    return Dataset(tokens[train], labels[train], tokens[test], labels[test])


def probe(values: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The full grid in (a, b) order, with its labels and which pairs were trained on."""
    import torch
    p = values["p"]
    tokens, labels = grid_tokens(p)
    return {"tokens": tokens, "labels": labels, "is_train": split_mask(values).to(torch.uint8)}
