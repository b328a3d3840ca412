"""The Variants table: every variant, live, one column per parameter; filter, sort, tick
rows, compare them, open one, tag it and write a note.

Rows are :func:`~tdw.ui.variant_rows.variant_rows`: every variant the catalog lists,
including those still training or interrupted, with their state and progress. The table
polls the catalog (a few grouped queries) and redraws only when something changed:
changed cells are patched in place, so a training's progress moves without disturbing
the sort or the ticks. Above the table, :class:`~tdw.ui.variant_filters.Filters` keep the
rows whose parameters, state and text match; below it, **Compare selected** sends the
ticked variants to the Compare page, **Open in Explore** opens one, and the
:class:`~tdw.ui.variant_notes.NoteEditor` edits the tags and note of the one ticked. On a
Voila page each row also links to the variant in Explore (:mod:`tdw.ui.links`), to open
in a new tab or share.

The table is Bokeh's ``DataTable`` on a plain ``ColumnDataSource``, not Panel's Tabulator:
Tabulator needs pandas (and with it pyarrow), about 60 MB in every served kernel, for a
table of a few dozen rows. Filtering rebuilds the source from the rows that pass, so the
table's selection (ticks, in ``source.selected.indices``) always indexes rows on screen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import panel as pn
import param

from tdw.explore.jupyter import served_by_voila
from tdw.store import annotations, listing
from tdw.store import jobs as job_table
from tdw.store.store import Store
from tdw.ui.compare import MAX_VARIANTS
from tdw.ui.links import Link
from tdw.ui.variant_filters import Filters
from tdw.ui.variant_notes import NoteEditor
from tdw.ui.variant_rows import (
    LEADING,
    PERCENT_COLUMNS,
    RESULTS,
    Row,
    RowCache,
    parameter_columns,
    variant_rows,
)

__all__ = ["VariantTable", "variant_rows", "PERCENT_COLUMNS", "POLL_MS"]

POLL_MS = 2000
"""How often the table asks the catalog whether anything changed."""

_WIDTHS = {"variant": 330, "link": 70, "job": 100, "tags": 150, "note": 260,
           "transition confidence": 130}

_BAR = """<% if (value != null) { %><div class="tdw-bar" title="<%= value %>%">\
<div style="width:<%= Math.max(0, Math.min(100, value)) %>%"></div>\
<span><%= value %></span></div><% } %>"""

_LINK = """<a href="?<%= value %>" target="_blank" rel="noopener" \
title="open in Explore in a new tab (a link to share)">open &#8599;</a>"""

_BAR_STYLE = """
.tdw-bar { position: relative; height: 16px; margin-top: 4px; background: #eef1f4;
           border-radius: 3px; overflow: hidden; }
.tdw-bar > div { position: absolute; inset: 0 auto 0 0; background: #8fb8de; }
.tdw-bar > span { position: relative; padding-left: 4px; font-size: 12px; }
"""


def _columns(rows: list[Row]) -> list[str]:
    """The leading columns, the parameters, the results, any other column a row has (the
    story, the families' summaries) in first-seen order, and the note."""
    names = dict.fromkeys([*LEADING, *parameter_columns(rows), *RESULTS])
    for row in rows:
        names.update(dict.fromkeys(k for k in row if not k.startswith("_") and k != "note"))
    return [*names, "note"]


def _formatter(name: str):
    """How column ``name`` draws its cells: a bar, the link, or text (None as nothing; text
    is never read as markup, since tags and notes are what someone typed)."""
    from bokeh.models import HTMLTemplateFormatter, StringFormatter

    if name in PERCENT_COLUMNS:
        return HTMLTemplateFormatter(template=_BAR)
    if name == "link":
        return HTMLTemplateFormatter(template=_LINK)
    return StringFormatter(null_format="")


