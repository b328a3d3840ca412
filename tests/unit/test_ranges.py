"""tdw.explore.ranges: axes that span every checkpoint, and moving glyphs on the overlay
level with their legend swatches kept (checked against hand-computed extents)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from bokeh.models import ColumnDataSource, DataRange1d, Range1d
from bokeh.plotting import figure

from tdw.explore.ranges import hold_colour_bars, hold_ranges, on_overlay, ranges_fixed


def _frames(rows: list[dict]) -> list[dict]:
    """The moving source's columns at each checkpoint."""
    return rows


def test_a_line_and_bars_hold_the_union_of_every_frame_with_bokehs_padding():
    fig = figure()
    static = ColumnDataSource({"x": [0.0, 10.0], "y": [1.0, 2.0]})
    moving = ColumnDataSource({"x": [1.0], "top": [3.0]})
    fig.line("x", "y", source=static)
    fig.vbar(x="x", top="top", width=2.0, source=moving)
    frames = _frames([{"x": np.array([1.0]), "top": np.array([3.0])},
                      {"x": np.array([12.0]), "top": np.array([-4.0])}])
    held = hold_ranges(fig, {"static": static, "moving": moving}, {"moving": frames})
    assert held == [fig.x_range, fig.y_range] and ranges_fixed(fig)
    # x: the line 0..10 and the bars' centres 1 and 12, +-1 for their width: -0 .. 13
    low, high = 0.0, 13.0
    pad = (high - low) * 0.1 / 2
    assert (fig.x_range.start, fig.x_range.end) == pytest.approx((low - pad, high + pad))
    # y: the line 1..2, the bars' tops 3 and -4 and their bottom 0: -4 .. 3
    pad = 7 * 0.1 / 2
    assert (fig.y_range.start, fig.y_range.end) == pytest.approx((-4 - pad, 3 + pad))


def test_a_log_axis_spans_the_positive_values_in_decades():
    fig = figure(y_axis_type="log")
    moving = ColumnDataSource({"x": [0], "y": [1.0]})
    fig.scatter("x", "y", source=moving)
    frames = _frames([{"x": np.array([0, 1]), "y": np.array([1e-6, 0.0])},
                      {"x": np.array([2, 3]), "y": np.array([10.0, 1.0])}])
    hold_ranges(fig, {"m": moving}, {"m": frames})
    a, b = -6.0, 1.0  # log10 of 1e-6 and 10; the zero cannot be drawn on a log axis
    pad = (b - a) * 0.1 / 2
    assert math.log10(fig.y_range.start) == pytest.approx(a - pad)
    assert math.log10(fig.y_range.end) == pytest.approx(b + pad)


def test_an_image_spans_its_width_and_height():
    fig = figure()
    moving = ColumnDataSource({"image": [np.zeros((3, 5))], "dw": [5], "dh": [3]})
    fig.image(image="image", x=0, y=0, dw="dw", dh="dh", source=moving)
    frames = _frames([{"image": [np.zeros((3, 5))], "dw": [5], "dh": [3]}])
    hold_ranges(fig, {"grid": moving}, {"grid": frames})
    assert (fig.x_range.start, fig.x_range.end) == pytest.approx((-0.25, 5.25))
    assert (fig.y_range.start, fig.y_range.end) == pytest.approx((-0.15, 3.15))


def test_ranges_stay_automatic_where_the_extent_cannot_be_known():
    fig = figure()
    moving = ColumnDataSource({"x": [0.0], "y": [0.0], "t": ["a"]})
    fig.text("x", "y", text="t", source=moving)  # a glyph the module does not measure
    frames = _frames([{"x": np.array([0.0]), "y": np.array([0.0]), "t": ["a"]}])
    assert hold_ranges(fig, {"m": moving}, {"m": frames}) == []
    assert math.isnan(fig.x_range.start) and not ranges_fixed(fig)
    fixed = figure(x_range=Range1d(0, 1), y_range=DataRange1d(start=0, end=2))
    assert hold_ranges(fixed, {}, {}) == [] and ranges_fixed(fixed)  # set by the view


