"""Views of ``neuron_dynamics`` (:mod:`.dynamics`): the held frequency of every neuron over
training, when neurons commit to their final frequency, and the neurons per frequency.

All four are summary views drawn once per variant; moving the checkpoint moves only their
current-checkpoint line (``epoch_data`` = :func:`tdw.family.plot.current_columns`), and
each draws the family's detected transition. The neuron map shares the others' epoch axis:
checkpoints are unevenly spaced, so its image is resampled onto even columns, each showing
the checkpoint nearest to its centre (:func:`frequency_image`).
"""

from __future__ import annotations

import colorsys
from collections.abc import Sequence

import numpy as np

from tdw.family import plot
from tdw.family.artifacts import Artifact
from tdw.family.views import Trace, View, ViewContext

from .dynamics import PROMINENT

__all__ = ["VIEWS", "neuron_order", "frequency_image", "prominent_frequencies", "band_colours",
           "frequency_palette"]

ANALYZER = "neuron_dynamics"
MAX_COLUMNS = 1000
"""Most columns of the neuron map's image; below it every checkpoint gets a column."""


def neuron_order(art: Artifact) -> np.ndarray:
    """``(neuron,)`` the neurons sorted by final held frequency (uncommitted at the end last),
    then by commitment epoch, then by index."""
    final = art["frequency"][:, -1].astype(np.int64)  # (neuron,)
    group = np.where(final > 0, final, final.max() + 1)
    return np.lexsort((np.arange(final.size), art["commitment_epoch"], group))


