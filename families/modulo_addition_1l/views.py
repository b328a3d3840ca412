"""Views of the Modulo Addition analyzers (the grids are over (a, b), indexed a*p + b)."""

from __future__ import annotations

import numpy as np

from tdw.family import plot
from tdw.family.views import Labels, View, ViewContext
from tdw.library.block_views import BLOCK_VIEWS
from tdw.library.spectrum_views import SPECTRUM_VIEWS
from tdw.library.story_views import STORY
from tdw.library.views import GENERIC_VIEWS, LLC, phase_change_view

from .centroid_trajectory_views import VIEWS as TRAJECTORY_VIEWS
from .cluster_views import NEURON_FREQ_CLUSTERS, NEURON_SPECIALISATION
from .dynamics_views import VIEWS as DYNAMICS_VIEWS
from .extras_views import VIEWS as EXTRAS_VIEWS
from .geometry_views import VIEWS as GEOMETRY_VIEWS
from .gradient_views import VIEWS as GRADIENT_VIEWS
from .multistream_views import VIEWS as MULTISTREAM_VIEWS
from .weight_groups_views import VIEWS as WEIGHT_GROUP_VIEWS
from .weight_views import VIEWS as WEIGHT_FOURIER_VIEWS

__all__ = ["VIEWS"]


def _frequencies(ctx: ViewContext) -> dict:
    art = ctx.load("dominant_frequencies", ctx.epoch)
    keys = set(art.attrs["key_frequencies"])
    freqs = np.arange(1, len(art["norms"]) + 1)
    return {"freq": freqs, "norm": art["norms"],
            "color": [plot.TURN if f in keys else plot.PALETTE[0] for f in freqs]}


DOMINANT_FREQUENCIES = plot.bars_view(
    "dominant_frequencies", "Embedding Fourier norms", "Norm of the token embedding along each "
    "Fourier frequency; red bars are the key frequencies (Nanda et al. 2023).",
    ("dominant_frequencies",), _frequencies, "freq", ["norm"], fills=["color"],
    categorical=False, x_label="frequency k", y_label="norm of W_E's cos/sin k components",
    width=620, group="Fourier")


def _grid(analyzer: str, array: str, selector: str | None):
    """context -> the ``(a, b)`` grid of ``analyzer[array]``, of the selected ``selector``
    entry if there is one."""

    def grid(ctx: ViewContext) -> np.ndarray:
        data = ctx.load(analyzer, ctx.epoch)[array]
        return data[ctx.selection.get(selector, 0)] if selector else data
    return grid


def _grid_view(name: str, title: str, description: str, analyzer: str, array: str,
               selector: str | None, label: str, palette: str = "Viridis256",
               low: float | None = None, high: float | None = None,
               labels: Labels | None = None) -> View:
    """A per-checkpoint heatmap over every input pair (a, b); ``labels`` name the
    selector's entries on the page."""
    selectors = {selector: (analyzer, array, 0)} if selector else {}
    return plot.heatmap_view(name, title, description, (analyzer,),
                             _grid(analyzer, array, selector), x_label="b", y_label="a",
                             label=label, palette=palette, low=low, high=high,
                             selectors=selectors,
                             labels={selector: labels} if selector and labels else {},
                             group="Grids", width=380, height=340, match_aspect=True)


NEURON_ACTIVATIONS = _grid_view(
    "neuron_activations", "Neuron activation over (a, b)", "MLP activation at '=' of one of the "
    "stored neurons over every input pair; grokked neurons show periodic stripes. Only the 16 "
    "neurons that vary most at the final checkpoint are stored, most variable first, and the "
    "neuron selector indexes them: neuron=3 (tdw export --select neuron=3) is the 4th stored "
    "neuron, not MLP neuron 3; the artifact's `neurons` array holds their MLP indices, and "
    "the dashboard names each by it (neuron 312). Clicking a row of the neuron frequency "
    "clusters opens that neuron here.", "neuron_activations", "maps", "neuron", "activation",
    labels=Labels("neurons", "neuron {value}"))
ATTENTION_PATTERNS = _grid_view(
    "attention_patterns", "Attention from '=' to a", "Attention weight from the answer position "
    "to the first operand, per head, over every input pair.", "attention_patterns", "to_a",
    "head", "attention", low=0.0, high=1.0)
