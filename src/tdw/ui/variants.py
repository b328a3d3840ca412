"""The variant table: every variant with its key metrics, sortable; a row opens it.

Columns are generic (parameters, accuracy, checkpoints, analysis completeness, the detected
transition) plus each family's declared ``summaries``. On a Voila page each row also links
to the variant in Explore (:mod:`tdw.ui.links`), to open in a new tab or share.

The table is Bokeh's ``DataTable`` on a plain ``ColumnDataSource``, not Panel's Tabulator:
Tabulator needs pandas (and with it pyarrow), about 60 MB in every served kernel, for a
table of a few dozen rows.
"""

from __future__ import annotations

from typing import Any

import panel as pn
import param

from tdw.errors import TdwError
from tdw.explore.jupyter import served_by_voila
from tdw.explore.variant import Variant
from tdw.family.registry import families
from tdw.store.store import Store
from tdw.ui.links import Link

__all__ = ["VariantTable", "variant_rows"]

Row = dict[str, Any]

PERCENT_COLUMNS = ("train acc %", "test acc %", "analysed %")
_WIDTHS = {"variant": 330, "parameters": 300, "transition confidence": 130, "link": 70}

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


def _summary(variant: Variant, analyzer: str, attr: str) -> Any:
    try:
        epoch = variant.epochs[-1] if variant.epochs else None
        value = variant.artifact(analyzer, epoch).attrs.get(attr)
    except TdwError:
        return None
    return ", ".join(map(str, value)) if isinstance(value, list | tuple) else value


def _percent(fraction: float | None) -> float | None:
    return None if fraction is None else round(100 * fraction, 1)


def variant_rows(store: Store) -> list[Row]:
    """One row per variant, as a dict: what the table shows."""
    rows = []
    for record in store.variants():
        fam = families().get(record.family)
        checkpoints = len(store.checkpoints(record.id))
        row: Row = {
            "variant": record.id, "state": record.state,
            "parameters": ", ".join(f"{k}={v}" for k, v in record.params.items()
                                    if fam is None or fam.param(k).identity
                                    or v != fam.param(k).default),
            "epochs": record.epochs_done, "checkpoints": checkpoints,
            "train acc %": _percent(record.final_train_acc),
            "test acc %": _percent(record.final_test_acc),
            "transition epoch": None, "transition confidence": None, "analysed %": 0.0}
        if fam is not None and checkpoints:
            variant = Variant(record.id, store)
            if turn := variant.turn():
                row["transition epoch"], row["transition confidence"] = turn[0], round(turn[1], 2)
            have, expected = variant.analysed()
            row["analysed %"] = _percent(min(have / expected, 1.0) if expected else 1.0)
            if (story := variant.story()) is not None:
                row["story"] = story["label"]
                for phase, window in story["windows"].items():
                    row[f"{phase} epochs"] = f"{window[0]}-{window[1]}" if window else None
                if "first_mover" in story:
                    row["first mover"] = story["first_mover"]
            for label, analyzer, attr in fam.summaries:
                row[label] = _summary(variant, analyzer, attr)
        rows.append(row)
    return rows


def _columns_of(rows: list[Row]) -> list[str]:
    """Every column any row has, in first-seen order."""
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    return list(names)


class VariantTable(pn.viewable.Viewer):
    """A sortable table of every variant; ``selected`` is the id of the clicked row.

    ``rows`` holds what the table shows (one dict per variant, in the table's order).
    """

    selected = param.String(default="", doc="The variant of the last selected row.")

    def __init__(self, store: Store, *, links: bool | None = None, **params: Any):
        from bokeh.models import ColumnDataSource, DataTable

        super().__init__(**params)
        self.store = store
        self.links = served_by_voila() if links is None else links
        """Whether rows link to Explore (default: on a Voila page, whose URL a link extends)."""
        self.rows: list[Row] = []
        self.source = ColumnDataSource(data={})
        self.table = DataTable(source=self.source, columns=[], index_position=None,
                               sortable=True, selectable=True, reorderable=False,
                               row_height=26,  # (autosize "fit_viewport" throws in BokehJS 3.9)
                               sizing_mode="stretch_width", height=260,
                               css_classes=["tdw-variant-table"],
                               stylesheets=[_BAR_STYLE])
        self.source.selected.on_change("indices", self._select)
        self.hint = pn.pane.Markdown("Click a row to open it in Explore.", margin=(0, 10))
        self.refresh()

    def refresh(self) -> None:
        """Re-read the store; the table keeps its columns when they have not changed."""
        from bokeh.models import HTMLTemplateFormatter, StringFormatter, TableColumn

        self.rows = variant_rows(self.store)
        names = _columns_of(self.rows) or ["variant"]
        if self.links:
            names = ["link", *names]
        if [c.field for c in self.table.columns] != names:
            self.table.columns = [
                TableColumn(field=name, title=name, sortable=name != "link",
                            formatter=HTMLTemplateFormatter(template=_BAR)
                            if name in PERCENT_COLUMNS else HTMLTemplateFormatter(
                                template=_LINK) if name == "link" else StringFormatter(),
                            width=_WIDTHS.get(name, 110 if name in PERCENT_COLUMNS else 90))
                for name in names]
        links = [Link(tab="Explore", variant=row["variant"]).query() for row in self.rows]
        self.source.data = {name: links if name == "link" else [row.get(name) for row in self.rows]
                            for name in names}
        self.table.height = min(60 + 26 * len(self.rows), 600)

    def select_row(self, index: int) -> None:
        """Select row ``index`` (as a click on it would)."""
        self.source.selected.indices = [index]

    def _select(self, attr: str, old: list[int], new: list[int]) -> None:
        if new:
            self.selected = str(self.source.data["variant"][new[0]])

    def __panel__(self):
        return pn.Column(self.hint, pn.pane.Bokeh(self.table, sizing_mode="stretch_width"),
                         sizing_mode="stretch_width")
