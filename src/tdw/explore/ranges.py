"""Axes that hold still while the checkpoint moves.

A Bokeh ``DataRange1d`` follows its renderers' data, so an axis whose data moves with the
checkpoint changes its ticks on every move, and new tick labels of another width make
BokehJS lay the whole figure out again: the costliest part of a move. A view whose frames
are shipped to the browser already holds every checkpoint's data, so its axes can span all
checkpoints from the start, at no extra read: :func:`hold_ranges` sets each data range's
``start`` and ``end`` to the union of what every frame (and every static source) draws.

Only the geometry of common glyphs is understood (:data:`X_KEYS`, :data:`Y_KEYS`). A range
that any other glyph feeds stays automatic, as does a range a view set itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["hold_ranges", "ranges_fixed", "on_overlay", "hold_colour_bars", "X_KEYS", "Y_KEYS"]

X_KEYS = ("x", "x0", "x1", "xs", "left", "right")
"""Glyph properties that place a glyph along x (``image`` also spans ``dw``)."""
Y_KEYS = ("y", "y0", "y1", "ys", "top", "bottom")
"""Glyph properties that place a glyph along y (``image`` also spans ``dh``)."""

TWIN_TAG = "tdw:legend-twin"
"""Tag of the static twin a legend item points at instead of a moved renderer."""

_SIZED = {"Image": ("dw", "dh"), "ImageRGBA": ("dw", "dh")}
_CENTRED = {"VBar": ("width", None), "HBar": (None, "height"), "Rect": ("width", "height")}
_POINT_GLYPHS = {"Scatter", "Circle", "Line", "MultiLine", "Step", "VBar", "HBar", "Quad",
                 "Segment", "Rect", "Image", "ImageRGBA", "Patch", "Patches", "VArea",
                 "HArea", "VSpan", "HSpan", "VStrip", "HStrip"}


def _spec(value: Any) -> tuple[str, Any] | None:
    """("field", name) or ("value", number) of a glyph property; None if it is anything else
    (a transform, an expression)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return "value", value
    if isinstance(value, str):
        return "field", value
    if isinstance(value, dict) and set(value) == {"field"}:
        return "field", value["field"]
    if isinstance(value, dict) and set(value) == {"value"}:
        return _spec(value["value"])
    field, extra = getattr(value, "field", None), (getattr(value, "transform", None),
                                                   getattr(value, "units", None))
    return ("field", field) if isinstance(field, str) and extra[0] is None else None


def _values(value: Any, columns: Iterable[Mapping[str, Any]]) -> list[np.ndarray] | None:
    """Every number a glyph property takes over ``columns`` (one mapping per frame), or
    None when it cannot be known (a transform, a missing or categorical column)."""
    spec = _spec(value)
    if spec is None:
        return None
    if spec[0] == "value":
        return [np.asarray([spec[1]], dtype=np.float64)]
    out = []
    for cols in columns:
        if spec[1] not in cols:
            return None
        values = cols[spec[1]]
        parts = values if isinstance(values, list) and values and isinstance(
            values[0], list | np.ndarray) else [values]
        for part in parts:
            array = np.asarray(part)
            if array.dtype.kind not in "fiu":
                return None  # categorical: a factor range, not a data range
            out.append(array.astype(np.float64, copy=False).ravel())
    return out


