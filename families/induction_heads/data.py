"""Sequences with repeated random segments, their next-token labels, and the probe.

A training sequence is ``n_ctx`` tokens drawn uniformly from the vocabulary. With
probability ``repeat_fraction`` it also holds one repeat: a segment of
``segment_length`` tokens is copied to a later, non-overlapping place, both places drawn
at random, so the only way to predict the copy is in context (attend to the token after
the previous occurrence of the current token: an induction head), never a fixed offset.
``repeat_fraction = 0`` is the plain-random control, where nothing is predictable.

The probe holds two halves of ``PROBE_SEQUENCES`` sequences each, from a seed stream of
its own: *repeated*, a random half-sequence of ``n_ctx // 2`` tokens written twice
(Olsson et al.'s "repeated random tokens"), and *random*, plain random tokens whose chance
recurrences measure prefix matching.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from tdw.family.family import Dataset
from tdw.family.model import IGNORE_LABEL

if TYPE_CHECKING:
    import torch

__all__ = ["PROBE_SEQUENCES", "N_TEST", "random_sequences", "next_token_labels", "dataset",
           "probe", "repeated_tokens"]

PROBE_SEQUENCES = 64
"""Sequences in each half of the probe (repeated, random)."""
N_TEST = 256
"""Held-out sequences drawn like the training ones."""
_TRAIN, _TEST, _PROBE = 0, 1, 2  # seed streams of one data seed


def _rng(data_seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([data_seed, stream])


def random_sequences(rng: np.random.Generator, n: int, n_ctx: int, d_vocab: int,
                     segment_length: int, repeat_fraction: float) -> np.ndarray:
    """``(n, n_ctx)`` int64 uniform tokens; a ``repeat_fraction`` share of rows (drawn per
    row) copy a random segment of ``segment_length`` tokens to a later random place."""
    tokens = rng.integers(0, d_vocab, size=(n, n_ctx))
    repeats = rng.random(n) < repeat_fraction  # (n,)
    k = segment_length
    for row in np.flatnonzero(repeats):
        first = int(rng.integers(0, n_ctx - 2 * k + 1))
        second = int(rng.integers(first + k, n_ctx - k + 1))
        tokens[row, second:second + k] = tokens[row, first:first + k]
    return tokens.astype(np.int64)


def next_token_labels(tokens: torch.Tensor) -> torch.Tensor:
    """``(n, n_ctx)`` -> ``(n, n_ctx)``: the next token at each position; the last position
    has none and is :data:`~tdw.family.model.IGNORE_LABEL`."""
    import torch
    labels = torch.full_like(tokens, IGNORE_LABEL)
    labels[:, :-1] = tokens[:, 1:]
    return labels


def _draw(values: Mapping[str, Any], stream: int, n: int) -> torch.Tensor:
    import torch
    return torch.from_numpy(random_sequences(
        _rng(values["data_seed"], stream), n, values["n_ctx"], values["d_vocab"],
        values["segment_length"], values["repeat_fraction"]))


def dataset(values: Mapping[str, Any]) -> Dataset:
    """``n_train`` training and 256 held-out sequences with one seeded repeat each
    (a ``repeat_fraction`` share), next-token labels at every position but the last."""
    train = _draw(values, _TRAIN, values["n_train"])
    test = _draw(values, _TEST, N_TEST)
    return Dataset(train, next_token_labels(train), test, next_token_labels(test))


def repeated_tokens(rng: np.random.Generator, n: int, n_ctx: int, d_vocab: int) -> np.ndarray:
    """``(n, n_ctx)``: random halves of ``n_ctx // 2`` tokens written twice (an odd
    ``n_ctx`` ends with one more random token)."""
    half = n_ctx // 2
    first = rng.integers(0, d_vocab, size=(n, half))
    tail = rng.integers(0, d_vocab, size=(n, n_ctx - 2 * half))
    return np.concatenate([first, first, tail], axis=1).astype(np.int64)


def probe(values: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The repeated-random-token half, then the plain-random half, with next-token
    labels and a ``repeated`` flag per sequence."""
    import torch
    rng = _rng(values["data_seed"], _PROBE)
    n_ctx, d_vocab = values["n_ctx"], values["d_vocab"]
    repeated = repeated_tokens(rng, PROBE_SEQUENCES, n_ctx, d_vocab)
    plain = rng.integers(0, d_vocab, size=(PROBE_SEQUENCES, n_ctx)).astype(np.int64)
    tokens = torch.from_numpy(np.concatenate([repeated, plain]))  # (2 * n, n_ctx)
    flag = torch.cat([torch.ones(PROBE_SEQUENCES), torch.zeros(PROBE_SEQUENCES)])
    return {"tokens": tokens, "labels": next_token_labels(tokens),
            "repeated": flag.to(torch.uint8)}
