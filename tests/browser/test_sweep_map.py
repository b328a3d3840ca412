"""The Sweeps tab in real Chromium: ``tdw serve`` on a store with a recorded 6-variant sweep
(p in 7, 11 x model seed in 1, 2, 3, stored as if trained, one with planted key
frequencies). The user sees the sweep's map (a heatmap: one cell per variant holding its
final test accuracy), switches the outcome, clicks a cell and lands on that variant in
Explore; then starts a tiny sweep from the form, which records it and shows its card (the
sweep is cancelled at once). Nothing leaves 127.0.0.1 and the console stays clean.
Screenshots land in ``test-artifacts/``."""

from __future__ import annotations

from pathlib import Path

import pytest
from headless import free_port, guarded_page, launched, poll, screenshot
from sweep_variants import recorded_sweep

from tdw.store.store import Store
from tdw.sweeps import sweep as sweep_mod

pytestmark = pytest.mark.slow

PROBE_JS = (Path(__file__).parents[1] / "bokeh_probe.js").read_text()
SOURCE = "(id) => { const s = tdwProbe.byName(`sweep-map:${id}`); " \
         "return s ? tdwProbe.plain(s.data) : null; }"
"""The map's clickable source as the browser has it."""
CELL_XY_JS = """
async ([id, x, y]) => {
  const fig = tdwProbe.byName(`sweep-map-figure:${id}`);
  const view = tdwProbe.viewOf(fig);
  view.el.scrollIntoView({block: "center"});
  await new Promise((r) => setTimeout(r, 300));
  const box = view.canvas_view.el.getBoundingClientRect();
  return {x: box.left + view.frame.x_scale.compute(x),
          y: box.top + view.frame.y_scale.compute(y)};
}
"""
"""Page coordinates of the heatmap cell at factors (x, y)."""
PICKED = "() => tdwProbe.ofType('Select').map((s) => s.value)"


def _open(browser, server):
    page, guard = guarded_page(browser, height=1400)
    page.goto(f"{server.page('workbench.ipynb')}?tab=Sweeps")
    page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0",
                           timeout=120_000)
    page.add_script_tag(content=PROBE_JS)
    return page, guard


def test_the_sweep_map_draws_every_variant_and_a_click_opens_it(tmp_path):
    from tdw.serve import ServeConfig, serve

    store = Store(tmp_path / "store")
    record = recorded_sweep(store, ["p=7,11", "model_seed=1,2,3"], keys={(11, 2): [1, 4, 5]})
    members = sweep_mod.members(store, record.id)
    config = ServeConfig(store=store.root, port=free_port(), preheat=False)
    with launched() as browser, serve(config, timeout=120) as server:
        page, guard = _open(browser, server)
        data = lambda: page.evaluate(SOURCE, record.id)  # noqa: E731
        assert poll(lambda: data() is not None, timeout=60)
        cells = data()
        assert cells["variant"] == [m.variant for m in members]  # a cell per variant
        assert list(zip(cells["x"], cells["y"], strict=True)) == [
            (str(p), str(s)) for p in (7, 11) for s in (1, 2, 3)]
        assert cells["value"] == pytest.approx([51, 52, 53, 51, 52, 53])
        assert cells["text"] == ["51.0%", "52.0%", "53.0%", "51.0%", "52.0%", "53.0%"]
        page.wait_for_timeout(800)  # let the heatmap paint before the screenshot
        screenshot(page, "sweep-map-heatmap")

        page.get_by_label("outcome", exact=True).select_option("number of key frequencies")
        assert poll(lambda: data()["text"][4] == "3", timeout=20), data()
        assert data()["text"].count("not analysed") == 5
        assert poll(lambda: "5 of 6 variants have no number of key frequencies: not "
                    "analysed (5)." in page.evaluate("tdwProbe.text()"), timeout=20)

        chosen = cells["variant"][4]  # p = 11, model seed 2
        where = page.evaluate(CELL_XY_JS, [record.id, "11", "2"])
        page.mouse.click(where["x"], where["y"])
        active = page.locator(".bk-tab.bk-active")
        assert poll(lambda: active.first.inner_text().strip() == "Explore", timeout=30)
        assert poll(lambda: chosen in page.evaluate(PICKED), timeout=60), \
            page.evaluate(PICKED)
        guard.check()
        page.close()


def test_a_sweep_started_from_the_form_is_recorded_and_shown(tmp_path):
    from tdw.serve import ServeConfig, serve

    store = Store(tmp_path / "store")
    config = ServeConfig(store=store.root, port=free_port(), preheat=False)
    with launched() as browser, serve(config, timeout=120) as server:
        page, guard = _open(browser, server)
        page.get_by_label("family", exact=True).select_option("modulo_addition_1l")
        text = lambda: page.evaluate("tdwProbe.text()")  # noqa: E731
        # the family's grid rows replace the first family's before they are filled in
        assert poll(lambda: "variants of modulo_addition_1l" in text(), timeout=30), text()
        page.get_by_label("preset", exact=True).select_option("tiny")
        values = page.get_by_label("values", exact=True).first
        values.fill("1,,2")  # refused as the CLI refuses it, in its words
        said = "write NAME=V1,V2,... with no empty value"
        assert poll(lambda: said in text(), timeout=20), text()
        assert page.locator("button", has_text="Start sweep").is_disabled()

        values.fill("1,2")
        executor = page.get_by_label("executor", exact=True)
        executor.fill("local:1")
        page.locator(".tdw-sweep-analyze input").click()  # untick: train only
        assert poll(lambda: "Will sweep 2 variants of modulo_addition_1l on local:1." in
                    text(), timeout=20), text()
        page.wait_for_timeout(300)  # the values reach the kernel before the click
        screenshot(page, "sweep-form")
        page.locator("button", has_text="Start sweep").click()
        assert poll(lambda: sweep_mod.sweeps(store), timeout=30)
        (record,) = sweep_mod.sweeps(store)
        try:
            assert dict(record.spec.grid.axes) == {"model_seed": (1, 2)}
            assert record.spec.preset == "tiny" and not record.spec.analyze
            assert record.executor == "local:1"
            assert poll(lambda: f"Started sweep {record.id}" in text(), timeout=20)
            assert poll(lambda: f"sweep {record.id}" in text() and "model_seed=1,2" in text(),
                        timeout=20)  # its card
        finally:  # once its coordinator runs (else it would start after the cancel)
            poll(lambda: sweep_mod.sweep(store, record.id).state != "interrupted", timeout=60)
            sweep_mod.cancel(store, record.id, timeout=60)
        guard.check()
        page.close()