PREDICTION_TRACE = _grid_view(
    "prediction_trace", "Confidence in the right answer", "Softmax probability of the correct "
    "answer for every (a, b) at this checkpoint.", "prediction_trace", "confidence", None,
    "p(correct)", palette="Magma256", low=0.0, high=1.0)


def _shares(analyzer: str, array: str, order_by: str | None = None):
    """context -> ``(row, freq)`` variance shares, rows sorted by ``order_by`` if given."""

    def grid(ctx: ViewContext) -> np.ndarray:
        art = ctx.load(analyzer, ctx.epoch)
        shares = art[array]  # (row, freq)
        return shares[np.argsort(art[order_by], kind="stable")] if order_by else shares
    return grid


ATTENTION_FREQUENCIES = plot.heatmap_view(
    "attention_frequencies", "Attention frequency specialisation", "Share of the variance of "
    "each head's attention-to-a explained by each frequency.", ("attention_patterns",),
    _shares("attention_patterns", "freq_fraction"), x_label="frequency index (k - 1)",
    y_label="head", label="variance share", low=0.0, high=1.0, group="Fourier", width=560,
    height=340)


def _coarseness_data(ctx: ViewContext) -> dict:
    values = ctx.load("coarseness", ctx.epoch)["coarseness"]
    counts, edges = np.histogram(values, bins=20, range=(0.0, 1.0))
    return {"hist": {"left": edges[:-1], "right": edges[1:], "count": counts}}


def _build_coarseness(sources, ctx: ViewContext):
    fig = plot.figure("Neuron coarseness", x_label="share of variance in low frequencies",
                      y_label="neurons")
    fig.quad(left="left", right="right", top="count", bottom=0, source=sources["hist"],
             color=plot.PALETTE[2], line_color="white")
    return fig


COARSENESS = View(
    "coarseness", "Neuron coarseness", "Histogram over neurons of the share of their variance "
    "in low frequencies: coarse neurons respond to broad regions of the grid.", ("coarseness",),
    "checkpoint", build=_build_coarseness, epoch_data=_coarseness_data, group="Fourier")

_MEASURES = ("train_loss", "test_loss", "restricted_loss", "excluded_loss")


def _progress_lines(ctx: ViewContext):
    rows = [ctx.load("progress_measures", e).attrs for e in ctx.epochs]
    return ctx.epochs, [[r[m] for r in rows] for m in _MEASURES], _MEASURES


PROGRESS_MEASURES = plot.lines_view(
    "progress_measures", "Progress measures", "Nanda et al.'s restricted loss (only the key "
    "frequencies) and excluded loss (key frequencies removed, train data) against train and "
    "test loss across checkpoints.", ("progress_measures",), _progress_lines, y_label="loss",
    log=True, group="Training",
    trace=plot.attribute_trace("restricted loss", "progress_measures", "restricted_loss",
                               log=True))


def _graduation(ctx: ViewContext) -> np.ndarray:
    grid = ctx.load("graduation", ctx.epoch)["graduation_epoch"].astype(np.float32)
    grid[grid < 0] = np.nan  # never graduated: drawn in the colour map's NaN grey
    return grid


GRADUATION = plot.heatmap_view(
    "graduation", "Graduation epoch", "For every (a, b), the first epoch from which it stays "
    "correct; blank cells never graduate.", ("graduation",), _graduation, x_label="b",
    y_label="a", label="epoch", palette="Plasma256", scope="summary", group="Grids",
    width=380, height=340, match_aspect=True)


PHASE_CHANGE = phase_change_view("restricted loss, test loss and local learning coefficient, "
                                 "each falling")

VIEWS = (*GENERIC_VIEWS, STORY, *BLOCK_VIEWS, PROGRESS_MEASURES, LLC, PHASE_CHANGE,
         DOMINANT_FREQUENCIES, NEURON_FREQ_CLUSTERS, ATTENTION_FREQUENCIES,
         *WEIGHT_FOURIER_VIEWS, COARSENESS, NEURON_SPECIALISATION, *DYNAMICS_VIEWS,
         NEURON_ACTIVATIONS, ATTENTION_PATTERNS, PREDICTION_TRACE, GRADUATION,
         *GEOMETRY_VIEWS, *TRAJECTORY_VIEWS, *WEIGHT_GROUP_VIEWS, *GRADIENT_VIEWS,
         *EXTRAS_VIEWS, *SPECTRUM_VIEWS, *MULTISTREAM_VIEWS)
