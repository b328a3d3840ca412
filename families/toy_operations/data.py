"""Toy operations data: ``Op ( a , b , c )`` over digits 0-9, the answer one digit.

The task of the user's seed study (seed 002): five operations on three digits, two that
compare (Max, Min) and three that select a position (First, Second, Last). Every one of
the 5 x 10^3 inputs is enumerated in one fixed order, index
``op * 1000 + a * 100 + b * 10 + c``, so the probe is the full set and the split is a
seeded mask over it (the seed drew examples with replacement, so its validation set
overlapped training; here train and held-out inputs are disjoint).

Tokens: the digits are their own ids 0-9, the operations 10-14, then ``(`` 15, ``,`` 16,
``)`` 17. The model reads the answer at ``)`` (position 7); its output vocabulary is the
ten digits, so a label is the answer digit itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from tdw.family.family import Dataset

if TYPE_CHECKING:
    import torch

__all__ = ["OPERATIONS", "VOCAB", "N_DIGITS", "FIRST_OPERATION", "N_CTX", "OPEN", "COMMA", "CLOSE",
           "OPERATION_POSITION", "ARGUMENT_POSITIONS", "ANSWER_POSITION", "all_inputs",
           "apply_operation", "train_mask", "dataset", "probe", "render"]

OPERATIONS: tuple[str, ...] = ("Max", "Min", "First", "Second", "Last")
N_DIGITS = 10
FIRST_OPERATION = 10  # token id of Max; the operations follow in OPERATIONS order
OPEN, COMMA, CLOSE = 15, 16, 17
VOCAB: tuple[str, ...] = (*(str(d) for d in range(N_DIGITS)), *OPERATIONS, "(", ",", ")")
"""Token id -> text."""
N_CTX = 8
OPERATION_POSITION = 0
ARGUMENT_POSITIONS: tuple[int, ...] = (2, 4, 6)
ANSWER_POSITION = 7  # ')', where the answer is read


def apply_operation(operation: torch.Tensor, args: torch.Tensor) -> torch.Tensor:
    """``(n,)`` operation indices into :data:`OPERATIONS` and ``(n, 3)`` digits -> answers."""
    import torch
    candidates = torch.stack([args.max(-1).values, args.min(-1).values,
                              args[:, 0], args[:, 1], args[:, 2]], dim=-1)  # (n, operation)
    return candidates.gather(-1, operation[:, None]).squeeze(-1)


def all_inputs() -> dict[str, torch.Tensor]:
    """Every input in ``op * 1000 + a * 100 + b * 10 + c`` order.

    Returns ``tokens`` (5000, 8), ``labels`` (5000,), ``operation`` (5000,) and
    ``args`` (5000, 3), all int64.
    """
    import torch
    grid = torch.cartesian_prod(torch.arange(len(OPERATIONS)), *(
        [torch.arange(N_DIGITS)] * 3))  # (5000, 4): op, a, b, c
    operation, args = grid[:, 0], grid[:, 1:]
    n = len(grid)
    tokens = torch.empty(n, N_CTX, dtype=torch.int64)
    tokens[:, OPERATION_POSITION] = FIRST_OPERATION + operation
    tokens[:, 1], tokens[:, 3], tokens[:, 5], tokens[:, 7] = OPEN, COMMA, COMMA, CLOSE
    tokens[:, list(ARGUMENT_POSITIONS)] = args
    return {"tokens": tokens, "labels": apply_operation(operation, args),
            "operation": operation, "args": args}


def render(tokens: torch.Tensor) -> str:
    """One ``(8,)`` input as text, e.g. ``Max ( 1 , 6 , 2 )``."""
    return " ".join(VOCAB[int(t)] for t in tokens)


def train_mask(data_seed: int, train_fraction: float) -> torch.Tensor:
    """Boolean (5000,) mask of the training inputs, stratified by operation.

    Each operation's 1000 inputs are permuted by one generator seeded with ``data_seed``
    and the first ``round(train_fraction * 1000)`` (at least one, never all) train, so
    every operation has the same share of training inputs.
    """
    import torch
    per_op = N_DIGITS ** 3
    n_train = max(1, min(per_op - 1, round(train_fraction * per_op)))
    rng = np.random.default_rng(data_seed)
    mask = np.zeros(len(OPERATIONS) * per_op, dtype=bool)
    for op in range(len(OPERATIONS)):
        mask[op * per_op + rng.permutation(per_op)[:n_train]] = True
    return torch.from_numpy(mask)


def dataset(values: Mapping[str, Any]) -> Dataset:
    """The seeded split: ``train_fraction`` of each operation's inputs train, the rest test."""
    inputs = all_inputs()
    mask = train_mask(values["data_seed"], values["train_fraction"])
    tokens, labels = inputs["tokens"], inputs["labels"]
    return Dataset(tokens[mask], labels[mask], tokens[~mask], labels[~mask])


def probe(values: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """All 5000 inputs in order, with labels, operation, digits and the training mask."""
    import torch
    inputs = all_inputs()
    mask = train_mask(values["data_seed"], values["train_fraction"])
    return {**inputs, "is_train": mask.to(torch.uint8)}
