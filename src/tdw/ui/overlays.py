"""One summary of several variants overlaid: a line per variant and the current position.

Compare draws, for each view with a :class:`~tdw.family.views.Trace`, every variant's trace
on one figure, shifted by the alignment, with a dashed line at the current position. The
lines change only when the alignment does; a move changes the marker alone, so the overlay
is drawn like a client-side view (:mod:`tdw.explore.viewpane`): its marker has one frame
per position that the browser swaps in (repainting only overlays on screen), the marker
sits on Bokeh's overlay level, and the axes are held to what the lines and every position
span, so a move never lays the figure out again.

Each overlay has the curve controls of a view's card (:mod:`tdw.ui.curve_controls`): a
smoothing slider (each variant's line faint, its EMA over it) and a log-y checkbox, which
start from the trace's own scale and redraw in the browser.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import panel as pn

from tdw.explore.frames import fill, pack
from tdw.explore.ranges import hold_ranges, on_overlay, ranges_fixed
from tdw.explore.viewpane import FRAMES_OF_TAG, HELD_TAG
from tdw.family import plot as _plot
from tdw.ui.curve_controls import CurveWidgets

if TYPE_CHECKING:
    from tdw.explore.variant import Variant

__all__ = ["Overlay"]


class Overlay:
    """The overlaid traces of view ``name`` for ``variants`` (colours in their order).

    It quacks like a client-side :class:`~tdw.explore.viewpane.ViewPane` for
    :func:`~tdw.explore.viewpane.frame_swap_args`: ``frames`` (one row per position),
    ``sources`` and ``figure``.
    """

    client_side = True

    def __init__(self, name: str, variants: list[Variant]):
        from bokeh.models import ColumnDataSource

        self.name = name
        self.variants = variants
        view = variants[0]._view(name)
        self.trace = view.trace
        self.smoothing = 0.0
        """The EMA weight of the lines drawn (0: none; the raw lines stay faint)."""
        fig = _plot.figure(f"{view.title}: {view.trace.label}", x_label="epoch",
                           y_label=view.trace.label, width=460, height=330)
        fig.name = f"overlay:{name}"
        self.lines = []
        for i, v in enumerate(variants):
            src = ColumnDataSource({"x": [], "y": [], "y_smooth": []},
                                   name=f"overlay:{name}:{i}")
            _plot.curve(fig, src, "x", "y", color=_plot.PALETTE[i % len(_plot.PALETTE)],
                        label=v.id.split("/")[-1])
            self.lines.append(src)
        _plot.finish_curves(fig, log=view.trace.log)
        self.marker = ColumnDataSource({"x": [0]}, name=f"overlay-marker:{name}",
                                       syncable=False)
        _plot.current_epoch_band(fig, self.marker)
        _plot.legend_outside(fig, side="below")
        self.frames = {"current": ColumnDataSource(
            name=f"frames:overlay:{name}", syncable=False,
            tags=[f"{FRAMES_OF_TAG}{self.marker.id}"])}
        self.sources = {"current": self.marker}
        self.figure = fig
        self._held: list[Any] = []
        self._on_overlay = False
        self.curves = CurveWidgets(fig, smoothing=self.smoothing, log=view.trace.log,
                                   on_smoothing=self.smooth, owner=name)
        """The overlay's smoothing slider and log-y checkbox."""

    def draw(self, offsets: list[int], positions: list[int], label: str) -> None:
        """Each variant's trace shifted left by its offset (its transition, or 0), a frame of
        the marker per position, and axes that span both."""
        for src, v, offset in zip(self.lines, self.variants, offsets, strict=True):
            x, y = self.trace.values(v.context(v.epochs[-1]))
            y = np.asarray(y, dtype=np.float64)
            src.data = {"x": np.asarray(x, dtype=np.float64) - offset, "y": y,
                        "y_smooth": _plot.ema(y, self.smoothing)}
        fill(self.frames["current"], pack([{"x": [p]} for p in positions]))
        self.figure.xaxis.axis_label = label
        for rng in self._held:
            rng.start = rng.end = float("nan")
        sources = {f"line{i}": src for i, src in enumerate(self.lines)}
        self._held = hold_ranges(self.figure, {**sources, "current": self.marker},
                                 {"current": [{"x": [p]} for p in positions]})
        if not self._on_overlay:  # once: the marker never feeds a legend swatch
            on_overlay(self.figure, [self.marker])
            self._on_overlay = True
        if ranges_fixed(self.figure) and HELD_TAG not in self.figure.tags:
            self.figure.tags = [*self.figure.tags, HELD_TAG]
        self.curves.switch.refresh()  # a log axis over no positive value still gets a range

    def smooth(self, weight: float) -> None:
        """Draw every line's EMA at ``weight`` (0: the lines themselves) over its raw values
        (the page has already drawn it: see :mod:`tdw.ui.curve_controls`)."""
        values = [_plot.ema(src.data["y"], weight) for src in self.lines]  # all or nothing
        self.smoothing = weight
        for src, smoothed in zip(self.lines, values, strict=True):
            src.data["y_smooth"] = smoothed

    def panel(self) -> pn.Column:
        """The overlay's curve controls above its figure."""
        return pn.Column(self.curves, pn.pane.Bokeh(self.figure), margin=0)

    def show(self, position: int) -> None:
        """Put the marker at ``position`` from Python (the page moves it itself on a move).
        Always sent, as a patch: Python's copy may equal ``position`` while the page, which
        does not report its moves, shows another."""
        self.marker.patch({"x": [(0, position)]})
