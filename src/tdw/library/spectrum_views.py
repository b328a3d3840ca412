"""Views of ``singular_values`` (:mod:`tdw.library.spectrum`), under "Trajectory" beside
effective dimensionality. Any family that runs the analyzer may list :data:`SPECTRUM_VIEWS`.

``singular_value_spectrum`` builds its figure once around a ``spectrum`` source (the chosen
matrix at the current checkpoint) and swaps only that source's data with the checkpoint;
``spectral_concentration`` draws every checkpoint at once and moves only its
current-checkpoint line.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tdw.family import plot
from tdw.family.artifacts import Artifact
from tdw.family.views import Columns, Labels, Trace, View, ViewContext

__all__ = ["SINGULAR_VALUE_SPECTRUM", "SPECTRAL_CONCENTRATION", "SPECTRUM_VIEWS",
           "matrix_spectrum"]

ANALYZER = "singular_values"
GROUP = "Trajectory"
REFERENCE_COLORS = ("#bbbbbb", "#666666")
"""Colours of the first and the last checkpoint's spectrum behind the current one."""


def matrix_spectrum(art: Artifact, matrix: int) -> tuple[str, np.ndarray]:
    """The name and the ``(rank,)`` float64 singular values of matrix ``matrix`` of ``art``
    (its NaN padding dropped; zeros become NaN, which a log axis cannot draw)."""
    values = art["singular_values"][matrix, :int(art["rank"][matrix])].astype(np.float64)
    return art.attrs["matrices"][matrix], np.where(values > 0, values, np.nan)


# --- singular_value_spectrum ----------------------------------------------------------------


def _spectrum_columns(ctx: ViewContext) -> Columns:
    name, values = matrix_spectrum(ctx.load(ANALYZER, ctx.epoch), ctx.selection.get("matrix", 0))
    energy = np.nan_to_num(values) ** 2  # (rank,)
    total = energy.sum()
    cumulative = np.cumsum(energy) / total if total > 0 else np.full(values.size, np.nan)
    return {"spectrum": {"index": np.arange(1, values.size + 1), "sigma": values,
                         "cumulative": cumulative, "matrix": [name] * values.size}}


def _reference_columns(ctx: ViewContext) -> Columns:
    """The chosen matrix's spectrum at the first and at the last checkpoint."""
    matrix = ctx.selection.get("matrix", 0)
    ends = (ctx.epochs[0], ctx.epochs[-1])
    spectra = [matrix_spectrum(ctx.load(ANALYZER, e), matrix)[1] for e in ends]
    index = np.arange(1, spectra[0].size + 1).tolist()
    return {"reference": {"xs": [index, index], "ys": [s.tolist() for s in spectra],
                          "label": [f"first checkpoint (epoch {ends[0]})",
                                    f"last checkpoint (epoch {ends[1]})"],
                          "color": list(REFERENCE_COLORS)}}


def _build_spectrum(sources: dict[str, Any], ctx: ViewContext):
    from bokeh.models import HoverTool

    fig = plot.figure("Singular-value spectrum", x_label="index i (largest first)",
                      y_label="singular value s_i", y_axis_type="log", width=620)
    fig.multi_line("xs", "ys", source=sources["reference"], color="color",
                   legend_field="label", line_width=1.5, line_dash="dashed")
    line = fig.line("index", "sigma", source=sources["spectrum"], color=plot.PALETTE[0],
                    line_width=2, legend_field="matrix")
    fig.scatter("index", "sigma", source=sources["spectrum"], color=plot.PALETTE[0], size=3)
    fig.select_one(HoverTool).renderers = [line]
    fig.select_one(HoverTool).tooltips = [("matrix", "@matrix"), ("i", "@index"),
                                          ("s_i", "@sigma{0.0000}"),
                                          ("energy in the top i", "@cumulative{0.0%}")]
    return plot.finish(fig, sources)


SINGULAR_VALUE_SPECTRUM = View(
    "singular_value_spectrum", "Singular-value spectrum", "The singular values of one weight "
    "matrix (the matrix selector picks it, in effective_dimensionality's order; the legend "
    "names it) at this checkpoint, largest first, on a log axis, over its spectrum at the "
    "first and the last checkpoint (dashed). A flat spectrum uses every direction; a few "
    "values standing above a falling tail is a low-rank matrix. Hovering gives the share "
    "of the energy sum s^2 in the top i directions.", (ANALYZER,), "checkpoint",
    build=_build_spectrum, data=_reference_columns, epoch_data=_spectrum_columns,
    selectors={"matrix": (ANALYZER, "singular_values", 0)},
    labels={"matrix": Labels("matrices", "{value}")}, group=GROUP)


# --- spectral_concentration -----------------------------------------------------------------


def _concentration_columns(ctx: ViewContext) -> Columns:
    arts = [ctx.load(ANALYZER, e) for e in ctx.epochs]
    names = list(arts[-1].attrs["matrices"])
    ranks = np.stack([a["stable_rank"] for a in arts])  # (checkpoint, matrix)
    decile = np.stack([a["top_decile_share"] for a in arts])  # (checkpoint, matrix)
    return {"stable_rank": plot.line_columns(ctx.epochs, ranks.T, names),
            "decile": plot.line_columns(ctx.epochs, decile.T, names),
            "transition": plot.transition_columns(ctx)}


def _build_concentration(sources: dict[str, Any], ctx: ViewContext):
    from bokeh.models import LinearAxis, Range1d

    fraction = ctx.load(ANALYZER, ctx.epoch).attrs["top_fraction"]
    fig = plot.lines_figure("Stable rank and top-direction energy", sources["stable_rank"],
                            y_label="stable rank ||W||_F² / ||W||_2² (solid)", log=True,
                            width=680)
    fig.extra_y_ranges = {"share": Range1d(0.0, 1.02)}
    fig.add_layout(LinearAxis(y_range_name="share", axis_label=(
        f"energy share of the top {fraction:.0%} directions (dotted)")), "right")
    fig.multi_line("xs", "ys", source=sources["decile"], color="color", line_width=1.5,
                   line_dash="dotted", y_range_name="share")
    return plot.finish(fig, sources)


def _mean_stable_rank(ctx: ViewContext):
    ranks = np.stack([ctx.load(ANALYZER, e)["stable_rank"] for e in ctx.epochs])
    return list(ctx.epochs), np.nanmean(ranks.astype(np.float64), axis=1)


SPECTRAL_CONCENTRATION = View(
    "spectral_concentration", "Stable rank and top-direction energy", "Per weight matrix "
    "across training: its stable rank ||W||_F² / ||W||_2² (solid, log axis; the reciprocal "
    "of the share of its energy sum s^2 in the top direction), and the share of that energy "
    "in its top 10% of directions (dotted, right axis, same colour). Falling stable rank and "
    "a rising share mean the matrix concentrates on a few directions, as weight decay "
    "cleans up a grokking run.", (ANALYZER,), "summary", build=_build_concentration,
    data=_concentration_columns, epoch_data=plot.current_columns, group=GROUP,
    trace=Trace("mean stable rank", _mean_stable_rank, log=True))

SPECTRUM_VIEWS = (SINGULAR_VALUE_SPECTRUM, SPECTRAL_CONCENTRATION)
