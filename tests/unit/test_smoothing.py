"""Curve smoothing and the log/linear toggle: the EMA against pandas, the curve views'
smoothed columns and scales (notebook API, exports, a page's widgets and Compare's
overlays), on planted metrics: no training."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pandas as pd
import pytest
from bokeh.models import (
    BasicTicker,
    ColumnDataSource,
    DataRange1d,
    LinearScale,
    LogScale,
    LogTicker,
    Range1d,
)
from helpers import neuron_variant

from tdw.errors import ParameterError
from tdw.explore.variant import Variant
from tdw.explore.viewpane import ViewPane
from tdw.family import plot
from tdw.family.plot import curve_scale, curves, smoothing
from tdw.family.views import ViewContext
from tdw.store.store import Store

WEIGHTS = (0.0, 0.3, 0.6, 0.9, 0.99)


def _pandas_ema(values, weight: float) -> np.ndarray:
    """TensorBoard's smoothing, independently: pandas' adjusted EWM (the debiased EMA) with
    gaps ignored, then the gaps put back."""
    series = pd.Series(np.asarray(values, dtype=np.float64)).replace([np.inf, -np.inf], np.nan)
    smoothed = series.ewm(alpha=1 - weight, adjust=True, ignore_na=True).mean()
    return smoothed.where(series.notna()).to_numpy()


def _series(n: int = 200, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = np.exp(-np.linspace(0, 5, n)) + 0.05 * rng.standard_normal(n)
    values[[0, 7, 8, 9, 100]] = np.nan  # gaps, one at the start
    values[50], values[51] = np.inf, -np.inf
    return values


# ------------------------------------------------------------------------------ the EMA
@pytest.mark.parametrize("weight", WEIGHTS)
def test_the_ema_is_pandas_adjusted_ewm_with_gaps_skipped_and_kept(weight):
    values = _series()
    got = smoothing.ema(values, weight)
    want = _pandas_ema(values, weight)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15, equal_nan=True)
    assert np.array_equal(np.isnan(got), ~np.isfinite(values))  # gaps stay gaps
    finite = values[np.isfinite(values)]
    assert finite.min() - 1e-12 <= np.nanmin(got) and np.nanmax(got) <= finite.max() + 1e-12


def test_the_ema_by_hand_on_a_short_series():
    # m1 = 0.5 * 4 = 2 -> 2 / 0.5 = 4; m2 = 0.5 * 2 + 0.5 * 2 = 2 -> 2 / 0.75; None skipped;
    # m3 = 0.5 * 2 + 0.5 * 8 = 5 -> 5 / 0.875
    got = smoothing.ema([4, 2, None, 8], 0.5)
    np.testing.assert_allclose(got, [4.0, 2 / 0.75, np.nan, 5 / 0.875], equal_nan=True)
    assert smoothing.ema([], 0.5).shape == (0,)
    np.testing.assert_array_equal(smoothing.ema([3, 1, 2], 0.0), [3.0, 1.0, 2.0])
    np.testing.assert_allclose(smoothing.ema([0.7] * 50, 0.9), 0.7, rtol=1e-12)
    assert np.isnan(smoothing.ema([np.nan, np.nan], 0.5)).all()


@pytest.mark.parametrize("weight", [1.0, -0.1, 1.5, True])
def test_a_weight_out_of_range_is_refused(weight):
    with pytest.raises(ParameterError, match=r"smoothing weight .* choose a decimal from 0"):
        smoothing.ema([1.0, 2.0], weight)


def test_a_multi_line_column_is_smoothed_line_by_line():
    lines = [[1.0, 2.0, None], [5.0, 1.0, 0.0]]
    got = smoothing.smooth_column(lines, 0.6)
    assert isinstance(got, list) and len(got) == 2
    for line, want in zip(got, lines, strict=True):
        np.testing.assert_allclose(line, _pandas_ema(np.array(want, dtype=float), 0.6),
                                   equal_nan=True)
    np.testing.assert_allclose(smoothing.smooth_column(np.array([1.0, 3.0]), 0.5),
                               [1.0, 1.75 / 0.75])


def test_the_docstring_examples_hold():
    for module in (smoothing, curves):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0


# ---------------------------------------------------------------------------- controls
def test_the_log_switch_takes_true_false_0_and_1_and_names_anything_else():
    switch = plot.Curves(log=True).controls[1]
    assert [switch.check(v) for v in (True, False, 1, 0, 1.0, np.bool_(True))] == [
        1.0, 0.0, 1.0, 0.0, 1.0, 1.0]
    for bad in (2, 0.5, "yes", float("nan"), None):
        with pytest.raises(ParameterError, match=r"log_y=.* is not a switch: pass True"):
            switch.check(bad)
    weight = plot.Curves().controls[0]
    assert (weight.name, weight.low, weight.high, weight.default) == ("smoothing", 0, 0.99, 0)
    with pytest.raises(ParameterError, match="smoothing=1.0 is out of range"):
        weight.check(1.0)
    with pytest.raises(ValueError, match="smoothing must be within"):
        plot.Curves(smoothing=1.0)


# ----------------------------------------------------------------------- planted variant
EPOCHS = 40


def _metrics() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    t = np.arange(EPOCHS + 1)
    loss = np.exp(-t / 10) * (1 + 0.3 * rng.random(EPOCHS + 1)) + 1e-3
    acc = np.clip(t / EPOCHS + 0.1 * rng.standard_normal(EPOCHS + 1), 0, 1)
    acc[:3] = 0.0  # an accuracy of 0: nothing to draw on a log axis
    test_loss = loss * 1.5
    test_loss[12] = np.nan  # a gap
    return {"train_loss": loss.astype(np.float32), "test_loss": test_loss.astype(np.float32),
            "train_acc": acc.astype(np.float32), "test_acc": (acc * 0.9).astype(np.float32)}


@pytest.fixture
def variant(store: Store) -> Variant:
    vid = neuron_variant(store, lambda e: np.zeros((2, 7, 7), np.float16))
    store.write_metrics(vid, _metrics())
    return Variant(vid, store)


def _curve_source(fig) -> ColumnDataSource:
    (source,) = curve_scale.curve_sources(fig)
    return source


def test_the_metric_views_draw_raw_curves_faint_under_their_ema(variant):
    metrics = variant.metrics()
    for name, train, test, log in (("loss_curves", "train_loss", "test_loss", True),
                                   ("accuracy_curves", "train_acc", "test_acc", False)):
        result = variant.view(name, controls={"smoothing": 0.8})
        source = _curve_source(result.figure)
        for key, metric in (("train", train), ("test", test)):
            np.testing.assert_allclose(source.data[f"{key}_smooth"],
                                       _pandas_ema(metrics[metric], 0.8), equal_nan=True)
        lines = {r.glyph.y: r for r in result.figure.renderers if r.data_source is source}
        assert lines["train"].glyph.line_alpha == curves.RAW_ALPHA
        assert lines["train_smooth"].glyph.line_alpha == 1.0
        assert isinstance(result.figure.y_scale, LogScale if log else LinearScale)
        legend = result.figure.legend[0]
        (item,) = [i for i in legend.items if getattr(i.label, "value", None) == "train"]
        assert set(item.renderers) == {lines["train"], lines["train_smooth"]}  # one entry
    plain = variant.view("loss_curves")  # no smoothing: the smoothed twin is the curve
    source = _curve_source(plain.figure)
    np.testing.assert_array_equal(source.data["test_smooth"], metrics["test_loss"])


def test_the_notebook_api_and_exports_draw_the_settings_they_are_given(variant):
    result = variant.view("loss_curves", controls={"smoothing": 0.6, "log_y": False})
    assert result.context.controls == {"smoothing": 0.6, "log_y": 0.0}
    assert isinstance(result.figure.y_scale, LinearScale)
    image = result.bare_figure()  # what PNG and SVG exports draw
    assert isinstance(image.y_scale, LinearScale) and image.toolbar_location is None
    np.testing.assert_allclose(_curve_source(image).data["train_smooth"],
                               _pandas_ema(variant.metrics()["train_loss"], 0.6))
    assert isinstance(variant.view("accuracy_curves", controls={"log_y": True}).figure.y_scale,
                      LogScale)
    with pytest.raises(ParameterError, match="smoothing=0.995 is out of range"):
        variant.view("loss_curves", controls={"smoothing": 0.995})
    with pytest.raises(ParameterError, match="not a switch"):
        variant.view("loss_curves", controls={"log_y": "yes"})


def _ctx(controls=None) -> ViewContext:
    return ViewContext("v", {}, 20, (0, 10, 20), lambda a, e: None, lambda: {},
                       controls=dict(controls or {}))


def _lines(ctx):
    return [0, 10, 20], [[1.0, 0.0, 4.0], [0.5, None, 0.25]], ["a", "b"]


def test_a_lines_view_smooths_each_line_and_keeps_its_fixed_range_on_linear():
    view = plot.lines_view("planted", "Planted", "two lines", (), _lines, y_label="y",
                           transition=False, y_range=(0, 5))
    assert [c.name for c in view.controls] == ["smoothing", "log_y"]
    data = view.data(_ctx({"smoothing": 0.5}))["lines"]
    for line, raw in zip(data["ys_smooth"], data["ys"], strict=True):
        np.testing.assert_allclose(line, _pandas_ema(np.array(raw, dtype=float), 0.5),
                                   equal_nan=True)
    linear = view.figure(_ctx())
    assert isinstance(linear.y_range, Range1d) and (linear.y_range.start,
                                                    linear.y_range.end) == (0, 5)
    log = view.figure(_ctx({"log_y": 1}))  # a fixed range from 0 cannot be a log range
    assert isinstance(log.y_scale, LogScale) and isinstance(log.yaxis[0].ticker, LogTicker)
    assert log.y_range.start == pytest.approx(10 ** (math.log10(0.25) - math.log10(16) * 0.05))
    assert (log.y_range.reset_start, log.y_range.reset_end) == (log.y_range.start,
                                                               log.y_range.end)
    switch = plot.ScaleSwitch(log)
    switch.apply(False)  # back on linear: the view's own range
    assert isinstance(log.y_scale, LinearScale) and isinstance(log.ygrid[0].ticker, BasicTicker)
    assert (log.y_range.start, log.y_range.end) == (0.0, 5.0)
    assert not plot.lines_view("bare", "Bare", "", (), _lines, y_label="y",
                               curves=False).controls


def test_a_held_range_follows_the_scale_and_an_automatic_one_is_left_to_bokehjs():
    source = ColumnDataSource({"x": [0, 1, 2], "y": [0.0, 0.1, 10.0], "y_smooth": [0.0, 0.1,
                                                                                  10.0]})
    fig = plot.figure("held")
    plot.curve(fig, source, "x", "y", color="red")
    plot.finish_curves(fig, log=False)
    switch = plot.ScaleSwitch(fig)
    switch.apply(True)
    assert isinstance(fig.y_range, DataRange1d) and math.isnan(fig.y_range.start or math.nan)
    fig.y_range.update(start=-1.0, end=11.0)  # held, as a client-side pane holds it
    switch.apply(True)
    assert (fig.y_range.start, fig.y_range.end) == pytest.approx(
        curve_scale.padded(0.1, 10.0, 0.1, True))
    switch.apply(False)
    assert (fig.y_range.start, fig.y_range.end) == pytest.approx((-0.5, 10.5))
    source.data = {"x": [0, 1], "y": [-1.0, 0.0], "y_smooth": [-1.0, 0.0]}
    switch.apply(True)  # nothing positive: a log range all the same
    assert (fig.y_range.start, fig.y_range.end) == curve_scale.NO_POSITIVE
    # a held figure (the page never ranges it) whose range a redraw could not hold again
    fig.tags = [*fig.tags, curve_scale.HELD_TAG]
    fig.y_range.update(start=math.nan, end=math.nan)
    switch.refresh()
    assert (fig.y_range.start, fig.y_range.end) == curve_scale.NO_POSITIVE


# ------------------------------------------------------------------------------ widgets
def test_the_card_offers_a_slider_and_a_checkbox_that_the_kernel_follows(variant):
    from tdw.ui.view_controls import ViewControls

    pane = ViewPane(variant, variant._view("loss_curves"), variant.epochs[-1],
                    client_budget=10**7)
    controls = ViewControls(pane)
    assert controls.inputs == {} and controls.curves is not None  # no decimal boxes
    slider, checkbox = controls.curves.slider, controls.curves.log
    assert (slider.start, slider.end, slider.step, slider.value) == (0.0, 0.99, 0.01, 0.0)
    assert checkbox.value is True and isinstance(pane.figure.y_scale, LogScale)
    controls.curves.set(smoothing=0.7)
    assert pane.controls["smoothing"] == 0.7
    np.testing.assert_allclose(pane.sources["curves"].data["test_smooth"],
                               _pandas_ema(variant.metrics()["test_loss"], 0.7), equal_nan=True)
    low = float(np.nanmin(pane.sources["curves"].data["train_smooth"]))
    assert 0 < pane.figure.y_range.start < low  # the held log range spans the curves
    controls.curves.set(log=False)
    assert pane.controls["log_y"] == 0.0 and isinstance(pane.figure.y_scale, LinearScale)
    assert pane.figure.y_range.start < 0 < pane.figure.y_range.end
    controls.curves.set(log=True)
    assert isinstance(pane.figure.y_scale, LogScale) and pane.figure.y_range.start > 0


def test_a_smoothing_the_view_cannot_draw_goes_back_and_says_why(variant, monkeypatch):
    from tdw.ui.view_controls import ViewControls

    pane = ViewPane(variant, variant._view("accuracy_curves"), variant.epochs[-1])
    controls = ViewControls(pane)

    def broken(**values):
        raise RuntimeError("planted")
    monkeypatch.setattr(pane, "set_controls", broken)
    controls.curves.set(smoothing=0.5)
    assert controls.curves.slider.value == 0.0 and pane.controls["smoothing"] == 0.0
    assert controls.problem.visible and "planted" in controls.problem.object


def test_compare_overlays_smooth_every_variant_and_start_on_the_traces_scale(variant):
    from tdw.ui.overlays import Overlay

    for name, scale in (("loss_curves", LogScale), ("accuracy_curves", LinearScale)):
        overlay = Overlay(name, [variant, variant])
        overlay.draw([0, 0], list(variant.epochs), "epoch")
        assert isinstance(overlay.figure.y_scale, scale)
        assert overlay.curves.log.value is (scale is LogScale)
        overlay.curves.set(smoothing=0.5)
        metric = "test_loss" if name == "loss_curves" else "test_acc"
        for src in overlay.lines:
            np.testing.assert_allclose(src.data["y_smooth"],
                                       _pandas_ema(variant.metrics()[metric], 0.5),
                                       equal_nan=True)
        overlay.curves.set(log=scale is not LogScale)
        assert not isinstance(overlay.figure.y_scale, scale)
        assert len(overlay.panel()) == 2  # the controls above the figure
