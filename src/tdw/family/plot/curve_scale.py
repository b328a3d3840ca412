"""A curve figure's y scale switched between linear and log, and its smoothing redrawn, in
Python and in the browser alike.

Bokeh cannot change a figure's ``y_axis_type`` after creation, but BokehJS (3.x) does follow
a new ``y_scale`` model: it rebuilds the frame's scales and every renderer's coordinates.
:class:`ScaleSwitch` therefore keeps two sets of models for a figure, a scale, a ticker and
a tick formatter each (the figure's own for the mode it was drawn in, fresh ones for the
other), and a switch swaps the figure's ``y_scale``, its y axes' ticker and formatter and
its y grids' ticker, then sets the y range:

* a range the view fixed (a ``Range1d``, e.g. ``y_range=(0, 1)``; recorded when the figure
  was drawn, :data:`FIXED_TAG`) comes back on linear; on log it spans the curves' data;
* a range with both ends set, or of a figure whose ranges are held (by
  :mod:`tdw.explore.ranges`; the page then never ranges it itself), spans the curves'
  data (their raw and smoothed columns) in the new mode, padded like a held range;
* an automatic range is left to BokehJS, which ranges a log scale over positive values.

On a log scale, points at or below zero (an accuracy of 0) are simply not drawn. With no
positive value at all the log range is 0.1 to 10.

:data:`CURVES_JS` does all of this in the page (:meth:`ScaleSwitch.js_args`), so the
dashboards' smoothing slider and log toggle redraw without asking the kernel: it recomputes
each tagged smoothed column from its raw one (:data:`SMOOTH_TAG`,
:data:`~tdw.family.plot.smoothing.EMA_JS`) and swaps the scale. Its changes are not sent
back; the kernel applies the same settings itself (:mod:`tdw.ui.curve_controls`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tdw.family.plot.smoothing import EMA_JS

__all__ = ["ScaleSwitch", "CURVES_JS", "SMOOTH_TAG", "FIXED_TAG", "curve_sources",
           "curve_extent", "padded", "record_fixed_range"]

SMOOTH_TAG = "tdw:smooth:"
"""Tag prefix on a source with a smoothed column: ``tdw:smooth:<raw column>:<smoothed>``."""
FIXED_TAG = "tdw:y-fixed:"
"""Tag prefix on a curve figure whose view fixed its linear y range: ``...:<start>:<end>``."""
HELD_TAG = "tdw:held"
"""Tag of a figure whose ranges the page never recomputes (:mod:`tdw.explore.viewpane`):
its y range is always set here."""
NO_POSITIVE = (0.1, 10.0)
"""The log range of curves without a positive value."""


def record_fixed_range(fig: Any) -> None:
    """Tag ``fig`` with the y range its view fixed, if any (before anything else sets it)."""
    from bokeh.models import DataRange1d, Range1d

    rng = fig.y_range
    ends = (rng.start, rng.end)
    fixed = isinstance(rng, Range1d) or (isinstance(rng, DataRange1d) and all(
        isinstance(v, int | float) and math.isfinite(v) for v in ends))
    if fixed and not any(str(t).startswith(FIXED_TAG) for t in fig.tags):
        fig.tags = [*fig.tags, f"{FIXED_TAG}{float(ends[0])!r}:{float(ends[1])!r}"]


def _fixed_range(fig: Any) -> tuple[float, float] | None:
    for tag in map(str, fig.tags):
        if tag.startswith(FIXED_TAG):
            start, end = tag[len(FIXED_TAG):].split(":")
            return float(start), float(end)
    return None


def _pairs(source: Any) -> list[tuple[str, str]]:
    return [tuple(str(t)[len(SMOOTH_TAG):].split(":", 1)) for t in source.tags
            if str(t).startswith(SMOOTH_TAG)]


def curve_sources(fig: Any) -> list[Any]:
    """The sources of ``fig``'s renderers that hold a smoothed column, each once."""
    from bokeh.models import GlyphRenderer

    found: dict[str, Any] = {}
    for renderer in fig.renderers:
        if isinstance(renderer, GlyphRenderer) and _pairs(renderer.data_source):
            found.setdefault(renderer.data_source.id, renderer.data_source)
    return list(found.values())


