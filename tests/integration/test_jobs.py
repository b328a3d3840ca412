"""Training jobs end to end: the CLI, papermill, the catalog, cancel, SIGKILL and resume."""

from __future__ import annotations

import json
import os
import signal

import nbformat
import pytest
import torch
from helpers import tdw, wait_for

from tdw.family.registry import get_family
from tdw.jobs import jobs
from tdw.jobs.process import alive
from tdw.store.jobs import JobRecord
from tdw.store.store import Store
from tdw.training.run import TrainingRun

pytestmark = pytest.mark.slow

def test_train_through_papermill_records_checkpoints_metrics_and_notebook(cli_env):
    out = tdw(cli_env, "train", "modulo_addition_1l", "--set", "p=7", "--set", "n_epochs=40",
              "--schedule", "0-40/10")
    assert "succeeded" in out.stdout
    store = Store(cli_env["TDW_HOME"])
    (variant,) = store.variants()
    assert variant.state == "trained" and variant.epochs_done == 40
    assert [c.epoch for c in store.checkpoints(variant.id)] == [0, 10, 20, 30, 40]
    metrics = store.load_metrics(variant.id)
    assert all(len(v) == 41 and not torch.isnan(torch.from_numpy(v)).any()
               for v in metrics.values())
    (record,) = jobs.jobs(store)
    assert record.state == "succeeded" and record.progress == record.total == 40
    notebook = nbformat.read(store.path(record.notebook), as_version=4)
    assert "parameters" in notebook.cells[1].metadata.tags
    injected = [c for c in notebook.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "job_id" in injected[0].source
    text = json.dumps([c.get("outputs", []) for c in notebook.cells])
    assert "epochs 0->40" in text
    listing = tdw(cli_env, "variants").stdout
    assert variant.id in listing and "trained" in listing
    shown = tdw(cli_env, "variants", variant.id).stdout  # trained, not analysed
    assert "transition   not analysed yet (grokking_transition)" in shown, shown
    expected = len(get_family("modulo_addition_1l").analyzers) * 5 + len(
        get_family("modulo_addition_1l").cross_epoch)
    assert f"analysed     0 of {expected} artifacts (0.0%)" in shown, shown
    assert "succeeded" in tdw(cli_env, "jobs").stdout
    again = tdw(cli_env, "train", "modulo_addition_1l", "--set", "p=7", "--set", "n_epochs=40",
                "--schedule", "0-40/10")
    assert "already trained" in again.stderr and "--force" in again.stderr


def test_a_failing_cell_fails_the_job_and_keeps_the_notebook(store: Store):
    # Parameters pass submit's checks; the variant being trained already is found only by
    # the template's first cell (jobs.submit does not look at the variant's state).
    family, params = get_family("modulo_addition_1l"), {"p": 7, "n_epochs": 5}
    values = family.resolve(params)
    vid = store.ensure_variant(family, values, "0-5/5", 5).id
    store.update_variant(vid, state="trained")
    record = jobs.submit(store, "train", vid, {"family": family.name, "params": params,
                                               "schedule": "0-5/5"})
    done = wait_for(lambda: (r := jobs.job(store, record.id)).state in jobs.FINISHED and r,
                    what="the job to fail")
    assert done.state == "failed"
    assert "AlreadyTrained" in done.error and "cell" in done.error
    notebook = nbformat.read(store.path(done.notebook), as_version=4)
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors and "already trained" in errors[0].evalue


def _start_background(env, n_epochs: int, schedule: str) -> tuple[Store, JobRecord]:
    tdw(env, "train", "modulo_addition_1l", "--set", "p=7", "--set", f"n_epochs={n_epochs}",
        "--schedule", schedule, "--background")
    store = Store(env["TDW_HOME"])
    return store, jobs.jobs(store)[0]


def test_cancel_stops_the_job_and_its_kernel(cli_env):
    store, record = _start_background(cli_env, 1_000_000, "0-1000000/1000")
    running = wait_for(lambda: (r := jobs.job(store, record.id)).progress > 20 and r,
                       what="training progress")
    assert running.state == "running" and running.kernel_pid
    assert running.eta_seconds is not None and running.eta_seconds > 0
    tdw(cli_env, "jobs", "cancel", str(record.id))
    final = jobs.job(store, record.id)
    assert final.state == "cancelled"
    wait_for(lambda: not alive(final.kernel_pid), timeout=10, what="the kernel to exit")
    assert store.variant(final.variant).state == "interrupted"


def test_sigkill_then_resume_gives_bitwise_identical_weights(cli_env, tmp_path):
    n_epochs, schedule = 2000, "0-2000/100"
    store, record = _start_background(cli_env, n_epochs, schedule)
    wait_for(lambda: jobs.job(store, record.id).progress >= 300, what="training progress")
    killed = jobs.job(store, record.id)
    os.killpg(killed.pid, signal.SIGKILL)
    # a zombie (killed, not yet reaped) counts as dead
    wait_for(lambda: not alive(killed.kernel_pid), timeout=15, what="the orphan kernel to exit")
    jobs.reconcile(store)
    assert jobs.job(store, record.id).state == "failed"
    variant = store.variant(killed.variant)
    assert variant.state == "interrupted" and 0 < variant.epochs_done < n_epochs
    for ck in store.checkpoints(variant.id):  # nothing truncated is visible in the catalog
        store.load_checkpoint(variant.id, ck.epoch)

    out = tdw(cli_env, "train", "modulo_addition_1l", "--set", "p=7", "--set",
              f"n_epochs={n_epochs}", "--schedule", schedule)
    assert "succeeded" in out.stdout
    resumed_job = jobs.jobs(store)[0]
    notebook = json.dumps(nbformat.read(store.path(resumed_job.notebook), as_version=4).cells)
    assert f"epochs {variant.epochs_done}->{n_epochs}" in notebook

    reference = Store(tmp_path / "reference")
    TrainingRun.prepare(family="modulo_addition_1l", params={"p": 7, "n_epochs": n_epochs},
                        schedule=schedule, store=reference, device="cpu").execute()
    for ck in reference.checkpoints(variant.id):
        assert store.checkpoint(variant.id, ck.epoch).sha256 == ck.sha256, f"epoch {ck.epoch}"