class VariantTable(pn.viewable.Viewer):
    """Every variant in a table with filters, ticks, Compare and Open (see the module
    docstring).

    ``rows`` holds the rows shown (those that pass the filters, in the source's order),
    ``all_rows`` every variant's. ``chosen`` is the ticked variants; ``selected`` is the
    variant last opened with **Open in Explore**. ``on_compare(ids)`` is called with the
    ticked variants when **Compare selected** is pressed and they can be compared.
    """

    selected = param.String(default="", doc="The variant last opened in Explore.")
    chosen = param.List(default=[], item_type=str, doc="The ticked variants, in table order.")

    def __init__(self, store: Store, *, links: bool | None = None,
                 on_compare: Callable[[list[str]], None] | None = None,
                 poll_ms: int = POLL_MS, **params: Any):
        from bokeh.models import ColumnDataSource, DataTable

        super().__init__(**params)
        self.store = store
        self.links = served_by_voila() if links is None else links
        """Whether rows link to Explore (default: on a Voila page, whose URL a link extends)."""
        self.on_compare = on_compare
        self.cache = RowCache()
        self.all_rows: list[Row] = []
        self.rows: list[Row] = []
        self._stamp: tuple | None = None
        self.source = ColumnDataSource(data={})
        self.table = DataTable(source=self.source, columns=[], index_position=None,
                               sortable=True, selectable="checkbox", reorderable=False,
                               autosize_mode="none", row_height=26,
                               sizing_mode="stretch_width", height=260,
                               css_classes=["tdw-variant-table"], stylesheets=[_BAR_STYLE])
        self.source.selected.on_change("indices", lambda attr, old, new: self._sync_chosen())
        self.filters = Filters()
        self.filters.param.watch(lambda e: self._show(), "changed")
        self.hint = pn.pane.Markdown(
            "Tick rows to select them. **Compare selected** shows 2 to "
            f"{MAX_VARIANTS} side by side, more in groups; **Open in Explore** opens one; "
            "below, edit the "
            "tags and note of the one ticked. Click a header to sort.", margin=(0, 10))
        self.count = pn.pane.HTML("", margin=(0, 10), css_classes=["tdw-variant-count"])
        self.compare_button = pn.widgets.Button(label="Compare selected", color="primary",
                                                width=160, css_classes=["tdw-compare-selected"])
        self.compare_button.on_click(lambda event: self.compare_selected())
        self.open_button = pn.widgets.Button(label="Open in Explore", width=140)
        self.open_button.on_click(lambda event: self.open_selected())
        self.message = pn.pane.Alert("", alert_type="warning", visible=False,
                                     sizing_mode="stretch_width", css_classes=["tdw-table-msg"])
        self.editor = NoteEditor(store, on_saved=lambda vid: self.refresh())
        self.refresh()
        self._callback = pn.state.add_periodic_callback(self.poll, period=poll_ms, start=True)

    # ------------------------------------------------------------------ data
    def _current_stamp(self) -> tuple:
        jobs = tuple((j.id, j.state, j.progress) for j in job_table.active(self.store.catalog))
        return (listing.variant_stamps(self.store.catalog),
                annotations.stamp(self.store.catalog), jobs)

    def poll(self) -> None:
        """Refresh if any variant, tag, note or active job changed since the last refresh."""
        if self._current_stamp() != self._stamp:
            self.refresh()

    def refresh(self) -> None:
        """Re-read the store and show the rows that pass the filters."""
        self._stamp = self._current_stamp()
        self.all_rows = variant_rows(self.store, self.cache)
        self.filters.update(self.all_rows, ["state", *parameter_columns(self.all_rows)])
        self._show()

    def _show(self) -> None:
        from bokeh.models import TableColumn

        rows = [row for row in self.all_rows if self.filters.passes(row)]
        names = (["link"] if self.links else []) + _columns(self.all_rows)
        if [c.field for c in self.table.columns] != names:
            self.table.columns = [
                TableColumn(field=name, title=name, sortable=name != "link",
                            formatter=_formatter(name),
                            width=_WIDTHS.get(name, 110 if name in PERCENT_COLUMNS else 90))
                for name in names]
        links = [Link(tab="Explore", variant=row["variant"]).query() for row in rows]
        data = {name: links if name == "link" else [row.get(name) for row in rows]
                for name in names}
        same_rows = [r["variant"] for r in rows] == [r["variant"] for r in self.rows]
        chosen = set(self.chosen)
        self.rows = rows
        if same_rows and set(self.source.data) == set(data):
            patches = {name: [(i, new) for i, (old, new) in enumerate(
                zip(self.source.data[name], values, strict=True)) if old != new]
                for name, values in data.items()}
            if patches := {k: v for k, v in patches.items() if v}:
                self.source.patch(patches)
        else:
            self.source.data = data
            self.source.selected.indices = [i for i, row in enumerate(rows)
                                            if row["variant"] in chosen]
        self.table.height = min(60 + 26 * max(len(rows), 1), 600)
        self._sync_chosen()

    def _sync_chosen(self) -> None:
        ids = [self.rows[i]["variant"] for i in sorted(self.source.selected.indices)
               if 0 <= i < len(self.rows)]
        if ids != self.chosen:
            self.chosen = ids
        self.count.object = (f"{len(self.rows)} of {len(self.all_rows)} variants shown"
                             + (f" · {len(ids)} selected" if ids else ""))
        if self.editor.variant != (ids[0] if len(ids) == 1 else ""):
            self.editor.show(ids[0] if len(ids) == 1 else "")

    # --------------------------------------------------------------- actions
    def tick(self, variants: Sequence[str]) -> None:
        """Tick the rows of ``variants`` (ids shown in the table), unticking the others."""
        wanted = set(variants)
        self.source.selected.indices = [i for i, row in enumerate(self.rows)
                                        if row["variant"] in wanted]
        self._sync_chosen()

    def select_row(self, index: int) -> None:
        """Tick row ``index`` alone and open it in Explore (as ticking it and pressing
        **Open in Explore** does)."""
        self.source.selected.indices = [index]
        self._sync_chosen()
        self.open_selected()

    def _say(self, problem: str) -> None:
        self.message.object, self.message.visible = problem, bool(problem)

    def open_selected(self) -> str | None:
        """Open the one ticked variant in Explore (sets ``selected``); with none or several
        ticked, say so instead. Returns the variant opened."""
        if len(self.chosen) != 1:
            self._say(f"Tick one variant to open it in Explore; {len(self.chosen)} are "
                      "ticked.")
            return None
        self._say("")
        self.selected = ""  # opening the same variant again is a change too
        self.selected = self.chosen[0]
        return self.selected

    def compare_selected(self) -> list[str] | None:
        """Send the ticked variants to ``on_compare`` if Compare can show them (two or
        more, each with checkpoints: up to :data:`~tdw.ui.compare.MAX_VARIANTS` side by
        side, more in groups); else say why. Returns the variants sent."""
        ids = list(self.chosen)
        bare = [row["variant"] for row in self.rows
                if row["variant"] in ids and not row["checkpoints"]]
        if len(ids) < 2:
            self._say(f"Compare needs two variants or more; {len(ids)} "
                      f"{'is' if len(ids) == 1 else 'are'} ticked. Tick more.")
            return None
        if bare:
            self._say(f"{', '.join(bare)} {'has' if len(bare) == 1 else 'have'} no checkpoints "
                      "yet, so there is nothing to compare; untick "
                      f"{'it' if len(bare) == 1 else 'them'} or wait for training.")
            return None
        self._say("")
        if self.on_compare is not None:
            self.on_compare(ids)
        return ids

    def __panel__(self):
        return pn.Column(self.hint, self.filters, self.count,
                         pn.pane.Bokeh(self.table, sizing_mode="stretch_width"),
                         pn.Row(self.compare_button, self.open_button),
                         self.message, self.editor, sizing_mode="stretch_width")
