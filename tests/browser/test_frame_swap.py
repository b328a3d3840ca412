"""The browser's frame swap (tdw.explore.viewpane.FRAME_SWAP_JS) in headless Chromium on a
planted page: stacked, quantised frames decode to what Python's Packed.frame gives, and an
index table moves each lane to its own checkpoint."""

from __future__ import annotations

from types import SimpleNamespace

import headless as browser
import numpy as np
import pytest

from tdw.explore.browser import offline_page, standalone_html
from tdw.explore.frames import fill, pack
from tdw.explore.viewpane import frame_swap_args, frame_swap_code

READ_JS = """
(name) => {
  const doc = Bokeh.documents[0];
  const src = doc.get_model_by_name(name);
  const data = src.data instanceof Map ? Object.fromEntries(src.data) : src.data;
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k,
    Array.isArray(v) ? v.map((a) => ({shape: a.shape ? Array.from(a.shape) : null,
                                      values: Array.from(a)}))
                     : Array.from(v)]));
}
"""


@pytest.fixture
def chromium() -> str:
    """The browser, or a skip (a failure under CI) saying why these tests cannot run."""
    return browser.chromium()


def _lane(grids: list[np.ndarray], k: int, *, quantise: bool):
    """A duck-typed client-side pane: an image figure, its source and packed frames."""
    from bokeh.models import ColumnDataSource
    from bokeh.plotting import figure

    rows = [{"image": [g], "dw": [g.shape[1]], "dh": [g.shape[0]]} for g in grids]
    target = ColumnDataSource(rows[0], name=f"target{k}")
    packed = pack(rows, quantise=quantise)
    frames = ColumnDataSource()
    fill(frames, packed)
    fig = figure(width=200, height=150, name=f"fig{k}")
    fig.image(image="image", x=0, y=0, dw="dw", dh="dh", source=target, palette="Viridis256")
    pane = SimpleNamespace(client_side=True, frames={"grid": frames},
                           sources={"grid": target}, figure=fig)
    return pane, packed


@pytest.mark.usefixtures("chromium")
def test_quantised_frames_decode_in_the_browser_as_python_decodes_them_per_lane():
    from bokeh.layouts import column
    from bokeh.models import ColumnDataSource, CustomJS, Slider

    rng = np.random.default_rng(1)
    lanes = [[rng.normal(size=(40, 30)).astype(np.float32) * (k + 1) for _ in range(4)]
             for k in range(2)]
    lanes[1][2][3, 4] = np.nan
    panes = [_lane(grids, k, quantise=True) for k, grids in enumerate(lanes)]
    assert all(packed.quantised == ("image",) for _, packed in panes)
    # row r of the slider shows checkpoint table[lane][r] of each lane
    table = ColumnDataSource({"position": [0, 1, 2], "lane0": [0, 1, 3], "lane1": [2, 2, 0]})
    slider = Slider(start=0, end=2, value=0, step=1, name="slider")
    slider.js_on_change("value", CustomJS(
        args=frame_swap_args([[p] for p, _ in panes], table),
        code=frame_swap_code("cb_obj.value")))
    html = standalone_html(column(slider, *[p.figure for p, _ in panes]))
    with offline_page() as page:
        page.load_html(html)
        for row in (2, 1):
            page.page.evaluate(
                "(v) => { Bokeh.documents[0].get_model_by_name('slider').value = v; }", row)
            for k, (_, packed) in enumerate(panes):
                shown = page.page.evaluate(READ_JS, f"target{k}")
                want = packed.frame(table.data[f"lane{k}"][row])["image"][0]
                (image,) = shown["image"]
                assert image["shape"] == list(want.shape)  # still a 2-D grid for the glyph
                got = np.array([np.nan if v is None else v for v in image["values"]],
                               dtype=np.float32)
                np.testing.assert_array_equal(got, want.ravel())
        assert not page.errors
