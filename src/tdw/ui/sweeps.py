"""The Sweeps page: a form that starts a sweep, then every recent sweep with its
per-variant state, progress, Cancel and map.

Like the job list it polls the catalog on a periodic callback and updates in place: one
card per sweep, created once, whose table and bar are refreshed while the sweep runs, and
whose map (:mod:`tdw.ui.sweep_map`) is redrawn whenever one of its variants changes (e.g.
analysed after the sweep ended). Sweeps start from the form (:mod:`tdw.ui.sweep_form`) or
the command line (``tdw sweep``); either way a coordinator process runs them.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from typing import Any

import panel as pn

from tdw.errors import TdwError
from tdw.store import listing
from tdw.store.store import Store
from tdw.sweeps import sweep as sweep_mod
from tdw.ui.jobs import progress_card, progress_header, show_progress, state_html
from tdw.ui.sweep_form import SweepForm
from tdw.ui.sweep_map import SweepMap

__all__ = ["SweepList", "SweepCard", "members_html"]

_MEMBER_COLOURS = {"pending": "#777", "training": "#1f77b4", "analyzing": "#9467bd",
                   "done": "#2ca02c", "failed": "#d62728", "cancelled": "#8c564b"}


def members_html(members: list[sweep_mod.SweepMember]) -> str:
    """The per-variant table: state, current job, a progress bar, the error if any."""
    rows = []
    for m in members:
        pct = int(round(100 * m.fraction))
        job = f"{m.job.kind} job {m.job.id}: {m.job.state}" if m.job else "-"
        message = m.error or (m.job.message if m.job and m.state != "done" else "")
        rows.append(
            f"<tr class='tdw-sweep-member'><td>{m.position + 1}</td>"
            f"<td><code>{html.escape(m.variant)}</code></td>"
            f"<td style='color:{_MEMBER_COLOURS.get(m.state, '#777')}'>{m.state}</td>"
            f"<td>{html.escape(job)}</td>"
            f"<td><div style='width:120px;background:#eee;height:10px'><div style='width:{pct}%;"
            f"background:{_MEMBER_COLOURS.get(m.state, '#1f77b4')};height:10px'></div></div>"
            f"</td><td>{pct}%</td><td>{html.escape(message or '')}</td></tr>")
    head = "".join(f"<th style='text-align:left'>{h}</th>" for h in
                   ("#", "variant", "state", "job", "progress", "", "message"))
    return (f"<table style='font-size:12px;border-collapse:collapse;width:100%'><tr>{head}</tr>"
            + "".join(rows) + "</table>")


class SweepCard(pn.viewable.Viewer):
    """One sweep: title, overall progress, Cancel, the per-variant table and the map
    (clicking a variant on it calls ``on_open`` with its id)."""

    def __init__(self, store: Store, record: sweep_mod.SweepRecord, *,
                 on_open: Callable[[str], None] | None = None,
                 stamps: Mapping[str, tuple] | None = None, **params: Any):
        super().__init__(**params)
        self.store, self.id, self.state = store, record.id, ""
        self.title, self.bar, self.status, self.cancel = progress_header("Cancel sweep", 120,
                                                                         self._cancel)
        self.table = pn.pane.HTML("", sizing_mode="stretch_width", margin=(0, 10))
        stamps = listing.variant_stamps(store.catalog) if stamps is None else stamps
        self.map = SweepMap(store, record, sweep_mod.members(store, record.id), on_open=on_open,
                            stamps=stamps)
        self.refresh(record, stamps)

    def refresh(self, record: sweep_mod.SweepRecord,
                stamps: Mapping[str, tuple] | None = None) -> None:
        """Show ``record`` and its variants now (``stamps``:
        :func:`tdw.store.listing.variant_stamps`, read here if not given)."""
        self.state = record.state
        members = sweep_mod.members(self.store, record.id)
        self.map.update(members, listing.variant_stamps(self.store.catalog)
                        if stamps is None else stamps)
        grid = " ".join(f"{n}={','.join(map(str, v))}" for n, v in record.spec.grid.axes)
        self.title.object = (
            f"<b>sweep {record.id}</b> · {html.escape(record.family)} · <code>"
            f"{html.escape(grid)}</code>{' · analyze' if record.spec.analyze else ''} · "
            f"{html.escape(record.executor)} · {state_html(record.state, 'tdw-sweep-state')}")
        done = sum(m.state == "done" for m in members)
        show_progress(self.bar, record.state,
                      sum(m.fraction for m in members) / max(1, len(members)))
        self.status.object = f"{done}/{len(members)} variants done"
        self.cancel.visible = record.state == "running" and not record.cancel_requested
        self.table.object = members_html(members)

    def _cancel(self, event: Any) -> None:
        try:
            self.refresh(sweep_mod.cancel(self.store, self.id, timeout=0))
        except TdwError as exc:
            self.status.object = f"**{html.escape(str(exc))}**"

    def __panel__(self):
        return progress_card((self.title, self.bar, self.status, self.cancel),
                             pn.Column(self.table, self.map, sizing_mode="stretch_width"),
                             "tdw-sweep")


class SweepList(pn.viewable.Viewer):
    """The form, then the ``limit`` most recent sweeps, refreshed every ``period_ms`` while
    shown; ``on_open(variant)`` is called when a variant is clicked on a sweep's map."""

    def __init__(self, store: Store, *, limit: int = 5, period_ms: int = 2000,
                 on_open: Callable[[str], None] | None = None, **params: Any):
        super().__init__(**params)
        self.store, self.limit, self.on_open = store, limit, on_open
        self.cards: dict[int, SweepCard] = {}
        self._shown: list[int] = []
        self.column = pn.Column(sizing_mode="stretch_width")
        self.form = SweepForm(store, on_started=lambda record: self.refresh())
        self.empty = pn.pane.Markdown(
            "No sweeps yet. Start one above, or from a terminal, e.g. `tdw sweep "
            "modulo_addition_1l --preset quick --grid model_seed=1,2,3 --analyze`.",
            margin=(0, 10))
        self.refresh()
        self._callback = pn.state.add_periodic_callback(self.refresh, period=period_ms,
                                                        start=True)

    def refresh(self) -> None:
        records = sweep_mod.sweeps(self.store, limit=self.limit)
        stamps = listing.variant_stamps(self.store.catalog)
        for record in records:
            card = self.cards.get(record.id)
            if card is None:
                self.cards[record.id] = SweepCard(self.store, record, on_open=self.on_open,
                                                  stamps=stamps)
            elif record.state == "running" or record.state != card.state:
                card.refresh(record, stamps)
            else:  # a finished sweep's variants may still be analysed, or removed
                card.map.update(card.map.members, stamps)
        if [r.id for r in records] != self._shown:
            self._shown = [r.id for r in records]
            self.column.objects = [self.cards[i] for i in self._shown]
        self.empty.visible = not records

    def __panel__(self):
        return pn.Column(pn.pane.Markdown("### Start a sweep", margin=(0, 10)), self.form,
                         pn.pane.Markdown("### Sweeps", margin=(0, 10)), self.empty,
                         self.column, sizing_mode="stretch_width")
