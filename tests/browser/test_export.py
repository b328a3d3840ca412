"""PNG, SVG and GIF export render planted glyphs offline, validate, and write atomically."""

from __future__ import annotations

import asyncio
import logging
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import headless as browser
import pytest
from PIL import Image, ImageChops

from tdw.errors import TdwError
from tdw.explore.browser import find_chromium, offline_page
from tdw.explore.export import ExportError, export_gif, export_png, export_svg

RED = (255, 0, 0)
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def chromium() -> str:
    """The browser, or a skip (a failure under CI) saying why the export tests cannot run."""
    return browser.chromium()


def red_block_figure(x: float = 0.5, *, width: int = 300, height: int = 200):
    """A figure whose only glyph is a pure-red block, one third of the x range wide."""
    from bokeh.plotting import figure

    fig = figure(width=width, height=height, toolbar_location=None, x_range=(0, 3),
                 y_range=(0, 1))
    fig.rect(x=[x], y=[0.5], width=1, height=1, fill_color="#ff0000", line_color=None)
    return fig


def red_pixels(img: Image.Image) -> list[tuple[int, int]]:
    rgb = img.convert("RGB")
    w, h = rgb.size
    px = rgb.load()
    return [(i, j) for j in range(0, h, 2) for i in range(0, w, 2)
            if px[i, j][0] > 240 and px[i, j][1] < 15 and px[i, j][2] < 15]


def svg_red_shapes(root: ET.Element) -> list[ET.Element]:
    return [el for el in root.iter() if el.tag in (SVG + "path", SVG + "rect")
            and el.get("fill", "").replace(" ", "").lower() in ("rgb(255,0,0)", "#ff0000", "red")]


@pytest.mark.usefixtures("chromium")
def test_png_is_cropped_to_the_figure_at_scale_and_shows_the_planted_glyph(tmp_path: Path):
    out = export_png(red_block_figure(0.5), tmp_path / "fig.png", scale=2)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(out) as img:
        assert abs(img.width - 600) <= 2 and abs(img.height - 400) <= 2
        red = red_pixels(img)
        # the block covers a third of the frame's width: many pixels, all on the left
        assert len(red) > 2000
        assert max(i for i, _ in red) < img.width / 2


@pytest.mark.usefixtures("chromium")
def test_svg_is_vector_with_the_planted_glyph_and_leaves_the_figure_alone(tmp_path: Path):
    fig = red_block_figure()
    out = export_svg(fig, tmp_path / "fig.svg")
    root = ET.fromstring(out.read_text())
    assert root.tag == SVG + "svg" and root.get("width") == "300"
    assert len(svg_red_shapes(root)) == 1
    assert fig.output_backend == "canvas" and fig.document is None


@pytest.mark.usefixtures("chromium")
def test_svg_of_a_layout_is_one_combined_document(tmp_path: Path):
    from bokeh.layouts import row

    out = export_svg(row(red_block_figure(0.5), red_block_figure(2.5)), tmp_path / "row.svg")
    root = ET.fromstring(out.read_text())
    assert root.tag == SVG + "svg" and root.get("width") == "600"
    assert len(svg_red_shapes(root)) == 2


@pytest.mark.usefixtures("chromium")
def test_gif_has_one_frame_per_checkpoint_and_frames_follow_the_glyph(tmp_path: Path):
    out = export_gif(lambda i: red_block_figure(0.5 + i), 3, tmp_path / "anim.gif", fps=4)
    with Image.open(out) as gif:
        assert gif.n_frames == 3 and gif.info.get("loop") == 0
        frames, durations = [], []
        for k in range(3):
            gif.seek(k)
            frames.append(gif.convert("RGB"))
            durations.append(gif.info["duration"])
    assert frames[0].size == (300, 200)
    assert durations == [250, 250, 250]
    for a, b in zip(frames, frames[1:], strict=False):
        assert ImageChops.difference(a, b).getbbox() is not None
    centres = [sum(i for i, _ in red_pixels(f)) / len(red_pixels(f)) for f in frames]
    assert centres[0] < centres[1] < centres[2]  # the block moves right, frame by frame


@pytest.mark.usefixtures("chromium")
def test_gif_merges_repeated_frames_but_keeps_the_playback_time(tmp_path: Path):
    positions = [0.5, 1.5, 1.5, 2.5]
    out = export_gif(lambda i: red_block_figure(positions[i]), 4, tmp_path / "hold.gif", fps=4)
    with Image.open(out) as gif:
        durations = []
        for k in range(gif.n_frames):
            gif.seek(k)
            durations.append(gif.info["duration"])
    assert durations == [250, 500, 250]


@pytest.mark.parametrize("func, name", [
    (lambda p: export_png(red_block_figure(), p), "x.jpg"),
    (lambda p: export_svg(red_block_figure(), p), "x.png"),
    (lambda p: export_gif(red_block_figure, 2, p), "x.mp4"),
])
def test_a_wrong_suffix_is_refused_and_writes_nothing(tmp_path: Path, func, name: str):
    with pytest.raises(TdwError, match="use a path ending in"):
        func(tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_find_chromium_explains_how_to_get_a_browser(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TDW_CHROMIUM", "/nonexistent/chrome")
    with pytest.raises(ExportError, match="TDW_CHROMIUM"):
        find_chromium()
    monkeypatch.delenv("TDW_CHROMIUM")
    monkeypatch.setenv("PATH", "")
    with pytest.raises(ExportError, match="apt-get install chromium"):
        find_chromium()


@pytest.mark.usefixtures("chromium")
def test_remote_requests_are_aborted_even_inside_an_event_loop(tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture):
    """A figure that loads a remote image exports promptly, from a running asyncio loop
    (as in Jupyter), and the request is aborted instead of leaving the machine."""
    fig = red_block_figure()
    url = "http://203.0.113.7/planted.png"  # TEST-NET-3: would hang if it were attempted
    fig.image_url(url=[url], x=0, y=1, w=1, h=1)

    async def export_from_a_loop() -> Path:
        return export_png(fig, tmp_path / "remote.png", scale=1)

    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="tdw.explore.browser"):
        out = asyncio.run(export_from_a_loop())
    assert time.monotonic() - started < 10
    assert url in caplog.text
    with Image.open(out) as img:
        assert img.size == (300, 200) and red_pixels(img)


@pytest.mark.usefixtures("chromium")
def test_offline_page_aborts_any_fetch_but_serves_inline_data():
    with offline_page() as view:
        view.page.set_content("<p>offline</p>")
        remote = view.page.evaluate(
            "fetch('https://example.com/x').then(() => 'reached', () => 'aborted')")
        inline = view.page.evaluate("fetch('data:text/plain,ok').then((r) => r.text())")
    assert remote == "aborted" and inline == "ok"
    assert view.blocked == ["https://example.com/x"]
