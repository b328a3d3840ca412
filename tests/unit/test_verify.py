"""Integrity (issue 6, part 3): ``tdw verify`` names every damaged file, and no reader ever
uses one: analysis and views stop with the file's path and its repair."""

from __future__ import annotations

import shutil

import pytest

from tdw.analysis.run import AnalysisRun
from tdw.cli.main import main
from tdw.errors import IntegrityError
from tdw.explore.variant import Variant
from tdw.store.store import Store
from tdw.store.verify import verify
from tdw.training.run import TrainingRun

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    root = tmp_path_factory.mktemp("verify") / "store"
    vid = TrainingRun.prepare(family="modulo_addition_1l", params={"p": 7, "n_epochs": 20},
                              schedule="0-20/10", store=root, device="cpu").execute().variant
    AnalysisRun.prepare(variant=vid, workers=1, store=root).execute()
    return root, vid


@pytest.fixture
def copy(analysed, tmp_path):
    root, vid = analysed
    shutil.copytree(root, tmp_path / "store")
    return Store(tmp_path / "store"), vid


def _flip(path, offset: int = -1) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _artifact_path(store: Store, vid: str, analyzer: str, epoch: int):
    row = store.catalog.one("SELECT path FROM artifacts WHERE variant = ? AND analyzer = ? AND "
                            "epoch = ?", (vid, analyzer, epoch))
    return store.path(row["path"])


def test_an_intact_store_verifies(copy, capsys):
    store, vid = copy
    assert main(["--store", str(store.root), "verify"]) == 0
    out = capsys.readouterr().out
    assert "every file matches" in out and "of 1 variant" in out


def test_every_damaged_file_is_reported_with_its_path(copy, capsys):
    store, vid = copy
    checkpoint = store.path(store.checkpoint(vid, 10).path)
    truncated = _artifact_path(store, vid, "dominant_frequencies", 0)
    deleted = _artifact_path(store, vid, "dominant_frequencies", 20)
    probe = store.path(store.variant(vid).folder / "probe.safetensors")
    metrics = store.path(store.variant(vid).folder / "metrics.safetensors")
    _flip(checkpoint)
    truncated.write_bytes(truncated.read_bytes()[:100])
    deleted.unlink()
    _flip(probe)
    _flip(metrics)  # not indexed by the catalog: its header seals its data
    assert main(["--store", str(store.root), "verify", vid]) == 1
    err = capsys.readouterr().err
    for path in (checkpoint, truncated, deleted, probe, metrics):
        assert str(path) in err
    assert "5 problem(s)" in err
    report = verify(store)
    assert sorted(p.kind for p in report.problems) == ["artifact", "artifact", "checkpoint",
                                                       "metrics", "probe"]
    assert all(p.path.exists() or "does not exist" in p.message for p in report.problems)


def test_a_damaged_checkpoint_is_never_analysed(copy):
    store, vid = copy
    checkpoint = store.path(store.checkpoint(vid, 10).path)
    _flip(checkpoint)
    with pytest.raises(IntegrityError) as info:
        AnalysisRun.prepare(variant=vid, workers=1, force=True, store=store).execute()
    assert str(checkpoint) in str(info.value) and "retrain" in str(info.value)


def test_views_refuse_a_damaged_artifact_until_it_is_recomputed(copy):
    store, vid = copy
    path = _artifact_path(store, vid, "dominant_frequencies", 10)
    _flip(path)
    with pytest.raises(IntegrityError) as info:
        Variant(vid, store).at(10).view("dominant_frequencies")
    message = str(info.value)
    assert str(path) in message
    assert f"tdw analyze {vid} --analyzers dominant_frequencies --force" in message
    AnalysisRun.prepare(variant=vid, analyzers="dominant_frequencies", force=True, workers=1,
                        store=store).execute()  # the repair the message names
    assert verify(store).ok
    Variant(vid, store).at(10).view("dominant_frequencies")


def test_a_flipped_bit_in_the_metrics_never_reaches_a_loss_curve(copy):
    store, vid = copy
    metrics = store.path(store.variant(vid).folder / "metrics.safetensors")
    _flip(metrics)
    with pytest.raises(IntegrityError, match="changed on disk") as info:
        Variant(vid, store).view("loss_curves")
    assert str(metrics) in str(info.value)
