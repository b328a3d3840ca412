"""Compare 2-4 variants side by side on one synced slider.

The slider's position is an epoch, or, aligned by turn, epochs since each variant's
detected turn; each variant shows its checkpoint nearest that position. The cross-epoch
summaries (each view's :class:`~tdw.family.views.Trace`) are overlaid, one line per variant, on the
same alignment, with the slider position marked.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import panel as pn
import param

from tdw.errors import TdwError
from tdw.explore.jupyter import ensure_extension
from tdw.explore.variant import Variant
from tdw.explore.viewpane import ViewPane
from tdw.family import plot as _plot
from tdw.store.store import Store

__all__ = ["Compare", "aligned_positions", "MAX_VARIANTS"]

MAX_VARIANTS = 4
DEFAULT_VIEWS = 3
"""Per-checkpoint views shown side by side until the user picks others."""


def _offset(variant: Variant, align: str) -> int:
    if align == "turn":
        turn = variant.turn()
        if turn is None:
            raise TdwError(f"{variant.id} has no detected turn (analyse it, or align by epoch)")
        return turn[0]
    return 0


def aligned_positions(variants: list[Variant], align: str) -> list[int]:
    """Every slider position: the union of the variants' checkpoint epochs, shifted by
    each variant's turn when ``align == "turn"``."""
    positions = set()
    for v in variants:
        positions.update(e - _offset(v, align) for e in v.epochs)
    return sorted(positions)


