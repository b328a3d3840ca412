"""Serving under load: the kernels of ``tdw serve`` and their memory across many visits.

tdw's server runs Voila under :class:`tdw.serve.kernels.PageKernelManager`. The reference is
the same server under Voila's own kernel manager (what ``tdw serve`` ran before), which
gives a kernel back only when the page's ``beforeunload`` beacon asks for it, or at the idle
cull. Every page here is closed without ``beforeunload``, as a crashed or killed tab is,
after the workbench has painted. The reference gets fewer visits: each one it keeps costs a
painted kernel's memory until the cull, half an hour later.

Reported: kernels and their resident memory before the visits, with pages open, and after
the last page closed; the seconds until the kernel count is back to the preheated pool; the
memory of one painted workbench kernel.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

import psutil

from benchmarks._measure import BenchConfig, Row, Timing, peak_rss_mb
from benchmarks.analysis import trained_variant
from tdw.analysis.run import AnalysisRun
from tdw.serve import (
    ServeConfig,
    Server,
    check_port_free,
    resident_megabytes,
    voila_command,
    voila_env,
    voila_share,
)

AT_ONCE = 5
SETTLE = 90.0  # seconds to wait for the pool after the last close
_READ = ("dominant_frequencies", "neuron_activations", "attention_patterns",
         "parameter_snapshot", "parameter_trajectory", "grokking_transition")


def _start(config: ServeConfig, *, stock: bool, log: Path) -> Server:
    """``tdw serve``'s Voila, or the same with Voila's own kernel manager (``stock``)."""
    command = voila_command(config)
    if stock:
        command = [arg for arg in command if "PageKernelManager" not in arg
                   and "multi_kernel_manager_class" not in arg]
    check_port_free(config.ip, config.port)
    env = voila_env(config, voila_share())
    out = log.open("wb")
    process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, cwd=config.directory)
    return Server(config, process, log)


def _wait(predicate, timeout: float) -> float | None:
    """Seconds until ``predicate()`` holds, or None after ``timeout``."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if predicate():
            return time.monotonic() - began
        time.sleep(1.0)
    return None


def _warm(server: Server, count: int, timeout: float = 240) -> float:
    """Wait until the server has ``count`` kernels, all done importing (their memory has
    stopped growing); their total resident MB."""
    if _wait(lambda: len(server.kernels()) == count, timeout) is None:
        raise AssertionError(f"the server never had {count} kernels: {server.log}")
    samples = [server.kernel_megabytes()]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(2.0)
        samples.append(server.kernel_megabytes())
        if len(samples) >= 3 and max(samples[-3:]) - min(samples[-3:]) < 0.01 * samples[-1]:
            return samples[-1]
    raise AssertionError(f"the pool's memory never settled: {samples[-5:]} MB")


def _paint(browser, url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(url, timeout=180_000)
    page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0",
                           timeout=180_000)
    if errors:
        raise AssertionError(f"console errors on {url}: {errors[:3]}")
    return page


def _measure(root: Path, *, stock: bool, visits: int, at_once: int, workdir: Path,
             settle: float = SETTLE) -> dict:
    """Visit the workbench ``visits`` times, then hold ``at_once`` pages open, closing every
    page without ``beforeunload``; the kernels before, during and after (waiting up to
    ``settle`` seconds for the pool after each round)."""
    import socket

    from playwright.sync_api import sync_playwright

    from tdw.explore.browser import CHROMIUM_ARGS, find_chromium

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = ServeConfig(store=root, port=port)
    log = workdir / f"voila-{'stock' if stock else 'tdw'}.log"
    server = _start(config, stock=stock, log=log)
    pool = len(list(Path(config.directory).glob("*.ipynb")))
    figures: dict = {"pool": pool, "visits": visits}
    try:
        figures["before_mb"] = _warm(server, pool)
        url = server.page("workbench.ipynb")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=find_chromium(),
                                        args=list(CHROMIUM_ARGS))
            for _ in range(visits):
                _paint(browser, url).close(run_before_unload=False)
            figures["release_after_visits_s"] = _wait(
                lambda: len(server.kernels()) == pool, settle)
            pages = [_paint(browser, url) for _ in range(at_once)]
            # The pages' kernels, and the pool refilled behind them, all settled.
            # (Voila's own manager still holds the earlier pages' kernels: count what is there.)
            figures["open_mb"] = _warm(server, len(server.kernels()) if stock
                                       else pool + at_once)
            figures["open_kernels"] = len(server.kernels())
            for page in pages:
                page.close(run_before_unload=False)
            browser.close()
        figures["release_s"] = _wait(lambda: len(server.kernels()) == pool, settle)
        figures["after_kernels"] = len(server.kernels())
        # The pool refilled meanwhile: its new kernels finish importing before they count.
        figures["after_mb"] = (_warm(server, pool) if figures["release_s"]
                               else server.kernel_megabytes())
        figures["server_mb"] = resident_megabytes([psutil.Process(server.process.pid)])
    finally:
        server.stop()
    return figures


