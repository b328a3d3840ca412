"""Progress across checkpoints from other analyzers' artifacts: when inputs are learned for
good, and when the neuron clusters of each frequency form.

Reads ``prediction_trace`` (arrays ``correct`` uint8 ``(a, b)``, ``confidence`` float16
``(a, b)``) and ``neuron_freq_clusters`` (arrays ``fraction`` float32 ``(neuron, freq)``,
``dominant`` int32 ``(neuron,)``, ``specialised_count`` int32 ``(freq,)`` with index ``i``
for frequency ``i + 1``; attribute ``threshold``).

"From which checkpoint does it hold until the end" is judged on the analysed checkpoints
only: a lapse between two checkpoints is not seen.
"""

from __future__ import annotations

import numpy as np

from tdw.family.analyzer import CrossEpochAnalyzer, CrossEpochInputs, Output
from tdw.family.artifacts import ArraySpec, AttrSpec

__all__ = ["PERSISTENCE", "first_persistent", "graduation", "neuron_specialisation"]

PERSISTENCE = 0.5
"""A frequency has emerged once it keeps at least this share of its final neuron count."""


def first_persistent(holds: np.ndarray) -> np.ndarray:
    """``(checkpoint, ...)`` bool -> ``(...)`` index of the first checkpoint from which
    ``holds`` is true at every later checkpoint; -1 where it is false at the last one."""
    stays = np.logical_and.accumulate(holds[::-1], axis=0)[::-1]  # (checkpoint, ...)
    first = stays.shape[0] - stays.sum(axis=0)  # stays is monotone along checkpoints
    return np.where(stays[-1], first, -1)


def _epoch_or_never(index: np.ndarray, epochs: np.ndarray) -> np.ndarray:
    """Checkpoint indices (-1 = never) -> epochs (-1 = never), int32."""
    return np.where(index >= 0, epochs[np.maximum(index, 0)], -1).astype(np.int32)


def _graduation(inputs: CrossEpochInputs) -> Output:
    epochs = np.asarray(inputs.epochs, dtype=np.int64)  # (checkpoint,)
    correct = np.stack([a["correct"] for a in inputs.artifacts["prediction_trace"]]) > 0
    # correct: (checkpoint, a, b)
    index = first_persistent(correct)  # (a, b)
    checkpoint = np.arange(len(epochs))[:, None, None]
    graduated = (index[None] >= 0) & (index[None] <= checkpoint)  # (checkpoint, a, b)
    fraction = graduated.reshape(len(epochs), -1).mean(axis=1)  # (checkpoint,)
    arrays = {"graduation_epoch": _epoch_or_never(index, epochs),
              "graduated_fraction": fraction.astype(np.float32),
              "epochs": epochs}
    return arrays, {"fraction_graduated": float(fraction[-1])}


graduation = CrossEpochAnalyzer(
    name="graduation",
    version=1,
    description=(
        "For every probe input, the first checkpoint epoch from which it is predicted "
        "correctly at every later checkpoint (after its last forgetting event; Toneva et al. "
        "2019), and the share of inputs graduated by each checkpoint."
    ),
    arrays=(
        ArraySpec("graduation_epoch", "int32", ("a", "b"),
                  "first epoch from which the input stays correct to the end; -1 never"),
        ArraySpec("graduated_fraction", "float32", ("checkpoint",),
                  "share of inputs whose graduation epoch is at or before this checkpoint"),
        ArraySpec("epochs", "int64", ("checkpoint",), "checkpoint epochs"),
    ),
    attrs=(AttrSpec("fraction_graduated", "float",
                    "share of inputs graduated by the last checkpoint (= correct there)"),),
    compute=_graduation,
    inputs=("prediction_trace",),
)


def _neuron_specialisation(inputs: CrossEpochInputs) -> Output:
    epochs = np.asarray(inputs.epochs, dtype=np.int64)  # (checkpoint,)
    counts = np.stack([a["specialised_count"] for a in inputs.artifacts["neuron_freq_clusters"]]
                      ).astype(np.int32)  # (checkpoint, freq)
    final = counts[-1]  # (freq,)
    needed = np.maximum(1, np.ceil(PERSISTENCE * final))  # (freq,)
    # A frequency with no neuron at the end fails its threshold of 1 there: -1.
    emergence = _epoch_or_never(first_persistent(counts >= needed), epochs)  # (freq,)
    arrays = {"epochs": epochs,
              "specialised_count": counts,
              "specialised_total": counts.sum(axis=1, dtype=np.int32),
              "emergence_epoch": emergence}
    return arrays, {"key_frequencies": [int(i) + 1 for i in np.flatnonzero(final > 0)]}


neuron_specialisation = CrossEpochAnalyzer(
    name="neuron_specialisation",
    version=1,
    description=(
        "How many MLP neurons specialise in each frequency at each checkpoint (Nanda et al. "
        "2023: neurons cluster by key frequency), and when each final frequency cluster "
        "emerges: the first epoch from which it keeps at least max(1, ceil(50% of its final "
        "count)) specialised neurons at every later checkpoint."
    ),
    arrays=(
        ArraySpec("epochs", "int64", ("checkpoint",), "checkpoint epochs"),
        ArraySpec("specialised_count", "int32", ("checkpoint", "freq"),
                  "neurons specialised in frequency i + 1 at each checkpoint"),
        ArraySpec("specialised_total", "int32", ("checkpoint",),
                  "specialised neurons over all frequencies"),
        ArraySpec("emergence_epoch", "int32", ("freq",),
                  "first epoch from which the count stays >= max(1, ceil(half the final "
                  "count)); -1 for frequencies with no specialised neuron at the end"),
    ),
    attrs=(AttrSpec("key_frequencies", "json",
                    "frequencies (1-based) with specialised neurons at the last checkpoint"),),
    compute=_neuron_specialisation,
    inputs=("neuron_freq_clusters",),
)
