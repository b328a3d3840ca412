"""Which operation the model learns, and when: per-checkpoint accuracy, cross-epoch order.

``operation_accuracy`` splits the accuracy at ``)`` by operation and by the training
mask at each checkpoint; ``operation_learning`` reads those artifacts across checkpoints
and finds the epoch from which each operation stays learned (the seed study's "which
operation is learned first").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tdw.family.analyzer import (
    Analyzer,
    CheckpointInputs,
    CrossEpochAnalyzer,
    CrossEpochInputs,
    Output,
)
from tdw.family.artifacts import ArraySpec, AttrSpec

from . import data
from .hooks import LOGITS, SEED, probe_arrays, to_numpy

__all__ = ["ANALYZERS", "CROSS_EPOCH", "LEARNED", "per_operation_accuracy", "learned_epochs"]

LEARNED = 0.9
"""Held-out accuracy from which an operation counts as learned (and must stay)."""


# --- operation_accuracy ----------------------------------------------------------------


def per_operation_accuracy(logits: np.ndarray, labels: np.ndarray, operation: np.ndarray,
                           selected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy and mean cross-entropy per operation over the ``selected`` inputs.

    ``logits`` is ``(input, digit)``, ``labels`` and ``operation`` ``(input,)``,
    ``selected`` a boolean ``(input,)`` mask. Returns two ``(operation,)`` arrays; an
    operation with no selected input gets NaN.
    """
    from scipy.special import log_softmax
    correct = logits.argmax(-1) == labels  # (input,)
    loss = -log_softmax(logits, axis=-1)[np.arange(len(labels)), labels]  # (input,)
    accuracy = np.full(len(data.OPERATIONS), np.nan)
    mean_loss = np.full(len(data.OPERATIONS), np.nan)
    for op in range(len(data.OPERATIONS)):
        rows = selected & (operation == op)
        if rows.any():
            accuracy[op] = correct[rows].mean()
            mean_loss[op] = loss[rows].mean()
    return accuracy, mean_loss


def _operation_accuracy(inputs: CheckpointInputs) -> Output:
    """Train and held-out accuracy and held-out loss per operation, at ``)``.

    The seed study's "per-operation accuracy" table (Max 96.3%, ..., Last 91.1%): here on
    every input of the probe, split by the training mask, from the logits at ``)``.
    """
    operation, _, labels = probe_arrays(inputs)
    logits = to_numpy(inputs.activations[LOGITS][:, data.ANSWER_POSITION])  # (input, digit)
    is_train = inputs.probe["is_train"].cpu().numpy().astype(bool)
    train_acc, _ = per_operation_accuracy(logits, labels, operation, is_train)
    test_acc, test_loss = per_operation_accuracy(logits, labels, operation, ~is_train)
    correct = logits.argmax(-1) == labels
    return ({"train_accuracy": train_acc.astype(np.float32),
             "test_accuracy": test_acc.astype(np.float32),
             "test_loss": test_loss.astype(np.float32)},
            {"accuracy": float(correct.mean()),
             "test_accuracy": float(correct[~is_train].mean()),
             "operations": list(data.OPERATIONS)})


# --- operation_learning (cross-epoch) -------------------------------------------------


def learned_epochs(epochs: np.ndarray, accuracy: np.ndarray, threshold: float = LEARNED
                   ) -> np.ndarray:
    """``(checkpoint,)`` epochs, ``(checkpoint, operation)`` accuracy -> ``(operation,)``
    the first checkpoint epoch from which the accuracy stays >= ``threshold`` through the
    last checkpoint; -1 where it does not end there."""
    below = ~(accuracy >= threshold)  # (checkpoint, operation); NaN counts as below
    out = np.full(accuracy.shape[1], -1, dtype=np.int64)
    for op in range(accuracy.shape[1]):
        failing = np.flatnonzero(below[:, op])
        start = 0 if not len(failing) else failing[-1] + 1
        if start < len(epochs):
            out[op] = int(epochs[start])
    return out


def _learning_order(names: Sequence[str], learned: np.ndarray) -> tuple[list[str], str]:
    """Operation names in the order they were learned (never-learned ones left out), and
    the first, ties joined by " = " ("none" when none was learned)."""
    order = [names[i] for i in np.argsort(learned, kind="stable") if learned[i] >= 0]
    if not order:
        return order, "none"
    earliest = learned[learned >= 0].min()
    return order, " = ".join(n for n, e in zip(names, learned, strict=True) if e == earliest)


def _operation_learning(inputs: CrossEpochInputs) -> Output:
    """When each operation is learned: the held-out accuracy per operation across
    checkpoints and the epoch from which it stays >= 0.9 (the seed study's "which
    operation is learned first"; Last and Second were its hardest)."""
    epochs = np.asarray(inputs.epochs, dtype=np.int64)
    accuracy = np.stack([a["test_accuracy"] for a in inputs.artifacts["operation_accuracy"]]
                        ).astype(np.float64)  # (checkpoint, operation)
    learned = learned_epochs(epochs, accuracy)
    order, first = _learning_order(data.OPERATIONS, learned)
    return ({"epochs": epochs, "test_accuracy": accuracy.astype(np.float32),
             "learned_epoch": learned},
            {"threshold": LEARNED, "order": order, "first": first,
             "operations": list(data.OPERATIONS)})


def _per_operation(name: str, what: str) -> ArraySpec:
    return ArraySpec(name, "float32", ("operation",), what)


ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(
        name="operation_accuracy", version=1,
        description=f"Train and held-out accuracy and held-out loss per operation from the "
                    f"logits at ')' ({SEED}).",
        arrays=(_per_operation("train_accuracy", "accuracy on training inputs"),
                _per_operation("test_accuracy", "accuracy on held-out inputs"),
                _per_operation("test_loss", "cross-entropy on held-out inputs")),
        attrs=(AttrSpec("accuracy", "float", "accuracy on all 5000 inputs"),
               AttrSpec("test_accuracy", "float", "accuracy on the held-out inputs"),
               AttrSpec("operations", "json", "operation names, in axis order")),
        compute=_operation_accuracy, hooks=(LOGITS,),
    ),
)

CROSS_EPOCH: tuple[CrossEpochAnalyzer, ...] = (
    CrossEpochAnalyzer(
        name="operation_learning", version=1,
        description="Held-out accuracy per operation across checkpoints and the epoch from "
                    "which each stays >= 0.9: which operation is learned first.",
        arrays=(ArraySpec("epochs", "int64", ("checkpoint",), "checkpoint epochs"),
                ArraySpec("test_accuracy", "float32", ("checkpoint", "operation"),
                          "held-out accuracy per operation"),
                ArraySpec("learned_epoch", "int64", ("operation",),
                          "first epoch from which accuracy stays >= threshold; -1 never")),
        attrs=(AttrSpec("threshold", "float", "accuracy that counts as learned"),
               AttrSpec("order", "json", "operations in the order they were learned"),
               AttrSpec("first", "str", "the operation(s) learned first, ties joined by "
                        "' = ' ('none' if none was)"),
               AttrSpec("operations", "json", "operation names, in axis order")),
        compute=_operation_learning, inputs=("operation_accuracy",),
    ),
)
