"""Views of the Modulo Addition analyzers (the grids are over (a, b), indexed a*p + b)."""

from __future__ import annotations

import numpy as np

from tdw.family import plot as _plot
from tdw.family.views import Trace, View, ViewContext
from tdw.library.views import GENERIC_VIEWS, LLC, phase_change_view

__all__ = ["VIEWS"]


def _frequencies_data(ctx: ViewContext) -> dict:
    art = ctx.load("dominant_frequencies", ctx.epoch)
    keys = set(art.attrs["key_frequencies"])
    freqs = np.arange(1, len(art["norms"]) + 1)
    return {"bars": {"freq": freqs, "norm": art["norms"],
                     "color": [_plot.TURN if f in keys else _plot.PALETTE[0] for f in freqs]}}


def _build_frequencies(sources, ctx: ViewContext):
    fig = _plot.figure("Embedding Fourier norms", x_label="frequency k",
                       y_label="norm of W_E's cos/sin k components", width=620)
    fig.vbar(x="freq", top="norm", source=sources["bars"], width=0.8, color="color")
    return fig


DOMINANT_FREQUENCIES = View(
    "dominant_frequencies", "Embedding Fourier norms", "Norm of the token embedding along each "
    "Fourier frequency; red bars are the key frequencies (Nanda et al. 2023).",
    ("dominant_frequencies",), "checkpoint", build=_build_frequencies,
    epoch_data=_frequencies_data, group="Fourier")


def _grid_view(name: str, title: str, description: str, analyzer: str, array: str,
               selector: str | None, label: str, palette: str = "Viridis256",
               low: float | None = None, high: float | None = None) -> View:
    def columns(ctx: ViewContext) -> dict:
        data = ctx.load(analyzer, ctx.epoch)[array]
        grid = data[ctx.selection.get(selector, 0)] if selector else data  # (a, b)
        return {"grid": _plot.image_columns(grid)}

    def build(sources, ctx: ViewContext):
        fig = _plot.figure(title, x_label="b", y_label="a", width=380, height=340,
                           match_aspect=True)
        _plot.image(fig, sources["grid"], palette=palette, low=low, high=high, label=label)
        return fig

    selectors = {selector: (analyzer, array, 0)} if selector else {}
    return View(name, title, description, (analyzer,), "checkpoint", build=build,
                epoch_data=columns, selectors=selectors, group="Grids")


NEURON_ACTIVATIONS = _grid_view(
    "neuron_activations", "Neuron activation over (a, b)", "MLP activation at '=' of one of the "
    "stored neurons over every input pair; grokked neurons show periodic stripes.",
    "neuron_activations", "maps", "neuron", "activation")
ATTENTION_PATTERNS = _grid_view(
    "attention_patterns", "Attention from '=' to a", "Attention weight from the answer position "
    "to the first operand, per head, over every input pair.", "attention_patterns", "to_a",
    "head", "attention", low=0.0, high=1.0)
PREDICTION_TRACE = _grid_view(
    "prediction_trace", "Confidence in the right answer", "Softmax probability of the correct "
    "answer for every (a, b) at this checkpoint.", "prediction_trace", "confidence", None,
    "p(correct)", palette="Magma256", low=0.0, high=1.0)


def _heatmap_view(name: str, title: str, description: str, analyzer: str, array: str,
                  y_label: str, order_by: str | None = None) -> View:
    def columns(ctx: ViewContext) -> dict:
        art = ctx.load(analyzer, ctx.epoch)
        grid = art[array]  # (row, freq)
        if order_by:
            grid = grid[np.argsort(art[order_by], kind="stable")]
        return {"grid": _plot.image_columns(grid)}

    def build(sources, ctx: ViewContext):
        fig = _plot.figure(title, x_label="frequency index (k - 1)", y_label=y_label,
                           width=560, height=340)
        _plot.image(fig, sources["grid"], palette="Viridis256", low=0.0, high=1.0,
                    label="variance share")
        return fig

    return View(name, title, description, (analyzer,), "checkpoint", build=build,
                epoch_data=columns, group="Fourier")


NEURON_FREQ_CLUSTERS = _heatmap_view(
    "neuron_freq_clusters", "Neuron frequency clusters", "Share of each neuron's variance "
    "explained by each frequency, neurons sorted by their dominant frequency.",
    "neuron_freq_clusters", "fraction", "neuron (sorted)", order_by="dominant")
ATTENTION_FREQUENCIES = _heatmap_view(
    "attention_frequencies", "Attention frequency specialisation", "Share of the variance of "
    "each head's attention-to-a explained by each frequency.", "attention_patterns",
    "freq_fraction", "head")


def _coarseness_data(ctx: ViewContext) -> dict:
    values = ctx.load("coarseness", ctx.epoch)["coarseness"]
    counts, edges = np.histogram(values, bins=20, range=(0.0, 1.0))
    return {"hist": {"left": edges[:-1], "right": edges[1:], "count": counts}}


