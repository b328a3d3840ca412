"""Views of the Induction Heads analyzers. Heads are named layer-major (``L1H2``)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tdw.family import plot as _plot
from tdw.family.views import Trace, View, ViewContext
from tdw.library.views import GENERIC_VIEWS, phase_change_view

__all__ = ["VIEWS"]

Lines = Callable[[ViewContext], tuple[list[str], np.ndarray]]
"""context -> (line names, ``(line, checkpoint)`` values over ``ctx.epochs``)."""


def _lines_view(name: str, title: str, description: str, analyzer: str, lines: Lines,
                y_label: str, group: str, trace: Trace | None = None,
                log: bool = False) -> View:
    """A summary view: one line per name across checkpoints, the transition and the
    current checkpoint."""

    def columns(ctx: ViewContext) -> dict:
        names, values = lines(ctx)
        return {"lines": {"xs": [list(ctx.epochs)] * len(names),
                          "ys": [np.asarray(v, dtype=np.float64).tolist() for v in values],
                          "name": names,
                          "color": [_plot.PALETTE[i % len(_plot.PALETTE)]
                                    for i in range(len(names))]},
                "turn": _plot.turn_columns(ctx)}

    def build(sources, ctx: ViewContext):
        fig = _plot.figure(title, x_label="epoch", y_label=y_label, width=620,
                           y_axis_type="log" if log else "linear")
        fig.multi_line("xs", "ys", source=sources["lines"], color="color",
                       legend_field="name", line_width=1.5)
        _plot.turn_band(fig, sources["turn"])
        _plot.current_epoch_band(fig, sources["current"])
        _plot.legend_outside(fig)
        return fig

    return View(name, title, description, (analyzer,), "summary", build=build, data=columns,
                epoch_data=_plot.current_columns, group=group, trace=trace)


def _stack(ctx: ViewContext, analyzer: str, array: str) -> np.ndarray:
    """``(checkpoint, ...)`` an array of every checkpoint's artifact."""
    return np.stack([ctx.load(analyzer, e)[array] for e in ctx.epochs])


def _per_head(analyzer: str, array: str) -> Lines:
    def lines(ctx: ViewContext) -> tuple[list[str], np.ndarray]:
        names = list(ctx.load(analyzer, ctx.epoch).attrs["heads"])
        return names, _stack(ctx, analyzer, array).T  # (head, checkpoint)
    return lines


def _max_trace(label: str, analyzer: str, array: str) -> Trace:
    def values(ctx: ViewContext):
        return list(ctx.epochs), _stack(ctx, analyzer, array).max(axis=1)
    return Trace(label, values)


def _attr_trace(label: str, analyzer: str, attr: str, log: bool = False) -> Trace:
    def values(ctx: ViewContext):
        return list(ctx.epochs), [ctx.load(analyzer, e).attrs[attr] for e in ctx.epochs]
    return Trace(label, values, log=log)


INDUCTION_SCORES = _lines_view(
    "induction_scores", "Induction score per head", "Attention from the second copy of a "
    "repeated random sequence to the token after the previous occurrence of the current "
    "token, per head; the induction heads jump at the phase change (Olsson et al. 2022).",
    "head_scores", _per_head("head_scores", "induction"), "induction score", "Heads",
    trace=_max_trace("best induction score", "head_scores", "induction"))
PREFIX_MATCHING = _lines_view(
    "prefix_matching", "Prefix matching per head", "Attention mass on tokens that follow an "
    "earlier copy of the current token, on plain random sequences (chance recurrences only).",
    "head_scores", _per_head("head_scores", "prefix_matching"), "prefix-matching score",
    "Heads", trace=_max_trace("best prefix-matching score", "head_scores", "prefix_matching"))
PREVIOUS_TOKEN = _lines_view(
    "previous_token", "Previous-token score per head", "Mean attention to the previous "
    "position: the layer-0 half of the induction circuit.", "head_scores",
    _per_head("head_scores", "previous_token"), "previous-token score", "Heads",
    trace=_max_trace("best previous-token score", "head_scores", "previous_token"))
OV_COPYING = _lines_view(
    "ov_copying", "OV copying score per head", "Positive-eigenvalue share of each head's "
    "full OV circuit W_E W_OV W_U: 1 copies the attended token, -1 suppresses it "
    "(Elhage et al. 2021).", "circuits", _per_head("circuits", "ov_copying"), "copying score",
    "Circuits", trace=_max_trace("best OV copying score", "circuits", "ov_copying"))


def _icl_lines(ctx: ViewContext) -> tuple[list[str], np.ndarray]:
    scores = [ctx.load("in_context_learning", e).attrs["icl_score"] for e in ctx.epochs]
    return ["loss on 2nd copy - loss on 1st"], np.array([scores])


IN_CONTEXT_LEARNING = _lines_view(
    "in_context_learning", "In-context learning score", "Mean loss on the second copy of a "
    "repeated random sequence minus on the first: negative when the model predicts from "
    "context (Olsson et al. 2022).", "in_context_learning", _icl_lines, "nats", "Training",
    trace=_attr_trace("in-context learning score", "in_context_learning", "icl_score"))


def _hessian_lines(ctx: ViewContext) -> tuple[list[str], np.ndarray]:
    values = _stack(ctx, "hessian_spectrum", "eigenvalues").T  # (eigenvalue, checkpoint)
    return [f"λ{i + 1}" for i in range(len(values))], values


