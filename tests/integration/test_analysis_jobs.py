"""Analysis jobs end to end: tdw analyze through papermill with parallel workers, an
instant rerun, and a SIGKILL mid-run that leaves no partial artifact."""

from __future__ import annotations

import os
import signal

import pytest
from helpers import tdw, wait_for

from tdw.analysis.engine import AnalysisRunConfig, make_plan
from tdw.family.registry import get_family
from tdw.jobs import jobs
from tdw.jobs.process import alive
from tdw.store.store import Store
from tdw.training.run import TrainingRun

pytestmark = pytest.mark.slow


@pytest.fixture
def trained(cli_env):
    store = Store(cli_env["TDW_HOME"])
    result = TrainingRun.prepare(family="modulo_addition_1l", params={"p": 7, "n_epochs": 40},
                                 schedule="0-40/2", store=store, device="cpu").execute()
    return store, result.variant


def _every_row_verifies(store: Store, vid: str) -> int:
    fam = get_family("modulo_addition_1l")
    schemas = {a.name: a.schema for a in (*fam.analyzers, *fam.cross_epoch)}
    rows = store.catalog.query("SELECT analyzer, epoch FROM artifacts WHERE variant = ?", (vid,))
    for row in rows:
        store.load_artifact(vid, schemas[row["analyzer"]],
                            None if row["epoch"] < 0 else row["epoch"])
    return len(rows)


def test_analyze_job_fills_everything_then_reruns_instantly(cli_env, trained):
    store, vid = trained
    dry = tdw(cli_env, "analyze", vid, "--dry-run").stdout
    assert "to compute" in dry
    out = tdw(cli_env, "analyze", vid, "--workers", "2")
    assert "succeeded" in out.stdout
    fam = get_family("modulo_addition_1l")
    expected = len(fam.analyzers) * 21 + len(fam.cross_epoch)
    assert _every_row_verifies(store, vid) == expected
    again = tdw(cli_env, "analyze", vid)
    assert "nothing to do" in again.stdout
    assert len(jobs.jobs(store)) == 1  # no job was started for an empty plan


def test_sigkill_mid_analysis_leaves_no_partial_artifact(cli_env, trained):
    store, vid = trained
    tdw(cli_env, "analyze", vid, "--workers", "1", "--background")
    record = jobs.jobs(store)[0]
    wait_for(lambda: jobs.job(store, record.id).progress >= 3, what="analysis progress")
    killed = jobs.job(store, record.id)
    os.killpg(killed.kernel_pid, signal.SIGKILL)  # the kernel's session: kernel + workers
    os.killpg(killed.pid, signal.SIGKILL)
    for pid in (killed.kernel_pid, killed.pid):
        wait_for(lambda pid=pid: not alive(pid), timeout=15, what=f"process {pid} to die")
    jobs.reconcile(store)
    assert jobs.job(store, record.id).state == "failed"
    present = _every_row_verifies(store, vid)  # every indexed artifact is whole
    assert present > 0
    stray = [p for p in store.path(store.variant(vid).folder / "artifacts").rglob("*.tmp")]
    assert len(stray) <= 1  # at most the one file being written at the kill, never indexed

    plan = make_plan(store, AnalysisRunConfig(vid))
    fam = get_family("modulo_addition_1l")
    total = len(fam.analyzers) * 21 + len(fam.cross_epoch)
    assert len(plan.items) + plan.up_to_date == total
    assert plan.up_to_date == present  # exactly the gaps are planned
    assert all(i.reason == "missing" for i in plan.items)
    tdw(cli_env, "analyze", vid, "--workers", "1")
    assert _every_row_verifies(store, vid) == total
