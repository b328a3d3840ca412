"""The Variants table in real Chromium: ``tdw serve`` on a store of six tiny variants (p in
7, 11 x model seed in 1, 2, 3, stored as if trained). The user filters the table to one
value of p, tags one variant from the editor, ticks three rows and presses **Compare
selected**; the Compare tab then shows those three. Nothing leaves 127.0.0.1 and the
console stays clean. Screenshots land in ``test-artifacts/``."""

from __future__ import annotations

from pathlib import Path

import pytest
from headless import free_port, guarded_page, launched, poll, screenshot
from table_variants import table_variant

from tdw.store import annotations
from tdw.store.store import Store

pytestmark = pytest.mark.slow

PROBE_JS = (Path(__file__).parents[1] / "bokeh_probe.js").read_text()
TABLE = ("() => tdwProbe.ofType('DataTable').map((t) => tdwProbe.plain(t.source.data))"
         ".find((d) => d.variant !== undefined && 'model_seed' in d) || null")
"""The Variants table's columns as the browser has them."""
PICKED = ("() => tdwProbe.ofType('MultiChoice').map((m) => [...m.value])"
          ".find((v) => v.length > 0) || []")
"""The variants the Compare page's picker holds."""


def test_filter_tick_and_compare_selected(tmp_path):
    from tdw.serve import ServeConfig, serve

    store = Store(tmp_path / "store")
    ids = {(p, seed): table_variant(store, p, seed) for p in (7, 11) for seed in (1, 2, 3)}
    config = ServeConfig(store=store.root, port=free_port(), preheat=False)
    with launched() as browser, serve(config, timeout=120) as server:
        page, guard = guarded_page(browser, height=1200)
        page.goto(f"{server.page('workbench.ipynb')}?tab=Variants")
        page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0",
                               timeout=120_000)
        page.add_script_tag(content=PROBE_JS)
        table = lambda: page.evaluate(TABLE)  # noqa: E731
        assert poll(lambda: table() and len(table()["variant"]) == 6, timeout=60), table()
        assert sorted(table()["variant"]) == sorted(ids.values())
        assert sorted(set(table()["p"])) == [7, 11]  # one column per parameter

        # filter to p = 11: the browser's table holds those rows only
        p_filter = page.get_by_label("p", exact=True)
        p_filter.select_option("11")
        assert poll(lambda: table()["p"] == [11, 11, 11], timeout=20), table()
        chosen = table()["variant"]
        assert sorted(chosen) == sorted(ids[11, s] for s in (1, 2, 3))
        assert poll(lambda: "3 of 6 variants shown" in page.evaluate("tdwProbe.text()"),
                    timeout=20)

        # tick one row and tag it from the editor (a row is found by its variant: the grid
        # keeps its rows' elements in no particular order)
        def tick(vid: str) -> None:
            row = page.locator(".slick-row", has_text=vid.split("/")[1])
            row.locator("input[type=checkbox]").click()

        assert page.locator(".slick-row input[type=checkbox]").count() == 3
        tick(chosen[0])
        tags = page.get_by_label("tags", exact=True)
        poll(lambda: tags.is_enabled(), timeout=20)
        assert tags.is_enabled()
        tags.fill("keep seed-one")
        tags.press("Enter")
        page.wait_for_timeout(300)  # the value reaches the kernel before the click
        page.locator("button", has_text="Save tags and note").click()
        first = chosen[0]
        assert poll(lambda: table()["tags"][table()["variant"].index(first)]
                    == "keep seed-one", timeout=20), table()
        assert annotations.annotation(store.catalog, first).tags == ("keep", "seed-one")

        # tick the other two rows and compare all three
        tick(chosen[1])
        tick(chosen[2])
        assert poll(lambda: "3 selected" in page.evaluate("tdwProbe.text()"), timeout=20)
        screenshot(page, "variants-table-filtered-ticked")
        page.locator("button", has_text="Compare selected").click()
        assert poll(lambda: sorted(page.evaluate(PICKED)) == sorted(chosen), timeout=60), \
            page.evaluate(PICKED)
        active = page.locator(".bk-tab.bk-active")
        assert poll(lambda: active.first.inner_text().strip() == "Compare", timeout=20)
        text = lambda: page.evaluate("tdwProbe.text()")  # noqa: E731
        assert poll(lambda: all(v.split("/")[1] in text() for v in chosen), timeout=60), text()
        assert "Pick at least two" not in text()
        page.wait_for_timeout(800)  # let the comparison paint before the screenshot
        screenshot(page, "variants-compare-selected")
        guard.check()
        page.close()