def run(cfg: BenchConfig) -> list[Row]:
    scratch = Path(tempfile.mkdtemp(dir=cfg.workdir))
    store, vid = trained_variant(scratch / "store", smoke=True)
    AnalysisRun.prepare(variant=vid, analyzers=_READ, workers=1, store=store).execute()
    visits, at_once = (1, 1) if cfg.smoke else (50, AT_ONCE)
    tdw = _measure(store.root, stock=False, visits=visits, at_once=at_once, workdir=scratch)
    # Smoke runs (CI) check tdw only: the reference exists to show the leak, at a cost of
    # minutes and gigabytes.
    ref = None if cfg.smoke else _measure(store.root, stock=True, visits=10, at_once=at_once,
                                          workdir=scratch)
    load = f"load average {os.getloadavg()[0]:.1f}"
    per_kernel = (tdw["open_mb"] - tdw["before_mb"]) / at_once
    back = tdw["after_kernels"] == tdw["pool"] and (tdw["release_s"] or SETTLE) <= 60
    reference = (f"reference: {ref['after_kernels']} kernels, {ref['after_mb']:.0f} MB "
                 f"{SETTLE:.0f} s after its 10 visits; " if ref else "")
    return [
        Row(f"kernels after {visits} workbench visits and {at_once} pages held open, every "
            "page closed without beforeunload (as a crashed tab)",
            "Voila's own kernel manager, 10 visits" if ref else "-",
            "back to the preheated pool within 60 s; memory within 10% of the start",
            value=(f"tdw: {tdw['after_kernels']} kernels, {tdw['after_mb']:.0f} MB after "
                   f"(pool of {tdw['pool']}: {tdw['before_mb']:.0f} MB before, "
                   f"{tdw['open_kernels']} kernels, {tdw['open_mb']:.0f} MB with pages "
                   f"open); {reference}server {tdw['server_mb']:.0f} MB; {load}"),
            met=back and abs(tdw["after_mb"] - tdw["before_mb"]) <= 0.1 * tdw["before_mb"],
            agreement="every page painted the workbench with no console error",
            note="a kernel with no page connected and no work in progress for page_grace "
                 "(30 s) is shut down; the preheated pool is kept (docs/serving.md)",
            peak_rss_mb=peak_rss_mb()),
        Row("seconds from the last page closing until the kernels are back to the pool",
            ("Voila's own kernel manager: not back within "
             f"{SETTLE:.0f} s" if ref and ref["release_s"] is None else
             "Voila's own kernel manager" if ref else "-"),
            "< 60 s", tdw=Timing((tdw["release_s"],)) if tdw["release_s"] else None,
            ref=Timing((ref["release_s"],)) if ref and ref["release_s"] else None,
            value="" if tdw["release_s"] else f"not back within {SETTLE:.0f} s",
            met=bool(tdw["release_s"]) and tdw["release_s"] <= 60,
            peak_rss_mb=peak_rss_mb()),
        Row("resident memory a page adds: one kernel with the painted workbench (no torch)",
            "-", "<= 250 MB", value=f"{per_kernel:.0f} MB (a waiting pool kernel: "
            f"{tdw['before_mb'] / tdw['pool']:.0f} MB)", met=per_kernel <= 250,
            peak_rss_mb=peak_rss_mb()),
    ]