def frequency_image(frequency: np.ndarray, epochs: np.ndarray) -> tuple[np.ndarray, int]:
    """``(neuron, checkpoint)`` held frequencies -> ``(neuron, column)`` float32 image over
    epochs ``0 .. span`` and the span (the last epoch, at least 1).

    Column ``j`` covers ``[j, j + 1) * span / n`` and shows the checkpoint nearest to its
    centre (the earlier on a tie); NaN where that is uncommitted (0) or the column lies
    before the first checkpoint. With ``n = span // smallest gap + 1`` columns (at most
    :data:`MAX_COLUMNS`) each column is narrower than any gap, so every checkpoint's
    stretch holds at least one column centre.
    """
    epochs = np.asarray(epochs, dtype=np.float64)
    span = max(int(epochs[-1]), 1)
    gap = np.diff(epochs).min() if epochs.size > 1 else span
    n = int(min(MAX_COLUMNS, span // gap + 1))
    centre = (np.arange(n) + 0.5) * span / n  # (column,)
    nearest = np.zeros(n, dtype=np.int64)  # (column,) checkpoint index
    if epochs.size > 1:
        right = np.clip(np.searchsorted(epochs, centre), 1, epochs.size - 1)
        left = right - 1
        nearest = np.where(centre - epochs[left] <= epochs[right] - centre, left, right)
    image = frequency[:, nearest].astype(np.float32)  # (neuron, column)
    image[(image == 0) | (centre < epochs[0])[None, :]] = np.nan
    return image, span


def _most_held(counts: np.ndarray, n_neurons: int) -> list[int]:
    """Frequencies whose count (``(freq,)``) reaches :data:`PROMINENT` of the neurons, most
    neurons first; the largest alone if none does (none if no count is positive)."""
    order = np.argsort(-counts, kind="stable")
    found = [int(i) + 1 for i in order if counts[i] >= max(1, PROMINENT * n_neurons)]
    return found or [int(i) + 1 for i in order[:1] if counts[i] > 0]


def prominent_frequencies(art: Artifact) -> list[int]:
    """The frequencies that matter, increasing: those held by at least :data:`PROMINENT` of
    the neurons at some checkpoint (the most held one alone if none is; none if no neuron
    ever commits). ``committed_per_frequency`` draws them, in the map's colours."""
    peak = art["committed_count"].max(axis=0)  # (freq,)
    return sorted(_most_held(peak, art["frequency"].shape[0]))


def band_colours(n: int) -> list[str]:
    """``n`` colours for the prominent frequencies, in order: :data:`tdw.family.plot.PALETTE`
    without its grey (grey is the map's uncommitted), cycling."""
    colours = [c for c in plot.PALETTE if c != "#7f7f7f"]
    return [colours[i % len(colours)] for i in range(n)]


def frequency_palette(n_freq: int, bands: Sequence[int]) -> list[str]:
    """One colour per frequency 1..n_freq: the i-th of ``bands`` takes the i-th of
    :func:`band_colours` (so a band has the colour of its line in ``committed_per_frequency``);
    every other frequency a pale tint, hues a golden-ratio turn apart so that neighbouring
    frequencies differ. The tints mark neurons on minor frequencies without competing with
    the bands; hovering a cell names its frequency."""
    colours = []
    for k in range(n_freq):
        r, g, b = colorsys.hls_to_rgb((k * 0.618034) % 1.0, 0.8, 0.55)
        colours.append(f"#{round(255 * r):02x}{round(255 * g):02x}{round(255 * b):02x}")
    for k, colour in zip(bands, band_colours(len(bands)), strict=True):
        colours[k - 1] = colour
    return colours


# --- neuron_frequency_map ---------------------------------------------------------------


def _map_data(ctx: ViewContext) -> dict:
    art = ctx.load(ANALYZER, ctx.epoch)
    image, span = frequency_image(art["frequency"][neuron_order(art)], art["epochs"])
    return {"grid": {"image": [image], "dw": [span], "dh": [image.shape[0]]},
            "transition": plot.transition_columns(ctx)}


def _final_ticks(art: Artifact) -> dict[float, str]:
    """y tick -> label at the middle of each final-frequency band of the sorted map that
    holds at least :data:`PROMINENT` of the neurons, and of the uncommitted band."""
    final = art["frequency"][neuron_order(art), -1]  # (neuron,) sorted
    ticks = {}
    for k in np.unique(final):
        rows = np.flatnonzero(final == k)
        if k == 0 or rows.size >= PROMINENT * final.size:
            ticks[float(rows.mean() + 0.5)] = "none" if k == 0 else f"k = {k}"
    return ticks


def _build_map(sources, ctx: ViewContext):
    from bokeh.models import FixedTicker, HoverTool

    art = ctx.load(ANALYZER, ctx.epoch)
    n_freq = art["committed_count"].shape[1]
    palette = frequency_palette(n_freq, prominent_frequencies(art))
    fig = plot.heatmap_figure(
        "Held frequency per neuron", sources["grid"], x_label="epoch",
        y_label="neuron, by final frequency", palette=palette, low=0.5, high=n_freq + 0.5,
        label="frequency k", width=680, height=380)
    ticks = _final_ticks(art)
    fig.yaxis.ticker = FixedTicker(ticks=sorted(ticks))
    fig.yaxis.major_label_overrides = ticks
    fig.select_one(HoverTool).tooltips = [("epoch", "$x{0,0}"), ("frequency", "@image")]
    return plot.finish(fig, sources, legend="below")


NEURON_FREQUENCY_MAP = View(
    "neuron_frequency_map", "Neuron frequency map", "Each MLP neuron's held frequency across "
    "training: its dominant frequency where that explains over half of its variance over "
    "(a, b), grey where it is uncommitted. Rows are neurons, grouped by the frequency they end "
    "on (labelled when >= 5% of the neurons; 'none' = uncommitted at the end), earliest "
    "committed first within a group; a row changing colour is a neuron switching frequency. "
    "Frequencies ever held by >= 5% of the neurons have the colours of their lines in "
    "'Neurons per frequency'; the others are pale tints (hover a cell for its frequency).",
    (ANALYZER,), "summary", build=_build_map, data=_map_data, epoch_data=plot.current_columns,
    group="Fourier")


# --- commitment_timeline ----------------------------------------------------------------


def _commitment_lines(ctx: ViewContext):
    art = ctx.load(ANALYZER, ctx.epoch)
    epochs, commitment = art["epochs"], art["commitment_epoch"]  # (checkpoint,), (neuron,)
    final = art["frequency"][:, -1]  # (neuron,)
    by = (commitment >= 0)[None, :] & (commitment[None, :] <= epochs[:, None])  # (ckpt, neuron)
    ends = _most_held(art["committed_count"][-1], final.size)
    series = [by[:, final == k].sum(axis=1) for k in ends]
    names = [f"k = {k}" for k in ends]
    other = (final > 0) & ~np.isin(final, ends)
    if other.any():
        series.append(by[:, other].sum(axis=1))
        names.append("other frequencies")
    return epochs, [*series, by.sum(axis=1)], [*names, "all"]


def _committed_total(ctx: ViewContext):
    epochs, series, _ = _commitment_lines(ctx)
    return epochs.tolist(), series[-1]


COMMITMENT_TIMELINE = plot.lines_view(
    "commitment_timeline", "Commitment timeline", "How many neurons have committed for good by "
    "each epoch (hold from then on the frequency they end on), per final frequency: the "
    "frequencies holding >= 5% of the neurons at the end, the others together, and all. A "
    "neuron that lapses or switches later counts only from its last commitment.", (ANALYZER,),
    _commitment_lines, y_label="neurons committed for good", group="Fourier",
    trace=Trace("neurons committed to their final frequency", _committed_total))


# --- committed_per_frequency and band_concentration ------------------------------------


def _frequency_data(ctx: ViewContext) -> dict:
    art = ctx.load(ANALYZER, ctx.epoch)
    counts = art["committed_count"]  # (checkpoint, freq)
    passing = {t["frequency"] for t in art.attrs["transients"]}
    shown = prominent_frequencies(art)
    names = [f"k = {k} (transient)" if k in passing else f"k = {k}" for k in shown]
    lines = plot.line_columns(art["epochs"], [counts[:, k - 1] for k in shown], names)
    lines["color"] = band_colours(len(shown))  # the map's colours
    return {"lines": lines, "transition": plot.transition_columns(ctx)}


def _build_frequency_lines(sources, ctx: ViewContext):
    fig = plot.lines_figure("Neurons per frequency", sources["lines"],
                            y_label="neurons holding it")
    return plot.finish(fig, sources)


def _committed_now(ctx: ViewContext):
    art = ctx.load(ANALYZER, ctx.epoch)
    return art["epochs"].tolist(), art["committed_count"].sum(axis=1)


COMMITTED_PER_FREQUENCY = View(
    "committed_per_frequency", "Neurons per frequency", "Neurons holding each frequency (over "
    "half of their variance) at each checkpoint, for every frequency that ever holds >= 5% of "
    "the neurons, in its colour in the neuron frequency map; '(transient)' marks one that "
    "ends below 10% of its peak count.", (ANALYZER,), "summary",
    build=_build_frequency_lines, data=_frequency_data, epoch_data=plot.current_columns,
    group="Fourier", trace=Trace("committed neurons", _committed_now))


def _concentration_lines(ctx: ViewContext):
    art = ctx.load(ANALYZER, ctx.epoch)
    return art["epochs"], [art["hhi"]], ["HHI"]


def _concentration(ctx: ViewContext):
    epochs, (hhi,), _ = _concentration_lines(ctx)
    return epochs.tolist(), hhi


BAND_CONCENTRATION = plot.lines_view(
    "band_concentration", "Frequency concentration", "Herfindahl-Hirschman index of the "
    "committed neurons over frequencies: the sum of each frequency's squared share. 1 when "
    "all hold one frequency, 1/m when they split evenly over m (1 / HHI is the effective "
    "number of frequencies); a gap where no neuron is committed.", (ANALYZER,),
    _concentration_lines, y_label="HHI", group="Fourier", y_range=(0.0, 1.05),
    trace=Trace("frequency concentration (HHI)", _concentration))

VIEWS = (NEURON_FREQUENCY_MAP, COMMITMENT_TIMELINE, COMMITTED_PER_FREQUENCY,
         BAND_CONCENTRATION)
