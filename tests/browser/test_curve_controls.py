"""The curve controls in real Chromium: a loss card (its slider and checkbox, as the
Explorer shows them) and Compare's overlaid accuracy, served by Panel on 127.0.0.1 over two
planted variants (no training).

Dragging a smoothing slider redraws the smoothed curves in the page before the mouse is
let go (so without the kernel), exactly as :func:`tdw.family.plot.smoothing.ema` computes
them; letting go brings the kernel's pane to the same weight. Unticking "log y" puts the
loss on a linear scale and ticking it on the accuracy (which starts at 0) puts that on a
log one, each with the range the curves span. The page must log no console error and load
nothing from outside 127.0.0.1. A picture lands in ``test-artifacts/curve-controls.png``.
An exported SVG draws the smoothing and the scale a notebook asks for.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from headless import ARTIFACTS, free_port, guarded_page, launched, poll

pytestmark = pytest.mark.slow
pn = pytest.importorskip("panel")

PROBE_JS = (Path(__file__).parents[1] / "bokeh_probe.js").read_text()
EPOCHS = 60

# The figure's scale, ticker and y range, and the columns of its curve source.
STATE_JS = """
(name) => {
  const fig = tdwProbe.byName(name);
  const src = fig.renderers.map((r) => r.data_source).find((s) => s != null &&
    (s.tags || []).some((t) => String(t).startsWith("tdw:smooth:")));
  const data = tdwProbe.plain(src.data);
  const columns = {};
  for (const [k, v] of Object.entries(data)) {
    columns[k] = Array.from(v, (x) => (x == null || Number.isNaN(x) ? null : x));
  }
  return {scale: tdwProbe.typeName(fig.y_scale), ticker: tdwProbe.typeName(fig.left[0].ticker),
          start: fig.y_range.start, end: fig.y_range.end, columns};
}
"""

# The value of the smoothing slider whose widget carries `cls`.
SLIDER_JS = """
(cls) => tdwProbe.ofType("Slider").find((s) => (s.css_classes || []).includes(cls)).value
"""


def _metrics(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(EPOCHS + 1)
    loss = np.exp(-t / 15) * (1 + 0.4 * rng.random(EPOCHS + 1)) + 1e-3
    acc = np.clip(t / EPOCHS + 0.15 * rng.standard_normal(EPOCHS + 1), 0, 1)
    acc[:4] = 0.0  # nothing to draw there on a log axis
    test_loss = 1.5 * loss
    test_loss[20] = np.nan  # a gap
    return {"train_loss": loss, "test_loss": test_loss, "train_acc": acc,
            "test_acc": 0.9 * acc}


def _variant(store, seed: int):
    import torch

    from tdw.explore.variant import Variant
    from tdw.family.registry import get_family

    fam = get_family("modulo_addition_1l")
    params = fam.resolve({"p": 7, "n_epochs": EPOCHS, "model_seed": seed})
    vid = store.ensure_variant(fam, params, f"0-{EPOCHS}/20", EPOCHS).id
    store.ensure_probe(vid, {"tokens": torch.zeros(3, 3, dtype=torch.long)})
    for epoch in range(0, EPOCHS + 1, 20):
        store.write_checkpoint(vid, epoch, {"embed.W_E": torch.full((2, 2), epoch)})
    store.write_metrics(vid, {k: v.astype(np.float32) for k, v in _metrics(seed).items()})
    return Variant(vid, store)


@pytest.fixture
def app(store, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Serve a loss card and an overlaid accuracy; yield their Python objects and the URL."""
    from tdw.explore.viewpane import ViewPane
    from tdw.ui.overlays import Overlay
    from tdw.ui.view_controls import ViewControls

    monkeypatch.setenv("BOKEH_RESOURCES", "server")  # as in test_timeline: no CDN
    variants = [_variant(store, seed) for seed in (1, 2)]
    first = variants[0]
    pane = ViewPane(first, first._view("loss_curves"), first.epochs[-1], client_budget=10**7)
    controls = ViewControls(pane)
    overlay = Overlay("accuracy_curves", variants)
    overlay.draw([0, 0], list(first.epochs), "epoch")
    layout = pn.Column(controls, pn.pane.Bokeh(pane.figure), overlay.panel(), width=900)
    port = free_port()
    server = pn.serve(layout, port=port, address="127.0.0.1", show=False, threaded=True,
                      start=True, websocket_origin=[f"127.0.0.1:{port}"])
    try:
        yield {"url": f"http://127.0.0.1:{port}/", "pane": pane, "overlay": overlay,
               "variants": variants}
    finally:
        server.stop()
        server.join(timeout=5)


