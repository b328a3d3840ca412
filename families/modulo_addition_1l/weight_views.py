"""Views of ``weight_fourier`` (:mod:`.weight_fourier`): the frequencies of the heads, the
neurons, W_E and W_U read from the weights, and whether they share them, under "Fourier".

The three per-checkpoint views build their figure once around one source (``cells`` or
``bars``) and swap only its data with the checkpoint; ``frequency_lock`` draws every
checkpoint at once.
"""

from __future__ import annotations

import numpy as np

from tdw.family import plot
from tdw.family.views import Columns, View, ViewContext

from .grid import N_HEADS
from .weight_fourier import PROFILES

__all__ = ["VIEWS"]

GROUP = "Fourier"
ANALYZER = "weight_fourier"
_PARTS = (("QK", "qk_share"), ("QK from =", "answer_qk_share"), ("OV", "ov_share"))
"""Row label and array of each block of rows of ``qk_ov_frequencies``, top to bottom."""
_ROWS = [f"{label} h{h}" for label, _ in _PARTS for h in range(N_HEADS)]


def _n_freq(ctx: ViewContext) -> int:
    return ctx.values["p"] // 2


def _hover(fig, tooltips: list[tuple[str, str]]) -> None:
    from bokeh.models import HoverTool

    fig.select_one(HoverTool).tooltips = tooltips


# --- qk_ov_frequencies ------------------------------------------------------------------


def _head_cells(ctx: ViewContext) -> Columns:
    art = ctx.load(ANALYZER, ctx.epoch)
    shares = np.concatenate([art[array] for _, array in _PARTS])  # (part * head, freq)
    freqs = list(range(1, shares.shape[1] + 1))
    return {"cells": plot.cell_columns(shares, _ROWS, freqs, x="freq", y="row")}


def _build_heads(sources, ctx: ViewContext):
    n_freq = _n_freq(ctx)
    # numeric frequencies along x (a factor per frequency would crowd the axis), named rows
    fig = plot.figure("Head frequencies from the weights", x_label="frequency k",
                      y_label="head", x_range=(0.5, n_freq + 0.5),
                      y_range=list(reversed(_ROWS)), width=660, height=320)
    plot.cells(fig, sources["cells"], x="freq", y="row", low=0.0, high=1.0, label="share")
    _hover(fig, [("", "@row"), ("frequency", "@freq"), ("share", "@value{0.000}")])
    return fig


QK_OV_FREQUENCIES = View(
    "qk_ov_frequencies", "Head frequencies from the weights", "Per head, from the weights "
    "alone: QK, the share of the token-token form (W_E W_Q)(W_E W_K)^T's energy (row and "
    "column means removed) in each frequency's own 2 x 2 block, the rest being "
    "cross-frequency; QK from =, the share of the power of the '=' query's score over key "
    "tokens, which is what shapes the attention to a and b; OV, the share of W_E W_V's power "
    "over tokens. Colours run from 0 to 1; a flat spectrum is 1 / (p // 2).", (ANALYZER,),
    "checkpoint", build=_build_heads, epoch_data=_head_cells, group=GROUP)


# --- neuron_weight_frequencies ------------------------------------------------------------


def _neuron_bars(ctx: ViewContext) -> Columns:
    art = ctx.load(ANALYZER, ctx.epoch)
    n_freq = _n_freq(ctx)
    columns: dict = {"freq": np.arange(1, n_freq + 1)}
    for side, name in (("in", "input"), ("out", "output")):
        freq, ipr = art[f"{side}_freq"], art[f"{side}_ipr"].astype(np.float64)  # (neuron,)
        count = np.bincount(freq, minlength=n_freq + 1)[1:]  # (freq,) frequency 0 left out
        total = np.bincount(freq, weights=ipr, minlength=n_freq + 1)[1:]  # (freq,)
        columns[name] = count
        columns[f"{side}_ipr"] = np.divide(total, count, out=np.full(n_freq, np.nan),
                                           where=count > 0)
    return {"bars": columns}


