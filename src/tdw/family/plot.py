"""Shared Bokeh styling and small glyph helpers for views (private)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
CURRENT = "#444444"
TURN = "#d62728"


def figure(title: str, *, x_label: str = "", y_label: str = "", width: int = 460,
           height: int = 300, **kwargs: Any):
    from bokeh.plotting import figure as bokeh_figure

    fig = bokeh_figure(title=title, width=width, height=height,
                       tools="pan,wheel_zoom,box_zoom,reset,hover,save",
                       toolbar_location="above", **kwargs)
    fig.xaxis.axis_label = x_label
    fig.yaxis.axis_label = y_label
    fig.title.text_font_size = "12pt"
    return fig


def current_epoch_band(fig, source) -> None:
    """A vertical line at the current checkpoint, driven by ``source`` (column ``x``)."""
    fig.vspan(x="x", source=source, line_color=CURRENT, line_width=2, line_dash="dashed",
              legend_label="current checkpoint")


def turn_band(fig, source) -> None:
    fig.vspan(x="x", source=source, line_color=TURN, line_width=2, legend_label="detected turn")


def image(fig, source, *, palette: str = "Viridis256", low: float | None = None,
          high: float | None = None, label: str = "") -> None:
    """A heatmap of ``source.data["image"][0]`` spanning (0, 0)-(dw, dh) with a colour bar."""
    from bokeh.models import ColorBar, LinearColorMapper

    mapper = LinearColorMapper(palette=palette, low=low, high=high)
    fig.image(image="image", x=0, y=0, dw="dw", dh="dh", source=source, color_mapper=mapper)
    fig.add_layout(ColorBar(color_mapper=mapper, title=label, width=10), "right")


def image_columns(grid: np.ndarray) -> dict[str, list]:
    """Columns for :func:`image`: the grid as float32, with its width and height."""
    grid = np.asarray(grid, dtype=np.float32)
    return {"image": [grid], "dw": [grid.shape[1]], "dh": [grid.shape[0]]}


def nearest_index(epochs: np.ndarray | list[int], epoch: int) -> int:
    return int(np.argmin(np.abs(np.asarray(epochs) - epoch)))


def legend_outside(fig, side: str = "right") -> None:
    """Move the legend beside the frame (``right`` or ``below``), so it never hides a curve.

    The figure keeps its total size; the frame gives up the legend's room. Long labels (e.g.
    variant ids) go ``below``. Clicking an entry hides its glyphs.
    """
    if not fig.legend:
        return
    legend = fig.legend[0]
    fig.center = [r for r in fig.center if r is not legend]
    legend.click_policy = "hide"
    legend.label_text_font_size = "8pt"
    legend.glyph_width = 14
    legend.spacing = 0
    legend.padding = 4
    legend.margin = 4
    legend.border_line_alpha = 0
    legend.location = "top_left"
    fig.add_layout(legend, side)


def trend(ctx, analyzer: str, values) -> dict[str, list]:
    """Columns ``epoch`` and ``value`` of ``values(artifact)`` across every checkpoint."""
    return {"epoch": list(ctx.epochs),
            "value": [float(values(ctx.load(analyzer, e))) for e in ctx.epochs]}


def marker_at(columns: Mapping[str, list], epoch: int) -> dict[str, list]:
    i = nearest_index(columns["epoch"], epoch)
    return {"x": [columns["epoch"][i]], "y": [columns["value"][i]]}


def current_columns(ctx) -> dict:
    """``epoch_data`` of a summary view whose only moving part is the current-epoch line."""
    return {"current": {"x": [ctx.epoch]}}


def turn_columns(ctx) -> dict[str, list]:
    """The detected turn as a (possibly empty) ``x`` column for :func:`turn_band`."""
    return {"x": [ctx.turn[0]] if ctx.turn else []}


CHECKPOINT_KINDS = ("checkpoints", "adaptive checkpoints")
"""Legend labels of scheduled and adaptive checkpoint markers."""


def checkpoint_columns(ctx, values: np.ndarray) -> dict[str, list]:
    """Markers at every checkpoint of ``ctx`` on the per-epoch curve ``values``, each with
    its kind (scheduled or adaptive, from the run's schedule record) and why it was saved."""
    epochs = [int(e) for e in ctx.epochs]
    record = ctx.schedule()
    rows = {} if record is None else {
        e: (r, s, t) for e, r, s, t in zip(record.epochs, record.reasons, record.signal,
                                            record.threshold, strict=True)}
    kinds, why = [], []
    previous: tuple[int, float] | None = None  # the last checkpoint with a policy signal
    for epoch in epochs:
        reason, signal, threshold = rows.get(epoch, ("scheduled", float("nan"), float("nan")))
        if reason == "adaptive":
            moved = (f"moved {abs(signal - previous[1]):.3g} since epoch {previous[0]}"
                     if previous else "moved")
            why.append(f"adaptive: the smoothed signal {moved}, threshold {threshold:.3g}")
        else:
            why.append("scheduled")
        kinds.append(CHECKPOINT_KINDS[reason == "adaptive"])
        if not np.isnan(signal):
            previous = (epoch, signal)
    return {"epoch": epochs, "value": np.asarray(values)[epochs], "kind": kinds, "why": why}


def checkpoint_markers(fig, source, name: str = "checkpoints"):
    """Checkpoint markers from :func:`checkpoint_columns`: grey circles for scheduled
    checkpoints, orange triangles for adaptive ones; hovering one says why it was saved.
    The renderer is named ``name`` (the explorer jumps to a clicked ``checkpoints`` one)."""
    from bokeh.models import HoverTool
    from bokeh.transform import factor_cmap, factor_mark

    renderer = fig.scatter(
        "epoch", "value", source=source, size=7, alpha=0.7, name=name,
        marker=factor_mark("kind", ["circle", "triangle"], list(CHECKPOINT_KINDS)),
        color=factor_cmap("kind", [CURRENT, PALETTE[4]], list(CHECKPOINT_KINDS)),
        legend_field="kind")
    fig.add_tools(HoverTool(renderers=[renderer],
                            tooltips=[("epoch", "@epoch"), ("saved", "@why")]))
    return renderer