def curve_extent(sources: list[Any]) -> tuple[float, float, float]:
    """``(low, high, lowest positive)`` of the raw and smoothed columns of ``sources``
    (NaN where there is none)."""
    parts = [np.empty(0)]
    for source in sources:
        for raw, smooth in _pairs(source):
            for column in (raw, smooth):
                values = source.data.get(column, [])
                flat = isinstance(values, np.ndarray) and values.ndim == 1
                lines = [values] if flat or not any(np.ndim(v) > 0 for v in values) else values
                parts += [np.asarray(line, dtype=np.float64).ravel() for line in lines]
    values = np.concatenate(parts)
    values = values[np.isfinite(values)]
    if not values.size:
        return math.nan, math.nan, math.nan
    positive = values[values > 0]
    return (float(values.min()), float(values.max()),
            float(positive.min()) if positive.size else math.nan)


def padded(low: float, high: float, padding: float, log: bool) -> tuple[float, float]:
    """``low``..``high`` widened by ``padding`` of the span (in decades on a log axis), as
    :mod:`tdw.explore.ranges` pads a held range."""
    if log:
        a, b = math.log10(low), math.log10(high)
        pad = (b - a) * padding / 2 or 0.5
        return 10 ** (a - pad), 10 ** (b + pad)
    pad = (high - low) * padding / 2 or max(abs(low) * 0.05, 0.5)
    return low - pad, high + pad


class ScaleSwitch:
    """The linear and log y scales of a curve figure, and the switch between them.

    Args:
        fig: a figure drawn with the curve kit (:func:`~tdw.family.plot.curves.curve`,
            :func:`~tdw.family.plot.curves.finish_curves`).
    """

    def __init__(self, fig: Any):
        from bokeh.models import (
            BasicTicker,
            BasicTickFormatter,
            ContinuousAxis,
            Grid,
            LinearScale,
            LogScale,
            LogTicker,
            LogTickFormatter,
        )

        self.figure = fig
        self.axes = [a for a in (*fig.left, *fig.right)
                     if isinstance(a, ContinuousAxis) and a.y_range_name == "default"]
        self.grids = [g for g in fig.center if isinstance(g, Grid) and g.dimension == 1
                      and g.y_range_name == "default"]
        first = self.axes[0] if self.axes else None
        current = (fig.y_scale, getattr(first, "ticker", None), getattr(first, "formatter", None))
        if isinstance(fig.y_scale, LogScale):
            self.models = {True: current,
                           False: (LinearScale(), BasicTicker(), BasicTickFormatter())}
        else:
            self.models = {False: current,
                           True: (LogScale(), LogTicker(), LogTickFormatter())}
        self.fixed = _fixed_range(fig)

    @property
    def log(self) -> bool:
        """Whether the figure shows a log scale."""
        from bokeh.models import LogScale

        return isinstance(self.figure.y_scale, LogScale)

    def apply(self, log: bool) -> None:
        """Show the log (or linear) scale, and the y range for it (module docstring)."""
        scale, ticker, formatter = self.models[bool(log)]
        for axis in self.axes:
            axis.update(ticker=ticker, formatter=formatter)
        for grid in self.grids:
            grid.ticker = ticker
        self.figure.y_scale = scale
        self.refresh()

    def refresh(self) -> None:
        """Set the y range again for the curves' current data (after new smoothing, say)."""
        from bokeh.models import Range1d

        rng, log = self.figure.y_range, self.log
        if self.fixed is not None and not log:
            bounds: tuple[float, float] | None = self.fixed
        elif (self.fixed is None and not isinstance(rng, Range1d) and not _explicit(rng)
              and HELD_TAG not in self.figure.tags):
            bounds = None  # automatic: BokehJS ranges it
        else:
            bounds = self.bounds(log)
        if bounds is None:
            return
        rng.update(start=bounds[0], end=bounds[1])
        if isinstance(rng, Range1d):  # the reset tool comes back here, not to the linear range
            rng.update(reset_start=bounds[0], reset_end=bounds[1])

    def bounds(self, log: bool) -> tuple[float, float] | None:
        """The y range the curves' data asks for on the log (or linear) scale; None for
        curves without a finite value on a linear one."""
        low, high, positive = curve_extent(curve_sources(self.figure))
        rng = self.figure.y_range
        units = getattr(rng, "range_padding_units", "percent")
        padding = getattr(rng, "range_padding", 0.1) if units == "percent" else 0.1
        if log:
            return NO_POSITIVE if math.isnan(positive) else padded(positive, high, padding, True)
        return None if math.isnan(low) else padded(low, high, padding, False)

    def js_args(self) -> dict[str, Any]:
        """The arguments :data:`CURVES_JS` reads."""
        return {"figure": self.figure, "sources": curve_sources(self.figure),
                "linear": list(self.models[False]), "logs": list(self.models[True]),
                "axes": self.axes, "grids": self.grids,
                "fixed": list(self.fixed) if self.fixed is not None else None}