def _extent(glyph: Any, keys: tuple[str, ...], size: str | None, centred: str | None,
            columns: list[Mapping[str, Any]]) -> tuple[float, ...] | None:
    """(low, high, lowest positive) of ``glyph`` along one dimension over ``columns`` (the
    positive low for a log axis, NaN if none); ``()`` if it draws nothing there (no finite
    value in any frame, e.g. a transition marker of a variant without one); None if
    unknowable. ``size`` extends the glyph from its position (an image's ``dw``),
    ``centred`` around it (a bar's ``width``)."""
    found: list[np.ndarray] = []
    for key in keys:
        if key not in glyph.properties():
            continue
        values = _values(getattr(glyph, key), columns)
        if values is None:
            return None
        found += values
    for extra, reach in ((size, (0.0, 1.0)), (centred, (-0.5, 0.5))):
        if extra is None or not found:
            continue
        spans = _values(getattr(glyph, extra), columns)
        if spans is None:
            return None
        span = np.concatenate(spans).max(initial=0.0)
        where = np.concatenate(found)
        found = [where + reach[0] * span, where + reach[1] * span]
    finite = np.concatenate(found) if found else np.empty(0)
    finite = finite[np.isfinite(finite)]
    if not finite.size:
        return () if found else None
    positive = finite[finite > 0]
    return (float(finite.min()), float(finite.max()),
            float(positive.min()) if positive.size else float("nan"))


