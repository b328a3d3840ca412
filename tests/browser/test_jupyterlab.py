"""tdw inside a real JupyterLab, in real Chromium: a notebook displays an Explorer and a
Compare offline (nothing leaves 127.0.0.1, no console error), and the player moves the
plotted data. The checkpoint Timeline works there as a plain anywidget, without Panel: a
click on the page reaches a Python observer, and Python moves the handle. The Lab's
launcher opens the workbench in a Lab tab (jupyter-server-proxy starts ``tdw serve`` on the
Lab's store), offline too.

The Lab runs on a temporary folder with the session's two tiny variants; tdw inlines the
stylesheets Panel would link from its CDN (tdw.explore.jupyter).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from headless import free_port, guarded_page, launched, screenshot

pytestmark = pytest.mark.slow

PROBE_JS = (Path(__file__).parents[1] / "bokeh_probe.js").read_text()
TOKEN = "tdw-lab-test"

_PLAYERS = ("() => { const players = tdwProbe.ofType('Player')"
            ".filter((p) => tdwProbe.viewOf(p) != null); ")
# Scroll player k into view, move it two checkpoints on, and name the figures on screen
# whose plotted data changed.
_MOVE = """async (k) => {
  const player = tdwProbe.ofType('Player').filter((p) => tdwProbe.viewOf(p) != null)[k];
  tdwProbe.viewOf(player).el.scrollIntoView({block: "start"});
  await new Promise((r) => setTimeout(r, 1500));
  const shown = () => tdwProbe.moving().filter(tdwProbe.onScreen);
  const before = new Map(shown().map((f) => [f.id, tdwProbe.fingerprint(
    tdwProbe.plain(f.renderers.filter((r) => r.data_source).map((r) => r.data_source.data)))]));
  player.value = (player.value + 2) % (player.end + 1);
  await new Promise((r) => setTimeout(r, 2000));
  return shown().filter((f) => before.has(f.id) && before.get(f.id) !== tdwProbe.fingerprint(
    tdwProbe.plain(f.renderers.filter((r) => r.data_source).map((r) => r.data_source.data))))
    .map((f) => f.name);
}"""


# A researcher's own views, added from a cell to an explorer: one that works (the
# share of each frequency in the embedding's power, as the README's example) and one that
# raises (shown as its error in its own card).
MY_VIEWS = """import numpy as np
from tdw.family import plot

def power_share(ctx):
    norms = ctx.load("dominant_frequencies", ctx.epoch)["norms"]
    return {"freq": np.arange(1, len(norms) + 1), "share": norms**2 / (norms**2).sum()}

def broken(ctx):
    raise KeyError("no array 'typo' in dominant_frequencies")

explorer.add_view(plot.bars_view(
    "power_share", "Share of W_E's power", "each frequency's share", ("dominant_frequencies",),
    power_share, "freq", ["share"], categorical=False, group="My views"))
explorer.add_view(plot.bars_view(
    "broken", "Broken", "raises", ("dominant_frequencies",), broken, "freq", ["share"],
    group="My views"))"""

# The same view, for both variants of a Compare.
MY_COMPARE_VIEW = """compare.add_view(plot.bars_view(
    "power_share", "Share of W_E's power", "each frequency's share", ("dominant_frequencies",),
    power_share, "freq", ["share"], categorical=False))"""

# Scroll figure `name` into view, move the explorer's player three checkpoints on, and say
# whether the figure's plotted data changed.
_MY_VIEW_MOVES = """async (name) => {
  const fig = tdwProbe.byName(name);
  tdwProbe.viewOf(fig).el.scrollIntoView({block: "center"});
  await new Promise((r) => setTimeout(r, 1500));
  const data = () => tdwProbe.fingerprint(tdwProbe.plain(
    fig.renderers.filter((r) => r.data_source).map((r) => r.data_source.data)));
  const before = data();
  const player = tdwProbe.ofType('Player').filter((p) => tdwProbe.viewOf(p) != null)[0];
  player.value = (player.value + 3) % (player.end + 1);
  await new Promise((r) => setTimeout(r, 2000));
  return before !== data();
}"""


# A Timeline on its own, before anything loads Panel: observed from Python.
TIMELINE = """import sys
from tdw.ui import Timeline