HESSIAN_SPECTRUM = _lines_view(
    "hessian_spectrum", "Hessian top eigenvalues", "Largest eigenvalues of the Hessian of the "
    "probe loss (Lanczos on Hessian-vector products): the curvature of the landscape.",
    "hessian_spectrum", _hessian_lines, "eigenvalue", "Landscape",
    trace=_attr_trace("Hessian top eigenvalue", "hessian_spectrum", "top_eigenvalue"))


def _gradient_lines(ctx: ViewContext) -> tuple[list[str], np.ndarray]:
    norms = [ctx.load("hessian_spectrum", e).attrs["gradient_norm"] for e in ctx.epochs]
    return ["|∇L| on the probe"], np.array([norms])


GRADIENT_NORM = _lines_view(
    "gradient_norm", "Gradient norm", "L2 norm of the gradient of the probe loss.",
    "hessian_spectrum", _gradient_lines, "|∇L|", "Landscape", log=True,
    trace=_attr_trace("gradient norm", "hessian_spectrum", "gradient_norm", log=True))


PHASE_CHANGE = phase_change_view("best induction score, in-context learning score falling, "
                                 "Hessian top eigenvalue")


def _scores_data(ctx: ViewContext) -> dict:
    art = ctx.load("head_scores", ctx.epoch)
    return {"bars": {"head": list(art.attrs["heads"]), "induction": art["induction"],
                     "prefix_matching": art["prefix_matching"],
                     "previous_token": art["previous_token"]}}


def _build_scores(sources, ctx: ViewContext):
    from bokeh.transform import dodge

    heads = list(ctx.load("head_scores", ctx.epoch).attrs["heads"])
    fig = _plot.figure("Head scores at this checkpoint", x_range=heads, y_label="score",
                       y_range=(0, 1), width=620)
    for i, key in enumerate(("induction", "prefix_matching", "previous_token")):
        fig.vbar(x=dodge("head", 0.27 * (i - 1), range=fig.x_range), top=key, width=0.25,
                 source=sources["bars"], color=_plot.PALETTE[i],
                 legend_label=key.replace("_", " "))
    _plot.legend_outside(fig)
    return fig


HEAD_SCORES = View(
    "head_scores", "Head scores", "Induction, prefix-matching and previous-token score of "
    "every head at this checkpoint.", ("head_scores",), "checkpoint", build=_build_scores,
    epoch_data=_scores_data, group="Heads")


def _pattern_data(ctx: ViewContext) -> dict:
    pattern = ctx.load("attention_patterns", ctx.epoch)["pattern"]  # (head, query, key)
    return {"grid": _plot.image_columns(pattern[ctx.selection.get("head", 0)])}


def _build_pattern(sources, ctx: ViewContext):
    heads = ctx.load("attention_patterns", ctx.epoch).attrs["heads"]
    head = heads[ctx.selection.get("head", 0)]
    fig = _plot.figure(f"Attention pattern of {head} on repeated sequences", x_label="key",
                       y_label="query", width=400, height=360, match_aspect=True)
    _plot.image(fig, sources["grid"], low=0.0, high=1.0, label="attention")
    fig.y_range.flipped = True
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
    fig = _plot.figure("Loss by position", x_label="position (predicting the next token)",
                       y_label="cross-entropy", width=620)
    fig.line("position", "repeated", source=sources["loss"], color=_plot.PALETTE[0],
             legend_label="repeated [x, x]", line_width=1.5)
    fig.line("position", "random", source=sources["loss"], color=_plot.PALETTE[1],
             legend_label="plain random", line_width=1.5)
    _plot.legend_outside(fig)
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
    return {"grid": _plot.image_columns(_composition_grid(ctx)[0])}


def _label_cells(axis, names: list[str]) -> None:
    axis.ticker = [i + 0.5 for i in range(len(names))]
    axis.major_label_overrides = {i + 0.5: name for i, name in enumerate(names)}


def _build_composition(sources, ctx: ViewContext):
    baseline = ctx.load("circuits", ctx.epoch).attrs["composition_baseline"]
    _, rows, columns = _composition_grid(ctx)
    fig = _plot.figure(f"K-composition (random ≈ {baseline:.2f})", x_label="source head",
                       y_label="reading head", width=420, height=360)
    _plot.image(fig, sources["grid"], low=0.0, label="score")
    _label_cells(fig.xaxis, columns)
    _label_cells(fig.yaxis, rows)
    return fig


K_COMPOSITION = View(
    "k_composition", "K-composition", "How much each head's keys read what an earlier-layer "
    "head writes: |W_QK W_OV(src)^T| / (|W_QK| |W_OV(src)|) (Elhage et al. 2021); an "
    "induction head composes with a previous-token head. Grey: not an earlier layer.",
    ("circuits",), "checkpoint", build=_build_composition, epoch_data=_composition_data,
    group="Circuits")

VIEWS = (*GENERIC_VIEWS, PHASE_CHANGE, INDUCTION_SCORES, IN_CONTEXT_LEARNING, PREFIX_MATCHING,
         PREVIOUS_TOKEN, HEAD_SCORES, ATTENTION_PATTERN, LOSS_BY_POSITION, OV_COPYING,
         K_COMPOSITION, HESSIAN_SPECTRUM, GRADIENT_NORM)
