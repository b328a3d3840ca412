"""Watching a training grow live on the Train page, in real Chromium.

A tiny training started from the Train form: while its job runs, the live loss curve in the
browser gains epochs several times (the page is never reloaded), checkpoints appear as
markers, and once the job succeeds the curve holds every epoch the store recorded.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from headless import free_port, guarded_page, launched, poll, screenshot

from tdw.store.store import Store

pytestmark = pytest.mark.slow

PROBE_JS = (Path(__file__).parents[1] / "bokeh_probe.js").read_text()
EPOCHS = 3000
LENGTH = "() => { const r = tdwProbe.byName('live_test_loss'); " \
         "return r ? r.data_source.data.epoch.length : -1 }"
MARKS = "() => { const r = tdwProbe.byName('live_checkpoints'); " \
        "return r ? r.data_source.data.epoch.length : -1 }"


def test_the_train_page_draws_a_running_training_as_it_grows(tmp_path):
    from tdw.serve import ServeConfig, serve

    root = tmp_path / "store"
    Store(root)
    with launched() as browser, serve(ServeConfig(store=root, port=free_port(), preheat=False),
                                      timeout=120) as server:
        page, guard = guarded_page(browser)
        page.goto(server.page("workbench.ipynb"))
        page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0",
                               timeout=120_000)
        page.add_script_tag(content=PROBE_JS)
        page.locator(".bk-tab", has_text="Train").click()
        assert poll(lambda: page.evaluate(LENGTH) == 0, timeout=30)  # nothing to draw yet
        page.get_by_label("family", exact=True).select_option("modulo_addition_1l")
        for label, value in (("p", "13"), ("n_epochs", str(EPOCHS))):
            field = page.get_by_label(label, exact=True)
            field.fill(value)
            field.press("Enter")
        schedule = page.get_by_label("schedule", exact=True)
        schedule.fill(f"0-{EPOCHS}/500")
        schedule.press("Enter")
        start = page.locator("button", has_text="Start training")
        poll(lambda: start.is_enabled(), timeout=15)
        start.click()

        lengths: list[int] = []
        marks: list[int] = []
        state = page.locator(".tdw-job-state").first

        statuses: list[str] = []

        def finished() -> bool:
            statuses.append(page.evaluate("tdwProbe.text()")[-300:])
            lengths.append(page.evaluate(LENGTH))
            marks.append(page.evaluate(MARKS))
            return state.inner_text() == "succeeded" and lengths[-1] == EPOCHS + 1

        assert poll(finished, timeout=240, interval=0.25), (state.inner_text(), lengths[-5:])
        growing = sorted(set(n for n in lengths if 0 < n < EPOCHS + 1))
        assert len(growing) >= 2, f"the curve was seen at only {growing} epochs before the end"
        drop = next((i for i in range(1, len(lengths)) if lengths[i] < lengths[i - 1]), None)
        assert drop is None, (lengths[drop - 3: drop + 3], statuses[drop - 2: drop + 2])
        assert marks[-1] == EPOCHS // 500 + 1
        assert any(0 < m < marks[-1] for m in marks)  # checkpoints appeared while it ran
        # the jobs table (its state cell said "succeeded") and the live view's status line
        # poll the store separately: wait for the status line rather than read it at once
        expected = f"succeeded · epoch {EPOCHS:,} of {EPOCHS:,} · {marks[-1]} checkpoints"
        assert poll(lambda: expected in page.evaluate("tdwProbe.text()"), timeout=30), \
            page.evaluate("tdwProbe.text()")[-600:]
        page.get_by_text("Training, live").scroll_into_view_if_needed()
        page.evaluate("window.scrollBy(0, 0)")
        page.screenshot(path=str(screenshot(page, "train-live").with_name("train-live-view.png")))
        guard.check()
        page.close()
