"""``tdw rm``: a variant and all its files go, safely; nothing else does.

The store is built directly (no training): variant rows, probes, checkpoints, an artifact,
metrics, tags and a note. Jobs and sweeps that hold a variant are rows (and, for a running
sweep, the coordinator's lock, held by this process)."""

from __future__ import annotations

import fcntl
import io
import os

import numpy as np
import pytest
import torch
from helpers import snapshot

from tdw.cli.main import main
from tdw.family.artifacts import Artifact
from tdw.family.registry import get_family
from tdw.store import annotations, removal, trash
from tdw.store import jobs as job_table
from tdw.store import sweeps as sweep_table
from tdw.store.store import Store
from tdw.store.verify import verify

FAMILY = get_family("modulo_addition_1l")


def _variant(store: Store, p: int) -> str:
    values = FAMILY.resolve({"p": p, "n_epochs": 10})
    vid = store.ensure_variant(FAMILY, values, "0-10/10", 10).id
    store.ensure_probe(vid, {"tokens": torch.zeros(3, 3, dtype=torch.long)})
    for epoch in (0, 10):
        store.write_checkpoint(vid, epoch, {"embed.W_E": torch.full((2, 2), epoch)})
    nan = np.full(11, np.nan, dtype=np.float32)
    store.write_metrics(vid, {k: nan for k in ("train_loss", "test_loss", "train_acc",
                                               "test_acc")})
    analyzer = next(a for a in FAMILY.analyzers if a.name == "neuron_activations")
    store.write_artifact(vid, Artifact(analyzer.schema, 0, {
        "maps": np.zeros((2, p, p), dtype=np.float16), "neurons": np.arange(2, dtype=np.int32)},
        {"n_neurons_total": 512}))
    annotations.annotate(store.catalog, vid, tags=["keep", f"p{p}"], note=f"p = {p}")
    return vid


@pytest.fixture
def two(store: Store) -> tuple[str, str]:
    return _variant(store, 7), _variant(store, 11)


def _rows(store: Store, vid: str) -> dict[str, int]:
    tables = {"variants": "id", "probes": "variant", "checkpoints": "variant",
              "artifacts": "variant", "variant_tags": "variant", "variant_notes": "variant"}
    return {t: store.catalog.one(f"SELECT COUNT(*) FROM {t} WHERE {k} = ?", (vid,))[0]
            for t, k in tables.items()}


def _files(store: Store, vid: str) -> dict[str, object]:
    folder = store.path(store.variant(vid).folder)
    return {k: v for k, v in snapshot(store.root).items() if k.startswith(
        str(folder.relative_to(store.root)))}


def _rm(store: Store, *args: str) -> int:
    return main(["--store", str(store.root), "rm", *args])


def test_rm_yes_removes_the_variant_rows_and_files_and_nothing_else(store, two, capsys):
    gone, kept = two
    folder = store.path(store.variant(gone).folder)
    kept_files, kept_rows = _files(store, kept), _rows(store, kept)
    assert folder.is_dir() and all(_rows(store, gone).values())
    assert _rm(store, gone, "--yes") == 0
    out, err = capsys.readouterr()
    assert out.strip() == f"removed {gone}"
    assert f"{gone}: 2 checkpoint(s), 1 artifact(s)" in err
    assert not any(_rows(store, gone).values())
    assert not folder.exists() and not list(folder.parent.glob(f"{trash.PREFIX}*"))
    assert [v.id for v in store.variants()] == [kept]
    assert _files(store, kept) == kept_files and _rows(store, kept) == kept_rows
    assert verify(store).ok
    assert main(["--store", str(store.root), "verify"]) == 0


def test_rm_needs_the_whole_id_and_refuses_an_unknown_variant(store, two, capsys):
    gone, kept = two
    before = snapshot(store.root)
    assert _rm(store, "nope", "--yes") == 2
    assert "unknown variant 'nope'" in capsys.readouterr().err
    assert _rm(store, kept, "nope", "--yes") == 2  # one bad name: none is removed
    assert snapshot(store.root) == before
    prefix = gone.split("/")[1][:3]  # unique, as other commands accept it; not here
    assert _rm(store, prefix, "--yes") == 2
    err = capsys.readouterr().err
    assert f"{prefix!r} is only part of the variant id {gone}" in err and f"pass {gone}" in err
    assert snapshot(store.root) == before
    assert _rm(store, gone.split("/")[1], "--yes") == 0  # the name without its family
    assert [v.id for v in store.variants()] == [kept]


def test_rm_without_a_terminal_and_without_yes_refuses_naming_yes(store, two, capsys,
                                                                   monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))  # not a terminal, whatever it says
    before = snapshot(store.root)
    assert _rm(store, two[0]) == 2
    err = capsys.readouterr().err
    assert "not a terminal" in err and "--yes" in err
    assert snapshot(store.root) == before


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("answer", "removed"), [("y\n", True), ("yes\n", True),
                                                 ("n\n", False), ("\n", False), ("", False)])
