"""One summary of several variants overlaid: a line per variant and the current position.

Compare draws, for each view with a :class:`~tdw.family.views.Trace`, every variant's trace
on one figure, shifted by the alignment, with a dashed line at the current position. The
lines change only when the alignment does; a move changes the marker alone, so the overlay
is drawn like a client-side view (:mod:`tdw.explore.viewpane`): its marker has one frame
per position that the browser swaps in (repainting only overlays on screen), the marker
sits on Bokeh's overlay level, and the axes are held to what the lines and every position
span, so a move never lays the figure out again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tdw.explore.frames import fill, pack
from tdw.explore.ranges import hold_ranges, on_overlay, ranges_fixed
from tdw.explore.viewpane import FRAMES_OF_TAG, HELD_TAG
from tdw.family import plot as _plot

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
        fig = _plot.figure(f"{view.title}: {view.trace.label}", x_label="epoch",
                           y_label=view.trace.label, width=460, height=330,
                           y_axis_type="log" if view.trace.log else "linear")
        fig.name = f"overlay:{name}"
        self.lines = []
        for i, v in enumerate(variants):
            src = ColumnDataSource({"x": [], "y": []}, name=f"overlay:{name}:{i}")
            fig.line("x", "y", source=src, color=_plot.PALETTE[i], line_width=1.5,
                     legend_label=v.id.split("/")[-1])
            self.lines.append(src)
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

    def draw(self, offsets: list[int], positions: list[int], label: str) -> None:
        """Each variant's trace shifted left by its offset (its transition, or 0), a frame of
        the marker per position, and axes that span both."""
        for src, v, offset in zip(self.lines, self.variants, offsets, strict=True):
            x, y = self.trace.values(v.context(v.epochs[-1]))
            src.data = {"x": np.asarray(x, dtype=np.float64) - offset,
                        "y": np.asarray(y, dtype=np.float64)}
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

    def show(self, position: int) -> None:
        """Put the marker at ``position`` from Python (the page moves it itself on a move).
        Always sent, as a patch: Python's copy may equal ``position`` while the page, which
        does not report its moves, shows another."""
        self.marker.patch({"x": [(0, position)]})
