"""Dry runs tell the truth: on a variant a live job holds, ``tdw train --dry-run`` and
``tdw analyze --dry-run`` say the real command would be refused, and why, and exit 2 as it
would; they write nothing. The store is built directly (no training): a variant row, a
probe, two checkpoints, and a job row."""

from __future__ import annotations

import pytest
import torch
from helpers import snapshot

from tdw.cli.main import main
from tdw.errors import JobError
from tdw.family.family import variant_id
from tdw.family.registry import get_family
from tdw.store import jobs as job_table
from tdw.store.store import Store

FAMILY = "modulo_addition_1l"
PARAMS = {"p": 7, "n_epochs": 20}


@pytest.fixture
def variant(store: Store) -> str:
    """A modulo addition variant with a probe and two checkpoints, nothing analysed."""
    fam = get_family(FAMILY)
    values = fam.resolve(PARAMS)
    record = store.ensure_variant(fam, values, "0-20/10", PARAMS["n_epochs"])
    store.ensure_probe(record.id, {"tokens": torch.zeros(3, 3, dtype=torch.long)})
    for epoch in (0, 10):
        store.write_checkpoint(record.id, epoch, {"embed.W_E": torch.full((2, 2), epoch)})
    assert record.id == variant_id(fam, values)  # what `tdw train --set ...` names
    return record.id


def _hold(store: Store, kind: str, vid: str, *, state: str = "running") -> int:
    """A job row on ``vid`` in ``state``: queued, then (by hand) running without a local
    pid, as a job run elsewhere looks; alive since no coordinator lock says otherwise."""
    job_id = job_table.queue(store.catalog, kind, vid, {})
    if state == "running":
        store.catalog.execute("UPDATE jobs SET state = 'running', started = updated "
                              "WHERE id = ?", (job_id,))
    return job_id


def _train(store: Store, *extra: str) -> list[str]:
    sets = [a for k, v in PARAMS.items() for a in ("--set", f"{k}={v}")]
    return ["--store", str(store.root), "train", FAMILY, *sets, "--schedule", "0-20/10",
            "--dry-run", *extra]


def _analyze(store: Store, vid: str) -> list[str]:
    return ["--store", str(store.root), "analyze", vid, "--dry-run"]


def test_train_dry_run_on_a_busy_variant_says_it_would_be_refused(store, variant, capsys):
    job_id = _hold(store, "analyze", variant)
    before = snapshot(store.root)
    assert main(_train(store)) == 2
    out, err = capsys.readouterr()
    assert f"would train {variant}" in out  # the plan is still shown
    assert err.startswith("tdw: the real command would be refused now: ")
    assert f"busy with analyze job {job_id}" in err and f"tdw jobs cancel {job_id}" in err
    assert snapshot(store.root) == before


def test_analyze_dry_run_while_the_variant_trains_says_it_would_be_refused(store, variant,
                                                                            capsys):
    job_id = _hold(store, "train", variant, state="queued")
    before = snapshot(store.root)
    assert main(_analyze(store, variant)) == 2
    out, err = capsys.readouterr()
    assert "checkpoint" in out  # the plan
    assert f"busy with train job {job_id}" in err and f"tdw jobs cancel {job_id}" in err
    assert snapshot(store.root) == before


def test_an_analysis_does_not_block_another_analysis_dry_run(store, variant, capsys):
    """Analyses queue behind each other; only training excludes them."""
    _hold(store, "analyze", variant)
    assert main(_analyze(store, variant)) == 0
    assert capsys.readouterr().err == ""


def test_a_free_variant_dry_runs_cleanly(store, variant, capsys):
    assert main(_train(store)) == 0
    assert main(_analyze(store, variant)) == 0
    assert capsys.readouterr().err == ""


def test_a_job_whose_runner_died_does_not_count(store, variant, capsys):
    """The real command reconciles first (the dead job becomes failed) and then starts, so
    the dry run, which writes nothing, must not call it busy either."""
    job_id = _hold(store, "train", variant)
    lock = store.root / "jobs" / str(job_id) / "runner.lock"
    lock.parent.mkdir(parents=True)
    lock.touch()  # released: its runner is gone
    store.catalog.execute("UPDATE jobs SET pid = ? WHERE id = ?", (2 ** 22 + 12345, job_id))
    assert main(_analyze(store, variant)) == 0
    assert capsys.readouterr().err == ""
    assert job_table.get(store.catalog, job_id).state == "running"  # untouched by a dry run


def test_the_dry_run_and_the_real_refusal_agree(store, variant):
    """The message is the one the job table raises when it refuses the real job."""
    job_id = _hold(store, "train", variant)
    with pytest.raises(JobError) as refused:
        job_table.queue(store.catalog, "train", variant, {})
    assert str(refused.value) == str(job_table.busy_error(variant, "train", job_id))
