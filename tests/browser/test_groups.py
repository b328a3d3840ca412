"""Comparing a sweep in groups, in real Chromium, as a user would after a six-variant sweep.

``tdw serve`` on a store of six tiny variants (data seed 1, 2 x model seed 1, 2, 3, stored
as if trained and analysed: ``tests/group_variants.py``), each with its own transition. The
user filters the Variants table to one data seed, ticks its three variants and compares
them side by side; then ticks all six and compares them in groups, pools over the model
seed only (one group per data seed, each a mean and band), aligns on the transition and
moves the small multiples' slider. Nothing leaves 127.0.0.1 and the console stays clean.
Screenshots land in ``test-artifacts/``."""

from __future__ import annotations

from pathlib import Path

import pytest
from group_variants import group_variant
from headless import free_port, guarded_page, launched, poll, screenshot

from tdw.store.store import Store

pytestmark = pytest.mark.slow

PROBE_JS = (Path(__file__).parents[1] / "bokeh_probe.js").read_text()
TURN = {(ds, ms): 2 + ms + 2 * ds for ds in (1, 2) for ms in (1, 2, 3)}
TABLE = ("() => tdwProbe.ofType('DataTable').map((t) => tdwProbe.plain(t.source.data))"
         ".find((d) => d.variant !== undefined && 'model_seed' in d) || null")
BANDS = ("() => Object.fromEntries(tdwProbe.ofType('ColumnDataSource')"
         ".filter((s) => String(s.name).startsWith('group-band:test_loss:'))"
         ".map((s) => [s.name, Array.from(tdwProbe.plain(s.data).x)]))")
"""The test-loss bands the browser holds: source name -> its positions."""


def test_filter_compare_then_group_by_model_seed_aligned_on_the_transition(tmp_path):
    from tdw.serve import ServeConfig, serve

    store = Store(tmp_path / "store")
    ids = {key: group_variant(store, *key, turn) for key, turn in TURN.items()}
    config = ServeConfig(store=store.root, port=free_port(), preheat=False)
    with launched() as browser, serve(config, timeout=120) as server:
        page, guard = guarded_page(browser, width=1500, height=1400)
        page.goto(f"{server.page('workbench.ipynb')}?tab=Variants")
        page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0",
                               timeout=120_000)
        page.add_script_tag(content=PROBE_JS)
        table = lambda: page.evaluate(TABLE)  # noqa: E731
        text = lambda: page.evaluate("tdwProbe.text()")  # noqa: E731
        assert poll(lambda: table() and len(table()["variant"]) == 6, timeout=60), table()

        def tick(vid: str) -> None:
            row = page.locator(".slick-row", has_text=vid.split("/")[1])
            row.locator("input[type=checkbox]").click()

        # one data seed, three variants, side by side
        page.get_by_label("data_seed", exact=True).select_option("1")
        assert poll(lambda: table()["data_seed"] == [1, 1, 1], timeout=20), table()
        first = [ids[1, ms] for ms in (1, 2, 3)]
        for vid in first:
            tick(vid)
        assert poll(lambda: "3 selected" in text(), timeout=20)
        page.locator("button", has_text="Compare selected").click()
        active = page.locator(".bk-tab.bk-active")
        assert poll(lambda: active.first.inner_text().strip() == "Compare", timeout=20)
        assert poll(lambda: all(f"{v.split('/')[1]} at epoch" in text() for v in first),
                    timeout=60), text()

        # every variant, in groups
        page.locator(".bk-tab", has_text="Variants").click()
        page.get_by_label("data_seed", exact=True).select_option("all")
        assert poll(lambda: len(table()["variant"]) == 6, timeout=20), table()
        for key in ((2, 1), (2, 2), (2, 3)):
            tick(ids[key])
        assert poll(lambda: "6 selected" in text(), timeout=20), text()
        page.locator("button", has_text="Compare selected").click()
        assert poll(lambda: "6 variants in 1 group" in text(), timeout=60), text()
        assert len(page.evaluate(BANDS)) == 1

        # pool over the model seed only: a group per data seed
        page.locator(".choices__item", has_text="data_seed").locator(
            ".choices__button").click()
        assert poll(lambda: "6 variants in 2 groups" in text(), timeout=60), text()
        assert poll(lambda: len(page.evaluate(BANDS)) == 2, timeout=20), page.evaluate(BANDS)
        assert "data_seed=1 (3)" in text() and "data_seed=2 (3)" in text()
        by_epoch = page.evaluate(BANDS)
        assert all(min(x) == 0 for x in by_epoch.values()), by_epoch

        # aligned on the transition: positions run from before each fall to after it
        page.locator("button", has_text="align by transition").last.click()
        assert poll(lambda: all(min(x) < 0 for x in page.evaluate(BANDS).values()),
                    timeout=60), page.evaluate(BANDS)
        bands = page.evaluate(BANDS)
        # data seed 1's members fall at 5, 6, 7: positions -7 to 5, at least two from -6
        assert min(bands["group-band:test_loss:0"]) == -6  # half the members (2 of 3)
        page.wait_for_timeout(800)
        screenshot(page, "compare-groups-by-transition")

        # the small multiples: six members, moved by the slider
        assert poll(lambda: text().count("at epoch 10") >= 6, timeout=20), text()
        handle = page.locator(".tdw-groups .noUi-handle").last
        handle.focus()
        for _ in range(20):
            handle.press("ArrowLeft")
        assert poll(lambda: text().count("at epoch 0") >= 3, timeout=60), text()
        guard.check()
        page.close()
