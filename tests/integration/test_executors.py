"""Sweeps through Dask distributed: a real LocalCluster of two worker processes runs the
papermill jobs; the coordinator alone writes the catalog; a killed worker's job is
retried or failed, never lost."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from tdw.jobs import jobs
from tdw.jobs.executors import DaskExecutor, ExecutorSpec, local_cluster
from tdw.jobs.process import THREAD_VARIABLES, coordinator_lock
from tdw.store.locks import held_elsewhere
from tdw.store.store import Store
from tdw.store.verify import verify
from tdw.sweeps import coordinator
from tdw.sweeps import sweep as sweep_mod
from tdw.sweeps.sweep import SweepSpec

pytestmark = pytest.mark.slow

FAMILY = "modulo_addition_1l"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Two worker processes whose temporary folder (the scratch stores) is private."""
    scratch = tmp_path_factory.mktemp("worker-tmp")
    before = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(scratch)  # inherited by the worker processes
    try:
        threads = _thread_settings()
        with local_cluster(2) as cluster:
            cluster.scratch, cluster.threads = scratch, threads
            yield cluster
    finally:
        if before is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = before


def _thread_settings() -> dict[str, str | None]:
    return {name: os.environ.get(name) for name in THREAD_VARIABLES}


def _executor(cluster) -> DaskExecutor:
    address = cluster.scheduler_address
    return DaskExecutor.connect(ExecutorSpec("dask", address))


def _consistent(store: Store) -> None:
    """Every job ended, no coordinator lock is held, and every indexed file matches."""
    assert store.catalog.integrity_check() == "ok"
    assert all(j.state in jobs.FINISHED for j in jobs.jobs(store))
    assert verify(store).ok
    for job in jobs.jobs(store):
        assert not held_elsewhere(coordinator_lock(store, job.id))


def _processes_in(folder: Path) -> list[int]:
    """Processes whose working directory is ``folder`` (a job's runner and kernel)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if Path(os.readlink(proc / "cwd")) == folder.resolve():
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def test_a_sweep_of_four_variants_runs_on_two_dask_workers(cluster, store):
    grid = ["p=7,11", "model_seed=1,2"]
    fixed = ["n_epochs=20", "train_fraction=0.5"]
    spec = SweepSpec.from_cli(FAMILY, grid, fixed, schedule="0-20/10")
    executor = _executor(cluster)
    try:
        assert executor.slots == 2
        record = sweep_mod.create(store, spec, sweep_mod.plan(spec), str(executor.spec))
        final = coordinator.run(store, record.id, executor, period=0.2)
        assert final.state == "succeeded"
        # analyse two of them through Dask too: a sweep of trained variants only analyses
        analysed = SweepSpec.from_cli(FAMILY, ["model_seed=1,2"], ["p=7", *fixed],
                                      schedule="0-20/10", analyzers="dominant_frequencies")
        second = sweep_mod.create(store, analysed, sweep_mod.plan(analysed), "dask")
        assert coordinator.run(store, second.id, executor, period=0.2).state == "succeeded"
    finally:
        executor.close()
    members = sweep_mod.members(store, final.id)
    assert [m.state for m in members] == ["done"] * 4
    for m in members:
        variant = store.variant(m.variant)
        assert variant.state == "trained" and variant.epochs_done == 20
        assert [c.epoch for c in store.checkpoints(m.variant)] == [0, 10, 20]
        assert len(store.load_metrics(m.variant)["test_loss"]) == 21
        train = jobs.job(store, m.train_job)
        assert train.state == "succeeded" and train.pid is None  # ran remotely
        assert train.progress == train.total == 20 and store.path(train.notebook).exists()
    for m in sweep_mod.members(store, second.id):
        assert m.train_job is None  # trained by the first sweep: not again
        analysis = jobs.job(store, m.analyze_job)
        assert analysis.state == "succeeded" and store.path(analysis.notebook).exists()
        assert set(store.artifact_epochs(m.variant)) == {"dominant_frequencies"}
    _consistent(store)
    assert not list(cluster.scratch.glob("tdw-job*"))  # the workers' scratch stores are gone


def test_a_killed_worker_s_job_is_retried_or_failed_never_lost(cluster, store):
    spec = SweepSpec.from_cli(FAMILY, ["model_seed=5"], ["p=7", "n_epochs=2000",
                                                          "train_fraction=0.5"],
                              schedule="0-2000/100")
    executor = _executor(cluster)
    record = sweep_mod.create(store, spec, sweep_mod.plan(spec), str(executor.spec))
    result: list = []
    thread = threading.Thread(target=lambda: result.append(
        coordinator.run(Store(store.root), record.id, executor, period=0.2)))
    thread.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            (member,) = sweep_mod.members(store, record.id)
            if member.job is not None and member.job.progress >= 200:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the job never got past epoch 200")
        client = executor.client
        pids = client.run(os.getpid)
        (busy,) = [addr for addr, keys in client.processing().items() if keys]
        folder = store.path(f"jobs/{member.job.id}")
        before = _processes_in(folder)
        assert before  # the runner and its kernel
        os.kill(pids[busy], signal.SIGKILL)
        thread.join(240)
        assert not thread.is_alive()
    finally:
        executor.close()
    (member,) = sweep_mod.members(store, record.id)
    job = jobs.job(store, member.job.id)
    assert job.state in ("succeeded", "failed")  # never left running
    if job.state == "succeeded":  # retried on the other worker, resuming
        assert store.variant(member.variant).state == "trained"
        assert len(store.checkpoints(member.variant)) == 21
        assert job.progress_at_start >= 200
    else:
        assert "died" in job.error
    assert not any(pid in _processes_in(folder) for pid in before)  # no orphan runner
    _consistent(store)
    # the killed attempt's scratch store is removed: by the retry, or after the failure
    assert not list(cluster.scratch.glob("tdw-job*"))
    # the worker's restart left the coordinator's thread settings alone
    assert _thread_settings() == cluster.threads