def _build_coarseness(sources, ctx: ViewContext):
    fig = _plot.figure("Neuron coarseness", x_label="share of variance in low frequencies",
                       y_label="neurons")
    fig.quad(left="left", right="right", top="count", bottom=0, source=sources["hist"],
             color=_plot.PALETTE[2], line_color="white")
    return fig


COARSENESS = View(
    "coarseness", "Neuron coarseness", "Histogram over neurons of the share of their variance "
    "in low frequencies: coarse neurons respond to broad regions of the grid.", ("coarseness",),
    "checkpoint", build=_build_coarseness, epoch_data=_coarseness_data, group="Fourier")

_MEASURES = ("train_loss", "test_loss", "restricted_loss", "excluded_loss")


def _progress_data(ctx: ViewContext) -> dict:
    rows = [ctx.load("progress_measures", e).attrs for e in ctx.epochs]
    return {"lines": {"xs": [list(ctx.epochs)] * len(_MEASURES),
                      "ys": [[r[m] for r in rows] for m in _MEASURES],
                      "name": list(_MEASURES), "color": list(_plot.PALETTE[:len(_MEASURES)])},
            "turn": _plot.turn_columns(ctx)}


def _build_progress(sources, ctx: ViewContext):
    fig = _plot.figure("Progress measures", x_label="epoch", y_label="loss", y_axis_type="log",
                       width=620)
    fig.multi_line("xs", "ys", source=sources["lines"], color="color", legend_field="name",
                   line_width=1.5)
    _plot.turn_band(fig, sources["turn"])
    _plot.current_epoch_band(fig, sources["current"])
    _plot.legend_outside(fig)
    return fig


def _restricted_loss(ctx: ViewContext):
    return ctx.epochs, [ctx.load("progress_measures", e).attrs["restricted_loss"]
                        for e in ctx.epochs]


PROGRESS_MEASURES = View(
    "progress_measures", "Progress measures", "Nanda et al.'s restricted loss (only the key "
    "frequencies) and excluded loss (key frequencies removed, train data) against train and "
    "test loss across checkpoints.", ("progress_measures",), "summary", build=_build_progress,
    data=_progress_data, epoch_data=_plot.current_columns, group="Training",
    trace=Trace("restricted loss", _restricted_loss, log=True))


def _graduation_data(ctx: ViewContext) -> dict:
    art = ctx.load("graduation", ctx.epoch)
    grid = art["graduation_epoch"].astype(np.float32)
    grid[grid < 0] = np.nan  # never graduated: drawn blank
    return {"grid": _plot.image_columns(grid)}


def _build_graduation(sources, ctx: ViewContext):
    fig = _plot.figure("Graduation epoch", x_label="b", y_label="a", width=380, height=340,
                       match_aspect=True)
    _plot.image(fig, sources["grid"], palette="Plasma256", label="epoch")
    return fig


GRADUATION = View(
    "graduation", "Graduation epoch", "For every (a, b), the first epoch from which it stays "
    "correct; blank cells never graduate.", ("graduation",), "summary", build=_build_graduation,
    data=_graduation_data, group="Grids")


def _specialisation_data(ctx: ViewContext) -> dict:
    art = ctx.load("neuron_specialisation", ctx.epoch)
    counts = art["specialised_count"]  # (checkpoint, freq)
    keys = [int(k) for k in art.attrs["key_frequencies"]] or [
        int(np.argmax(counts[-1])) + 1]
    return {"lines": {"xs": [art["epochs"].tolist()] * len(keys),
                      "ys": [counts[:, k - 1].tolist() for k in keys],
                      "name": [f"k = {k}" for k in keys],
                      "color": [_plot.PALETTE[i % len(_plot.PALETTE)] for i in range(len(keys))]}}


def _build_specialisation(sources, ctx: ViewContext):
    fig = _plot.figure("Neurons specialised per key frequency", x_label="epoch",
                       y_label="neurons", width=620)
    fig.multi_line("xs", "ys", source=sources["lines"], color="color", legend_field="name",
                   line_width=1.5)
    _plot.current_epoch_band(fig, sources["current"])
    _plot.legend_outside(fig)
    return fig


def _specialised_total(ctx: ViewContext):
    lines = _specialisation_data(ctx)["lines"]
    return lines["xs"][0], np.sum(lines["ys"], axis=0)


NEURON_SPECIALISATION = View(
    "neuron_specialisation", "Neuron specialisation", "How many neurons specialise in each key "
    "frequency, across training.", ("neuron_specialisation",), "summary",
    build=_build_specialisation, data=_specialisation_data, epoch_data=_plot.current_columns,
    group="Fourier", trace=Trace("neurons specialised in a key frequency",
                                 _specialised_total))

PHASE_CHANGE = phase_change_view("restricted loss, test loss and local learning coefficient, "
                                 "each falling")

VIEWS = (*GENERIC_VIEWS, PROGRESS_MEASURES, LLC, PHASE_CHANGE, DOMINANT_FREQUENCIES,
         NEURON_FREQ_CLUSTERS, ATTENTION_FREQUENCIES, COARSENESS, NEURON_SPECIALISATION,
         NEURON_ACTIVATIONS, ATTENTION_PATTERNS, PREDICTION_TRACE, GRADUATION)
