"""Browser test of the checkpoint Timeline: markers, transition line, click, keys, Python -> page.

The timeline is the anywidget :class:`~tdw.ui.timeline.Timeline`, put on a Panel page with
:meth:`~tdw.ui.timeline_pane.TimelinePane.of` as the dashboards host it: every change made
on the page reaches the widget, and every change made to the widget reaches the page.

Serves a tiny Panel app on 127.0.0.1 and drives it with Playwright's Chromium. The page must
load nothing from outside 127.0.0.1 (every other request is aborted and fails the test) and
must log no console errors, so the widget is proven to work offline.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from headless import ARTIFACTS, free_port, guarded_page, launched, poll

EPOCHS = [0, 10, 20, 50, 100, 200, 500, 1000]
pn = pytest.importorskip("panel")
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Serve a Timeline and a Markdown pane that follows its value; yield them and the URL."""
    from tdw.ui.timeline import Timeline
    from tdw.ui.timeline_pane import TimelinePane

    # pn.serve serves Panel's stylesheets itself only with server resources; any earlier
    # in-process use of tdw.ui sets BOKEH_RESOURCES=inline (for notebooks and Voila), with
    # which Panel links its CDN instead.
    monkeypatch.setenv("BOKEH_RESOURCES", "server")

    port = free_port()
    # One session only: the test holds the objects so it can read and set them from Python.
    timeline = Timeline(epochs=EPOCHS, value=0, transition=200)
    md = pn.pane.Markdown("Selected epoch: 0", css_classes=["tdw-test-readout"])
    timeline.observe(lambda change: setattr(md, "object", f"Selected epoch: {change['new']}"),
                     names="value")
    layout = pn.Column(TimelinePane.of(timeline), md, width=700)
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
    with launched() as browser:
        page, guard = guarded_page(browser, width=800, height=300)
        page.goto(app["url"])

        markers = page.locator(".tdw-timeline-marker")
        sync_api.expect(markers).to_have_count(len(EPOCHS), timeout=20_000)
        epochs = [int(markers.nth(i).get_attribute("data-epoch")) for i in range(len(EPOCHS))]
        assert epochs == EPOCHS
        turn = page.locator(".tdw-timeline-transition")
        sync_api.expect(turn).to_have_count(1)
        assert turn.get_attribute("data-epoch") == "200"
        current = page.locator(".tdw-timeline-current")
        sync_api.expect(current).to_have_attribute("data-epoch", "0")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.locator(".tdw-timeline").screenshot(path=str(ARTIFACTS / "timeline.png"))

        # Click a little to the right of the 500 marker: it snaps to 500.
        box = page.locator('.tdw-timeline-marker[data-epoch="500"]').bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + box["width"] / 2 + 3, box["y"] + box["height"] / 2)
        assert poll(lambda: timeline.value == 500), timeline.value
        sync_api.expect(current).to_have_attribute("data-epoch", "500")
        readout = page.locator(".tdw-test-readout")
        sync_api.expect(readout).to_contain_text("Selected epoch: 500")
        sync_api.expect(page.locator(".tdw-timeline-tooltip")).to_have_text("epoch 500")

        # The click focused the strip, so arrow keys step through checkpoints.
        page.keyboard.press("ArrowRight")
        assert poll(lambda: timeline.value == 1000), timeline.value
        sync_api.expect(readout).to_contain_text("Selected epoch: 1000")
        page.keyboard.press("Home")
        assert poll(lambda: timeline.value == 0), timeline.value

        # Dragging the handle scrubs: release over the 100 marker and it lands on 100.
        start = current.bounding_box()
        end = page.locator('.tdw-timeline-marker[data-epoch="100"]').bounding_box()
        assert start is not None and end is not None
        page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
        page.mouse.down()
        page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=8)
        page.mouse.up()
        assert poll(lambda: timeline.value == 100), timeline.value

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
        poll(lambda: (current.bounding_box() or {"x": 0})["x"] > centre + 50, timeout=5)
        assert (current.bounding_box() or {"x": 0})["x"] > centre + 50

        # Clearing the transition from Python removes the red line.
        timeline.transition = None
        sync_api.expect(turn).to_have_count(0)
        guard.check()
