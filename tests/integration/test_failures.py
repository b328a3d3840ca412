"""Failure reporting (issue 6, part 4): a failing cell, a dead kernel or runner, a full disk
or a refused write each end in a clear, recorded state, and a failed write changes nothing.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sqlite3
import stat
import tempfile
import time

import pytest
import torch
from crash_harness import hold_lock, kill_after, start
from helpers import snapshot, wait_for

from tdw.cli.main import main
from tdw.errors import StoreError, StoreWriteError
from tdw.family.artifacts import ArraySpec, Artifact, ArtifactSchema
from tdw.family.registry import get_family
from tdw.jobs import jobs, launch
from tdw.store.locks import held_elsewhere
from tdw.store.store import Store
from tdw.store.verify import verify
from tdw.training.run import TrainingRun

pytestmark = pytest.mark.slow

FAMILY = get_family("modulo_addition_1l")
TINY = {"p": 7, "n_epochs": 30}


def _train(store: Store, **kwargs):
    return TrainingRun.prepare(family=FAMILY.name, params=TINY, schedule="0-30/5", store=store,
                               device="cpu", **kwargs).execute()


# ------------------------------------------------------------ jobs that fail
def test_a_raising_cell_fails_the_job_with_its_error_in_jobs_show_and_the_dashboard(
        store: Store, capsys):
    from tdw.ui.jobs import JobRow

    vid = _train(store).variant
    damaged = store.path(store.checkpoint(vid, 10).path)
    data = bytearray(damaged.read_bytes())
    data[-1] ^= 0x01
    damaged.write_bytes(bytes(data))
    _, record = launch.start_analysis(store, vid, workers=1)
    done = wait_for(lambda: (r := jobs.job(store, record.id)).state in jobs.FINISHED and r,
                    timeout=300, what="the analysis job to fail")
    assert done.state == "failed"
    assert "cell" in done.error and "IntegrityError" in done.error
    assert str(damaged) in done.error and "retrain" in done.error
    assert main(["--store", str(store.root), "jobs", "show", str(record.id)]) == 0
    shown = capsys.readouterr().out
    assert "failed" in shown and str(damaged) in shown
    row = JobRow(store, jobs.job(store, record.id))
    assert str(damaged) in row.status.object and "failed" in row.title.object


def test_a_killed_kernel_fails_the_job_and_interrupts_the_variant(store: Store):
    request = launch.validate_training(store, FAMILY.name, {"p": 7, "n_epochs": 1_000_000},
                                       schedule="0-1000000/1000", device="cpu")
    record = launch.start_training(store, request)
    running = wait_for(lambda: (r := jobs.job(store, record.id)).progress > 5 and r,
                       timeout=300, what="training progress")
    os.kill(running.kernel_pid, signal.SIGKILL)  # as the out-of-memory killer would
    done = wait_for(lambda: (r := jobs.job(store, record.id)).state in jobs.FINISHED and r,
                    timeout=120, what="the job to be marked failed")
    assert done.state == "failed" and "DeadKernelError" in done.error
    assert store.variant(request.variant).state == "interrupted"
    assert verify(store).ok


def test_a_dead_analysis_worker_stops_the_analysis_with_a_clear_error(store: Store):
    import threading

    import psutil

    from tdw.analysis.engine import AnalysisRunConfig, make_plan
    from tdw.analysis.run import AnalysisRun
    from tdw.errors import TdwError

    vid = TrainingRun.prepare(family=FAMILY.name, params={"p": 7, "n_epochs": 40},
                              schedule="0-40/2", store=store, device="cpu").execute().variant
    outcome: dict[str, BaseException] = {}

    def analyse() -> None:
        try:
            AnalysisRun.prepare(variant=vid, workers=2, store=store).execute()
        except BaseException as exc:  # handed to the test thread
            outcome["error"] = exc

    thread = threading.Thread(target=analyse)
    thread.start()
    wait_for(lambda: store.catalog.one("SELECT COUNT(*) FROM artifacts")[0] > 0, timeout=300,
             what="the first artifacts")
    workers = []
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.Error):  # e.g. an earlier test's unreaped zombie
            if "spawn_main" in " ".join(child.cmdline()):
                workers.append(child)
    assert workers
    workers[0].kill()  # as the out-of-memory killer would
    thread.join(300)
    message = str(outcome["error"])
    assert isinstance(outcome["error"], TdwError)
    assert "worker process" in message and f"tdw analyze {vid}" in message
    assert verify(store).ok
    plan = make_plan(store, AnalysisRunConfig(vid))
    assert plan.items and all(item.reason == "missing" for item in plan.items)


def test_a_dead_runner_is_found_even_when_its_pid_was_reused(store: Store):
    """Liveness is the runner's lock, not its pid: a pid the system gave to another
    process (here: this very test process, certainly alive) does not keep a job running."""
    now = time.time()
    ids = []
    for _ in range(2):
        cur = store.catalog.execute(
            "INSERT INTO jobs (kind, variant, state, params, pid, created, started, updated) "
            "VALUES ('train', 'v', 'running', '{}', ?, ?, ?, ?)", (os.getpid(), now, now, now))
        ids.append(cur.lastrowid)
        (store.root / "jobs" / str(cur.lastrowid)).mkdir(parents=True)
    dead, live = ids
    (store.root / "jobs" / str(dead) / "runner.lock").touch()  # its runner died holding it
    lock = store.root / "jobs" / str(live) / "runner.lock"
    holder = start(hold_lock, str(lock), 120.0)
    wait_for(lambda: held_elsewhere(lock), timeout=90, what="the stand-in runner's lock")
    jobs.reconcile(store)
    assert jobs.job(store, dead).state == "failed"
    assert "died without reporting" in jobs.job(store, dead).error
    assert jobs.job(store, live).state == "running"
    kill_after(holder, 0.0)
    jobs.reconcile(store)
    assert jobs.job(store, live).state == "failed"


# ----------------------------------------------------- writes that are refused
def _fail(exc_errno: int):
    def raiser(*args, **kwargs):
        raise OSError(exc_errno, os.strerror(exc_errno))
    return raiser


FAULTS = {
    "disk full at fsync": ("fsync", errno.ENOSPC, "free some space"),
    "permission denied creating the file": ("mkstemp", errno.EACCES, "writable"),
    "read-only filesystem at rename": ("replace", errno.EROFS, "writable"),
}
SCHEMA = ArtifactSchema("planted", 1, arrays=(ArraySpec("x", "float32", ("n",)),))


def _writes(store: Store, vid: str):
    import numpy as np

    fresh = store.ensure_variant(FAMILY, FAMILY.resolve({"p": 11}), "0-30/5", 30).id
    return {
        "probe": lambda: store.ensure_probe(fresh, FAMILY.probe(FAMILY.resolve({"p": 11}))),
        "new checkpoint": lambda: store.write_checkpoint(vid, 7, {"w": torch.ones(3)}),
        "replaced checkpoint": lambda: store.write_checkpoint(vid, 5, {"w": torch.ones(3)}),
        "artifact": lambda: store.write_artifact(vid, Artifact(
            SCHEMA, 5, {"x": np.ones(4, np.float32)}, {}, "p" * 64, "c" * 64)),
        "metrics": lambda: store.write_metrics(vid, {k: np.zeros(31, np.float32) for k in (
            "train_loss", "test_loss", "train_acc", "test_acc")}),
        "resume": lambda: store.write_resume(vid, {"t": torch.ones(2)}, {"epoch": "5"}),
    }


@pytest.fixture(scope="module")
def trained_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("trained") / "store"
    with pytest.raises(RuntimeError):  # stop mid-run: the store keeps a resume file too
        TrainingRun.prepare(family=FAMILY.name, params=TINY, schedule="0-30/5", store=root,
                            device="cpu").execute(callbacks=[_stop_at(12)])
    return root


def _stop_at(epoch: int):
    def callback(state) -> None:
        if state.epoch == epoch:
            raise RuntimeError("stop")
    return callback


@pytest.mark.parametrize("write", ["probe", "new checkpoint", "replaced checkpoint", "artifact",
                                   "metrics", "resume"])
@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_refused_write_leaves_the_store_as_it_was(trained_root, tmp_path, monkeypatch,
                                                    write, fault):
    import shutil

    shutil.copytree(trained_root, tmp_path / "store")
    store = Store(tmp_path / "store")
    vid = store.variants()[0].id
    action = _writes(store, vid)[write]
    before = snapshot(store.root)
    where, code, fix = FAULTS[fault]
    module = tempfile if where == "mkstemp" else os
    monkeypatch.setattr(module, where, _fail(code))
    with pytest.raises(StoreWriteError) as info:
        action()
    monkeypatch.undo()
    assert info.value.errno == code and fix in str(info.value)
    assert str(store.root) in str(info.value)  # the message names the file
    assert snapshot(store.root) == before


def test_a_row_the_catalog_refuses_leaves_no_file_behind(trained_root, tmp_path, monkeypatch):
    import shutil

    shutil.copytree(trained_root, tmp_path / "store")
    store = Store(tmp_path / "store")
    vid = store.variants()[0].id
    before = snapshot(store.root)
    real = store.catalog.transaction

    @contextlib.contextmanager
    def disk_full():
        with real() as db:
            class Refusing:
                def execute(self, sql, args=()):
                    if sql.startswith("INSERT"):
                        raise sqlite3.OperationalError("database or disk is full")
                    return db.execute(sql, args)
            yield Refusing()

    monkeypatch.setattr(store.catalog, "transaction", disk_full)
    with pytest.raises(StoreError, match="database or disk is full"):
        store.write_checkpoint(vid, 7, {"w": torch.ones(3)})
    monkeypatch.undo()
    assert snapshot(store.root) == before


def test_a_full_disk_mid_training_loses_nothing_and_resume_is_bitwise(tmp_path, monkeypatch):
    reference = Store(tmp_path / "reference")
    vid = _train(reference).variant
    store = Store(tmp_path / "store")
    real_fsync, calls = os.fsync, []

    def fills_up(fd):
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            return real_fsync(fd)
        calls.append(fd)
        # The probe, then (checkpoint, metrics, schedule record, resume) x 3 fit on the disk.
        if len(calls) > 13:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fills_up)
    with pytest.raises(StoreWriteError, match="No space left on device"):
        _train(store)
    monkeypatch.undo()
    assert store.variant(vid).state == "interrupted"
    assert [c.epoch for c in store.checkpoints(vid)] == [0, 5, 10]
    assert verify(store).ok
    result = _train(store)  # space freed: the same command resumes
    assert result.start_epoch == 10
    assert {c.epoch: c.sha256 for c in store.checkpoints(vid)} == {
        c.epoch: c.sha256 for c in reference.checkpoints(vid)}
