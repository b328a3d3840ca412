"""A checkpoint-schedule editor: ranges, log spacing, a dense window and an adaptive budget,
with a preview.

The composed text is ordinary schedule grammar (:mod:`tdw.family.schedule`), shown and editable;
the preview draws the resulting checkpoints over the loss curve of an existing variant, so
one can see whether the schedule is dense where the loss moves. An adaptive budget is
previewed by running its policy over that variant's recorded metrics
(:func:`tdw.training.adaptive.simulate`): where it would have added checkpoints on that run.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import panel as pn
import param

from tdw.errors import TdwError
from tdw.family import plot as _plot
from tdw.family.schedule import SIGNALS, Schedule, parse_schedule
from tdw.training.adaptive import simulate

__all__ = ["ScheduleEditor", "compose"]


def compose(kind: str, start: int, stop: int, step_or_count: int, *,
            window: tuple[int, int, int] | None = None,
            adaptive: tuple[str, int] | None = None) -> str:
    """Schedule text for a base segment plus an optional dense window and an optional
    adaptive budget ``(signal, count)`` over the base range, always with ``end``.

    >>> compose("range", 0, 2500, 100, window=(500, 1500, 20))
    '0-2500/100,500-1500/20,end'
    >>> compose("log", 0, 25000, 40)
    '0,log:1-25000/40,end'
    >>> compose("range", 0, 2500, 250, adaptive=("test_loss", 80))
    '0-2500/250,adaptive:0-2500/80,end'
    """
    if kind == "range":
        parts = [f"{start}-{stop}/{step_or_count}"]
    elif kind == "log":
        parts = (["0"] if start == 0 else []) + [f"log:{max(start, 1)}-{stop}/{step_or_count}"]
    else:
        raise TdwError(f"unknown schedule kind {kind!r}; choose 'range' or 'log'")
    if window is not None:
        parts.append("{}-{}/{}".format(*window))
    if adaptive is not None:
        signal, count = adaptive
        named = "" if signal == "test_loss" else f"{signal}:"
        parts.append(f"adaptive:{named}{start}-{stop}/{count}")
    return ",".join(parts + ["end"])


class ScheduleEditor(pn.viewable.Viewer):
    """Edit a schedule for a run of ``n_epochs``; ``schedule`` is None while invalid."""

    n_epochs = param.Integer(default=1000, bounds=(1, None))
    spec = param.String(default="")
    default = param.String(default="", doc="The family's default schedule for this run.")
    schedule = param.ClassSelector(class_=Schedule, default=None, allow_None=True)
    error = param.String(default="")

    def __init__(self, **params: Any):
        super().__init__(**params)
        n = self.n_epochs
        self.kind = pn.widgets.RadioButtonGroup(options=["range", "log"], value="range",
                                                width=140)
        self.start = pn.widgets.IntInput(label="from", value=0, start=0, width=90)
        self.stop = pn.widgets.IntInput(label="to", value=n, start=0, width=90)
        self.step = pn.widgets.IntInput(label="every / count", value=max(n // 25, 1), start=1,
                                        width=110)
        self.dense = pn.widgets.Checkbox(label="dense window", value=False, width=120)
        self.w_start = pn.widgets.IntInput(label="from", value=0, start=0, width=90)
        self.w_stop = pn.widgets.IntInput(label="to", value=n // 5, start=0, width=90)
        self.w_step = pn.widgets.IntInput(label="every", value=max(n // 250, 1), start=1,
                                          width=90)
        self.adaptive = pn.widgets.Checkbox(label="adaptive", value=False, width=120)
        self.signal = pn.widgets.Select(options=list(SIGNALS), value="test_loss", width=120,
                                        description="add checkpoints where this metric moves")
        self.budget = pn.widgets.IntInput(label="up to", value=max(min(n // 30, 80), 1),
                                          start=1, width=90)
        self.text = pn.widgets.TextInput(label="schedule", value="", sizing_mode="stretch_width",
                                         description="Schedule grammar: e.g. 0-1500/100,"
                                         "log:1-25000/40,end. Edit freely.")
        self.status = pn.pane.Markdown("", margin=(0, 10))
        self.use_default = pn.widgets.Button(label="family default", width=130, align="end",
                                             disabled=True)
        self.use_default.on_click(lambda e: setattr(self.text, "value", self.default))
        for w in (self.kind, self.start, self.stop, self.step, self.dense, self.w_start,
                  self.w_stop, self.w_step, self.adaptive, self.signal, self.budget):
            w.param.watch(lambda e: self._compose(), "value")
        self.text.param.watch(lambda e: setattr(self, "spec", e.new), "value")
        self.param.watch(lambda e: self._parse(), ["spec", "n_epochs"])
        self._compose()

    @param.depends("n_epochs", watch=True)
    def _fit_to_run(self) -> None:
        self.stop.value = self.n_epochs

    def fit(self, n_epochs: int, default: str) -> None:
        """Fit the editor to a run of ``n_epochs`` whose family suggests ``default``.

        The text follows the family default until the user edits it; the ``family default``
        button brings it back.
        """
        following = not self.default or self.spec == self.default
        self.default = default
        self.use_default.disabled = False
        self.n_epochs = n_epochs
        if following:
            self.text.value = default

    def _compose(self) -> None:
        window = ((self.w_start.value, self.w_stop.value, self.w_step.value)
                  if self.dense.value else None)
        adaptive = (self.signal.value, self.budget.value or 1) if self.adaptive.value else None
        try:
            self.text.value = compose(self.kind.value, self.start.value or 0,
                                      self.stop.value or 0, self.step.value or 1, window=window,
                                      adaptive=adaptive)
        except TdwError as exc:
            self.error = str(exc)

    def _parse(self) -> None:
        try:
            self.schedule, self.error = parse_schedule(self.spec, self.n_epochs), ""
        except TdwError as exc:
            self.schedule, self.error = None, str(exc)
        if self.schedule is not None:
            epochs = self.schedule.epochs
            self.status.object = (f"**{self.schedule.describe()}**: "
                                  f"{', '.join(map(str, epochs[:8]))}"
                                  f"{' … ' + str(epochs[-1]) if len(epochs) > 8 else ''}")
        else:
            self.status.object = f"<span style='color:#b00'>{html.escape(self.error)}</span>"

    def __panel__(self):
        window = pn.Row(self.dense, self.w_start, self.w_stop, self.w_step)
        adaptive = pn.Row(self.adaptive, self.signal, self.budget)
        return pn.Column(pn.Row(self.kind, self.start, self.stop, self.step), window, adaptive,
                         pn.Row(self.text, self.use_default, sizing_mode="stretch_width"),
                         self.status, sizing_mode="stretch_width")


class SchedulePreview(pn.viewable.Viewer):
    """The loss curve of an existing variant with a schedule's checkpoints marked on it."""

    def __init__(self, **params: Any):
        super().__init__(**params)
        from bokeh.models import ColumnDataSource

        self.curve = ColumnDataSource({"epoch": [], "test": [], "train": []})
        self.marks = ColumnDataSource({"epoch": [], "value": [], "kind": [], "why": []})
        fig = _plot.figure("Schedule preview", x_label="epoch", y_label="loss",
                           y_axis_type="log", width=620, height=240)
        fig.line("epoch", "train", source=self.curve, color=_plot.PALETTE[0],
                 legend_label="train")
        fig.line("epoch", "test", source=self.curve, color=_plot.PALETTE[1], legend_label="test")
        _plot.checkpoint_markers(fig, self.marks, name="schedule")
        _plot.legend_outside(fig)
        self.figure = fig
        self.pane = pn.pane.Bokeh(fig)

    def show(self, metrics: dict[str, np.ndarray] | None, schedule: Schedule | None) -> None:
        """Draw ``metrics`` (or nothing) and mark the checkpoints of ``schedule`` on it: its
        scheduled epochs, and where its adaptive budget would have added checkpoints on the
        run those metrics come from (when they cover the schedule's run)."""
        epochs = list(schedule.epochs) if schedule else []
        kinds = [_plot.CHECKPOINT_KINDS[0]] * len(epochs)
        if metrics:
            n = len(metrics["test_loss"])
            self.curve.data = {"epoch": np.arange(n), "test": metrics["test_loss"],
                               "train": metrics["train_loss"]}
            if schedule is not None and schedule.adaptive and n == schedule.n_epochs + 1:
                record = simulate(schedule, metrics)
                epochs = list(record.epochs)
                kinds = [_plot.CHECKPOINT_KINDS[r == "adaptive"] for r in record.reasons]
            test = metrics["test_loss"]
            y = [float(test[min(e, n - 1)]) for e in epochs]
        else:
            self.curve.data = {"epoch": [], "test": [], "train": []}
            y = [1.0] * len(epochs)
        why = ["scheduled" if k == _plot.CHECKPOINT_KINDS[0] else
               "would be added by the adaptive budget on this run" for k in kinds]
        self.marks.data = {"epoch": epochs, "value": y, "kind": kinds, "why": why}

    def __panel__(self):
        return self.pane