timeline = Timeline(epochs=[0, 10, 20, 50, 100], transition=20, caption=True)
moves = []
timeline.observe(lambda change: moves.append(change["new"]), names="value")
print("panel loaded:", "panel" in sys.modules)
timeline"""


def _notebook(cells: list[str]) -> dict:
    return {"cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}",
                       "metadata": {}, "outputs": [], "source": source}
                      for i, source in enumerate(cells)],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                        "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


@pytest.fixture(scope="module")
def lab(ui_store, tmp_path_factory):
    """``jupyter lab`` on a folder holding a notebook that explores and compares the two
    variants; yields (url of the notebook, the variant ids)."""
    root, ids = ui_store
    folder = tmp_path_factory.mktemp("lab")
    cells = [TIMELINE,
             f"from tdw.ui import Compare, Explorer\nSTORE = {str(root)!r}",
             f"explorer = Explorer({ids[0]!r}, STORE)\nexplorer",
             f"compare = Compare([{ids[0]!r}, {ids[1]!r}], STORE)\ncompare",
             f"{MY_VIEWS}\n{MY_COMPARE_VIEW}",  # run once both are on screen
             'print("moves:", moves)', "timeline.value = 10"]
    (folder / "tour.ipynb").write_text(json.dumps(_notebook(cells)))
    port = free_port()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(folder / ".jupyter-config"),
           "TDW_HOME": str(root)}  # the store the launcher's workbench serves
    env.pop("PANEL_CDN_ROOT", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
         f"--port={port}", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
         f"--ServerApp.root_dir={folder}", "--LabApp.news_url=", "--LabApp.check_for_updates_class="
         "jupyterlab.NeverCheckForUpdate"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"jupyter lab did not start:\n{process.stdout.read()}") from None
                time.sleep(0.5)
        yield f"{base}/lab/tree/tour.ipynb?token={TOKEN}", base, ids
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def test_a_notebook_in_jupyterlab_explores_and_compares_offline(lab):
    url, _, ids = lab
    with launched() as browser:
        page, guard = guarded_page(browser, width=1500, height=1100)
        page.goto(url)
        page.wait_for_selector(".jp-Notebook", timeout=120_000)
        page.get_by_text("| Idle").wait_for(timeout=120_000)  # the kernel is up
        page.locator(".jp-Notebook .jp-Cell").first.click()
        for _ in range(4):
            page.keyboard.press("Shift+Enter")
        page.wait_for_function("() => window.Bokeh && Bokeh.documents.length >= 2",
                               timeout=180_000)
        page.add_script_tag(content=PROBE_JS)
        page.wait_for_function("() => tdwProbe.moving().length >= 10", timeout=180_000)
        page.wait_for_timeout(1000)
        screenshot(page, "jupyterlab-explorer")
        assert page.evaluate(_PLAYERS + "return players.length; }") == 2  # Explorer, Compare
        for k, name in enumerate(("explorer", "compare")):
            changed = page.evaluate(_MOVE, k)
            assert len(changed) >= 3, (name, changed)
            screenshot(page, f"jupyterlab-{name}")
        # views added from a cell to the pages on screen move with their players; the broken
        # one shows its error; their stylesheets come inline like the rest (guard.check)
        _run_cell(page, 4)
        page.wait_for_function("() => tdwProbe.byName('view:power_share') !== null && "
                               "tdwProbe.viewOf(tdwProbe.byName('view:power_share')) != null",
                               timeout=60_000)
        assert page.evaluate(_MY_VIEW_MOVES, "view:power_share")
        # the explorer's and one per variant of the comparison
        assert page.evaluate("tdwProbe.figures().filter((f) => f.name === 'view:power_share')"
                             ".length") == 3
        assert "no array 'typo' in dominant_frequencies" in page.evaluate("tdwProbe.text()")
        screenshot(page, "jupyterlab-my-view")
        _timeline_without_panel(page)
        guard.check()
        page.close()


def _run_cell(page, k: int) -> None:
    page.locator(".jp-Notebook .jp-Cell").nth(k).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")


def _timeline_without_panel(page) -> None:
    """The first cell's Timeline: rendered by anywidget alone, a page change reaches the
    observer in the kernel and a change from Python moves the handle."""
    from playwright.sync_api import expect

    cell = page.locator(".jp-Notebook .jp-Cell").nth(0)
    cell.scroll_into_view_if_needed()
    expect(cell.locator(".jp-OutputArea-output").first).to_contain_text("panel loaded: False")
    strip = cell.locator(".tdw-timeline")
    expect(strip.locator(".tdw-timeline-marker")).to_have_count(5)
    current = strip.locator(".tdw-timeline-current")
    expect(current).to_have_attribute("data-epoch", "0")
    strip.locator('.tdw-timeline-marker[data-epoch="50"]').click()
    expect(current).to_have_attribute("data-epoch", "50")
    page.keyboard.press("End")  # the click focused the strip
    expect(current).to_have_attribute("data-epoch", "100")
    screenshot(page, "jupyterlab-timeline")
    _run_cell(page, 5)
    expect(page.locator(".jp-Notebook .jp-Cell").nth(5).locator(".jp-OutputArea-output")) \
        .to_have_text("moves: [50, 100]", timeout=30_000)
    _run_cell(page, 6)
    expect(current).to_have_attribute("data-epoch", "10", timeout=30_000)


_CANVASES = """() => { let n = 0; const walk = (root) => { n += root.querySelectorAll('canvas')
  .length; root.querySelectorAll('*').forEach((e) => e.shadowRoot && walk(e.shadowRoot)); };
  walk(document); return n; }"""


def test_the_lab_launcher_opens_the_workbench_in_a_lab_tab(lab):
    _, base, ids = lab
    with launched() as browser:
        page, guard = guarded_page(browser, width=1500, height=1100)
        # a workspace of its own, so the Lab opens on its launcher
        page.goto(f"{base}/lab/workspaces/launcher-test?token={TOKEN}")
        card = page.locator(".jp-LauncherCard", has_text="tdw workbench")
        card.wait_for(timeout=120_000)
        card.click()  # starts tdw serve through jupyter-server-proxy, then opens a Lab tab
        page.locator(".lm-TabBar-tab", has_text="tdw workbench").wait_for(timeout=60_000)
        deadline = time.monotonic() + 180
        while not (frames := [f for f in page.frames
                              if f.url.endswith("/tdw/voila/render/workbench.ipynb")]):
            assert time.monotonic() < deadline, [f.url for f in page.frames]
            page.wait_for_timeout(500)  # (keeps the page's requests flowing)
        workbench = frames[0]
        workbench.wait_for_function(f"() => ({_CANVASES})() >= 10", timeout=180_000)
        workbench.add_script_tag(content=PROBE_JS)
        assert any(variant in workbench.evaluate("tdwProbe.text()") for variant in ids)
        changed = workbench.evaluate(_MOVE, 0)  # Explore's player moves its views
        assert len(changed) >= 3, changed
        screenshot(page, "jupyterlab-launcher-workbench")
        guard.check()
        page.close()
