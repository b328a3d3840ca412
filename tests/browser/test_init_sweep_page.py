"""The Init gradients tab in real Chromium: ``tdw serve`` on a store with one planted
variant (p = 11, key frequencies 2 and 4); a bad seeds spec is said on the page, a tiny
sweep runs from the form without freezing it, and its bars reach the browser holding the
sweep's numbers. The screenshot lands in ``test-artifacts/init-sweep-page.png``."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from headless import free_port, guarded_page, launched, poll, screenshot
from planted import plant_variant
from tdw.families.modulo_addition_1l.init_sweep import init_gradient_sweep
from tdw.families.modulo_addition_1l.init_sweep_charts import KEY

from tdw.family.registry import get_family
from tdw.serve import ServeConfig, serve
from tdw.store.store import Store

pytestmark = pytest.mark.slow

PROBE_JS = (Path(__file__).parents[1] / "bokeh_probe.js").read_text()
BARS = "tdwProbe.plain(tdwProbe.byName('init-sweep-bars:W_E').data)"


def test_the_init_gradients_tab_runs_a_sweep_and_draws_its_bars(tmp_path):
    store = Store(tmp_path / "store")
    vid = plant_variant(store, 1, [2, 4])
    config = ServeConfig(store=store.root, port=free_port(), preheat=False)
    with launched() as browser, serve(config, timeout=120) as server:
        page, guard = guarded_page(browser, height=1400)  # every chart in the screenshot
        page.goto(f"{server.page('workbench.ipynb')}?tab=init-gradients")
        page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0",
                               timeout=120_000)
        page.add_script_tag(content=PROBE_JS)
        seeds = page.get_by_label("model seeds", exact=True)
        seeds.wait_for(state="visible", timeout=60_000)
        assert vid.split("/")[-1] in page.evaluate("tdwProbe.text()")  # compared by default

        seeds.fill("0-x")
        seeds.press("Enter")
        page.wait_for_timeout(300)  # the value reaches the kernel before the click
        page.locator("button", has_text="Run sweep").click()
        said = "model seeds '0-x': '0-x' is not a seed or a range"
        assert poll(lambda: page.get_by_text(said).first.is_visible(), timeout=20)

        seeds.fill("0-2")
        seeds.press("Enter")
        page.wait_for_timeout(300)
        page.locator("button", has_text="Run sweep").click()
        page.wait_for_function("() => window.tdwProbe.byName('init-sweep:seeds') !== null",
                               timeout=120_000)
        data = page.evaluate(BARS)
        expected = init_gradient_sweep(get_family("modulo_addition_1l").resolve({"p": 11}),
                                       (0, 1, 2), keys=(2, 4))
        assert data["freq"] == [1, 2, 3, 4, 5]
        np.testing.assert_allclose(data["mean"], expected.mean[0], rtol=1e-9)
        assert [c == KEY for c in data["color"]] == [False, True, False, True, False]
        text = page.evaluate("tdwProbe.text()")
        assert "Done: 3 seeds" in text
        assert not page.get_by_text(said).first.is_visible()  # the old error is hidden
        assert "3 model seeds (0-2)" in text and "seed 1: percentile" in text
        page.wait_for_timeout(800)  # let the charts paint before the screenshot
        shot = screenshot(page, "init-sweep-page")
        shutil.copy(shot, "/tmp/init_sweep_page.png")
        guard.check()
        page.close()
