"""A training run's curves as they grow: the Train page's live view.

:class:`LiveTraining` follows one training job (the running one by default). Every
``period_ms`` it looks at the variant's metrics file, which a training job rewrites at
every checkpoint and every couple of seconds between them
(:data:`tdw.training.checkpointing.LIVE_SECONDS`), and when it changed:

* streams the new epochs into the loss and accuracy curves (``ColumnDataSource.stream``:
  the browser receives the new points only, never the whole run again);
* marks every checkpoint written so far on the test loss, scheduled and adaptive ones
  apart, as the explorer does;
* draws the transition (:func:`tdw.library.transition.detect_transition` on the test loss so far) as
  soon as the curve shows one, with its confidence.

A run that starts over (``--force``) or another job picked in the menu redraws from
scratch. Nothing here loads torch: the metrics are a small safetensors file.
"""

from __future__ import annotations

import html
import os
from typing import Any

import numpy as np
import panel as pn

from tdw.errors import TdwError
from tdw.family import plot as _plot
from tdw.jobs import jobs as jobs_mod
from tdw.library.transition import detect_transition
from tdw.store.jobs import JobRecord
from tdw.store.sealed import METRICS
from tdw.store.store import Store

__all__ = ["LiveTraining", "finite_length"]

_EMPTY = {"epoch": [], **{name: [] for name in METRICS}}
_NONE = "(no training job yet)"


def finite_length(metrics: dict[str, np.ndarray]) -> int:
    """How many epochs from 0 a run has recorded: through the last epoch with any metric
    (a run fills epochs in order and leaves the rest NaN; a loss that diverged to NaN still
    comes with its accuracies, so it neither hides nor freezes the curve)."""
    known = np.any([np.isfinite(metrics[name]) for name in METRICS], axis=0)
    recorded = np.flatnonzero(known)
    return int(recorded[-1]) + 1 if recorded.size else 0


