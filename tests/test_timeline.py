"""Browser test of the checkpoint Timeline: markers, turn line, click, keys, Python -> page.

Serves a tiny Panel app on 127.0.0.1 and drives it with Playwright's Chromium. The page must
load nothing from outside 127.0.0.1 (every other request is aborted and fails the test) and
must log no console errors, so the widget is proven to work offline.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

CHROMIUM = Path("/usr/bin/chromium")
EPOCHS = [0, 10, 20, 50, 100, 200, 500, 1000]
SCREENSHOT = Path("/tmp/timeline.png")

if not CHROMIUM.exists():
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing and CI is set", pytrace=False)
    pytest.skip(f"{CHROMIUM} is missing (set CI to make this a failure)", allow_module_level=True)

pn = pytest.importorskip("panel")
sync_api = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _poll(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Call `check` until it is true or `timeout` seconds pass; return its last answer."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.05)
    return check()


@pytest.fixture
def app() -> Iterator[dict[str, Any]]:
    """Serve a Timeline and a Markdown pane that follows its value; yield them and the URL."""
    from tdw.ui.timeline import Timeline

    port = _free_port()
    # One session only: the test holds the objects so it can read and set them from Python.
    timeline = Timeline(epochs=EPOCHS, value=0, turn=200)
    md = pn.pane.Markdown("Selected epoch: 0", css_classes=["tdw-test-readout"])
    timeline.param.watch(lambda ev: setattr(md, "object", f"Selected epoch: {ev.new}"), "value")
    layout = pn.Column(timeline, md, width=700)
    server = pn.serve(
        layout, port=port, address="127.0.0.1", show=False, threaded=True, start=True,
        websocket_origin=[f"127.0.0.1:{port}"],
    )
    try:
        yield {"url": f"http://127.0.0.1:{port}/", "timeline": timeline, "md": md}
    finally:
        server.stop()
        server.join(timeout=5)


def test_timeline_in_browser(app: dict[str, Any]) -> None:
    timeline = app["timeline"]
    console_errors: list[str] = []
    external: list[str] = []

    def route(r: Any) -> None:
        if urlparse(r.request.url).hostname in ("127.0.0.1", None) or r.request.url.startswith(
            ("blob:", "data:")
        ):
            r.continue_()
        else:
            external.append(r.request.url)
            r.abort()

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 800, "height": 300})
            page.on("console", lambda m: m.type == "error" and console_errors.append(m.text))
            page.on("pageerror", lambda e: console_errors.append(str(e)))
            page.route("**/*", route)
            page.goto(app["url"])

            markers = page.locator(".tdw-timeline-marker")
            sync_api.expect(markers).to_have_count(len(EPOCHS), timeout=20_000)
            epochs = [int(markers.nth(i).get_attribute("data-epoch")) for i in range(len(EPOCHS))]
            assert epochs == EPOCHS
            turn = page.locator(".tdw-timeline-turn")
            sync_api.expect(turn).to_have_count(1)
            assert turn.get_attribute("data-epoch") == "200"
            current = page.locator(".tdw-timeline-current")
            sync_api.expect(current).to_have_attribute("data-epoch", "0")
            page.locator(".tdw-timeline").screenshot(path=str(SCREENSHOT))

            # Click a little to the right of the 500 marker: it snaps to 500.
            box = page.locator('.tdw-timeline-marker[data-epoch="500"]').bounding_box()
            assert box is not None
            page.mouse.click(box["x"] + box["width"] / 2 + 3, box["y"] + box["height"] / 2)
            assert _poll(lambda: timeline.value == 500), timeline.value
            sync_api.expect(current).to_have_attribute("data-epoch", "500")
            readout = page.locator(".tdw-test-readout")
            sync_api.expect(readout).to_contain_text("Selected epoch: 500")
            sync_api.expect(page.locator(".tdw-timeline-tooltip")).to_have_text("epoch 500")

            # The click focused the strip, so arrow keys step through checkpoints.
            page.keyboard.press("ArrowRight")
            assert _poll(lambda: timeline.value == 1000), timeline.value
            sync_api.expect(readout).to_contain_text("Selected epoch: 1000")
            page.keyboard.press("Home")
            assert _poll(lambda: timeline.value == 0), timeline.value

            # Dragging the handle scrubs: release over the 100 marker and it lands on 100.
            start = current.bounding_box()
            end = page.locator('.tdw-timeline-marker[data-epoch="100"]').bounding_box()
            assert start is not None and end is not None
            page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
            page.mouse.down()
            page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=8)
            page.mouse.up()
            assert _poll(lambda: timeline.value == 100), timeline.value

            # Python -> page: the handle moves onto the marker for epoch 20.
            timeline.value = 20
            sync_api.expect(current).to_have_attribute("data-epoch", "20")
            marker20 = page.locator('.tdw-timeline-marker[data-epoch="20"]').bounding_box()
            handle = current.bounding_box()
            assert marker20 is not None and handle is not None
            centre = handle["x"] + handle["width"] / 2
            assert abs(centre - (marker20["x"] + marker20["width"] / 2)) < 1.5

            # Switching scale from Python redraws: 20 sits much further right on a log axis.
            timeline.scale = "log"
            _poll(lambda: (current.bounding_box() or {"x": 0})["x"] > centre + 50, timeout=5)
            assert (current.bounding_box() or {"x": 0})["x"] > centre + 50

            # Clearing the turn from Python removes the red line.
            timeline.turn = None
            sync_api.expect(turn).to_have_count(0)
        finally:
            browser.close()

    assert not external, f"requests left 127.0.0.1: {external}"
    assert not console_errors, f"console errors: {console_errors}"
