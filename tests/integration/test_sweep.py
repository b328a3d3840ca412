"""Sweeps: the grid, bad input, the catalog migration, and sweeps run by local runners
(see test_executors.py for Dask)."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time

import pytest
from helpers import snapshot

from tdw.cli.main import main
from tdw.errors import ParameterError, UnknownNameError
from tdw.family.registry import get_family
from tdw.jobs import jobs
from tdw.jobs.executors import ExecutorError, LocalExecutor, parse_executor
from tdw.jobs.process import coordinator_lock
from tdw.store.catalog import _SCHEMA, SCHEMA_VERSION
from tdw.store.store import Store
from tdw.sweeps import coordinator
from tdw.sweeps import sweep as sweep_mod
from tdw.sweeps.sweep import Grid, SweepError, SweepSpec

FAMILY = "modulo_addition_1l"
TINY = ["n_epochs=20", "train_fraction=0.5"]
ANALYZERS = "dominant_frequencies,coarseness"  # two cheap ones: the sweep, not analysis, is tested


def test_grid_is_the_product_of_typed_values_in_the_order_given():
    grid = Grid.parse(get_family(FAMILY), ["p=53,59,61", "model_seed=1,2"])
    assert grid.axes == (("p", (53, 59, 61)), ("model_seed", (1, 2)))
    points = grid.points()
    assert len(points) == 6 and points[:2] == [{"p": 53, "model_seed": 1},
                                               {"p": 53, "model_seed": 2}]
    spec = SweepSpec.from_cli(FAMILY, ["p=53,59,61", "model_seed=1,2"], ["n_epochs=50"],
                              preset="quick")
    assert SweepSpec.from_key(spec.key()) == spec
    variants = [p.variant for p in sweep_mod.plan(spec)]
    assert len(set(variants)) == 6 and variants[0].startswith(f"{FAMILY}/p53-ms1-")


@pytest.mark.parametrize(("grid", "error", "says"), [
    ([], SweepError, "at least one --grid"),
    (["q=1,2"], UnknownNameError, "choose one of"),
    (["p=abc"], ParameterError, "not a valid int"),
    (["p=4"], ParameterError, "must be prime"),
    (["p=7,"], SweepError, "no empty value"),
    (["p"], SweepError, "NAME=V1,V2"),
    (["p=7,7"], SweepError, "twice"),
    (["p=7", "p=11"], SweepError, "given twice"),
])
def test_bad_grids_are_refused_naming_the_problem(grid, error, says):
    with pytest.raises(error, match=says):
        SweepSpec.from_cli(FAMILY, grid)


@pytest.mark.parametrize(("text", "says"), [
    ("dask://host", "dask://HOST:PORT"),
    ("dask://host:99999", "dask://HOST:PORT"),
    ("dask:/host:1", "not an executor"),
    ("local:0", "from 1 to 256"),
    ("local:two", "from 1 to 256"),
    ("ray", "not an executor"),
])
def test_bad_executors_are_refused_naming_the_forms(text, says):
    with pytest.raises(ExecutorError, match=says):
        parse_executor(text)


def test_executor_forms():
    assert str(parse_executor("local")) == "local"
    assert parse_executor("dask-local:3").workers == 3
    assert parse_executor("dask://127.0.0.1:8786").address == "tcp://127.0.0.1:8786"


@pytest.mark.parametrize(("args", "says"), [
    (["--grid", "q=1,2"], "unknown parameter"),
    (["--grid", "p=abc"], "not a valid int"),
    ([], "at least one --grid"),
    (["--grid", "p=7", "--set", "p=11"], "both swept"),
    (["--grid", "p=7", "--executor", "dask://nohost"], "dask://HOST:PORT"),
    (["--grid", "p=7", "--preset", "nope"], "preset"),
    (["--grid", "p=7", "--analyzers", "nope"], "unknown analyzer"),
])
def test_cli_refuses_bad_sweeps_and_changes_nothing(store, capsys, args, says):
    before = snapshot(store.root)
    assert main(["--store", str(store.root), "sweep", FAMILY, *args]) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and len(err.splitlines()) == 1
    assert snapshot(store.root) == before


@pytest.mark.slow
def test_an_unreachable_scheduler_is_refused_before_anything_is_recorded(store, capsys):
    before = snapshot(store.root)
    assert main(["--store", str(store.root), "sweep", FAMILY, "--grid", "p=7",
                 "--executor", "dask://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in err and "--executor" in err
    assert snapshot(store.root) == before


def test_status_and_cancel_of_unknown_sweeps(store, capsys):
    assert main(["--store", str(store.root), "sweep", "status"]) == 0
    assert "no sweeps yet" in capsys.readouterr().out
    assert main(["--store", str(store.root), "sweep", "cancel", "4"]) == 2
    assert "no sweep 4" in capsys.readouterr().err


def test_a_schema_1_store_opens_and_gains_the_sweep_tables(tmp_path):
    root = tmp_path / "old"
    root.mkdir()
    db = sqlite3.connect(root / "catalog.sqlite")
    db.executescript(_SCHEMA)  # version 1 had exactly these tables
    db.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    db.execute("INSERT INTO families VALUES ('modulo_addition_1l', 'Modulo Addition', 1)")
    db.execute("INSERT INTO variants (id, family, params, schedule, n_epochs, state, created, "
               "updated) VALUES ('modulo_addition_1l/p7', 'modulo_addition_1l', '{}', '0-4/2', "
               "4, 'trained', 0, 0)")
    db.commit()
    db.close()
    store = Store(root)
    assert store.catalog.one("SELECT value FROM meta")[0] == str(SCHEMA_VERSION)
    assert [v.id for v in store.variants()] == ["modulo_addition_1l/p7"]
    assert store.catalog.query("SELECT * FROM sweeps") == []
    assert Store(root).catalog.one("SELECT value FROM meta")[0] == str(SCHEMA_VERSION)  # no-op


def _spec(*grid: str, sets: list[str] = TINY, analyzers: str = "") -> SweepSpec:
    return SweepSpec.from_cli(FAMILY, list(grid), sets, schedule="0-20/10", analyzers=analyzers)


def _run(store: Store, spec: SweepSpec, slots: int = 2) -> sweep_mod.SweepRecord:
    record = sweep_mod.create(store, spec, sweep_mod.plan(spec), f"local:{slots}")
    return coordinator.run(store, record.id, LocalExecutor(parse_executor(f"local:{slots}")),
                         period=0.2)


@pytest.mark.slow
def test_a_local_sweep_trains_and_analyses_every_variant_and_a_rerun_does_nothing(store,
                                                                                 capsys):
    spec = _spec("model_seed=1,2", analyzers=ANALYZERS)
    final = _run(store, spec)
    assert final.state == "succeeded"
    members = sweep_mod.members(store, final.id)
    assert [m.state for m in members] == ["done", "done"]
    for m in members:
        assert store.variant(m.variant).state == "trained"
        assert jobs.job(store, m.train_job).state == jobs.job(store, m.analyze_job).state \
            == "succeeded"
        assert set(store.artifact_epochs(m.variant)) == set(ANALYZERS.split(","))
    n_jobs = len(jobs.jobs(store))
    # the same sweep from the command line: found by its spec, nothing trained or analysed
    assert main(["--store", str(store.root), "sweep", FAMILY, "--grid", "model_seed=1,2",
                 "--set", "n_epochs=20", "--set", "train_fraction=0.5", "--schedule",
                 "0-20/10", "--analyzers", ANALYZERS, "--executor", "local:2"]) == 0
    out = capsys.readouterr().out
    assert f"sweep {final.id} succeeded" in out and out.count(" done ") >= 2
    assert len(jobs.jobs(store)) == n_jobs
    assert main(["--store", str(store.root), "sweep", "status", str(final.id)]) == 0
    assert "succeeded, 2/2 done" in capsys.readouterr().out


@pytest.mark.slow
def test_cancel_stops_the_sweep_and_a_rerun_resumes_the_interrupted_variant(store):
    spec = _spec("p=7", "model_seed=1,2", sets=["n_epochs=2000", "train_fraction=0.5"])
    spec = SweepSpec(spec.family, spec.grid, spec.fixed, schedule="0-2000/100")
    record = sweep_mod.create(store, spec, sweep_mod.plan(spec), "local:1")
    result: list = []
    shown: list[float] = []  # the first variant's progress in each table the coordinator shows

    def show(members) -> None:
        shown.append(members[0].job.fraction if members[0].job else 0.0)

    thread = threading.Thread(target=lambda: result.append(coordinator.run(
        store.__class__(store.root), record.id, LocalExecutor(parse_executor("local:1")),
        on_change=show, period=0.2)))
    thread.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        first = sweep_mod.members(store, record.id)[0]
        if first.job is not None and first.job.progress >= 200:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the first variant never got past epoch 200")
    # the table follows the running job, not only its changes of state: a table showing
    # at least a tenth done comes while the job runs (the last one, after the cancel, is
    # not counted: it would show the progress either way)
    deadline = time.monotonic() + 30
    while not any(0.1 <= f < 1.0 for f in shown) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert any(0.1 <= f < 1.0 for f in shown), shown
    cancelled = sweep_mod.cancel(store, record.id)
    thread.join(60)
    assert cancelled.state == "cancelled" and result[0].state == "cancelled"
    members = sweep_mod.members(store, record.id)
    assert [m.state for m in members] == ["cancelled", "cancelled"]
    assert members[0].job.state == "cancelled" and members[1].job is None  # never started
    first_job = members[0].job.id
    interrupted = store.variant(members[0].variant)
    assert interrupted.state == "interrupted" and interrupted.epochs_done >= 200
    final = _run(store, spec, slots=2)
    assert final.state == "succeeded"
    members = sweep_mod.members(store, record.id)
    resumed = jobs.job(store, members[0].train_job)
    assert resumed.id != first_job and resumed.progress_at_start >= interrupted.epochs_done
    assert all(store.variant(m.variant).state == "trained" for m in members)


def test_the_sweeps_page_shows_per_variant_state(store):
    from tdw.ui.sweeps import SweepList

    spec = _spec("model_seed=1,2")
    record = sweep_mod.create(store, spec, sweep_mod.plan(spec), "local")
    page = SweepList(store, period_ms=60_000)
    card = page.cards[record.id]
    assert "sweep 1" in card.title.object and "model_seed=1,2" in card.title.object
    assert card.table.object.count("tdw-sweep-member") == 2 and "pending" in card.table.object
    assert not card.cancel.visible  # not running


def test_a_sweep_with_a_live_coordinator_cannot_run_twice(store):
    spec = _spec("model_seed=1")
    record = sweep_mod.create(store, spec, sweep_mod.plan(spec), "local")
    lock = store.path(f"sweeps/{record.id}/coordinator.lock")
    lock.parent.mkdir(parents=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        with pytest.raises(SweepError, match="already running"):
            coordinator.run(store, record.id, LocalExecutor())
    finally:
        os.close(fd)


def test_a_remote_job_fails_once_its_coordinator_lock_is_free(store):
    family = get_family(FAMILY)
    values = family.resolve({"p": 7, "n_epochs": 4})
    vid = store.ensure_variant(family, values, "0-4/2", 4).id
    record = jobs.record(store, "train", vid, {"family": FAMILY, "params": {"p": 7,
                                                                           "n_epochs": 4}})
    jobs.reconcile(store)
    assert jobs.job(store, record.id).state == "queued"  # no lock yet: being started
    lock = coordinator_lock(store, record.id)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    jobs.reconcile(store)
    assert jobs.job(store, record.id).state == "queued"  # its coordinator lives
    os.close(fd)  # the coordinator dies
    jobs.reconcile(store)
    failed = jobs.job(store, record.id)
    assert failed.state == "failed" and "died" in failed.error


def test_worker_rows_merge_into_the_catalog_and_orphan_checkpoints_are_reindexed(tmp_path):
    from tdw.store.replication import index_orphan_checkpoints, merge_rows, variant_rows
    from tdw.training.run import TrainingRun

    worker = Store(tmp_path / "worker")
    vid = TrainingRun.prepare(family=FAMILY, params={"p": 7, "n_epochs": 4}, schedule="0-4/2",
                              store=worker, device="cpu").execute().variant
    rows = variant_rows(worker.catalog, vid)
    main = Store(tmp_path / "coordinator")
    merge_rows(main.catalog, rows)
    assert variant_rows(main.catalog, vid) == rows
    assert main.variant(vid).state == "trained"
    # a delta adds and replaces rows; the final report makes the rows exactly the worker's
    (extra,) = [dict(r, epoch=99) for r in rows["checkpoints"] if r["epoch"] == 4]
    merge_rows(main.catalog, {**rows, "checkpoints": [extra]}, replace=False)
    assert [c.epoch for c in main.checkpoints(vid)] == [0, 2, 4, 99]
    merge_rows(main.catalog, rows)
    assert [c.epoch for c in main.checkpoints(vid)] == [0, 2, 4]
    # a killed attempt wrote checkpoint 4 but never reported it: the retry indexes the file
    before = worker.checkpoint(vid, 4)
    worker.catalog.execute("DELETE FROM checkpoints WHERE variant = ? AND epoch = 4", (vid,))
    index_orphan_checkpoints(worker, vid)
    again = worker.checkpoint(vid, 4)
    assert (again.sha256, again.path, again.bytes) == (before.sha256, before.path, before.bytes)