class LiveTraining(pn.viewable.Viewer):
    """The loss and accuracy curves of one training job, growing while it runs."""

    def __init__(self, store: Store, *, period_ms: int = 1000, **params: Any):
        super().__init__(**params)
        from bokeh.models import ColumnDataSource, Span

        self.store = store
        self.curves = ColumnDataSource(dict(_EMPTY))
        self.marks = ColumnDataSource({"epoch": [], "value": [], "kind": [], "why": []})
        self.loss_figure = _plot.figure("Loss", x_label="epoch", y_label="cross-entropy",
                                        y_axis_type="log", width=560, height=280)
        self.accuracy_figure = _plot.figure("Accuracy", x_label="epoch", y_label="accuracy",
                                            width=560, height=280,
                                            x_range=self.loss_figure.x_range)
        for fig, (train, test) in ((self.loss_figure, ("train_loss", "test_loss")),
                                   (self.accuracy_figure, ("train_acc", "test_acc"))):
            fig.line("epoch", train, source=self.curves, color=_plot.PALETTE[0],
                     legend_label="train", name=f"live_{train}")
            fig.line("epoch", test, source=self.curves, color=_plot.PALETTE[1],
                     legend_label="test", name=f"live_{test}")
        _plot.checkpoint_markers(self.loss_figure, self.marks, name="live_checkpoints")
        self.transition = [Span(location=0, dimension="height", line_color=_plot.TURN,
                                line_dash="dashed", line_width=2, visible=False,
                                name="live_transition") for _ in range(2)]
        for fig, span in zip((self.loss_figure, self.accuracy_figure), self.transition,
                             strict=True):
            fig.add_layout(span)
            _plot.legend_outside(fig)
        self.job = pn.widgets.Select(label="training job", width=420)
        self.status = pn.pane.HTML("", css_classes=["tdw-live-status"], margin=(0, 10))
        self.job.param.watch(lambda event: self.poll(), "value")
        self._shown: tuple | None = None  # (job, variant, the metrics file's stamp)
        self._length = 0
        self._checkpoints: list[int] = []
        self._drawn = np.zeros(0)  # the test loss drawn so far
        self._turn = None
        self.refresh_jobs()
        self.poll()
        self._callback = pn.state.add_periodic_callback(self._tick, period=period_ms,
                                                        start=True)

    # ------------------------------------------------------------ what to follow
    def follow(self, job_id: int) -> None:
        """Follow training job ``job_id`` (a job just started from the page)."""
        self.refresh_jobs()
        if job_id in self.job.options.values():
            self.job.value = job_id

    def refresh_jobs(self) -> None:
        """List the recent training jobs, running ones first; keep the choice if it is
        still listed, else follow the newest running job (or the newest job)."""
        records = [r for r in jobs_mod.jobs(self.store, limit=40) if r.kind == "train"]
        records.sort(key=lambda r: (r.state not in jobs_mod.ACTIVE, -r.id))
        # Labels without the state: the menu changes only when a job appears, so the
        # followed job's curves are not redrawn when it starts or ends.
        options = {f"job {r.id}: {r.variant}": r.id for r in records} or {_NONE: 0}
        if options != self.job.options:
            current = self.job.value
            value = current if current in options.values() and current else \
                (records[0].id if records else 0)
            self.job.param.update(options=options, value=value)  # one change, one redraw

    def _tick(self) -> None:
        self.refresh_jobs()
        self.poll()

    def _record(self) -> JobRecord | None:
        if not self.job.value:
            return None
        try:
            return jobs_mod.job(self.store, self.job.value)
        except TdwError:
            return None

    # ------------------------------------------------------------------ drawing
    def poll(self) -> None:
        """Draw what the followed job's variant has recorded since the last look."""
        record = self._record()
        if record is None:
            self._reset()
            self.status.object = "No training job yet: start one above."
            return
        try:
            folder = self.store.variant(record.variant).folder
            found = os.stat(self.store.path(folder / "metrics.safetensors"))
            # a rewrite replaces the file: a new inode, even within the clock's resolution
            stamp = (found.st_mtime_ns, found.st_ino, found.st_size)
        except (TdwError, OSError):
            self._reset()
            self.status.object = self._describe(record, None)
            return
        key = (record.id, record.variant, stamp)
        if key == self._shown:
            self.status.object = self._describe(record, self._length)
            return
        try:
            metrics = self.store.load_metrics(record.variant)
        except TdwError as exc:  # rewritten under our feet: the next look reads it whole
            self.status.object = html.escape(str(exc))
            return
        if self._shown is None or self._shown[:2] != key[:2]:
            self._reset()
        self._shown = key
        self._draw(record, metrics)
        self.status.object = self._describe(record, self._length)

    def _reset(self) -> None:
        self._shown, self._length, self._checkpoints = None, 0, []
        self._drawn = np.zeros(0)
        self.curves.data = dict(_EMPTY)
        self.marks.data = {"epoch": [], "value": [], "kind": [], "why": []}
        for span in self.transition:
            span.visible = False
        self._turn = None

    def _draw(self, record: JobRecord, metrics: dict[str, np.ndarray]) -> None:
        n = finite_length(metrics)
        shown = self._length
        # Compared with the loss as this view drew it (kept here: the source's columns are
        # the browser's too), to tell a run that started over from one that went on.
        if n < shown or not np.array_equal(metrics["test_loss"][:shown], self._drawn,
                                            equal_nan=True):
            key = self._shown
            self._reset()
            self._shown, shown = key, 0
        if n > shown:
            new = {"epoch": np.arange(shown, n), **{k: metrics[k][shown:n] for k in METRICS}}
            self.curves.stream(new)
            self._length = n
            self._drawn = np.asarray(metrics["test_loss"][:n]).copy()
        self._draw_checkpoints(record.variant, metrics, n)
        self._draw_transition(metrics["test_loss"])

    def _draw_checkpoints(self, vid: str, metrics: dict[str, np.ndarray], n: int) -> None:
        epochs = [c.epoch for c in self.store.checkpoints(vid) if c.epoch < n]
        if epochs == self._checkpoints:
            return
        reasons: dict[int, str] = {}
        try:
            schedule = self.store.load_schedule_record(vid)
        except TdwError:
            schedule = None
        if schedule is not None:
            reasons = dict(zip(schedule.epochs, schedule.reasons, strict=True))
        kinds = [_plot.CHECKPOINT_KINDS[reasons.get(e) == "adaptive"] for e in epochs]
        self.marks.data = {
            "epoch": epochs, "value": [float(metrics["test_loss"][e]) for e in epochs],
            "kind": kinds, "why": [reasons.get(e, "scheduled") for e in epochs]}
        self._checkpoints = epochs

    def _draw_transition(self, test_loss: np.ndarray) -> None:
        turn = detect_transition(test_loss)
        self._turn = turn if turn.transition_epoch is not None else None
        for span in self.transition:
            span.visible = self._turn is not None
            if self._turn is not None:
                span.location = self._turn.transition_epoch

    def _describe(self, record: JobRecord, length: int | None) -> str:
        parts = [f"<b>job {record.id}</b>", html.escape(record.variant),
                 html.escape(record.state)]
        if length is None:
            parts.append("waiting for the run's first metrics")
        else:
            total = record.total or length
            parts.append(f"epoch {max(0, length - 1):,} of {max(0, total):,}")
            parts.append(f"{len(self._checkpoints)} checkpoints")
            turn = self._turn
            parts.append(f"transition at epoch {turn.transition_epoch:,} (confidence "
                         f"{turn.confidence:.2f})" if turn else "no transition yet")
        return " · ".join(parts)

    def __panel__(self):
        return pn.Column(self.job, self.status,
                         pn.Row(pn.pane.Bokeh(self.loss_figure),
                                pn.pane.Bokeh(self.accuracy_figure)),
                         sizing_mode="stretch_width")
