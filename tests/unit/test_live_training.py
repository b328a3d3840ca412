"""The Train page's live view: it streams a running training's new epochs, marks its
checkpoints, shows the transition once the curve has one, and starts over with the run."""

from __future__ import annotations

import numpy as np
import pytest

from tdw.family.registry import get_family
from tdw.library.transition import detect_transition
from tdw.store import jobs as job_table
from tdw.store.store import Store
from tdw.training.run import TrainingRun
from tdw.ui.live import LiveTraining, finite_length

FAMILY = "modulo_addition_1l"
TINY = {"p": 7, "n_epochs": 30}


def _live(store: Store, monkeypatch) -> tuple[LiveTraining, list[int]]:
    from bokeh.models import ColumnDataSource

    streamed: list[int] = []
    stream = ColumnDataSource.stream

    def counting(source, new, *args, **kwargs):
        streamed.append(len(new["epoch"]))
        return stream(source, new, *args, **kwargs)

    monkeypatch.setattr(ColumnDataSource, "stream", counting)
    return LiveTraining(store, period_ms=60_000), streamed


def test_a_running_training_streams_its_new_epochs_and_marks_its_checkpoints(store: Store,
                                                                             monkeypatch):
    run = TrainingRun.prepare(family=FAMILY, params=TINY, schedule="0-30/5", store=store,
                              device="cpu")
    job_table.queue(store.catalog, "train", run.variant.id, {})
    live, streamed = _live(store, monkeypatch)
    assert "waiting for the run's first metrics" in live.status.object
    seen: dict[int, tuple[list, list]] = {}

    def look(state):
        if state.epoch in (12, 22):
            live.poll()
            seen[state.epoch] = (list(live.curves.data["epoch"]), list(live.marks.data["epoch"]))

    # Metrics are rewritten at checkpoints only here: the live writes are time-based.
    run.execute(callbacks=[look])
    assert seen[12] == (list(range(11)), [0, 5, 10])
    assert seen[22] == (list(range(21)), [0, 5, 10, 15, 20])
    live.poll()
    metrics = store.load_metrics(run.variant.id)
    assert list(live.curves.data["epoch"]) == list(range(31))
    np.testing.assert_array_equal(live.curves.data["test_loss"], metrics["test_loss"])
    np.testing.assert_array_equal(live.curves.data["train_acc"], metrics["train_acc"])
    assert streamed == [11, 10, 10]  # only the new epochs each time, never the whole run
    assert live.marks.data["epoch"] == [0, 5, 10, 15, 20, 25, 30]
    assert live.marks.data["value"] == [pytest.approx(float(metrics["test_loss"][e]))
                                        for e in (0, 5, 10, 15, 20, 25, 30)]
    assert "epoch 30 of" in live.status.object and "7 checkpoints" in live.status.object


def test_a_run_that_starts_over_is_redrawn_from_scratch(store: Store, monkeypatch):
    run = TrainingRun.prepare(family=FAMILY, params=TINY, schedule="0-30/5", store=store,
                              device="cpu")
    job_table.queue(store.catalog, "train", run.variant.id, {})
    run.execute()
    live, _ = _live(store, monkeypatch)
    assert len(live.curves.data["epoch"]) == 31
    metrics = store.load_metrics(run.variant.id)
    restarted = {k: np.full_like(v, np.nan) for k, v in metrics.items()}
    for k in restarted:
        restarted[k][:4] = metrics[k][:4] * 2  # other values: a different run
    store.write_metrics(run.variant.id, restarted)
    live.poll()
    assert list(live.curves.data["epoch"]) == [0, 1, 2, 3]
    np.testing.assert_array_equal(live.curves.data["test_loss"], restarted["test_loss"][:4])


def test_the_transition_appears_once_the_curve_shows_one(store: Store, monkeypatch):
    fam = get_family(FAMILY)
    values = fam.resolve({"p": 7, "n_epochs": 1000})
    vid = store.ensure_variant(fam, values, "0-1000/100", 1000).id
    job_table.queue(store.catalog, "train", vid, {})
    epochs = np.arange(1001)
    # flat at 2, then a fall of 5 decades from epoch 600 to 700, then flat again
    test_loss = np.where(epochs < 600, 2.0, np.where(epochs > 700, 2e-5,
                                                     2.0 * 10 ** (-(epochs - 600) / 20)))
    full = {"train_loss": np.full(1001, 1e-3), "test_loss": test_loss,
            "train_acc": np.ones(1001), "test_acc": np.linspace(0, 1, 1001)}

    def upto(n: int) -> dict:
        return {k: np.where(epochs < n, v, np.nan).astype(np.float32) for k, v in full.items()}

    store.write_metrics(vid, upto(500))
    live, _ = _live(store, monkeypatch)
    assert not any(span.visible for span in live.transition)
    assert "no transition yet" in live.status.object
    store.write_metrics(vid, upto(1001))
    live.poll()
    expected = detect_transition(upto(1001)["test_loss"]).transition_epoch
    # where the fall begins, less what smoothing (sigma: 1% of the run) moves it by
    assert expected is not None and 580 <= expected <= 610
    assert all(span.visible and span.location == expected for span in live.transition)
    assert f"transition at epoch {expected}" in live.status.object


def test_finite_length_counts_epochs_recorded_in_order_and_a_diverged_loss():
    nan = np.nan
    names = ("train_loss", "test_loss", "train_acc", "test_acc")
    metrics = {k: np.array([1.0, 2.0, nan, nan]) for k in names}
    assert finite_length(metrics) == 2
    metrics = {k: np.ones(3) for k in metrics}
    assert finite_length(metrics) == 3
    # the loss became NaN at epoch 2, the accuracies go on: the run recorded 4 epochs
    metrics = {k: np.array([1.0, 0.5, nan, nan, nan]) for k in names}
    metrics["train_acc"] = metrics["test_acc"] = np.array([0.1, 0.2, 0.01, 0.01, nan])
    assert finite_length(metrics) == 4
    assert finite_length({k: np.full(3, nan) for k in names}) == 0