def _build_neurons(sources, ctx: ViewContext):
    fig = plot.bars_figure("Neurons by dominant weight frequency", sources["bars"], "freq",
                           ["input", "output"], labels=["input W_E W_in", "output W_U W_out"],
                           categorical=False, bar_width=0.4, x_label="frequency k",
                           y_label="neurons", width=660)
    _hover(fig, [("frequency", "@freq"), ("neurons by input", "@input"),
                 ("their mean IPR", "@in_ipr{0.00}"), ("neurons by output", "@output"),
                 ("their mean IPR", "@out_ipr{0.00}")])
    return fig


NEURON_WEIGHT_FREQUENCIES = View(
    "neuron_weight_frequencies", "Neurons by dominant weight frequency", "How many MLP "
    "neurons have each frequency as the dominant one of their input weights read through the "
    "embedding (W_E W_in, over tokens) and of their output weights read through the "
    "unembedding (W_U W_out, over answers). Hovering shows the neurons' mean inverse "
    "participation ratio (1: a single frequency; 1 / (p // 2): flat). Neurons whose weights "
    "are constant over tokens are left out.", (ANALYZER,), "checkpoint",
    build=_build_neurons, epoch_data=_neuron_bars, group=GROUP)


# --- unembedding_frequencies --------------------------------------------------------------


def _norm_bars(ctx: ViewContext) -> dict:
    art = ctx.load(ANALYZER, ctx.epoch)
    return {"freq": np.arange(1, len(art["embed_norm"]) + 1), "embed": art["embed_norm"],
            "unembed": art["unembed_norm"]}


UNEMBEDDING_FREQUENCIES = plot.bars_view(
    "unembedding_frequencies", "Embedding and unembedding Fourier norms", "Norm of W_E's cos "
    "and sin components over the input tokens beside that of W_U over the answers, per "
    "frequency: a grokked model reads and writes the same key frequencies.", (ANALYZER,),
    _norm_bars, "freq", ["embed", "unembed"], labels=["W_E (tokens)", "W_U (answers)"],
    categorical=False, bar_width=0.4, x_label="frequency k", y_label="Fourier norm",
    width=660, group=GROUP)


# --- frequency_lock -----------------------------------------------------------------------

_PAIRS = (("QK ~ neuron input", "qk", "neuron_in"), ("OV ~ neuron input", "ov", "neuron_in"),
          ("neuron output ~ W_U", "neuron_out", "unembedding"))
_CONCENTRATED = (("W_E concentration", "embedding"),
                 ("neuron-input concentration", "neuron_in"))


def _lock_lines(ctx: ViewContext):
    arts = [ctx.load(ANALYZER, e) for e in ctx.epochs]
    at = PROFILES.index
    series = [[a.attrs["lock"] for a in arts]]
    series += [[a["overlap"][at(i), at(j)] for a in arts] for _, i, j in _PAIRS]
    n_freq = _n_freq(ctx)
    series += [[1 - a["effective_frequencies"][at(name)] / n_freq for a in arts]
               for _, name in _CONCENTRATED]
    names = ["lock", *(label for label, _, _ in _PAIRS), *(label for label, _ in _CONCENTRATED)]
    return ctx.epochs, series, names


FREQUENCY_LOCK = plot.lines_view(
    "frequency_lock", "Frequency lock", "Whether the embedding, the attention and the MLP use "
    "the same frequencies. lock is the mean Pearson correlation among four frequency "
    "profiles (W_E's power, the heads' QK and OV energy, the histogram of the neurons' input "
    "frequencies); the pairs are single correlations. Correlation ignores concentration and "
    "all profiles read through W_E, so lock starts near 0.55 at initialisation; the "
    "concentration lines, 1 - (effective number of frequencies) / (p // 2), are 0 for a flat "
    "profile and near 1 for a few frequencies.", (ANALYZER,), _lock_lines,
    y_label="correlation, concentration", transition=True, group=GROUP,
    trace=plot.attribute_trace("frequency lock", ANALYZER, "lock"))

VIEWS = (QK_OV_FREQUENCIES, NEURON_WEIGHT_FREQUENCIES, UNEMBEDDING_FREQUENCIES,
         FREQUENCY_LOCK)