def _drag(page, owner: str, fraction: float, release: bool = True) -> None:
    """Drag the smoothing slider of ``owner`` to ``fraction`` of its track."""
    root = f".tdw-curve-control-{owner}.tdw-smoothing"
    handle = page.locator(f"{root} .noUi-handle").bounding_box()
    track = page.locator(f"{root} .noUi-base").bounding_box()
    y = handle["y"] + handle["height"] / 2
    page.mouse.move(handle["x"] + handle["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(track["x"] + fraction * track["width"], y, steps=10)
    if release:
        page.mouse.up()


def _smoothed_in_page(page, figure: str, raw: str, smooth: str, weight: float) -> bool:
    from tdw.family.plot.smoothing import ema

    columns = page.evaluate(STATE_JS, figure)["columns"]
    want = ema(np.asarray(columns[raw], dtype=np.float64), weight)
    got = np.asarray(columns[smooth], dtype=np.float64)
    return bool(np.allclose(got, want, rtol=1e-9, atol=1e-12, equal_nan=True))


def test_smoothing_and_log_scale_redraw_in_the_page(app):
    from tdw.family.plot.curve_scale import curve_extent, padded

    pane, overlay = app["pane"], app["overlay"]
    with launched() as browser:
        page, guard = guarded_page(browser, width=1000, height=1100)
        page.goto(app["url"])
        page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0",
                               timeout=60_000)
        page.add_script_tag(content=PROBE_JS)
        page.wait_for_function("() => tdwProbe.byName('view:loss_curves') && "
                               "tdwProbe.byName('overlay:accuracy_curves')", timeout=60_000)
        page.wait_for_timeout(500)
        loss = page.evaluate(STATE_JS, "view:loss_curves")
        assert (loss["scale"], loss["ticker"]) == ("LogScale", "LogTicker")
        assert loss["columns"]["test_smooth"] == loss["columns"]["test"]  # weight 0

        # Drag: the page smooths while the mouse is down, before the kernel hears of it.
        cls = "tdw-curve-control-loss_curves"
        _drag(page, "loss_curves", 0.75, release=False)
        weight = page.evaluate(SLIDER_JS, cls)
        assert 0.5 < weight < 0.95
        assert poll(lambda: _smoothed_in_page(page, "view:loss_curves", "test", "test_smooth",
                                              weight)), "the page did not smooth the loss"
        assert pane.controls["smoothing"] == 0.0  # the kernel has not redrawn yet
        page.mouse.up()
        weight = page.evaluate(SLIDER_JS, cls)
        assert poll(lambda: pane.controls["smoothing"] == pytest.approx(weight), timeout=20)
        assert _smoothed_in_page(page, "view:loss_curves", "train", "train_smooth", weight)

        # Untick log y: the loss goes linear, ranged over its raw and smoothed curves.
        page.locator(f".{cls}.tdw-log-y input").click()
        page.wait_for_timeout(300)
        linear = page.evaluate(STATE_JS, "view:loss_curves")
        assert (linear["scale"], linear["ticker"]) == ("LinearScale", "BasicTicker")
        low, high, _ = curve_extent(pane.sources.values())  # the kernel's copy, as the page
        assert (linear["start"], linear["end"]) == pytest.approx(padded(low, high, 0.1, False))
        assert poll(lambda: pane.controls["log_y"] == 0.0)

        # The accuracy overlay starts linear; log y draws what is above 0.
        accuracy = page.evaluate(STATE_JS, "overlay:accuracy_curves")
        assert accuracy["scale"] == "LinearScale"
        page.locator(".tdw-curve-control-accuracy_curves.tdw-log-y input").click()
        page.wait_for_timeout(300)
        logged = page.evaluate(STATE_JS, "overlay:accuracy_curves")
        assert (logged["scale"], logged["ticker"]) == ("LogScale", "LogTicker")
        _, high, positive = curve_extent(overlay.lines)
        assert (logged["start"], logged["end"]) == pytest.approx(
            padded(positive, high, 0.1, True))
        _drag(page, "accuracy_curves", 0.5)
        weight = page.evaluate(SLIDER_JS, "tdw-curve-control-accuracy_curves")
        assert weight > 0.2
        assert poll(lambda: _smoothed_in_page(page, "overlay:accuracy_curves", "y", "y_smooth",
                                              weight))
        assert poll(lambda: overlay.smoothing == pytest.approx(weight), timeout=20)
        assert poll(lambda: type(overlay.figure.y_scale).__name__ == "LogScale")

        page.mouse.move(0, 0)
        page.wait_for_timeout(300)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "curve-controls.png"), full_page=True)
        guard.check()
        page.close()


def test_exported_images_draw_the_chosen_smoothing_and_scale(store, tmp_path):
    """An SVG of the loss at the settings a notebook passes: log ticks (10^-1) or linear
    ones (0.5), and the faint raw curve under the smoothed one."""
    import re

    pytest.importorskip("playwright.sync_api")
    variant = _variant(store, 1)
    labels = {}
    for log in (True, False):
        result = variant.view("loss_curves", controls={"smoothing": 0.8, "log_y": log})
        svg = result.export(tmp_path / f"loss-{log}.svg").read_text()
        labels[log] = set(re.findall(r">([^<>]{1,8})</text>", svg))
        assert len(re.findall(r"stroke-opacity=\"0\.25\d*\"", svg)) >= 2  # the raw curves, faint
    assert "−1" in labels[True] and "0.5" not in labels[True]  # 10⁻¹ on the log axis
    assert {"0.5", "1", "1.5"} <= labels[False]
