"""Neuron frequency dynamics: which frequency each MLP neuron holds at every checkpoint, how
often it changes its mind, when it settles, and which frequencies rise and fall on the way.

Reads every checkpoint's ``neuron_freq_clusters`` artifact (:mod:`.neurons`): ``fraction``
float32 ``(neuron, freq)``, each neuron's share of variance over the (a, b) grid per
frequency, index ``i`` for frequency ``i + 1``. Nanda et al. (2023, §4.3) read the clusters
at the end of training; this follows them through it. The definitions:

* **held frequency**: at a checkpoint a neuron *holds* (is committed to) its dominant
  frequency when that frequency's share is above :data:`COMMITTED` (one half); otherwise it
  is *uncommitted* there, held frequency 0 (as is a neuron constant over the grid).
* **switches**: how many times a neuron's held frequency changes, uncommitted spells
  skipped: 7, 3, 3 is one switch, 7, 0, 7 none, 7, 0, 3 one, 7, 3, 7 two.
* **commitment epoch**: the first checkpoint from which the neuron holds its final held
  frequency at every later checkpoint (an uncommitted spell breaks the hold); -1 when the
  neuron is uncommitted at the last checkpoint.
* **count**: neurons holding each frequency at each checkpoint; a frequency is *prominent*
  at a checkpoint where its count is at least :data:`PROMINENT` of the neurons.
* **transient frequency**: one that is prominent at its peak (largest count; the first
  such checkpoint) and ends below :data:`FADED` of its peak count. Its *cohort* is the
  neurons holding it at the peak, and its *fate* how many of them end on each frequency.
* **band concentration**: the Herfindahl-Hirschman index of the counts, ``sum_k s_k**2``
  with ``s_k`` frequency k's share of the committed neurons; 1 when all hold one
  frequency, ``1 / m`` when they are spread evenly over m, NaN when none is committed.
  ``1 / HHI`` is the effective number of frequencies.
* **first mover**: the first frequency to become prominent (the larger count, then the
  lower frequency, when several become prominent at one checkpoint).

As in :mod:`tdw.library.progress`, "from which checkpoint" is judged on the analysed
checkpoints only: a lapse between two checkpoints is not seen.

>>> held = np.array([[0, 7, 7, 3, 3], [7, 0, 7, 0, 3], [2, 2, 2, 2, 0]], np.int16)
>>> count_switches(held).tolist()
[1, 1, 0]
>>> commitment_index(held).tolist()
[3, 4, -1]
"""

from __future__ import annotations

import numpy as np

from tdw.family.analyzer import CrossEpochAnalyzer, CrossEpochInputs, Output
from tdw.family.artifacts import ArraySpec, AttrSpec
from tdw.library.progress import first_persistent

from .grid import CITE

__all__ = ["CROSS_EPOCH", "COMMITTED", "PROMINENT", "FADED", "held_frequency",
           "count_switches", "commitment_index", "frequency_counts", "concentration",
           "transients", "first_mover"]

COMMITTED = 0.5
"""A neuron holds its dominant frequency where that frequency's share of its variance is
above one half. Not the family's 0.85 (``neurons.SPECIALISED``): that is Nanda et al.'s test
of the clean clusters after grokking, and during circuit formation, where frequencies are
won and lost, most neurons are mixtures below it, so a map at 0.85 would be blank exactly
where this analyzer looks. One half is the lowest share that still names a single frequency
(shares sum to at most 1, so no other can match it) and it is far above an unstructured
neuron's (about ``1 / (p // 2)`` per frequency for variance spread evenly: 0.018 at
p = 113). Every specialised neuron (>= 0.85) is committed."""
PROMINENT = 0.05
"""A frequency is prominent at a checkpoint where at least 5% of the neurons hold it (26 of
512): the least peak of a transient frequency, and the mark the first mover reaches."""
FADED = 0.1
"""A prominent frequency is transient when it ends below 10% of its peak count."""


def held_frequency(fraction: np.ndarray) -> np.ndarray:
    """``(..., freq)`` shares -> ``(...,)`` int16 held frequency: the dominant one where its
    share is above :data:`COMMITTED`, else 0 (uncommitted, or constant over the grid)."""
    top = fraction.max(-1)  # (...,)
    return np.where(top > COMMITTED, fraction.argmax(-1) + 1, 0).astype(np.int16)


