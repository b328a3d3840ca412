"""A live list of jobs: state, progress bar, ETA, log tail, cancel, the executed notebook.

The list polls the catalog (one small query) on a periodic callback and updates the rows
it already shows in place; a row is created once per job.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import panel as pn
import param

from tdw.errors import TdwError
from tdw.jobs import jobs as jobs_mod
from tdw.store.jobs import JobRecord
from tdw.store.store import Store

__all__ = ["JobList", "JobRow", "describe_eta", "progress_header", "progress_card",
           "show_progress", "state_html"]

_STATE_COLOURS = {"queued": "#777", "running": "#1f77b4", "succeeded": "#2ca02c",
                  "failed": "#d62728", "cancelled": "#8c564b"}
_BAR_COLOURS = {"failed": "danger", "cancelled": "warning", "succeeded": "success"}
"""Progress bar colour of a finished state (anything else: "primary")."""


def progress_header(cancel_label: str, cancel_width: int, on_cancel: Callable[[Any], None]
                    ) -> tuple[pn.pane.HTML, pn.indicators.Progress, pn.pane.Markdown,
                               pn.widgets.Button]:
    """The header widgets of a job row and of a sweep card: ``(title, bar, status, cancel)``.

    Fill them with :func:`state_html` (in the title) and :func:`show_progress`, and lay them
    out with :func:`progress_card`.

    Args:
        cancel_label: the Cancel button's label.
        cancel_width: its width in pixels.
        on_cancel: called with the click event.
    """
    title = pn.pane.HTML("", margin=(0, 10), sizing_mode="stretch_width")
    bar = pn.indicators.Progress(value=0, max=100, width=220, height=18, margin=(8, 10),
                                 bar_color="primary")
    status = pn.pane.Markdown("", margin=(0, 10), width=260)
    cancel = pn.widgets.Button(label=cancel_label, color="danger", width=cancel_width,
                               margin=(5, 10))
    cancel.on_click(on_cancel)
    return title, bar, status, cancel


def show_progress(bar: pn.indicators.Progress, state: str, fraction: float) -> None:
    """Fill ``bar`` to ``fraction`` (0..1) in the colour of ``state``."""
    bar.value = int(round(100 * fraction))
    bar.bar_color = _BAR_COLOURS.get(state, "primary")


def state_html(state: str, css_class: str) -> str:
    """``state`` in its colour, as a span of ``css_class`` (which the pages' tests find)."""
    colour = _STATE_COLOURS.get(state, "#777")
    return f"<span class='{css_class}' style='color:{colour}'>{state}</span>"


def progress_card(header: tuple[Any, ...], body: Any, css_class: str) -> pn.Column:
    """The header widgets in one row above ``body``, ruled off below."""
    return pn.Column(pn.Row(*header, sizing_mode="stretch_width"), body,
                     sizing_mode="stretch_width", css_classes=[css_class],
                     styles={"border-bottom": "1px solid #eee"})


def describe_eta(record: JobRecord) -> str:
    eta = record.eta_seconds
    if eta is None:
        return ""
    minutes, seconds = divmod(int(round(eta)), 60)
    return f"ETA {minutes}m{seconds:02d}s" if minutes else f"ETA {seconds}s"


class JobRow(pn.viewable.Viewer):
    """One job, updated in place by :meth:`refresh`."""

    def __init__(self, store: Store, record: JobRecord, **params: Any):
        super().__init__(**params)
        self.store, self.id = store, record.id
        self.title, self.bar, self.status, self.cancel = progress_header("Cancel", 80,
                                                                         self._cancel)
        self.download = pn.widgets.FileDownload(
            callback=self._notebook_bytes, filename=f"job-{record.id}-{record.kind}.ipynb",
            label="Executed notebook", color="light", width=160, margin=(5, 10),
            embed=False)
        self.log = pn.pane.HTML("", sizing_mode="stretch_width", max_height=220,
                                styles={"overflow": "auto", "font-size": "11px"})
        self.log_card = pn.Card(self.log, title="log tail", collapsed=True,
                                sizing_mode="stretch_width", margin=(0, 10))
        self.refresh(record)

    def refresh(self, record: JobRecord) -> None:
        self.title.object = (f"<b>job {record.id}</b> · {record.kind} · <code>{record.variant}"
                             f"</code> · {state_html(record.state, 'tdw-job-state')}")
        show_progress(self.bar, record.state, record.fraction)
        # Messages and errors may quote what someone typed; every visitor sees this list,
        # so they are shown as text, never as markup.
        parts = [_escape(record.message or ""), describe_eta(record)]
        if record.error:
            parts.append(f"**{_escape(record.error)}**")
        self.status.object = " · ".join(p for p in parts if p)
        self.cancel.visible = record.state in jobs_mod.ACTIVE
        self.download.visible = bool(record.notebook)
        tail = jobs_mod.log_tail(self.store, record, 15)
        self.log.object = "<pre>" + _escape("\n".join(tail) or "(no output yet)") + "</pre>"

    def _cancel(self, event: Any) -> None:
        try:
            self.refresh(jobs_mod.cancel(self.store, self.id))
        except TdwError as exc:
            self.status.object = f"**{_escape(str(exc))}**"

    def _notebook_bytes(self):
        import io

        record = jobs_mod.job(self.store, self.id)
        return io.BytesIO(self.store.path(record.notebook).read_bytes())

    def __panel__(self):
        return progress_card((self.title, self.bar, self.status, self.cancel, self.download),
                             self.log_card, "tdw-job")


class JobList(pn.viewable.Viewer):
    """The most recent jobs of ``kinds``, refreshed every ``period_ms`` while shown.

    ``on_finished(record)`` is called once for each job seen to finish, e.g. so the variant
    table can refresh.
    """

    finished = param.Integer(default=0, doc="Counts jobs seen finishing.")

    def __init__(self, store: Store, *, kinds: tuple[str, ...] = ("train", "analyze"),
                 limit: int = 8, period_ms: int = 1000,
                 on_finished: Callable[[JobRecord], None] | None = None, **params: Any):
        super().__init__(**params)
        self.store, self.kinds, self.limit = store, kinds, limit
        self.on_finished = on_finished
        self.rows: dict[int, JobRow] = {}
        self._states: dict[int, str] = {}
        self._shown: list[int] = []
        self._since = time.time()
        self.column = pn.Column(sizing_mode="stretch_width")
        self.empty = pn.pane.Markdown("No jobs yet.", margin=(0, 10))
        self.refresh()
        self._callback = pn.state.add_periodic_callback(self.refresh, period=period_ms,
                                                        start=True)

    def refresh(self) -> None:
        records = [r for r in jobs_mod.jobs(self.store, limit=4 * self.limit)
                   if r.kind in self.kinds][:self.limit]
        for record in records:
            row = self.rows.get(record.id)
            if row is None:
                self.rows[record.id] = JobRow(self.store, record)
            elif record.state in jobs_mod.ACTIVE or self._states.get(record.id) != record.state:
                row.refresh(record)
            previous = self._states.get(record.id)
            new = previous is None and record.created >= self._since
            if record.state in jobs_mod.FINISHED and (previous in jobs_mod.ACTIVE or new):
                self.finished += 1
                if self.on_finished:
                    self.on_finished(record)
            self._states[record.id] = record.state
        if [r.id for r in records] != self._shown:
            self._shown = [r.id for r in records]
            self.column.objects = [self.rows[i] for i in self._shown]
        self.empty.visible = not records
        self.last_refresh = time.time()

    def __panel__(self):
        return pn.Column(self.empty, self.column, sizing_mode="stretch_width")


def _escape(text: str) -> str:
    import html

    return html.escape(text)
