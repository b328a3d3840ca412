"""Views of the Induction Heads analyzers. Heads are named layer-major (``L1H2``)."""

from __future__ import annotations

import numpy as np

from tdw.family import plot
from tdw.family.views import Trace, View, ViewContext
from tdw.library.block_views import BLOCK_VIEWS
from tdw.library.views import GENERIC_VIEWS, phase_change_view

__all__ = ["VIEWS"]

def _stack(ctx: ViewContext, analyzer: str, array: str) -> np.ndarray:
    """``(checkpoint, ...)`` an array of every checkpoint's artifact."""
    return np.stack([ctx.load(analyzer, e)[array] for e in ctx.epochs])


def _per_head(analyzer: str, array: str) -> plot.Lines:
    def lines(ctx: ViewContext):
        names = list(ctx.load(analyzer, ctx.epoch).attrs["heads"])
        return ctx.epochs, _stack(ctx, analyzer, array).T, names  # (head, checkpoint)
    return lines


def _max_trace(label: str, analyzer: str, array: str) -> Trace:
    def values(ctx: ViewContext):
        return list(ctx.epochs), _stack(ctx, analyzer, array).max(axis=1)
    return Trace(label, values)


INDUCTION_SCORES = plot.lines_view(
    "induction_scores", "Induction score per head", "Attention from the second copy of a "
    "repeated random sequence to the token after the previous occurrence of the current "
    "token, per head; the induction heads jump at the phase change (Olsson et al. 2022).",
    ("head_scores",), _per_head("head_scores", "induction"), y_label="induction score",
    group="Heads", trace=_max_trace("best induction score", "head_scores", "induction"))
PREFIX_MATCHING = plot.lines_view(
    "prefix_matching", "Prefix matching per head", "Attention mass on tokens that follow an "
    "earlier copy of the current token, on plain random sequences (chance recurrences only).",
    ("head_scores",), _per_head("head_scores", "prefix_matching"),
    y_label="prefix-matching score", group="Heads",
    trace=_max_trace("best prefix-matching score", "head_scores", "prefix_matching"))
PREVIOUS_TOKEN = plot.lines_view(
    "previous_token", "Previous-token score per head", "Mean attention to the previous "
    "position: the layer-0 half of the induction circuit.", ("head_scores",),
    _per_head("head_scores", "previous_token"), y_label="previous-token score", group="Heads",
    trace=_max_trace("best previous-token score", "head_scores", "previous_token"))
OV_COPYING = plot.lines_view(
    "ov_copying", "OV copying score per head", "Positive-eigenvalue share of each head's "
    "full OV circuit W_E W_OV W_U: 1 copies the attended token, -1 suppresses it "
    "(Elhage et al. 2021).", ("circuits",), _per_head("circuits", "ov_copying"),
    y_label="copying score", group="Circuits",
    trace=_max_trace("best OV copying score", "circuits", "ov_copying"))


def _icl_lines(ctx: ViewContext):
    scores = [ctx.load("in_context_learning", e).attrs["icl_score"] for e in ctx.epochs]
    return ctx.epochs, [scores], ["loss on 2nd copy - loss on 1st"]


IN_CONTEXT_LEARNING = plot.lines_view(
    "in_context_learning", "In-context learning score", "Mean loss on the second copy of a "
    "repeated random sequence minus on the first: negative when the model predicts from "
    "context (Olsson et al. 2022).", ("in_context_learning",), _icl_lines, y_label="nats",
    group="Training",
    trace=plot.attribute_trace("in-context learning score", "in_context_learning",
                               "icl_score"))


def _hessian_lines(ctx: ViewContext):
    values = _stack(ctx, "hessian_spectrum", "eigenvalues").T  # (eigenvalue, checkpoint)
    return ctx.epochs, values, [f"λ{i + 1}" for i in range(len(values))]


HESSIAN_SPECTRUM = plot.lines_view(
    "hessian_spectrum", "Hessian top eigenvalues", "Largest eigenvalues of the Hessian of the "
    "probe loss (Lanczos on Hessian-vector products): the curvature of the landscape.",
    ("hessian_spectrum",), _hessian_lines, y_label="eigenvalue", group="Landscape",
    trace=plot.attribute_trace("Hessian top eigenvalue", "hessian_spectrum",
                               "top_eigenvalue"))


def _gradient_lines(ctx: ViewContext):
    norms = [ctx.load("hessian_spectrum", e).attrs["gradient_norm"] for e in ctx.epochs]
    return ctx.epochs, [norms], ["|∇L| on the probe"]


GRADIENT_NORM = plot.lines_view(
    "gradient_norm", "Gradient norm", "L2 norm of the gradient of the probe loss.",
    ("hessian_spectrum",), _gradient_lines, y_label="|∇L|", log=True, group="Landscape",
    trace=plot.attribute_trace("gradient norm", "hessian_spectrum", "gradient_norm",
                               log=True))


PHASE_CHANGE = phase_change_view("best induction score, in-context learning score falling, "
                                 "Hessian top eigenvalue")


def _scores(ctx: ViewContext) -> dict:
    art = ctx.load("head_scores", ctx.epoch)
    return {"head": list(art.attrs["heads"]), "induction": art["induction"],
            "prefix_matching": art["prefix_matching"],
            "previous_token": art["previous_token"]}


