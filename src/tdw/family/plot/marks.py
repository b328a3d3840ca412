"""Marks of a view across training: the detected transition, the current checkpoint and the
checkpoint markers; :func:`finish` adds the first two where a view has their sources."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from tdw.family.plot.style import CHECKPOINT_KINDS, CURRENT, PALETTE, TURN, legend_outside
from tdw.family.views import Columns, ViewContext


def finish(fig, sources: Mapping[str, Any], *, legend: str = "right"):
    """The last touches of a view's figure; returns ``fig``.

    Draws the detected transition if ``sources`` has a ``transition`` source
    (:func:`transition_columns`), then the current checkpoint if it has a ``current`` one
    (:func:`current_columns`: a vertical line, so not for a view whose ``current`` source
    is a point), and moves the legend outside, to ``legend`` (:func:`legend_outside`).
    """
    if "transition" in sources:
        transition_band(fig, sources["transition"])
    if "current" in sources:
        current_epoch_band(fig, sources["current"])
    legend_outside(fig, legend)
    return fig


def transition_band(fig, source) -> None:
    """The detected transition: a red vertical line at each ``x`` of ``source``."""
    fig.vspan(x="x", source=source, line_color=TURN, line_width=2,
              legend_label="detected transition")


def transition_columns(ctx: ViewContext) -> dict[str, list]:
    """The detected transition as a (possibly empty) ``x`` column for :func:`transition_band`."""
    return {"x": [ctx.transition[0]] if ctx.transition else []}


def current_epoch_band(fig, source) -> None:
    """The current checkpoint: a dashed vertical line at ``source``'s ``x`` column."""
    fig.vspan(x="x", source=source, line_color=CURRENT, line_width=2, line_dash="dashed",
              legend_label="current checkpoint")


def current_columns(ctx: ViewContext) -> Columns:
    """``epoch_data`` of a summary view whose only moving part is the current-epoch line:
    the ``current`` source of :func:`current_epoch_band`."""
    return {"current": {"x": [ctx.epoch]}}


def checkpoint_columns(ctx: ViewContext, values: np.ndarray) -> dict[str, list]:
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
