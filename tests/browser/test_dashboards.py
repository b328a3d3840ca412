"""The served dashboards in real Chromium: ``tdw serve`` on a store of two analysed variants.

Every page must load with nothing from outside 127.0.0.1 and no console error. The tests
move the checkpoint player and assert from the page that every view that depends on the
checkpoint received new data, click a checkpoint marker on the loss curve, compare two
variants, export a view, and start a tiny training job from the Train form. Screenshots
and the measured latencies land in ``test-artifacts/``.
"""

from __future__ import annotations

import json
import shutil
import statistics
import time
from pathlib import Path

import pytest
from headless import ARTIFACTS, free_port, guarded_page, launched, poll, screenshot

pytestmark = pytest.mark.slow

PROBE_JS = (Path(__file__).parents[1] / "bokeh_probe.js").read_text()
DASHBOARDS = ("workbench.ipynb", "explore.ipynb", "compare.ipynb")
TABS = ("Explore", "Compare", "Variants", "Train", "Analyze")


@pytest.fixture(scope="module")
def browser():
    with launched() as b:
        yield b


def _serve(store: Path, **options):
    from tdw.serve import ServeConfig, serve

    return serve(ServeConfig(store=store, port=free_port(), **options), timeout=120)


@pytest.fixture(scope="module")
def server(ui_store):
    root, _ = ui_store
    with _serve(root) as srv:
        yield srv


def _open(browser, url: str, *, figures: int = 1, name: str = ""):
    """Open a dashboard, install the probe, wait for ``figures`` view figures.

    Returns the page, its guard, and the seconds from navigation to that point.
    """
    page, guard = guarded_page(browser)
    started = time.monotonic()
    page.goto(url)
    page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0", timeout=120_000)
    page.add_script_tag(content=PROBE_JS)
    page.wait_for_function(f"() => tdwProbe.figures().length >= {figures}", timeout=120_000)
    page.wait_for_timeout(300)  # let the first paint settle before screenshots
    seconds = time.monotonic() - started
    if name:
        screenshot(page, name)
    return page, guard, seconds


def _record(name: str, data: dict) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{name}.json").write_text(json.dumps(data, indent=2))


def test_the_listing_links_every_dashboard(server, browser):
    page, guard = guarded_page(browser)
    page.goto(server.url)
    links = page.locator("a[href*='voila/render/']")
    hrefs = sorted(links.nth(i).get_attribute("href") for i in range(links.count()))
    assert [h.split("/")[-1].split("?")[0] for h in hrefs] == sorted(DASHBOARDS)
    screenshot(page, "listing")
    guard.check()
    page.close()  # its kernel is then idle and disconnected, so Voila culls it


@pytest.mark.parametrize("notebook", DASHBOARDS)
def test_every_dashboard_loads_offline_without_console_errors(server, browser, notebook):
    page, guard, _ = _open(browser, server.page(notebook), figures=3,
                        name=f"dashboard-{notebook[:-6]}")
    text = page.evaluate("tdwProbe.text()")
    assert "checkpoint" in text  # the text walk sees the app ...
    assert "import" not in text and "tdw.ui" not in text, "notebook code is visible"  # ... only
    if notebook == "workbench.ipynb":
        for tab in TABS:
            page.locator(".bk-tab", has_text=tab).click()
            page.wait_for_timeout(1500)
            screenshot(page, f"workbench-{tab.lower()}")
            if tab == "Train":  # the family's typed parameters became a form
                assert page.get_by_label("n_epochs").count() == 1
    guard.check()
    page.close()  # its kernel is then idle and disconnected, so Voila culls it


