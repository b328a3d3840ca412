"""Per answer class: test accuracy across training, and how spread out its pairs' graduations are.

Reads every checkpoint's ``prediction_trace`` artifact (:mod:`.logits`): ``correct`` uint8
``(a, b)``, 1 where the argmax at '=' is (a + b) mod p. The split is rebuilt from the
variant's values with :func:`.data.train_mask`, which also makes the probe's ``is_train``.
Answer class c holds the p pairs with (a + b) mod p = c; its *test pairs* are those held
out. Definitions:

* *test (train) accuracy* of a class at a checkpoint: the share of its test (training)
  pairs predicted correctly; NaN for a class without such pairs.
* *graduation epoch* of a pair: the first checkpoint epoch from which it is correct at
  every later checkpoint, -1 if it is wrong at the last one. This is
  :data:`tdw.library.progress.graduation`'s definition (after Toneva et al. 2019), computed
  here again because a cross-epoch analyzer reads per-checkpoint artifacts only.
* *graduation quartiles* of a class, q = 1/4, 1/2, 3/4: the first checkpoint epoch by
  which at least ceil(q n) of its n test pairs have graduated; -1 if that never happens.
  Pairs that never graduate count in n, so a class whose last quarter never graduates
  has no third quartile.
* *first and last graduation*: the earliest and the latest graduation epoch among the
  class's test pairs that graduate; -1 if none does.

Only test pairs graduate here: a training pair's graduation is memorisation, a test
pair's is generalisation. The Fourier circuit treats every class alike (the logit of c is
a sum of cos(w_k (a + b - c)), Nanda et al. 2023, §4), so differences between classes
come from the data and the path there; ``n_train`` (training pairs per class) is stored
to compare them with.

>>> correct = np.array([[0, 1, 1], [1, 0, 1], [0, 0, 1], [1, 1, 0]], bool)  # (checkpoint, pair)
>>> graduation_epochs(correct, np.array([0, 10, 20, 30])).tolist()
[30, 30, -1]
>>> graduation_quartiles(np.array([30, 10, -1, 20]), np.zeros(4, int), 1).tolist()
[[10, 20, 30]]
"""

from __future__ import annotations

import math

import numpy as np

from tdw.family.analyzer import CrossEpochAnalyzer, CrossEpochInputs, Output
from tdw.family.artifacts import ArraySpec, AttrSpec
from tdw.library.progress import first_persistent

from . import data

__all__ = ["CROSS_EPOCH", "class_accuracy", "QUARTILES", "answer_classes",
           "accuracy_by_class", "graduation_epochs", "graduation_quartiles",
           "graduation_range"]

QUARTILES = (0.25, 0.5, 0.75)
"""Shares of a class's test pairs whose graduation epoch the quartiles give."""


def answer_classes(p: int) -> np.ndarray:
    """``(a*p+b,)`` int64 answer (a + b) mod p of every pair, in the probe's order."""
    a, b = np.divmod(np.arange(p * p), p)
    return (a + b) % p


def accuracy_by_class(correct: np.ndarray, classes: np.ndarray, chosen: np.ndarray,
                   p: int) -> np.ndarray:
    """Share of each class's ``chosen`` pairs predicted correctly at each checkpoint.

    Args:
        correct: ``(checkpoint, pair)`` bool.
        classes: ``(pair,)`` each pair's answer class.
        chosen: ``(pair,)`` bool, the pairs that count (the test or the training pairs).
        p: the number of classes.

    Returns:
        ``(checkpoint, class)`` float64; NaN for a class with no chosen pair.
    """
    member = (classes[chosen][:, None] == np.arange(p)).astype(np.float64)  # (pair, class)
    n = member.sum(0)  # (class,)
    hits = correct[:, chosen].astype(np.float64) @ member  # (checkpoint, class)
    return np.divide(hits, n, out=np.full_like(hits, np.nan), where=n > 0)


def graduation_epochs(correct: np.ndarray, epochs: np.ndarray) -> np.ndarray:
    """``(checkpoint, pair)`` bool -> ``(pair,)`` int64 graduation epoch, -1 never."""
    index = first_persistent(correct)  # (pair,)
    return np.where(index >= 0, np.asarray(epochs)[np.maximum(index, 0)], -1)


def graduation_quartiles(graduation: np.ndarray, classes: np.ndarray, p: int) -> np.ndarray:
    """``(pair,)`` graduation epochs (-1 never) and classes -> ``(class, quartile)`` int64:
    the first epoch by which ceil(q n) of the class's n pairs have graduated, -1 if never
    (and for a class with no pair), for q in :data:`QUARTILES`."""
    out = np.full((p, len(QUARTILES)), -1, dtype=np.int64)
    for c in range(p):
        epochs = graduation[classes == c]  # (n,)
        done = np.sort(epochs[epochs >= 0])  # (graduated,)
        for i, q in enumerate(QUARTILES):
            needed = max(1, math.ceil(q * epochs.size))
            if epochs.size and needed <= done.size:
                out[c, i] = done[needed - 1]
    return out