def count_switches(held: np.ndarray) -> np.ndarray:
    """``(neuron, checkpoint)`` held frequencies -> ``(neuron,)`` int16 number of changes of
    held frequency, uncommitted (0) spells skipped."""
    checkpoint = np.arange(held.shape[1])
    last = np.maximum.accumulate(np.where(held > 0, checkpoint, -1), axis=1)  # (neuron, ckpt)
    before = np.take_along_axis(held, np.maximum(last, 0), axis=1)  # last held, if any
    before = np.where(last >= 0, before, 0)[:, :-1]  # (neuron, checkpoint - 1)
    now = held[:, 1:]
    return ((now > 0) & (before > 0) & (now != before)).sum(axis=1).astype(np.int16)


def commitment_index(held: np.ndarray) -> np.ndarray:
    """``(neuron, checkpoint)`` held frequencies -> ``(neuron,)`` index of the first
    checkpoint from which the neuron holds its final frequency to the end; -1 where it is
    uncommitted at the last checkpoint."""
    final = held[:, -1:]  # (neuron, 1)
    return first_persistent(((held == final) & (final > 0)).T)


def frequency_counts(held: np.ndarray, n_freq: int) -> np.ndarray:
    """``(neuron, checkpoint)`` held frequencies -> ``(checkpoint, freq)`` int32 neurons
    holding frequency ``i + 1``."""
    n_checkpoints = held.shape[1]
    # One bincount over all checkpoints: checkpoint c's frequencies are offset by c * (F + 1).
    flat = held.T.astype(np.int64) + (n_freq + 1) * np.arange(n_checkpoints)[:, None]
    counts = np.bincount(flat.ravel(), minlength=n_checkpoints * (n_freq + 1))
    return counts.reshape(n_checkpoints, n_freq + 1)[:, 1:].astype(np.int32)


def concentration(counts: np.ndarray) -> np.ndarray:
    """``(checkpoint, freq)`` counts -> ``(checkpoint,)`` float32 HHI of the shares; NaN at
    a checkpoint with no committed neuron."""
    total = counts.sum(axis=1, keepdims=True).astype(np.float64)  # (checkpoint, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        hhi = ((counts / total) ** 2).sum(axis=1)
    return np.where(total[:, 0] > 0, hhi, np.nan).astype(np.float32)


def transients(held: np.ndarray, counts: np.ndarray, epochs: np.ndarray) -> list[dict]:
    """The transient frequencies (see the module docstring), by peak epoch then frequency.

    Args:
        held: ``(neuron, checkpoint)`` held frequencies.
        counts: ``(checkpoint, freq)`` :func:`frequency_counts` of ``held``.
        epochs: ``(checkpoint,)`` checkpoint epochs.

    Returns:
        One dict per transient frequency: ``frequency``, ``peak_epoch``, ``peak_count``,
        ``final_count``, ``cohort`` (neuron indices, increasing), ``fate`` (``[frequency,
        neurons]`` pairs for the cohort's final held frequencies, most neurons first, ties
        by frequency) and ``uncommitted`` (cohort neurons uncommitted at the end).
    """
    n_neurons = held.shape[0]
    peak, peak_at = counts.max(axis=0), counts.argmax(axis=0)  # (freq,), first maximum
    found = np.flatnonzero((peak >= PROMINENT * n_neurons) & (counts[-1] < FADED * peak))
    out = []
    for i in sorted(found, key=lambda i: (peak_at[i], i)):
        cohort = np.flatnonzero(held[:, peak_at[i]] == i + 1)  # (cohort,)
        final = held[cohort, -1]  # (cohort,)
        ends, neurons = np.unique(final[final > 0], return_counts=True)
        fate = sorted(zip(ends.tolist(), neurons.tolist(), strict=True),
                      key=lambda pair: (-pair[1], pair[0]))
        out.append({"frequency": int(i) + 1, "peak_epoch": int(epochs[peak_at[i]]),
                    "peak_count": int(peak[i]), "final_count": int(counts[-1, i]),
                    "cohort": cohort.tolist(), "fate": [list(pair) for pair in fate],
                    "uncommitted": int((final == 0).sum())})
    return out