def test_rm_on_a_terminal_asks_first(store, two, capsys, monkeypatch, answer, removed):
    monkeypatch.setattr("sys.stdin", _Terminal(answer))
    before = snapshot(store.root)
    assert _rm(store, two[0]) == (0 if removed else 1)
    err = capsys.readouterr().err
    assert "This cannot be undone. [y/N]" in err
    if removed:
        assert [v.id for v in store.variants()] == [two[1]]
    else:
        assert "nothing removed" in err and snapshot(store.root) == before


@pytest.mark.parametrize("state", ["queued", "running"])
def test_rm_refuses_while_a_job_holds_the_variant(store, two, capsys, state):
    vid = two[0]
    job_id = job_table.queue(store.catalog, "analyze", vid, {})
    if state == "running":  # as a job run elsewhere looks: no local pid, no lock saying dead
        store.catalog.execute("UPDATE jobs SET state = 'running', started = updated "
                              "WHERE id = ?", (job_id,))
    before = snapshot(store.root)
    assert _rm(store, two[1], vid, "--yes") == 2
    err = capsys.readouterr().err
    assert f"held by analyze job {job_id} ({state})" in err
    assert f"tdw jobs cancel {job_id}" in err
    assert snapshot(store.root) == before  # not even the free variant went
    job_table.finish(store.catalog, job_id, "succeeded")
    assert _rm(store, vid, "--yes") == 0


def test_a_job_whose_runner_died_does_not_hold_the_variant(store, two, capsys):
    vid = two[0]
    job_id = job_table.queue(store.catalog, "train", vid, {})
    job_table.mark_running(store.catalog, job_id, 2 ** 22 + 12345, "nb", "log")  # no such pid
    assert _rm(store, vid, "--yes") == 0
    assert job_table.get(store.catalog, job_id).state == "failed"  # reconciled first
    assert job_table.get(store.catalog, job_id).variant == vid  # the job's record is kept


def test_rm_refuses_while_a_running_sweep_holds_the_variant(store, two, capsys):
    vid = two[0]
    sweep_id = sweep_table.create(store.catalog, FAMILY.name, '{"spec": 1}', "local:1",
                                  [(0, vid, {"p": 7}), (1, two[1], {"p": 11})])
    sweep_table.start_run(store.catalog, sweep_id, os.getpid(), "local:1")
    sweep_table.set_member(store.catalog, sweep_id, 0, state="done")
    lock = store.path(f"sweeps/{sweep_id}/coordinator.lock")
    lock.parent.mkdir(parents=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a live coordinator
    try:
        before = snapshot(store.root)
        assert _rm(store, vid, "--yes") == 2
        err = capsys.readouterr().err
        assert f"belongs to sweep {sweep_id}, which is running" in err
        assert f"tdw sweep cancel {sweep_id}" in err
        assert snapshot(store.root) == before
    finally:
        os.close(fd)
    # the coordinator is gone: the sweep is reconciled as interrupted and the variant freed;
    # the sweep forgets that it was done, so running it again retrains it
    assert _rm(store, vid, "--yes") == 0
    member = sweep_table.members(store.catalog, sweep_id)[0]
    assert (member["state"], member["train_job"]) == ("pending", None)


def test_rm_refuses_while_an_analysis_holds_the_artifacts_folder(store, two, capsys):
    vid = two[0]
    fd = os.open(store.path(store.variant(vid).folder / "artifacts"), os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        assert _rm(store, vid, "--yes") == 2
        assert f"an analysis of {vid} is running in another process" in capsys.readouterr().err
    finally:
        os.close(fd)
    assert _rm(store, vid, "--yes") == 0


def test_a_kill_after_the_rows_leaves_no_row_without_its_file(store, two, monkeypatch):
    """Rows go first; a removal killed before the folder goes leaves files no row points at,
    and training the same variant again starts from an empty folder."""
    vid = two[0]
    folder = store.path(store.variant(vid).folder)

    def killed(path):
        raise KeyboardInterrupt

    monkeypatch.setattr(trash, "discard", killed)
    with pytest.raises(KeyboardInterrupt):
        removal.remove(store, vid)
    monkeypatch.undo()
    assert folder.is_dir() and not any(_rows(store, vid).values())
    assert verify(store).ok
    values = FAMILY.resolve({"p": 7, "n_epochs": 10})
    assert store.ensure_variant(FAMILY, values, "0-10/10", 10).id == vid
    assert not folder.exists()  # the leftovers of the killed removal, not the new variant's
    assert store.load_resume(vid) is None and store.checkpoints(vid) == []


def test_leftovers_of_a_killed_discard_are_swept_by_the_next(tmp_path):
    parent = tmp_path / "variants" / "fam"
    left = parent / f"{trash.PREFIX}old-{2 ** 22 + 12345}-1"  # its remover is dead
    (left / "checkpoints").mkdir(parents=True)
    (parent / "v1" / "checkpoints").mkdir(parents=True)
    (parent / "v2").mkdir()
    assert trash.discard(parent / "v1") is True
    assert sorted(p.name for p in parent.iterdir()) == ["v2"]
    assert trash.discard(parent / "v1") is False