def graduation_range(graduation: np.ndarray, classes: np.ndarray, p: int) -> np.ndarray:
    """``(class, 2)`` int64 first and last graduation epoch among each class's pairs that
    graduate; -1 where none does."""
    done = graduation >= 0  # (pair,)
    first = np.full(p, np.iinfo(np.int64).max)
    np.minimum.at(first, classes[done], graduation[done])
    last = np.full(p, -1, dtype=np.int64)
    np.maximum.at(last, classes[done], graduation[done])
    return np.stack([np.where(last >= 0, first, -1), last], axis=1)


def _class_accuracy(inputs: CrossEpochInputs) -> Output:
    values = inputs.values
    p = values["p"]
    epochs = np.asarray(inputs.epochs, dtype=np.int64)  # (checkpoint,)
    is_train = data.split_mask(values).numpy()
    correct = np.stack([a["correct"].reshape(-1) for a in inputs.artifacts["prediction_trace"]]
                       ) > 0  # (checkpoint, a*p+b)
    classes = answer_classes(p)  # (a*p+b,)
    held_out = classes[~is_train]  # (test pair,) their classes
    test = accuracy_by_class(correct, classes, ~is_train, p)  # (checkpoint, class)
    train = accuracy_by_class(correct, classes, is_train, p)  # (checkpoint, class)
    graduation = graduation_epochs(correct[:, ~is_train], epochs)  # (test pair,)
    quartiles = graduation_quartiles(graduation, held_out, p)  # (class, quartile)
    first, last = graduation_range(graduation, held_out, p).T  # (class,) each
    arrays = {"epochs": epochs,
              "test_accuracy": test.astype(np.float32),
              "train_accuracy": train.astype(np.float32),
              "n_test": np.bincount(held_out, minlength=p).astype(np.int32),
              "n_train": np.bincount(classes[is_train], minlength=p).astype(np.int32),
              "graduation_quartiles": quartiles.astype(np.int32),
              "first_graduation": first.astype(np.int32),
              "last_graduation": last.astype(np.int32),
              "never_graduated": np.bincount(held_out[graduation < 0],
                                             minlength=p).astype(np.int32)}
    final = test[-1]  # (class,)
    known = ~np.isnan(final)
    weakest = int(np.flatnonzero(known)[np.argmin(final[known])]) if known.any() else None
    both = (quartiles[:, 0] >= 0) & (quartiles[:, 2] >= 0)  # (class,)
    iqr = quartiles[both, 2] - quartiles[both, 0]
    attrs = {"quartiles": list(QUARTILES), "weakest_class": weakest,
             "weakest_accuracy": None if weakest is None else float(final[weakest]),
             "median_iqr": float(np.median(iqr)) if both.any() else None}
    return arrays, attrs


class_accuracy = CrossEpochAnalyzer(
    name="class_accuracy",
    version=1,
    description=(
        "Per answer class c = (a + b) mod p: test and train accuracy at every checkpoint, "
        "and the spread of its test pairs' graduation epochs (the first epoch from which "
        "a pair stays correct to the end): quartiles, first, last, never graduated."
    ),
    arrays=(
        ArraySpec("epochs", "int64", ("checkpoint",), "checkpoint epochs"),
        ArraySpec("test_accuracy", "float32", ("checkpoint", "class"),
                  "share of the class's test pairs predicted correctly; NaN if it has none"),
        ArraySpec("train_accuracy", "float32", ("checkpoint", "class"),
                  "share of the class's training pairs predicted correctly; NaN if none"),
        ArraySpec("n_test", "int32", ("class",), "test pairs of the class"),
        ArraySpec("n_train", "int32", ("class",), "training pairs of the class"),
        ArraySpec("graduation_quartiles", "int32", ("class", "quartile"),
                  "first epoch by which ceil(q n) of the class's n test pairs have graduated, "
                  "q = 1/4, 1/2, 3/4; -1 never"),
        ArraySpec("first_graduation", "int32", ("class",),
                  "earliest graduation epoch of the class's test pairs; -1 none graduates"),
        ArraySpec("last_graduation", "int32", ("class",),
                  "latest graduation epoch among those that graduate; -1 none does"),
        ArraySpec("never_graduated", "int32", ("class",),
                  "test pairs of the class wrong at the last checkpoint"),
    ),
    attrs=(
        AttrSpec("quartiles", "json", "the shares q of the quartile axis"),
        AttrSpec("weakest_class", "json", "class with the lowest final test accuracy, or null"),
        AttrSpec("weakest_accuracy", "json", "its final test accuracy, or null"),
        AttrSpec("median_iqr", "json",
                 "median over classes of the epochs from the 1/4 to the 3/4 quartile, or null"),
    ),
    compute=_class_accuracy,
    inputs=("prediction_trace",),
)

CROSS_EPOCH: tuple[CrossEpochAnalyzer, ...] = (class_accuracy,)
