"""The filters above the Variants table: one per parameter column, one per state, and a
search over ids, tags and notes.

A parameter (or the state) gets a filter when the rows hold at least two values of it: a
select of its values, or "all". The search keeps the rows whose id, tags or note contain
every word typed (case ignored). The filters only decide which rows pass
(:meth:`Filters.passes`); the table rebuilds its source from the rows that do. Each
change bumps ``changed``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import panel as pn
import param

from tdw.ui.variant_rows import Row

__all__ = ["Filters", "ALL", "value_text"]

ALL = "all"
"""The choice of a filter that lets every row pass."""


def value_text(value: Any) -> str:
    """How a cell's value is named in a filter's choices."""
    return "(none)" if value is None else str(value)


def _ordered(values: set[Any]) -> list[Any]:
    """Numbers in numeric order, then anything else by its text."""
    numbers = sorted(v for v in values if isinstance(v, int | float) and not isinstance(v, bool))
    others = sorted((v for v in values if v not in numbers), key=value_text)
    return numbers + others


class Filters(pn.viewable.Viewer):
    """The filter widgets of a table's rows (see the module docstring)."""

    changed = param.Integer(default=0, doc="Bumped whenever a filter changes.")

    def __init__(self, **params: Any):
        super().__init__(**params)
        self.search = pn.widgets.TextInput(label="search id, tags, note",
                                           placeholder="words to find", width=220,
                                           css_classes=["tdw-variant-search"])
        self.search.param.watch(lambda e: self._bump(), "value_input")
        self.selects: dict[str, pn.widgets.Select] = {}
        self.box = pn.FlexBox(self.search, sizing_mode="stretch_width")

    def _bump(self) -> None:
        self.changed += 1

    def update(self, rows: Sequence[Row], columns: Sequence[str]) -> None:
        """Offer a filter for each of ``columns`` with two values or more among ``rows``,
        keeping what the user chose where that is still a choice."""
        choices: dict[str, list[str]] = {}
        for column in columns:
            values = _ordered({row.get(column) for row in rows})
            if len(values) >= 2:
                choices[column] = [ALL, *map(value_text, values)]
        if {c: s.options for c, s in self.selects.items()} == choices:
            return
        selects = {}
        for column, options in choices.items():
            old = self.selects.get(column)
            chosen = old.value if old is not None and old.value in options else ALL
            select = pn.widgets.Select(label=column, options=options, value=chosen, width=120,
                                       css_classes=["tdw-variant-filter"])
            select.param.watch(lambda e: self._bump(), "value")
            selects[column] = select
        dropped = any(s.value != ALL for c, s in self.selects.items() if c not in selects)
        self.selects = selects
        self.box.objects = [self.search, *selects.values()]
        if dropped:
            self._bump()

    def set(self, column: str, value: Any) -> None:
        """Choose ``value`` (a cell value, or :data:`ALL`) in the filter of ``column``."""
        self.selects[column].value = value if value == ALL else value_text(value)

    def words(self) -> list[str]:
        return (self.search.value_input or self.search.value or "").lower().split()

    def passes(self, row: Row) -> bool:
        """Whether ``row`` passes every filter."""
        for column, select in self.selects.items():
            if select.value != ALL and value_text(row.get(column)) != select.value:
                return False
        text = " ".join(str(row.get(c) or "") for c in ("variant", "tags", "note")).lower()
        return all(word in text for word in self.words())

    def active(self) -> bool:
        """Whether any filter hides rows."""
        return bool(self.words()) or any(s.value != ALL for s in self.selects.values())

    def __panel__(self):
        return self.box