def test_scrubbing_updates_every_view_that_depends_on_the_checkpoint(server, browser, ui_store):
    from tdw.explore.variant import Variant

    root, ids = ui_store
    epochs = Variant(ids[0], root).epochs
    page, guard, first_paint = _open(browser, server.page("explore.ipynb"), figures=10)
    last = len(epochs) - 1
    assert page.evaluate("tdwProbe.player().value") == last
    moving = page.evaluate("tdwProbe.moving().map(f => f.name)")
    assert len(moving) >= 10, moving
    # Alternate between far-apart checkpoints, so every view's data really differs. A move
    # repaints the views on screen; the others owe their frame until they come into view.
    results = [page.evaluate("(i) => tdwProbe.move(i, 10000, true)", i)
               for i in [0, last, 1, last - 1, 2, last, 0, last]]
    for r in results:
        assert r["views"] >= 1 and r["waiting"] == [], f"views not updated: {r['waiting']}"
    assert page.evaluate("tdwProbe.caughtUp()") == []  # scrolled into view: all at `last`
    assert page.evaluate("tdwProbe.blankSwatches()") == []  # legends keep their swatches
    # The views, the timeline and its caption move in the browser, without waiting for the
    # kernel to hear of the move.
    label = f"checkpoint {last + 1} of {len(epochs)}"
    poll(lambda: label in page.evaluate("tdwProbe.text()"))
    assert label in page.evaluate("tdwProbe.text()")
    current = page.locator(".tdw-timeline-current")
    assert current.get_attribute("data-epoch") == str(epochs[last])
    page.evaluate("(i) => tdwProbe.move(i, 10000, true)", 2)
    poll(lambda: current.get_attribute("data-epoch") == str(epochs[2]))
    assert current.get_attribute("data-epoch") == str(epochs[2])
    assert f"epoch {epochs[2]}" in page.evaluate("tdwProbe.text()")
    # the story bar above the player tells the story of the variant shown (the latest)
    from tdw.store.store import Store
    from tdw.ui.apps import explorable_variants
    story = Variant(explorable_variants(Store(root))[0], root).story()
    assert page.locator(".tdw-story").get_attribute("data-label") == story["label"]
    assert story["reasons"][0] in page.locator(".tdw-story-reasons").inner_text()
    screenshot(page, "explore-after-scrub")
    ms = [r["ms"] for r in results]
    _record("scrub-latency-tiny", {"variant": ids[0], "checkpoints": len(epochs),
                                   "views_moving": len(moving), "ms": ms,
                                   "median_ms": statistics.median(ms),
                                   "first_paint_s": first_paint})
    guard.check()
    page.close()  # its kernel is then idle and disconnected, so Voila culls it


MARKER_XY_JS = """
(index) => {
  const fig = tdwProbe.byName("view:loss_curves");
  const markers = fig.renderers.find((r) => r.name === "checkpoints");
  const view = Bokeh.index.find_one(fig);
  const data = tdwProbe.plain(markers.data_source.data);
  const sx = view.frame.x_scale.compute(data.epoch[index]);
  const y = data[Object.keys(data).find((k) => k !== "epoch")][index];
  const sy = view.frame.y_scale.compute(y);
  const box = view.canvas_view.el.getBoundingClientRect();
  return {x: box.left + sx, y: box.top + sy, epoch: data.epoch[index]};
}
"""


def test_clicking_a_loss_curve_marker_moves_the_slider(server, browser):
    page, guard, _ = _open(browser, server.page("explore.ipynb"), figures=10)
    page.locator(".bk-panel-models-layout-Card").first.scroll_into_view_if_needed()
    target = page.evaluate(MARKER_XY_JS, 2)
    page.mouse.click(target["x"], target["y"])
    assert poll(lambda: page.evaluate("tdwProbe.player().value") == 2, timeout=10), \
        page.evaluate("tdwProbe.player().value")
    current = page.locator(".tdw-timeline-current")
    assert poll(lambda: current.get_attribute("data-epoch") == str(target["epoch"]))
    guard.check()
    page.close()  # its kernel is then idle and disconnected, so Voila culls it


OVERLAY_MARKERS_JS = """
async () => {
  const out = [];
  for (const fig of tdwProbe.models().filter((m) => (m.name || "").startsWith("overlay:") &&
                                                    m.renderers !== undefined)) {
    tdwProbe.viewOf(fig).el.scrollIntoView({block: "center"});
    await new Promise((r) => setTimeout(r, 100));
    const marker = fig.renderers.find((r) => (r.data_source.name || "")
                                              .startsWith("overlay-marker:"));
    out.push(tdwProbe.plain(marker.data_source.data).x[0]);
  }
  window.scrollTo(0, 0);
  return out;
}
"""