def first_mover(counts: np.ndarray, n_neurons: int) -> tuple[int, int] | None:
    """``(frequency, checkpoint index)`` of the first frequency to become prominent (ties:
    the larger count, then the lower frequency), or None if none ever does."""
    prominent = counts >= PROMINENT * n_neurons  # (checkpoint, freq)
    rows = np.flatnonzero(prominent.any(axis=1))
    if not rows.size:
        return None
    at = int(rows[0])
    # argmax returns the first (lowest) frequency among equal largest counts
    return int(np.argmax(np.where(prominent[at], counts[at], -1))) + 1, at


def _neuron_dynamics(inputs: CrossEpochInputs) -> Output:
    epochs = np.asarray(inputs.epochs, dtype=np.int64)  # (checkpoint,)
    fraction = np.stack([a["fraction"] for a in inputs.artifacts["neuron_freq_clusters"]],
                        axis=1)  # (neuron, checkpoint, freq)
    held = held_frequency(fraction)  # (neuron, checkpoint)
    n_neurons, _, n_freq = fraction.shape
    counts = frequency_counts(held, n_freq)  # (checkpoint, freq)
    index = commitment_index(held)  # (neuron,)
    commitment = np.where(index >= 0, epochs[np.maximum(index, 0)], -1)  # (neuron,)
    switches = count_switches(held)  # (neuron,)
    mover = first_mover(counts, n_neurons)
    arrays = {"epochs": epochs, "frequency": held, "switches": switches,
              "commitment_epoch": commitment.astype(np.int32), "committed_count": counts,
              "hhi": concentration(counts)}
    attrs = {"threshold": COMMITTED,
             "first_mover": None if mover is None else mover[0],
             "first_mover_epoch": None if mover is None else int(epochs[mover[1]]),
             "median_commitment_epoch": (float(np.median(commitment[index >= 0]))
                                         if (index >= 0).any() else None),
             "n_switching": int((switches > 0).sum()),
             "transients": transients(held, counts, epochs)}
    return arrays, attrs


neuron_dynamics = CrossEpochAnalyzer(
    name="neuron_dynamics",
    version=1,
    description=(
        "Each MLP neuron's held frequency at every checkpoint (its dominant frequency where "
        "that explains > 50% of its variance over (a, b), else uncommitted), its switches, "
        "the epoch from which it holds its final frequency, neurons per frequency, their "
        "concentration (HHI), the first frequency to reach 5% of the neurons, and the "
        "transient frequencies (peak >= 5% of the neurons, end < 10% of the peak) with "
        f"the fate of their neurons; the clusters of {CITE} §4.3 followed through training."
    ),
    arrays=(
        ArraySpec("epochs", "int64", ("checkpoint",), "checkpoint epochs"),
        ArraySpec("frequency", "int16", ("neuron", "checkpoint"),
                  "held frequency: the dominant one where its share is > threshold, else 0"),
        ArraySpec("switches", "int16", ("neuron",),
                  "changes of held frequency, uncommitted spells skipped"),
        ArraySpec("commitment_epoch", "int32", ("neuron",),
                  "first epoch from which the neuron holds its final frequency to the end; "
                  "-1 if uncommitted at the end"),
        ArraySpec("committed_count", "int32", ("checkpoint", "freq"),
                  "neurons holding frequency i + 1 at each checkpoint"),
        ArraySpec("hhi", "float32", ("checkpoint",),
                  "sum of squared shares of the committed neurons per frequency; NaN if none"),
    ),
    attrs=(
        AttrSpec("threshold", "float", "share above which a neuron holds its dominant frequency"),
        AttrSpec("first_mover", "json", "first frequency held by >= 5% of the neurons, or null"),
        AttrSpec("first_mover_epoch", "json", "the checkpoint epoch it got there, or null"),
        AttrSpec("median_commitment_epoch", "json",
                 "median commitment epoch of the neurons committed at the end, or null"),
        AttrSpec("n_switching", "int", "neurons that switch frequency at least once"),
        AttrSpec("transients", "json",
                 "per transient frequency: frequency, peak_epoch, peak_count, final_count, "
                 "cohort (neurons at the peak), fate ([final frequency, neurons] pairs), "
                 "uncommitted"),
    ),
    compute=_neuron_dynamics,
    inputs=("neuron_freq_clusters",),
)

CROSS_EPOCH: tuple[CrossEpochAnalyzer, ...] = (neuron_dynamics,)
