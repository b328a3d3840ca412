"""Concurrency (issue 6, part 2): two analyses of one variant at once, and the dashboard
reading while a training run writes. Both succeed or one waits; nothing is duplicated or
half-read. The figures printed are the ones quoted in docs/reliability.md."""

from __future__ import annotations

import shutil
import time

import pytest
from crash_harness import CTX, FAMILY, analyse_child, finish, start, train_child
from helpers import wait_for

from tdw.errors import JobError
from tdw.explore.variant import Variant
from tdw.family.registry import get_family
from tdw.jobs import jobs, launch
from tdw.store.atomic import stale_temps
from tdw.store.store import Store
from tdw.store.verify import verify

pytestmark = pytest.mark.slow

ROUNDS = 3


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("trained") / "store"
    finish(train_child, str(root), {"p": 7, "n_epochs": 40}, "0-40/4")
    return root, Store(root).variants()[0].id


def _expected_rows() -> int:
    fam = get_family(FAMILY)
    return len(fam.analyzers) * 11 + len(fam.cross_epoch)


def test_two_analyses_of_one_variant_at_once_both_succeed_without_duplicates(trained, tmp_path):
    root, vid = trained
    spans = []
    for round_ in range(ROUNDS):
        copy = tmp_path / f"round{round_}"
        shutil.copytree(root, copy)
        events = [CTX.Event(), CTX.Event()]
        began = time.monotonic()
        procs = [start(analyse_child, str(copy), event, vid) for event in events]
        ends = []
        for proc in procs:
            proc.join(600)
            assert proc.exitcode == 0
            ends.append(time.monotonic() - began)
        spans.append(ends)
        store = Store(copy)
        rows = store.catalog.query("SELECT analyzer, epoch FROM artifacts WHERE variant = ?",
                                   (vid,))
        assert len(rows) == len(set(map(tuple, rows))) == _expected_rows()
        assert verify(store).ok and stale_temps(copy, grace=0) == []
    print(f"\n[concurrency] {ROUNDS} rounds of two simultaneous analyses of one variant: all "
          f"{2 * ROUNDS} succeeded, {_expected_rows()} artifacts each time, every one "
          f"verified; finish times (s) {[[round(e, 1) for e in s] for s in spans]}")


def test_a_second_analysis_job_waits_for_the_first_and_a_training_job_is_refused(trained,
                                                                                  tmp_path):
    root, vid = trained
    shutil.copytree(root, tmp_path / "store")
    store = Store(tmp_path / "store")
    _, first = launch.start_analysis(store, vid, workers=1)
    _, second = launch.start_analysis(store, vid, workers=1)
    assert first is not None and second is not None
    retrain = launch.validate_training(store, FAMILY, {"p": 7, "n_epochs": 40},
                                       schedule="0-40/4", force=True)
    with pytest.raises(JobError, match="busy"):
        launch.start_training(store, retrain)
    for record in (first, second):
        done = wait_for(lambda r=record: (j := jobs.job(store, r.id)).state in jobs.FINISHED
                        and j, timeout=600, what=f"job {record.id}")
        assert done.state == "succeeded", done.error
    assert len(store.catalog.query("SELECT 1 FROM artifacts WHERE variant = ?",
                                   (vid,))) == _expected_rows()
    assert verify(store).ok


def test_the_dashboard_never_reads_a_half_written_checkpoint(tmp_path):
    root = tmp_path / "store"
    started = CTX.Event()
    trainer = start(train_child, str(root), started, {"p": 7, "n_epochs": 60}, "0-60/1")
    assert started.wait(300)
    seen: dict[int, str] = {}
    reads = views = 0
    while trainer.exitcode is None:
        store = Store(root)
        if store.variants():
            variant = Variant(store.variants()[0].id, store)
            for epoch in variant.epochs:
                store.load_checkpoint(variant.id, epoch)  # re-hashed: raises if not whole
                seen.setdefault(epoch, store.checkpoint(variant.id, epoch).sha256)
                reads += 1
            if variant.epochs:
                variant.view("loss_curves")  # the metrics file, seal checked
                views += 1
        store.catalog.close()
        trainer.join(0.05)
    assert trainer.exitcode == 0
    store = Store(root)
    final = {c.epoch: c.sha256 for c in store.checkpoints(store.variants()[0].id)}
    assert len(final) == 61 and all(final[e] == sha for e, sha in seen.items())
    print(f"\n[concurrency] dashboard reads during training: {reads} verified checkpoint loads "
          f"and {views} loss-curve views while 61 checkpoints were written; none failed")
    assert reads > 0 and views > 0