class Compare(pn.viewable.Viewer):
    """Several variants on one slider, with their summaries overlaid.

    Args:
        variants: 2-4 variants or variant ids (of one family or several).
        store: the store, for ids.
        views: names of the views shown per variant (default: the first family's first
            two per-checkpoint views they all share).
        align: ``"epoch"`` or ``"turn"``.
    """

    align = param.Selector(default="epoch", objects=["epoch", "turn"])
    position = param.Integer(default=0)

    def __init__(self, variants: list[Variant | str], store: Store | str | None = None, *,
                 views: list[str] | None = None, align: str = "epoch", **params: Any):
        ensure_extension()
        if not 2 <= len(variants) <= MAX_VARIANTS:
            raise TdwError(f"compare 2 to {MAX_VARIANTS} variants, not {len(variants)}")
        self.variants = [v if isinstance(v, Variant) else Variant(v, store) for v in variants]
        if align == "turn":
            for v in self.variants:
                _offset(v, "turn")
        super().__init__(align=align, **params)
        waiting = [v.waiting() for v in self.variants]
        shared = [name for name in self.variants[0].views()
                  if all(name in v.views() and name not in w
                         for v, w in zip(self.variants, waiting, strict=True))]
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
        self.columns: list[list[ViewPane]] = []
        self._build_columns()
        self.view_picker.param.watch(self._set_views, "value")
        self.slider = pn.widgets.DiscreteSlider(label="epoch", options=[0], value=0,
                                                sizing_mode="stretch_width")
        self.align_widget = pn.widgets.RadioButtonGroup(
            options={"align by epoch": "epoch", "align by turn": "turn"}, value=align)
        self.align_widget.param.watch(self._set_align, "value")
        self.status = pn.pane.Markdown("", margin=(0, 10))
        self.overlays = self._build_overlays(shared)
        self.slider.param.watch(lambda e: setattr(self, "position", e.new), "value")
        self.param.watch(lambda e: self._show(), "position")
        self._reset_slider()

    # -------------------------------------------------------------- logic
    def epochs_at(self, position: int) -> list[int]:
        """Each variant's checkpoint nearest ``position`` under the current alignment."""
        out = []
        for v in self.variants:
            target = position + _offset(v, self.align)
            out.append(v.epochs[_plot.nearest_index(v.epochs, target)])
        return out

    def take_place_of(self, old: Compare) -> None:
        """Show what ``old`` showed: its views (those still comparable), its alignment and
        the slider position nearest its own (used when the variants gained checkpoints)."""
        views = [n for n in old.view_names if n in self.view_picker.options]
        if views and views != self.view_names:
            self.view_picker.value = views
        if old.align != self.align:
            self.align_widget.value = old.align
        options = self.slider.options
        if options:
            self.slider.value = min(options, key=lambda x: abs(x - old.position))

    def _set_align(self, event: param.parameterized.Event) -> None:
        try:
            for v in self.variants:
                _offset(v, event.new)
        except TdwError as exc:
            self.status.object = f"**{exc}**"
            self.align_widget.value = event.old
            return
        self.align = event.new
        self._reset_slider()
        self._redraw_overlays()

    def _reset_slider(self) -> None:
        positions = aligned_positions(self.variants, self.align)
        self.slider.label = "epoch" if self.align == "epoch" else "epochs since turn"
        self.slider.options = positions
        value = positions[-1]
        if self.slider.value != value:
            self.slider.value = value
        else:
            self.position = value
        self._show()

    def _build_columns(self) -> None:
        """One pane per (variant, chosen view); panes of views still chosen are kept."""
        old = {(col, p.name): p for col, panes in enumerate(self.columns) for p in panes}
        self.columns = [[old.get((col, n)) or ViewPane(v, v._view(n), v.epochs[-1])
                         for n in self.view_names] for col, v in enumerate(self.variants)]
        self.side.objects = [
            pn.Column(pn.pane.Markdown(f"**{v.id}**"),
                      *[pn.pane.Bokeh(p.figure) for p in panes])
            for v, panes in zip(self.variants, self.columns, strict=True)]

    def _set_views(self, event: param.parameterized.Event) -> None:
        self.view_names = list(event.new)
        self._build_columns()
        self._show()

    def _show(self) -> None:
        epochs = self.epochs_at(self.position)
        for panes, epoch in zip(self.columns, epochs, strict=True):
            for pane in panes:
                pane.show(epoch)
        for _, marker in self.overlays:
            marker.data = {"x": [self.position]}
        self.status.object = " · ".join(f"{v.id.split('/')[-1]}: epoch {e}"
                                        for v, e in zip(self.variants, epochs, strict=True))

    # ------------------------------------------------------------- overlays
    def _build_overlays(self, shared: list[str]) -> list[tuple[Any, Any]]:
        from bokeh.models import ColumnDataSource

        out = []
        first = self.variants[0]
        for name in shared:
            view = first._view(name)
            if view.trace is None:
                continue
            fig = _plot.figure(f"{view.title}: {view.trace.label}", x_label="epoch",
                               y_label=view.trace.label, width=460, height=330,
                               y_axis_type="log" if view.trace.log else "linear")
            fig.name = f"overlay:{name}"
            for i, _v in enumerate(self.variants):
                src = ColumnDataSource({"x": [], "y": []}, name=f"overlay:{name}:{i}")
                fig.line("x", "y", source=src, color=_plot.PALETTE[i], line_width=1.5,
                         legend_label=_v.id.split("/")[-1])
            marker = ColumnDataSource({"x": [0]})
            _plot.current_epoch_band(fig, marker)
            _plot.legend_outside(fig, side="below")
            out.append((fig, marker))
        self._traces = [n for n in shared if first._view(n).trace is not None]
        self._redraw_overlays(out)
        return out

    def _redraw_overlays(self, overlays: list | None = None) -> None:
        overlays = self.overlays if overlays is None else overlays
        for (fig, _), name in zip(overlays, self._traces, strict=True):
            for i, v in enumerate(self.variants):
                view = v._view(name)
                x, y = view.trace.values(v.context(v.epochs[-1]))
                x = np.asarray(x, dtype=np.float64) - _offset(v, self.align)
                fig.renderers[i].data_source.data = {"x": x, "y": np.asarray(y, np.float64)}
            fig.xaxis.axis_label = "epoch" if self.align == "epoch" else "epochs since turn"

    def __panel__(self):
        header = pn.Column(pn.Row(self.align_widget, self.status), self.slider,
                           self.view_picker, sizing_mode="stretch_width")
        overlays = pn.Card(pn.FlexBox(*[pn.pane.Bokeh(f) for f, _ in self.overlays]),
                           title="Summaries overlaid", sizing_mode="stretch_width")
        return pn.Column(header, self.side, overlays, sizing_mode="stretch_width")
