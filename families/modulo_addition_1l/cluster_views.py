"""Views of the neuron frequency clusters (Nanda et al. §4.3), thresholded when drawn.

``neuron_freq_clusters`` stores each neuron's share of variance per frequency at every
checkpoint. Whether a neuron *belongs* to the cluster of its dominant frequency is a
threshold on that share, and the paper's 85% is a choice, so these views apply it when they
are drawn, from a decimal control on the page (``min_share``), not from a stored count:

* ``neuron_freq_clusters``: the shares, neurons grouped by cluster, the neurons below the
  threshold (in no cluster) as grey rows at the bottom. Clicking a neuron's row opens its
  activation map in ``neuron_activations`` if it is one of the 16 neurons stored there,
  and says so if it is not.
* ``neuron_specialisation``: how many neurons belong to each key frequency's cluster,
  across training.
"""

from __future__ import annotations

import numpy as np

from tdw.family import plot
from tdw.family.controls import Control, TapLink
from tdw.family.views import Trace, ViewContext

from .neurons import SPECIALISED

__all__ = ["NEURON_FREQ_CLUSTERS", "NEURON_SPECIALISATION", "CLUSTER_SHARE",
           "SPECIALISED_SHARE", "cluster_order", "neuron_at_row", "specialised_counts"]

ANALYZER = "neuron_freq_clusters"

CLUSTER_SHARE = Control(
    "min_share", 0.0, 0.0, 1.0, 0.01, "A neuron belongs to the cluster of its dominant "
    "frequency when that frequency explains at least this share of its variance over the "
    "(a, b) grid; the others are the grey rows at the bottom. 0 puts every neuron in one.")
SPECIALISED_SHARE = Control(
    "min_share", SPECIALISED, 0.0, 1.0, 0.01, "A neuron is specialised in its dominant "
    "frequency when that frequency explains at least this share of its variance over the "
    "(a, b) grid (Nanda et al. use 0.85).")


def cluster_order(fraction: np.ndarray, dominant: np.ndarray, share: float) -> np.ndarray:
    """``(neuron,)`` the neurons in row order, bottom up: those whose largest share of
    ``fraction`` (``(neuron, freq)``) is below ``share`` (in no cluster) first, then by
    ``dominant`` frequency, ties by index. At ``share`` 0 it is the order by dominant
    frequency alone."""
    clustered = fraction.max(axis=-1).astype(np.float64) >= share  # (neuron,)
    return np.lexsort((np.arange(dominant.size), dominant, clustered))


def _cluster_grid(ctx: ViewContext) -> np.ndarray:
    """``(row, freq)`` shares in :func:`cluster_order`, NaN (grey) in rows in no cluster."""
    art = ctx.load(ANALYZER, ctx.epoch)
    share = CLUSTER_SHARE.value(ctx)
    order = cluster_order(art["fraction"], art["dominant"], share)
    grid = art["fraction"][order].astype(np.float32)  # (row, freq), a copy
    grid[grid.max(axis=-1).astype(np.float64) < share] = np.nan
    return grid


def neuron_at_row(ctx: ViewContext, row: int) -> int:
    """The MLP neuron drawn in ``row`` of the cluster heatmap at the context's checkpoint
    and threshold (what a click on the row stands for)."""
    art = ctx.load(ANALYZER, ctx.epoch)
    return int(cluster_order(art["fraction"], art["dominant"], CLUSTER_SHARE.value(ctx))[row])


NEURON_FREQ_CLUSTERS = plot.heatmap_view(
    "neuron_freq_clusters", "Neuron frequency clusters", "Share of each neuron's variance "
    "explained by each frequency, neurons grouped by their dominant frequency. A neuron is in "
    "that frequency's cluster when its share reaches min_share; grey rows at the bottom are "
    "the neurons in none. Click a neuron's row to open its activation map (16 are stored).",
    (ANALYZER,), _cluster_grid, x_label="frequency index (k - 1)",
    y_label="neuron (by cluster)", label="variance share", low=0.0, high=1.0,
    controls=(CLUSTER_SHARE,),
    on_tap=TapLink("neuron_activations", "neuron", neuron_at_row,
                   missing="{label} has no stored activation map; the {count} stored are "
                           "{stored}"),
    group="Fourier", width=560, height=340)


def specialised_counts(fractions: list[np.ndarray], dominants: list[np.ndarray],
                       share: float) -> np.ndarray:
    """``(checkpoint, freq)`` how many neurons are specialised in frequency i + 1: their
    dominant frequency's share reaches ``share``. ``fractions``: ``(neuron, freq)`` per
    checkpoint; ``dominants``: ``(neuron,)`` per checkpoint (0: a constant neuron, never
    counted)."""
    counts = []
    for fraction, dominant in zip(fractions, dominants, strict=True):
        top = fraction.max(axis=-1).astype(np.float64) >= share  # (neuron,)
        counts.append(np.bincount(dominant[top], minlength=fraction.shape[-1] + 1)[1:])
    return np.stack(counts).astype(np.int64)


def _specialisation_lines(ctx: ViewContext):
    share = SPECIALISED_SHARE.value(ctx)
    if share == SPECIALISED:  # the analyzer's own threshold: its stored counts, one file
        stored = ctx.load("neuron_specialisation", ctx.epoch)
        epochs, counts = stored["epochs"].tolist(), stored["specialised_count"]
    else:  # another threshold: recounted from every checkpoint's shares
        arts = [ctx.load(ANALYZER, e) for e in ctx.epochs]
        epochs = list(ctx.epochs)
        counts = specialised_counts([a["fraction"] for a in arts],
                                    [a["dominant"] for a in arts], share)
    # counts: (checkpoint, freq)
    keys = [int(k) + 1 for k in np.flatnonzero(counts[-1] > 0)] or [
        int(np.argmax(counts[-1])) + 1]
    return epochs, [counts[:, k - 1] for k in keys], [f"k = {k}" for k in keys]


def _specialised_total(ctx: ViewContext):
    epochs, counts, _ = _specialisation_lines(ctx)
    return epochs, np.sum(counts, axis=0)


NEURON_SPECIALISATION = plot.lines_view(
    "neuron_specialisation", "Neuron specialisation", "How many neurons specialise in each key "
    "frequency across training: those whose dominant frequency explains at least min_share "
    "of their variance. Key frequencies are those with a specialised neuron at the last "
    "checkpoint.", ("neuron_specialisation", ANALYZER), _specialisation_lines,
    heading="Neurons specialised per key frequency", y_label="neurons", transition=False,
    group="Fourier", controls=(SPECIALISED_SHARE,),
    trace=Trace("neurons specialised in a key frequency", _specialised_total))