def test_compare_moves_both_variants_in_the_browser_and_the_overlays_with_them(
        server, browser, ui_store):
    _, ids = ui_store
    page, guard, _ = _open(browser, server.page("compare.ipynb"), figures=6, name="compare")
    text = page.evaluate("tdwProbe.text()")
    for vid in ids:
        assert vid.split("/")[-1] in text
    names = page.evaluate("tdwProbe.figures().map(f => f.name)")
    per_view = {n: names.count(n) for n in names}
    assert per_view and all(count == 2 for count in per_view.values()), per_view
    overlays = page.evaluate("tdwProbe.models().filter(m => (m.name || '')"
                             ".startsWith('overlay:')).length")
    assert overlays >= 4
    # Every moving view of both variants takes its new frame, the ones off screen once
    # scrolled into view, and the overlays' markers and the caption follow the position.
    positions = page.evaluate("tdwProbe.plain(tdwProbe.byName('tdw:index-table').data)"
                              ".position")
    for row in (0, len(positions) // 2, 1):
        result = page.evaluate("(i) => tdwProbe.move(i, 10000, true)", row)
        assert result["views"] >= 2 and result["waiting"] == [], result
        assert poll(lambda r=row: f"epoch {positions[r]} · " in page.evaluate("tdwProbe.text()"))
    assert page.evaluate("tdwProbe.caughtUp()") == []
    markers = page.evaluate(OVERLAY_MARKERS_JS)  # each scrolled into view: caught up
    assert markers and set(markers) == {positions[1]}, (markers, positions[1])
    assert page.evaluate("tdwProbe.blankSwatches()") == []
    screenshot(page, "compare-after-move")
    guard.check()
    page.close()  # its kernel is then idle and disconnected, so Voila culls it


def test_a_page_the_kernel_rebuilds_still_moves_in_the_browser(server, browser, ui_store):
    """Pick the other variant: the kernel puts a new explorer (player, timeline, frames) on
    the live page over its comm, and a move must still swap every view's frame there."""
    _, ids = ui_store
    page, guard, _ = _open(browser, server.page("explore.ipynb"), figures=10)
    shown = page.evaluate("tdwProbe.ofType('Select')[0].value")
    other = next(v for v in ids if v != shown)
    before = page.evaluate("tdwProbe.player().id")
    page.evaluate("(v) => { tdwProbe.ofType('Select')[0].value = v; }", other)
    page.wait_for_function("(id) => { const p = tdwProbe.player(); return p && p.id !== id && "
                           "tdwProbe.viewOf(p) != null && tdwProbe.moving().length >= 10; }",
                           arg=before, timeout=60_000)
    for index in (1, 3):
        result = page.evaluate("(i) => tdwProbe.move(i, 10000, true)", index)
        assert result["waiting"] == [], result
    assert page.evaluate("tdwProbe.caughtUp()") == []
    guard.check()
    page.close()  # its kernel is then idle and disconnected, so Voila culls it


def _linked(url: str, query: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{query}"


def test_a_link_opens_a_checkpoint_and_the_address_follows_the_player(server, browser, ui_store):
    """A shared link (with the preheated kernel that serves the page) opens the variant and
    checkpoint it names; a move rewrites the address, so copying it reproduces the view."""
    from tdw.explore.variant import Variant

    root, ids = ui_store
    variant = Variant(ids[1], root)
    url = _linked(server.page("workbench.ipynb"),
                  f"tab=Explore&variant={ids[1]}&epoch={variant.epochs[2]}")
    page, guard, _ = _open(browser, url, figures=10, name="link-explore")
    text = page.evaluate("tdwProbe.text()")
    assert f"epoch {variant.epochs[2]} · checkpoint 3 of {len(variant.epochs)}" in text
    assert page.evaluate("tdwProbe.player().value") == 2
    assert page.evaluate("(v) => tdwProbe.ofType('Select').some((s) => s.value === v)", ids[1])
    page.evaluate("(i) => tdwProbe.move(i, 10000, true)", 4)
    wanted = f"tab=Explore&variant={ids[1]}&epoch={variant.epochs[4]}"
    page.wait_for_function("(q) => window.location.search.includes(q)", arg=wanted,
                           timeout=20_000)
    guard.check()
    page.close()

    bad = _linked(server.page("explore.ipynb"), "variant=nope&epoch=soon")
    page, guard, _ = _open(browser, bad, figures=10, name="link-bad")
    text = page.evaluate("tdwProbe.text()")
    assert "unknown variant 'nope'" in text and "'soon' is not a whole number" in text
    guard.check()
    page.close()


def test_a_view_exports_to_png_from_the_explorer(server, browser):
    page, guard, _ = _open(browser, server.page("explore.ipynb"), figures=10)
    page.locator(".card-header", has_text="Export").first.click()
    page.locator(".tdw-export-render button").click()
    download_button = page.locator(".tdw-export-download button")
    download_button.wait_for(state="visible", timeout=90_000)
    with page.expect_download() as info:
        download_button.click()
    path = info.value.path()
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert info.value.suggested_filename.endswith(".png")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, ARTIFACTS / info.value.suggested_filename)
    guard.check()
    page.close()  # its kernel is then idle and disconnected, so Voila culls it


def test_a_job_started_from_the_train_form_succeeds_and_can_be_analysed_and_compared(
        ui_store, browser, tmp_path):
    """The user's second variant: Train form -> job -> Variants table -> Analyze -> Compare."""
    root, ids = ui_store
    store = tmp_path / "store"
    shutil.copytree(root, store)  # the shared store stays untouched
    with _serve(store, preheat=False) as srv:
        page, guard, _ = _open(browser, srv.page("workbench.ipynb"), figures=3)
        page.locator(".bk-tab", has_text="Train").click()
        for label, value in (("p", "13"), ("n_epochs", "40"), ("train_fraction", "0.5")):
            field = page.get_by_label(label, exact=True)
            field.fill(value)
            field.press("Enter")
        schedule = page.get_by_label("schedule", exact=True)
        schedule.fill("0-40/10")
        schedule.press("Enter")
        start = page.locator("button", has_text="Start training")
        poll(lambda: start.is_enabled(), timeout=15)
        assert "Will train" in page.evaluate("tdwProbe.text()")
        start.click()
        state = page.locator(".tdw-job-state").first
        assert poll(lambda: state.inner_text() == "succeeded", timeout=180, interval=0.5), \
            state.inner_text()
        screenshot(page, "train-job-succeeded")

        page.locator(".bk-tab", has_text="Variants").click()
        # The table lists it (its rows as the browser has them) and draws it on screen.
        rows = ("() => tdwProbe.ofType('DataTable').map("
                "(t) => tdwProbe.plain(t.source.data).variant.join(' ')).join(' ')")
        assert poll(lambda: "p13-" in page.evaluate(rows), timeout=20), page.evaluate(rows)
        assert poll(lambda: "p13-" in page.evaluate("tdwProbe.text()"), timeout=20)
        screenshot(page, "variants-with-new-variant")

        page.locator(".bk-tab", has_text="Analyze").click()
        picker = page.get_by_label("variant", exact=True)
        options = poll(lambda: [o for o in picker.locator("option").all_inner_texts()
                                if "p13-" in o], timeout=20)
        assert options, picker.locator("option").all_inner_texts()
        new_id = options[0]
        picker.select_option(label=new_id)
        # What is missing, before starting: every artifact of the new variant.
        assert poll(lambda: f"{new_id}: " in page.evaluate("tdwProbe.text()")
                    and "to compute, 0 up to date" in page.evaluate("tdwProbe.text()"),
                    timeout=15), page.evaluate("tdwProbe.text()")
        page.locator("button", has_text="Start analysis").click()
        states = page.locator(".tdw-job-state")  # newest job first
        assert poll(lambda: states.count() == 2 and states.first.inner_text() == "succeeded",
                    timeout=240, interval=0.5), states.all_inner_texts()
        assert " · analyze · " in page.evaluate("tdwProbe.text()")

        page.locator(".bk-tab", has_text="Compare").click()
        chooser = page.locator("input.choices__input--cloned").first  # the variants picker
        chooser.click()
        chooser.press_sequentially("p13")
        chooser.press("Enter")
        short = new_id.split("/")[-1]
        assert poll(lambda: page.evaluate("tdwProbe.figures().length")
                    and short in page.evaluate("tdwProbe.text()"), timeout=60)
        names = page.evaluate("tdwProbe.figures().map(f => f.name)")
        assert max(names.count(n) for n in names) >= 3  # each chosen view, once per variant
        screenshot(page, "compare-tab-with-new-variant")
        guard.check()
        page.close()  # its kernel is then idle and disconnected, so Voila culls it