def _explicit(rng: Any) -> bool:
    return all(isinstance(v, int | float) and math.isfinite(v) for v in (rng.start, rng.end))


CURVES_JS = EMA_JS + """
// tdw.family.plot.curve_scale: the page's twin of ScaleSwitch, and the smoothing of every
// source tagged tdw:smooth:<raw>:<smoothed>. Nothing here is sent back to the kernel.
const HELD_TAG = "tdw:held", NO_POSITIVE = [0.1, 10];
const columnsOf = (src) => (src.data instanceof Map ? Object.fromEntries(src.data) : {...src.data});
const pairsOf = (src) => (src.tags || []).map(String).filter((t) => t.startsWith("tdw:smooth:"))
  .map((t) => { const rest = t.slice(11), i = rest.indexOf(":");
                return [rest.slice(0, i), rest.slice(i + 1)]; });
const typeOf = (model) => model.constructor.__qualified__ || model.constructor.__name__ || "";
const isLog = () => typeOf(figure.y_scale).endsWith("LogScale");
const smooth = (w) => {
  for (const src of sources) {
    const data = columnsOf(src);
    for (const [raw, out] of pairsOf(src)) {
      if (data[raw] != null) data[out] = tdwSmoothColumn(data[raw], w);
    }
    src.setv({data}, {sync: false});
  }
};
const extent = () => {
  let low = Infinity, high = -Infinity, positive = Infinity;
  const add = (v) => {
    if (v == null || !Number.isFinite(v)) return;
    if (v < low) low = v;
    if (v > high) high = v;
    if (v > 0 && v < positive) positive = v;
  };
  for (const src of sources) {
    const data = columnsOf(src);
    for (const pair of pairsOf(src)) {
      for (const column of pair) {
        const values = data[column] || [];
        if (tdwNested(values)) { for (const line of values) for (const v of line) add(v); }
        else for (const v of values) add(v);
      }
    }
  }
  return [low, high, positive];
};
const padded = (low, high, padding, log) => {
  if (log) {
    const a = Math.log10(low), b = Math.log10(high), pad = (b - a) * padding / 2 || 0.5;
    return [10 ** (a - pad), 10 ** (b + pad)];
  }
  const pad = (high - low) * padding / 2 || Math.max(Math.abs(low) * 0.05, 0.5);
  return [low - pad, high + pad];
};
const setRange = (log) => {
  const rng = figure.y_range;
  const isData = typeOf(rng).endsWith("DataRange1d");
  if (isData) rng.scale_hint = log ? "log" : "auto";
  const withReset = (start, end) => (isData ? {start, end} :
    {start, end, reset_start: start, reset_end: end});  // the reset tool comes back here
  if (fixed != null && !log) {
    rng.setv(withReset(fixed[0], fixed[1]), {sync: false});
    return;
  }
  if (isData && fixed == null && !(figure.tags || []).includes(HELD_TAG)) {
    // an automatic range: BokehJS ranges it for the new scale
    const view = window.Bokeh && Bokeh.index ? Bokeh.index.find_one(figure) : null;
    if (view != null) { view.invalidate_dataranges = true; view.request_repaint(); }
    return;
  }
  const [low, high, positive] = extent();
  const padding = rng.range_padding_units === "absolute" ? 0.1 :
    (rng.range_padding != null ? rng.range_padding : 0.1);
  let bounds = null;
  if (log) bounds = Number.isFinite(positive) ? padded(positive, high, padding, true) : NO_POSITIVE;
  else if (Number.isFinite(low)) bounds = padded(low, high, padding, false);
  if (bounds === null) return;
  rng.setv(withReset(bounds[0], bounds[1]), {sync: false});
};
const setScale = (log) => {
  const [scale, ticker, formatter] = log ? logs : linear;
  for (const axis of axes) axis.setv({ticker, formatter}, {sync: false});
  for (const grid of grids) grid.setv({ticker}, {sync: false});
  figure.setv({y_scale: scale}, {sync: false});
  setRange(log);
};
"""
"""The page's curve code: ``smooth(weight)``, ``setRange(log)``, ``setScale(log)`` and
``isLog()``, over the arguments of :meth:`ScaleSwitch.js_args`. Append the call, e.g.
:data:`SMOOTHING_CODE` or :data:`LOG_CODE`."""

SMOOTHING_CODE = CURVES_JS + "smooth(cb_obj.value);\nsetRange(isLog());\n"
"""Run on a change of a slider's ``value``: smooth every curve with it."""
LOG_CODE = CURVES_JS + "setScale(Boolean(cb_obj.active));\n"
"""Run on a change of a checkbox's ``active``: show the log scale while it is ticked."""
