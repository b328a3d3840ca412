"""Compare 2-4 variants side by side on one player.

The player's position is an epoch, or, aligned by transition, epochs since each variant's
detected transition; each variant shows its checkpoint nearest that position. The
cross-epoch summaries (each view's :class:`~tdw.family.views.Trace`) are overlaid, one line
per variant, on the same alignment, with the position marked.

A move costs what it costs in the Explorer: the views whose frames fit the client budget
ship them once, and an *index table* (one row per position, one column per variant: the
checkpoint index that variant shows there) lets the browser swap every variant's frame, move
the timeline and the overlays' markers without asking the kernel. The kernel follows along
and answers only for views too large to ship.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import panel as pn
import param

from tdw.errors import TdwError
from tdw.explore.align import (
    ALIGNMENTS,
    aligned_positions,
    alignment,
    epoch_at,
    shared_views,
)
from tdw.explore.align import offset as _offset
from tdw.explore.jupyter import ensure_extension
from tdw.explore.variant import Variant
from tdw.explore.viewpane import ViewPane, frame_swap_args, frame_swap_code
from tdw.family import plot as _plot
from tdw.family.views import View
from tdw.store.store import Store
from tdw.ui.explorer import DEFAULT_CLIENT_BUDGET, draw_view
from tdw.ui.overlays import Overlay
from tdw.ui.player import CheckpointPlayer
from tdw.ui.timeline import scale_for
from tdw.ui.timeline_pane import TimelinePane

__all__ = ["Compare", "aligned_positions", "index_table", "alignment", "MAX_VARIANTS",
           "ALIGNMENTS"]

MAX_VARIANTS = 4
DEFAULT_VIEWS = 3
"""Per-checkpoint views shown side by side until the user picks others."""


def index_table(variants: list[Variant], positions: list[int], align: str
                ) -> dict[str, np.ndarray]:
    """For each position, the index of the checkpoint each variant shows there (its nearest,
    the earlier of a tie): columns ``lane0`` .. ``lane<n-1>`` and ``position``."""
    align = alignment(align)
    table = {"position": np.asarray(positions, dtype=np.int64)}
    for lane, v in enumerate(variants):
        targets = table["position"] + _offset(v, align)
        table[f"lane{lane}"] = np.asarray([_plot.nearest_index(v.epochs, t) for t in targets],
                                          dtype=np.int32)
    return table


class Compare(pn.viewable.Viewer):
    """Several variants on one player, with their summaries overlaid.

    Args:
        variants: 2-4 variants or variant ids (of one family or several).
        store: the store, for ids.
        views: names of the views shown per variant (default: the first family's first
            three per-checkpoint views they all share).
        align: ``"epoch"`` or ``"transition"``.
        client_budget: as for the :class:`~tdw.ui.explorer.Explorer`, per view and variant.
    """

    align = param.Selector(default="epoch", objects=list(ALIGNMENTS))
    position = param.Integer(default=0, doc="The position shown (see the module docstring).")

    def __init__(self, variants: list[Variant | str], store: Store | str | None = None, *,
                 views: list[str] | None = None, align: str = "epoch",
                 client_budget: int = DEFAULT_CLIENT_BUDGET, **params: Any):
        ensure_extension()
        if not 2 <= len(variants) <= MAX_VARIANTS:
            raise TdwError(f"compare 2 to {MAX_VARIANTS} variants, not {len(variants)}")
        self.variants = [v if isinstance(v, Variant) else Variant(v, store) for v in variants]
        align = alignment(align)
        for v in self.variants:
            _offset(v, align)
        super().__init__(align=align, **params)
        self._budget = client_budget
        shared = shared_views(self.variants)
        per_checkpoint = [n for n in shared
                          if self.variants[0]._view(n).scope == "checkpoint"]
        self.view_names = list(views) if views is not None else per_checkpoint[:DEFAULT_VIEWS]
        unknown = [n for n in self.view_names if n not in shared]
        if unknown:
            raise TdwError(f"cannot compare {', '.join(unknown)}: every variant needs it "
                           f"analysed; comparable views: {', '.join(shared)}")
        self.view_picker = pn.widgets.MultiChoice(label="views side by side", options=shared,
                                                  value=self.view_names,
                                                  sizing_mode="stretch_width")
        self.side = pn.Row(sizing_mode="stretch_width", css_classes=["tdw-compare-side"])
        self.errors = pn.Column(sizing_mode="stretch_width")  # views add_view could not draw
        self.columns: list[list[ViewPane]] = []
        self._added: dict[str, View] = {}  # views added from a notebook, by name
        self._ready: dict[tuple[int, str], ViewPane] = {}  # their panes, until placed
        self.align_widget = pn.widgets.RadioButtonGroup(
            options={"align by epoch": "epoch", "align by transition": "transition"},
            value=align)
        self.status = pn.pane.Markdown("", margin=(0, 10))
        self.controls = pn.Column(sizing_mode="stretch_width")
        self.overlays = [Overlay(n, self.variants) for n in shared
                         if self.variants[0]._view(n).trace is not None]
        self.positions = aligned_positions(self.variants, self.align)
        self.position = self.positions[-1]
        self._build_columns()
        self._build_controls()
        self.view_picker.param.watch(self._set_views, "value")
        self.align_widget.param.watch(self._set_align, "value")
        self.param.watch(self._on_position, "position")

    def add_view(self, view: View) -> list[ViewPane] | None:
        """Show ``view`` for every variant, side by side and moving with the player like the
        built-in views: a view written in a notebook with the public view API (see
        :meth:`Explorer.add_view <tdw.ui.explorer.Explorer.add_view>`). It joins the
        views picker, so it can be hidden and shown again.

        A view that cannot be drawn for some variant (it reads artifacts that variant
        lacks, or its code raises) is shown as that error in a card of its own under the
        columns; the rest of the page is untouched. Returns its panes, one per variant, or
        None when it could not be drawn.
        """
        if view.name in self.view_picker.options or view.name in self._added:
            raise TdwError(f"this comparison already offers a view named {view.name!r}; "
                           "give yours another name")
        panes, problems = [], []
        for v, epoch in zip(self.variants, self.epochs_at(self.position), strict=True):
            pane, problem = draw_view(v, view, epoch, client_budget=self._budget)
            if pane is None:
                problems.append(f"{_short(v)} {problem}")
            else:
                panes.append(pane)
        if problems:
            self.errors.append(pn.pane.Alert(
                f"**{view.name}** {html.escape('; '.join(problems))}", alert_type="danger",
                css_classes=["tdw-view-error"], sizing_mode="stretch_width"))
            return None
        self._added[view.name] = view
        self._ready.update({(col, view.name): pane for col, pane in enumerate(panes)})
        self.view_picker.options = [*self.view_picker.options, view.name]
        self.view_picker.value = [*self.view_picker.value, view.name]  # builds the columns
        return panes

    # -------------------------------------------------------------- logic
    def epochs_at(self, position: int) -> list[int]:
        """Each variant's checkpoint nearest ``position`` under the current alignment."""
        return [epoch_at(v, position, self.align) for v in self.variants]

    def note(self, position: int) -> str:
        """What the caption says of ``position``: the checkpoint each variant shows."""
        return " · ".join(f"{_short(v)} at epoch {e}" for v, e in
                          zip(self.variants, self.epochs_at(position), strict=True))

    @property
    def caption(self) -> str:
        """What the page says of the current position (the timeline's caption)."""
        return self.timeline.caption_text()

    def take_place_of(self, old: Compare) -> None:
        """Show what ``old`` showed: its views (those still comparable), its alignment and
        the position nearest its own (used when the variants gained checkpoints)."""
        views = [n for n in old.view_names if n in self.view_picker.options]
        if views and views != self.view_names:
            self.view_picker.value = views
        if old.align != self.align:
            self.align_widget.value = old.align
        self.position = old.position

    # ------------------------------------------------------------- wiring
    def _on_position(self, event: param.parameterized.Event) -> None:
        """A position set from Python (or the player): land on the nearest position, move the
        player (the page then moves everything else) and the kernel's copies of the panes."""
        index = _plot.nearest_index(self.positions, event.new)
        if self.positions[index] != event.new:
            self.position = self.positions[index]
        else:
            self._follow(index)

    def _follow(self, index: int) -> None:
        if self.player.value != index:
            self.player.value = index
        with param.discard_events(self.timeline):
            self.timeline.value = self.position
        for panes, epoch in zip(self.columns, self.epochs_at(self.position), strict=True):
            for pane in panes:
                if pane.client_side:
                    pane.epoch = epoch  # the browser already swapped its frame
                elif pane.epoch != epoch:
                    pane.show(epoch)

    def _on_player(self, event: param.parameterized.Event) -> None:
        self.position = self.positions[event.new]

    def _on_timeline(self, event: param.parameterized.Event) -> None:
        if event.new in self.positions and event.new != self.position:
            self.position = event.new

    def _set_align(self, event: param.parameterized.Event) -> None:
        new = alignment(event.new)
        try:
            for v in self.variants:
                _offset(v, new)
        except TdwError as exc:
            self.status.object = f"**{exc}**"
            self.align_widget.value = event.old
            return
        self.status.object = ""
        # Keep the first variant at the checkpoint it shows.
        epoch = self.epochs_at(self.position)[0]
        self.align = new
        self.positions = aligned_positions(self.variants, new)
        self._build_controls(epoch - _offset(self.variants[0], new))

    def _set_views(self, event: param.parameterized.Event) -> None:
        self.view_names = list(event.new)
        self._build_columns()
        self._build_controls(self.position)

    # -------------------------------------------------------------- build
    def _build_columns(self) -> None:
        """One pane per (variant, chosen view); panes of views still chosen are kept."""
        old = {(col, p.name): p for col, panes in enumerate(self.columns) for p in panes}
        old.update(self._ready)
        self._ready.clear()
        epochs = self.epochs_at(self.position)
        self.columns = [[old.get((col, n)) or ViewPane(v, self._added.get(n) or v._view(n),
                                                       epochs[col], client_budget=self._budget)
                         for n in self.view_names] for col, v in enumerate(self.variants)]
        for panes, epoch in zip(self.columns, epochs, strict=True):
            for pane in panes:
                if pane.epoch != epoch:
                    pane.show(epoch)
        self.side.objects = [
            pn.Column(pn.pane.Markdown(f"**{v.id}**"),
                      *[pn.pane.Bokeh(p.figure) for p in panes])
            for v, panes in zip(self.variants, self.columns, strict=True)]

    def _build_controls(self, position: int | None = None) -> None:
        """A player over the positions, a timeline captioned with each variant's checkpoint,
        and the browser-side link that moves every client-side view, the timeline and the
        overlays' markers on a move (built anew when the views or the alignment change)."""
        from bokeh.models import ColumnDataSource

        positions = self.positions
        start = _plot.nearest_index(positions, self.position if position is None else position)
        table = ColumnDataSource(index_table(self.variants, positions, self.align),
                                 name="tdw:index-table")
        scale = scale_for(positions) if self.align == "epoch" else "linear"
        self.timeline = TimelinePane(epochs=positions, value=positions[start],
                                     unit=ALIGNMENTS[self.align], caption=True, scale=scale,
                                     notes=[self.note(p) for p in positions])
        offsets = [_offset(v, self.align) for v in self.variants]
        for overlay in self.overlays:
            overlay.draw(offsets, positions, ALIGNMENTS[self.align])
            overlay.show(positions[start])
        self.player = CheckpointPlayer(
            label="position", start=0, end=len(positions) - 1, value=start,
            code=frame_swap_code("source.value") + _MOVE_JS,
            args=frame_swap_args(self.columns, table, rows=self.overlays),
            timeline_name=self.timeline.model_name)
        self.player.param.watch(self._on_player, "value")
        self.timeline.param.watch(self._on_timeline, "value")
        self.controls.objects = [self.player, self.timeline]
        with param.discard_events(self):
            self.position = positions[start]
        self._follow(start)

    def __panel__(self):
        # Browser-side swaps are not echoed to Python: bring the client-side sources and the
        # markers up to the current position before (re)displaying them.
        for panes, epoch in zip(self.columns, self.epochs_at(self.position), strict=True):
            for pane in panes:
                if pane.client_side:
                    pane.show(epoch)
        for overlay in self.overlays:
            overlay.show(self.position)
        header = pn.Column(pn.Row(self.align_widget, self.status), self.controls,
                           self.view_picker, sizing_mode="stretch_width")
        overlays = pn.Card(pn.GridBox(*[o.panel() for o in self.overlays], ncols=3),
                           title="Summaries overlaid", sizing_mode="stretch_width")
        return pn.Column(header, self.side, self.errors, overlays, sizing_mode="stretch_width")


def _short(variant: Variant) -> str:
    return variant.id.split("/")[-1]


_MOVE_JS = """
// Not sent back: the kernel follows the player itself (see Explorer._TIMELINE_JS).
const position = index_table.data.position[Math.max(0, Math.min(row,
  index_table.get_length() - 1))];
if (timeline != null && timeline.data != null && timeline.data.value !== position) {
  timeline.data.setv({value: position}, {sync: false});
}
"""
