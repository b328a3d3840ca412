"""Editing a variant's tags and note under the Variants table (as ``tdw tag`` and ``tdw
note`` do from the command line).

The editor shows the one selected variant's tags (words separated by spaces or commas)
and note; Save writes both together (:func:`tdw.store.annotations.annotate`), or, if a
tag is not a tag, nothing, and says why.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import panel as pn

from tdw.errors import TdwError
from tdw.store import annotations
from tdw.store.store import Store

__all__ = ["NoteEditor"]


class NoteEditor(pn.viewable.Viewer):
    """Tags and note of one variant, with Save; ``on_saved(variant)`` is called after a
    save."""

    def __init__(self, store: Store, *, on_saved: Callable[[str], None] | None = None,
                 **params: Any):
        super().__init__(**params)
        self.store, self.on_saved = store, on_saved
        self.variant = ""
        self.title = pn.pane.Markdown("", margin=(0, 10))
        self.tags = pn.widgets.TextInput(label="tags", placeholder="e.g. baseline seed-sweep",
                                         width=320, css_classes=["tdw-variant-tags"])
        self.note = pn.widgets.TextAreaInput(label="note", placeholder="what you noticed",
                                             height=80, sizing_mode="stretch_width",
                                             css_classes=["tdw-variant-note"])
        self.save = pn.widgets.Button(label="Save tags and note", width=170, margin=(22, 10),
                                      css_classes=["tdw-variant-save"])
        self.save.on_click(lambda event: self.save_now())
        self.status = pn.pane.HTML("", margin=(0, 10))
        self.show("")

    def show(self, variant: str) -> None:
        """Edit ``variant`` ("" or an id the store lacks: nothing to edit)."""
        notes = None
        if variant:
            try:
                notes = annotations.annotation(self.store.catalog, self.store.variant(variant).id)
            except TdwError:
                variant = ""
        self.variant = variant
        self.tags.value = " ".join(notes.tags) if notes else ""
        self.note.value = notes.note if notes else ""
        for widget in (self.tags, self.note, self.save):
            widget.disabled = not variant
        self.title.object = (f"**Tags and note of** `{variant}`" if variant else
                             "Select one variant to edit its tags and note.")
        self.status.object = ""

    def save_now(self) -> bool:
        """Write the tags and note shown; whether it worked (else the status says why)."""
        if not self.variant:
            return False
        words = [w for w in re.split(r"[\s,]+", self.tags.value or "") if w]
        try:
            notes = annotations.annotate(self.store.catalog, self.variant, tags=words,
                                         note=self.note.value or "")
        except TdwError as exc:
            self.status.object = (f"<span class='tdw-note-status' style='color:#b00'>"
                                  f"{html.escape(str(exc))}</span>")
            return False
        self.tags.value = " ".join(notes.tags)
        self.status.object = "<span class='tdw-note-status' style='color:#2ca02c'>saved</span>"
        if self.on_saved:
            self.on_saved(self.variant)
        return True

    def __panel__(self):
        return pn.Column(self.title, pn.Row(self.tags, self.save, self.status), self.note,
                         sizing_mode="stretch_width")
