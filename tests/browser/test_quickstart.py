"""The README's main command end to end: ``tdw quickstart`` trains the quick preset, analyses
it, serves the workbench and prints its URL; the page scrubs; a second run only serves.

This is the slowest test (the real quick preset: 2,500 epochs of p = 59, then 954
artifacts); it also measures, in headless Chromium, the time to first paint and the
slider-to-every-view-updated latency on a 95-checkpoint variant (``test-artifacts/``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
from headless import ARTIFACTS, free_port, guarded_page, launched, screenshot

pytestmark = pytest.mark.slow

PROBE_JS = (Path(__file__).parents[1] / "bokeh_probe.js").read_text()


def _interruptible() -> None:
    # Ctrl-C is how a user stops quickstart. A test run started in the background of a
    # non-interactive shell inherits SIGINT ignored, and so would the child: undo that.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(store: Path, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "TDW_HOME": str(store)}
    return subprocess.Popen([sys.executable, "-m", "tdw.cli", "quickstart", "--port", str(port)],
                            stdout=log.open("w"), stderr=subprocess.STDOUT, env=env,
                            cwd=log.parent, preexec_fn=_interruptible)


def _wait_for_url(proc: subprocess.Popen, log: Path, timeout: float) -> str:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if match := re.search(r"open (http://\S+)", log.read_text()):
            return match.group(1)
        assert proc.poll() is None, f"quickstart exited early:\n{log.read_text()[-3000:]}"
        time.sleep(1)
    raise AssertionError(f"no URL after {timeout} s:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGINT)
    return proc.wait(timeout=30)


def _open_workbench(browser, url: str):
    page, guard = guarded_page(browser)
    started = time.monotonic()
    page.goto(url)
    page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0", timeout=120_000)
    page.add_script_tag(content=PROBE_JS)
    page.wait_for_function("() => tdwProbe.figures().length >= 10", timeout=120_000)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    return page, guard, time.monotonic() - started


def test_quickstart_trains_analyses_serves_and_scrubs(tmp_path):
    store = tmp_path / "store"
    log = tmp_path / "quickstart.log"
    proc = _start(store, free_port(), log)
    try:
        url = _wait_for_url(proc, log, timeout=1800)
        text = log.read_text()
        assert "1/3 training" in text and "2/3 analysing" in text and "3/3 serving" in text
        assert url.endswith("/voila/render/workbench.ipynb")
        with launched() as browser:
            paints = []
            for visit in range(2):
                page, guard, seconds = _open_workbench(browser, url)
                paints.append(seconds)
                if visit == 0:
                    screenshot(page, "quickstart-workbench")
                    page.close()
            moving = page.evaluate("tdwProbe.moving().length")
            last = page.evaluate("tdwProbe.player().end")
            targets = [i for k in range(10) for i in (k * 9, last - k * 9)]
            results = [page.evaluate("(i) => tdwProbe.move(i, 10000, true)", i)
                       for i in targets]
            caught_up = page.evaluate("tdwProbe.caughtUp()")  # the views off screen too
            blank = page.evaluate("tdwProbe.blankSwatches()")
            screenshot(page, "quickstart-after-scrub")
            guard.check()
        for r in results:
            assert r["waiting"] == [], r
        assert caught_up == [] and blank == [], (caught_up, blank)
        ms = sorted(r["ms"] for r in results)
        per_view = {}
        for r in results:
            for name, at in r["at"].items():
                per_view.setdefault(name, []).append(at)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "quickstart-latency.json").write_text(json.dumps({
            "checkpoints": last + 1, "views_moving": moving, "moves": len(ms),
            "median_ms": statistics.median(ms), "min_ms": ms[0], "max_ms": ms[-1],
            "first_paint_s": paints,
            "median_ms_until_data_per_view": {k: statistics.median(v)
                                             for k, v in per_view.items()},
        }, indent=2))
    finally:
        code = _stop(proc)
    assert code == 0, log.read_text()[-2000:]

    # Run again: nothing to train or analyse, it serves at once.
    proc = _start(store, free_port(), log)
    try:
        _wait_for_url(proc, log, timeout=180)
        text = log.read_text()
        assert "already trained" in text and "already analysed" in text
    finally:
        assert _stop(proc) == 0