def _unset(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _padded(low: float, high: float, padding: float, log: bool) -> tuple[float, float]:
    if log:
        if low <= 0:
            return low, high
        a, b = np.log10(low), np.log10(high)
        pad = (b - a) * padding / 2 or 0.5
        return float(10 ** (a - pad)), float(10 ** (b + pad))
    pad = (high - low) * padding / 2 or max(abs(low) * 0.05, 0.5)
    return low - pad, high + pad


def hold_ranges(figure: Any, sources: Mapping[str, Any],
                frames: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[Any]:
    """Fix ``figure``'s automatic data ranges to span every frame of the moving ``sources``
    (``frames[name]``: the columns of ``sources[name]`` at each checkpoint) and the data of
    the static ones; the ranges it fixed. Ranges fed by a glyph whose extent cannot be known
    are left automatic."""
    from bokeh.models import DataRange1d, GlyphRenderer, LogScale

    moving = {id(sources[name]): frame for name, frame in frames.items()}
    spans: dict[str, list[tuple[float, float]] | None] = {"x": [], "y": []}
    for renderer in figure.renderers:
        if (not isinstance(renderer, GlyphRenderer) or not renderer.visible
                or TWIN_TAG in renderer.tags):
            continue  # a legend's twin draws nothing (see on_overlay)
        if renderer.x_range_name != "default" or renderer.y_range_name != "default":
            continue  # drawn against an extra range, which stays automatic
        glyph, source = renderer.glyph, renderer.data_source
        rows = moving.get(id(source))
        columns = list(rows) if rows is not None else [source.data]
        sized = _SIZED.get(type(glyph).__name__, (None, None))
        centred = _CENTRED.get(type(glyph).__name__, (None, None))
        for axis, keys, size, mid in (("x", X_KEYS, sized[0], centred[0]),
                                      ("y", Y_KEYS, sized[1], centred[1])):
            if spans[axis] is None:
                continue
            if type(glyph).__name__ not in _POINT_GLYPHS:
                spans[axis] = None
                continue
            extent = _extent(glyph, keys, size, mid, columns)
            if extent is None and any(k in glyph.properties() for k in keys):
                spans[axis] = None
            elif extent:  # () draws nothing along this axis
                spans[axis].append(extent)
    held = []
    for axis, rng, scale in (("x", figure.x_range, figure.x_scale),
                             ("y", figure.y_range, figure.y_scale)):
        extents = spans[axis]
        if (not extents or not isinstance(rng, DataRange1d) or not _unset(rng.start)
                or not _unset(rng.end) or rng.renderers not in ("auto", [])):
            continue
        log = isinstance(scale, LogScale)
        low = np.nanmin([e[2] for e in extents]) if log else min(e[0] for e in extents)
        high = max(e[1] for e in extents)
        if not np.isfinite(low) or (log and high <= 0):
            continue  # nothing a log axis can show: leave it to BokehJS
        padding = rng.range_padding if rng.range_padding_units == "percent" else 0.1
        rng.start, rng.end = _padded(float(low), high, padding, log)
        held.append(rng)
    return held


def on_overlay(figure: Any, moving: list[Any]) -> None:
    """Draw ``figure``'s glyphs of the ``moving`` sources on Bokeh's overlay level.

    BokehJS paints a plot's overlay level on a canvas layer of its own, so a data change of
    an overlay renderer repaints that layer alone: not the axes, grid, legend and static
    glyphs of the primary layer.

    A legend must not reach a moved renderer, even through a callback's arguments: BokehJS
    rebuilds a legend's entries on any change it can reach, but paints their swatches only
    with the primary layer, so they would go blank on the first move. Each legend item of a
    moved renderer therefore points at a static twin (the same glyph on the glyph level,
    drawn nowhere), whose visibility the moved renderer follows through a callback that
    finds it by id. A renderer whose legend labels come from its moving data stays put.
    """
    from bokeh.models import GlyphRenderer, Legend

    ids = {id(source) for source in moving}
    legends = list(figure.select({"type": Legend}))
    labelled = {r.id for legend in legends for item in legend.items
                if _field_label(item.label) for r in item.renderers}
    moved = {}
    for renderer in figure.renderers:
        if (isinstance(renderer, GlyphRenderer) and id(renderer.data_source) in ids
                and renderer.level == "glyph" and renderer.id not in labelled):
            renderer.level = "overlay"
            moved[renderer.id] = renderer
    for legend in legends:
        for item in legend.items:
            if any(r.id in moved for r in item.renderers):
                item.renderers = [_twin(figure, moved[r.id]) if r.id in moved else r
                                  for r in item.renderers]


def _field_label(label: Any) -> bool:
    return (isinstance(label, dict) and "field" in label) or isinstance(
        getattr(label, "field", None), str)


def _twin(figure: Any, renderer: Any) -> Any:
    """A copy of ``renderer`` on the glyph level, for its legend item: one row with its first
    row's style, placed at NaN so it draws nothing; hiding it (a legend click) hides
    ``renderer`` too."""
    from bokeh.models import ColumnDataSource, CustomJS, GlyphRenderer

    glyph = renderer.glyph
    where = {spec[1] for key in (*X_KEYS, *Y_KEYS) if key in glyph.properties()
             and (spec := _spec(getattr(glyph, key))) is not None and spec[0] == "field"}
    row = {}
    for column, values in renderer.data_source.data.items():
        nested = len(values) and isinstance(values[0], list | np.ndarray)
        if column in where:  # drawn nowhere: the swatch needs only the row's style
            row[column] = [[np.nan]] if nested else [np.nan]
        else:
            row[column] = [values[0]] if len(values) else [np.nan]
    twin = GlyphRenderer(glyph=glyph.clone(), level="glyph", visible=renderer.visible,
                         data_source=ColumnDataSource(row), tags=[TWIN_TAG])
    twin.js_on_change("visible", CustomJS(code=(
        f"const moved = cb_obj.document.get_model_by_id({renderer.id!r});\n"
        "if (moved != null) moved.visible = cb_obj.visible;")))
    figure.renderers.append(twin)
    return twin


def ranges_fixed(figure: Any) -> bool:
    """Whether no range of ``figure`` follows its data (each is a factor range, a fixed
    range, or a data range with its start and end set)."""
    from bokeh.models import DataRange1d

    ranges = [figure.x_range, figure.y_range, *figure.extra_x_ranges.values(),
              *figure.extra_y_ranges.values()]
    return all(not isinstance(r, DataRange1d) or not (_unset(r.start) or _unset(r.end))
               for r in ranges)


def hold_colour_bars(figure: Any) -> None:
    """Give each colour bar whose scale is fixed (``low`` and ``high`` set) a mapper of its
    own. A colour bar sharing the image's mapper is laid out again whenever the image's data
    changes, although nothing it shows has; one whose scale follows the data keeps it."""
    from bokeh.models import ColorBar

    for bar in figure.select({"type": ColorBar}):
        mapper = bar.color_mapper
        if getattr(mapper, "low", None) is not None and getattr(mapper, "high", None) is not None:
            bar.color_mapper = mapper.clone()