def test_a_marker_with_nothing_to_mark_does_not_leave_the_axis_following_the_data():
    # A variant with no detected transition: its marker's source is empty. It draws
    # nothing, so the axis spans the curve and the current checkpoint alone (were it left
    # automatic, every move would repaint the figure's axes, grid and legend).
    fig = figure()
    curve = ColumnDataSource({"x": [0.0, 100.0], "y": [1.0, 2.0]})
    no_transition = ColumnDataSource({"x": np.array([], dtype=float)})
    current = ColumnDataSource({"x": [10.0]})
    fig.line("x", "y", source=curve)
    fig.vspan(x="x", source=no_transition)
    fig.vspan(x="x", source=current)
    frames = _frames([{"x": np.array([10.0])}, {"x": np.array([50.0])}])
    held = hold_ranges(fig, {"curve": curve, "transition": no_transition, "current": current},
                       {"current": frames})
    assert fig.x_range in held and ranges_fixed(fig)
    assert (fig.x_range.start, fig.x_range.end) == pytest.approx((-5.0, 105.0))
    # a marker whose only values are NaN draws nothing either
    nan_marker = ColumnDataSource({"x": [float("nan")]})
    fig.vspan(x="x", source=nan_marker)
    fig.x_range.start = fig.x_range.end = float("nan")
    assert fig.x_range in hold_ranges(fig, {"nan": nan_marker, "current": current},
                                      {"current": frames})


def test_moving_glyphs_go_to_the_overlay_and_their_legend_to_a_twin_drawn_nowhere():
    fig = figure()
    static = ColumnDataSource({"x": [0, 1], "y": [0, 1]})
    moving = ColumnDataSource({"x": [3.0], "y": [1.0]})
    labelled = ColumnDataSource({"x": [1.0], "y": [1.0], "kind": ["a"]})
    line = fig.line("x", "y", source=static, legend_label="curve")
    marker = fig.scatter("x", "y", source=moving, legend_label="current", color="black")
    by_field = fig.scatter("x", "y", source=labelled, legend_field="kind")
    on_overlay(fig, [moving, labelled])
    assert line.level == "glyph" and marker.level == "overlay"
    assert by_field.level == "glyph"  # its labels come from the moving data
    items = {str(item.label.value) if hasattr(item.label, "value") else "field": item
             for item in fig.legend[0].items}
    (twin,) = items["current"].renderers
    assert twin is not marker and twin.level == "glyph" and twin in fig.renderers
    def colour(glyph):
        return getattr(glyph.fill_color, "value", glyph.fill_color)

    assert colour(twin.glyph) == colour(marker.glyph) == "black"
    assert all(math.isnan(v) for v in twin.data_source.data["x"])  # drawn nowhere
    assert items["curve"].renderers == [line]
    # A legend click hides the twin; its callback finds the moved glyph by id, so the
    # legend holds no reference to the moving data.
    (callback,) = twin.js_property_callbacks["change:visible"]
    assert marker.id in callback.code and not callback.args


def test_a_colour_bar_with_a_fixed_scale_gets_a_mapper_of_its_own():
    from bokeh.models import ColorBar, LinearColorMapper

    fig = figure()
    fixed, free = LinearColorMapper(low=0, high=1), LinearColorMapper()
    fig.add_layout(ColorBar(color_mapper=fixed), "right")
    fig.add_layout(ColorBar(color_mapper=free), "right")
    hold_colour_bars(fig)
    bars = fig.select({"type": ColorBar})
    owned, shared = sorted(bars, key=lambda b: b.color_mapper.low is None)
    assert owned.color_mapper is not fixed and (owned.color_mapper.low,
                                                owned.color_mapper.high) == (0, 1)
    assert shared.color_mapper is free  # a scale that follows the data stays shared


def test_ranges_are_held_again_after_the_moving_glyphs_went_to_the_overlay():
    """A new selection (or alignment) holds the ranges anew; the legend twins that
    on_overlay added draw nothing and must not stop that."""
    fig = figure()
    moving = ColumnDataSource({"x": [1.0], "y": [2.0]})
    fig.scatter("x", "y", source=moving, legend_label="moving")
    rows = [{"x": np.array([1.0]), "y": np.array([2.0])},
            {"x": np.array([3.0]), "y": np.array([5.0])}]
    first = hold_ranges(fig, {"m": moving}, {"m": rows})
    on_overlay(fig, [moving])
    for rng in first:
        rng.start = rng.end = float("nan")
    assert hold_ranges(fig, {"m": moving}, {"m": rows}) == [fig.x_range, fig.y_range]
    pad = 2 * 0.1 / 2
    assert (fig.x_range.start, fig.x_range.end) == pytest.approx((1 - pad, 3 + pad))