_SCORES = ("induction", "prefix_matching", "previous_token")

HEAD_SCORES = plot.bars_view(
    "head_scores", "Head scores", "Induction, prefix-matching and previous-token score of "
    "every head at this checkpoint.", ("head_scores",), _scores, "head", _SCORES,
    heading="Head scores at this checkpoint", labels=[key.replace("_", " ") for key in _SCORES],
    bar_width=0.25, y_label="score", y_range=(0, 1), width=620, group="Heads")


def _pattern_data(ctx: ViewContext) -> dict:
    pattern = ctx.load("attention_patterns", ctx.epoch)["pattern"]  # (head, query, key)
    return {"grid": plot.image_columns(pattern[ctx.selection.get("head", 0)])}


def _build_pattern(sources, ctx: ViewContext):
    heads = ctx.load("attention_patterns", ctx.epoch).attrs["heads"]
    head = heads[ctx.selection.get("head", 0)]
    fig = plot.heatmap_figure(f"Attention pattern of {head} on repeated sequences",
                              sources["grid"], x_label="key", y_label="query", low=0.0,
                              high=1.0, label="attention", width=400, height=360,
                              match_aspect=True)
    fig.y_range.flipped = True  # query 0 at the top, like a matrix
    return fig


ATTENTION_PATTERN = View(
    "attention_pattern", "Attention pattern", "One head's attention pattern averaged over the "
    "repeated probe sequences [x, x]: an induction head draws a stripe h - 1 below the "
    "diagonal in the second half, a previous-token head the first sub-diagonal.",
    ("attention_patterns",), "checkpoint", build=_build_pattern, epoch_data=_pattern_data,
    selectors={"head": ("attention_patterns", "pattern", 0)}, group="Heads")


def _position_data(ctx: ViewContext) -> dict:
    art = ctx.load("in_context_learning", ctx.epoch)
    position = np.arange(len(art["repeated_loss"]))
    return {"loss": {"position": position, "repeated": art["repeated_loss"],
                     "random": art["random_loss"]}}


def _build_position(sources, ctx: ViewContext):
    fig = plot.figure("Loss by position", x_label="position (predicting the next token)",
                      y_label="cross-entropy", width=620)
    fig.line("position", "repeated", source=sources["loss"], color=plot.PALETTE[0],
             legend_label="repeated [x, x]", line_width=1.5)
    fig.line("position", "random", source=sources["loss"], color=plot.PALETTE[1],
             legend_label="plain random", line_width=1.5)
    plot.legend_outside(fig)
    return fig


LOSS_BY_POSITION = View(
    "loss_by_position", "Loss by position", "Next-token loss at each position of the repeated "
    "and the plain random probe sequences: after the phase change the second half of the "
    "repeated ones is predicted from the first.", ("in_context_learning",), "checkpoint",
    build=_build_position, epoch_data=_position_data, group="Training")


def _composition_grid(ctx: ViewContext) -> tuple[np.ndarray, list[str], list[str]]:
    """K-composition of the heads of layers 1.. (rows) with those of layers ..L-2
    (columns), the block where a source is in an earlier layer, and both axes' names."""
    art = ctx.load("circuits", ctx.epoch)
    n_heads = ctx.values["n_heads"]
    names = list(art.attrs["heads"])
    grid = art["k_composition"][n_heads:, :len(names) - n_heads]  # (reading, source)
    if not grid.size:  # one layer: nothing composes; one blank cell
        return np.full((1, 1), np.nan, dtype=np.float32), [], []
    return grid, names[n_heads:], names[:len(names) - n_heads]


def _composition_data(ctx: ViewContext) -> dict:
    return {"grid": plot.image_columns(_composition_grid(ctx)[0])}


def _label_cells(axis, names: list[str]) -> None:
    axis.ticker = [i + 0.5 for i in range(len(names))]
    axis.major_label_overrides = {i + 0.5: name for i, name in enumerate(names)}


def _build_composition(sources, ctx: ViewContext):
    baseline = ctx.load("circuits", ctx.epoch).attrs["composition_baseline"]
    _, rows, columns = _composition_grid(ctx)
    fig = plot.heatmap_figure(f"K-composition (random ≈ {baseline:.2f})", sources["grid"],
                              x_label="source head", y_label="reading head", low=0.0,
                              label="score", width=420, height=360)
    _label_cells(fig.xaxis, columns)
    _label_cells(fig.yaxis, rows)
    return fig


K_COMPOSITION = View(
    "k_composition", "K-composition", "How much each head's keys read what an earlier-layer "
    "head writes: |W_QK W_OV(src)^T| / (|W_QK| |W_OV(src)|) (Elhage et al. 2021); an "
    "induction head composes with a previous-token head. Grey: not an earlier layer.",
    ("circuits",), "checkpoint", build=_build_composition, epoch_data=_composition_data,
    group="Circuits")

VIEWS = (*GENERIC_VIEWS, *BLOCK_VIEWS,
         PHASE_CHANGE, INDUCTION_SCORES, IN_CONTEXT_LEARNING, PREFIX_MATCHING,
         PREVIOUS_TOKEN, HEAD_SCORES, ATTENTION_PATTERN, LOSS_BY_POSITION, OV_COPYING,
         K_COMPOSITION, HESSIAN_SPECTRUM, GRADIENT_NORM)
