"""Sequence reversal data: ``x SEP reversed(x)``, scored on the reversed half.

A sequence of ``length`` random tokens ``x`` is followed by the separator and by ``x``
reversed, shifted by one for teacher forcing: the model reads
``x[0] .. x[L-1] SEP x[L-1] .. x[1]`` (``2 L`` tokens) and, from the separator on, predicts
the next token of the reversal: position ``L + j`` predicts ``x[L-1-j]``, which sits at
position ``L-1-j``. Positions before the separator are not scored (``IGNORE_LABEL``).

The held-out sequences are drawn first, all distinct, from a generator of their own, so
they (and the probe, which is them) depend on ``data_seed``, ``length`` and ``d_vocab``
only; training sequences are drawn from a second generator and never equal a held-out one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from tdw import Dataset
from tdw.family.model import IGNORE_LABEL

__all__ = ["N_HELD_OUT", "sequences", "dataset", "probe"]

N_HELD_OUT = 256
"""Held-out sequences: the test set and the probe."""


def _held_out(values: Mapping[str, Any]) -> np.ndarray:
    """``(N_HELD_OUT, length)`` distinct random sequences."""
    rng = np.random.default_rng([values["data_seed"], 0])
    shape = (N_HELD_OUT, values["length"])
    rows = np.empty((0, values["length"]), dtype=np.int64)
    while len(rows) < N_HELD_OUT:  # the family's check leaves room for twice as many
        rows = np.unique(np.concatenate([rows, rng.integers(0, values["d_vocab"], shape)]),
                         axis=0)
    return rows[rng.permutation(len(rows))[:N_HELD_OUT]]  # unique() sorted them


def _training(values: Mapping[str, Any], held_out: np.ndarray) -> np.ndarray:
    """``(n_train, length)`` random sequences, none of them held out (repeats allowed)."""
    rng = np.random.default_rng([values["data_seed"], 1])
    taken = {row.tobytes() for row in held_out}
    shape = (values["n_train"], values["length"])
    rows: list[np.ndarray] = []
    while len(rows) < values["n_train"]:
        rows.extend(r for r in rng.integers(0, values["d_vocab"], shape)
                    if r.tobytes() not in taken)
    return np.stack(rows[:values["n_train"]])


def sequences(x: np.ndarray, separator: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(n, L)`` sequences -> ``(n, 2L)`` model inputs and ``(n, 2L)`` labels."""
    x = torch.from_numpy(x).long()
    n, length = x.shape
    reversed_x = x.flip(1)
    tokens = torch.cat([x, torch.full((n, 1), separator), reversed_x[:, :-1]], dim=1)
    labels = torch.full((n, 2 * length), IGNORE_LABEL)
    labels[:, length:] = reversed_x
    return tokens, labels


def dataset(values: Mapping[str, Any]) -> Dataset:
    """``n_train`` random training sequences and the 256 held-out ones, reversed."""
    held_out = _held_out(values)
    train_tokens, train_labels = sequences(_training(values, held_out), values["d_vocab"])
    test_tokens, test_labels = sequences(held_out, values["d_vocab"])
    return Dataset(train_tokens, train_labels, test_tokens, test_labels)


def probe(values: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The 256 held-out sequences: ``tokens`` and ``labels``, each ``(256, 2 length)``."""
    tokens, labels = sequences(_held_out(values), values["d_vocab"])
    return {"tokens": tokens, "labels": labels}
