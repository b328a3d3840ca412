"""The view of a variant's story (:mod:`tdw.library.story`): the loss curves with the phase
windows shaded behind them, and the failure-mode label in the title."""

from __future__ import annotations

import numpy as np

from tdw.family import plot
from tdw.family.views import View, ViewContext

from .story import PHASES

__all__ = ["STORY", "PHASE_COLOURS"]

PHASE_COLOURS = dict(zip(PHASES, ("#90caf9", "#b0bec5", "#ef9a9a", "#a5d6a7"), strict=True))
"""One fill per phase, shared with the story bar above Explore."""


def phase_columns(ctx: ViewContext) -> dict[str, list]:
    """The story's windows as ``first``, ``last``, ``phase`` and ``color`` columns (phases
    that did not happen are left out)."""
    bounds = ctx.load("variant_story", ctx.epoch)["bounds"]  # (phase, end)
    rows = [(int(a), int(b), p) for p, (a, b) in zip(PHASES, bounds, strict=True) if a >= 0]
    return {"first": [r[0] for r in rows], "last": [r[1] for r in rows],
            "phase": [r[2] for r in rows], "color": [PHASE_COLOURS[r[2]] for r in rows]}


def _story_data(ctx: ViewContext) -> dict:
    metrics = ctx.metrics()
    return {"curves": {"epoch": np.arange(len(metrics["test_loss"])),
                       "train": metrics["train_loss"], "test": metrics["test_loss"]},
            "phases": phase_columns(ctx), "transition": plot.transition_columns(ctx)}


def _build_story(sources, ctx: ViewContext):
    label = ctx.load("variant_story", ctx.epoch).attrs["label"]
    fig = plot.figure(f"The run's phases: {label}", x_label="epoch",
                      y_label="cross-entropy", y_axis_type="log", width=620)
    fig.vstrip(x0="first", x1="last", source=sources["phases"], fill_color="color",
               fill_alpha=0.45, line_alpha=0, legend_field="phase")
    fig.line("epoch", "train", source=sources["curves"], color=plot.PALETTE[0],
             legend_label="train loss", line_width=1.5)
    fig.line("epoch", "test", source=sources["curves"], color=plot.PALETTE[1],
             legend_label="test loss", line_width=1.5)
    return plot.finish(fig, sources)


STORY = View(
    "variant_story", "The run's phases", "Train and test loss with the story's phase windows "
    "shaded: first descent (until train accuracy 99%), plateau (until the test loss turns), "
    "cascade (until test accuracy 95%) and second descent (until the smoothed test loss is "
    "lowest); the title gives the failure-mode label (healthy, late, degraded, degraded and "
    "recovered, no grokking), whose reasons the bar above Explore lists.",
    ("metrics", "variant_story"), "summary", build=_build_story, data=_story_data,
    epoch_data=plot.current_columns, group="Training")
