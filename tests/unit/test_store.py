from __future__ import annotations

import errno
import os
import sqlite3

import numpy as np
import pytest
import torch
from helpers import snapshot

from tdw.errors import IntegrityError, ProbeMismatchError, SchemaError, StoreError
from tdw.family.artifacts import ArraySpec, Artifact, ArtifactSchema, AttrSpec
from tdw.family.registry import get_family
from tdw.store.atomic import atomic_write_bytes
from tdw.store.catalog import SCHEMA_VERSION
from tdw.store.records import Probe
from tdw.store.store import Store, probe_sha256

FAMILY = get_family("modulo_addition_1l")
VALUES = FAMILY.resolve({"p": 7, "n_epochs": 30})

SCHEMA = ArtifactSchema(
    "planted", 1,
    arrays=(ArraySpec("norms", "float32", ("freq",)), ArraySpec("grid", "float32", ("a", "b"))),
    attrs=(AttrSpec("top", "int"), AttrSpec("label", "str"), AttrSpec("extra", "json")))


@pytest.fixture
def variant(store: Store) -> str:
    rec = store.ensure_variant(FAMILY, VALUES, "0-30/10", 30)
    store.ensure_probe(rec.id, FAMILY.probe(VALUES))
    return rec.id


def test_default_root_follows_tdw_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TDW_HOME", str(tmp_path / "elsewhere"))
    assert Store().root == tmp_path / "elsewhere"
    assert (tmp_path / "elsewhere" / "catalog.sqlite").exists()


def test_catalog_uses_wal(store: Store):
    assert store.catalog.one("PRAGMA journal_mode")[0] == "wal"
    assert store.catalog.integrity_check() == "ok"


def test_checkpoint_round_trip_is_hashed(store: Store, variant: str):
    weights = {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3)}
    rec = store.write_checkpoint(variant, 10, weights)
    assert rec.sha256 == store.file_sha256(rec.path)
    assert torch.equal(store.load_checkpoint(variant, 10)["w"], weights["w"])
    assert [c.epoch for c in store.checkpoints(variant)] == [10]


def test_truncated_checkpoint_is_refused_with_path_and_fix(store: Store, variant: str):
    rec = store.write_checkpoint(variant, 10, {"w": torch.ones(100)})
    path = store.path(rec.path)
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(IntegrityError) as info:
        store.load_checkpoint(variant, 10)
    assert str(path) in str(info.value) and "retrain" in str(info.value)


def test_bit_flipped_checkpoint_is_refused(store: Store, variant: str):
    rec = store.write_checkpoint(variant, 10, {"w": torch.ones(100)})
    data = bytearray(store.path(rec.path).read_bytes())
    data[-1] ^= 1
    store.path(rec.path).write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="changed on disk"):
        store.load_checkpoint(variant, 10)


def test_probe_is_stored_once_and_identical_regeneration_is_accepted(store: Store, variant: str):
    again = store.ensure_probe(variant, FAMILY.probe(VALUES))
    assert again.sha256 == store.load_probe(variant).sha256
    assert again.sha256 == probe_sha256(FAMILY.probe(VALUES))


def test_a_different_probe_is_refused_naming_both_hashes(store: Store, variant: str):
    other = FAMILY.probe(FAMILY.resolve({"p": 7, "data_seed": 1}))
    offered = Probe(other, probe_sha256(other))
    stored = store.load_probe(variant).sha256
    with pytest.raises(ProbeMismatchError) as info:
        store.require_probe(variant, offered)
    assert offered.sha256[:16] in str(info.value) and stored[:16] in str(info.value)
    with pytest.raises(ProbeMismatchError):
        store.ensure_probe(variant, other)


def test_probe_altered_on_disk_is_detected(store: Store, variant: str):
    path = store.path(store.variant(variant).folder / "probe.safetensors")
    tensors = FAMILY.probe(VALUES)
    tensors["labels"] = torch.zeros_like(tensors["labels"])  # a plausible, well-formed forgery
    import safetensors.torch
    path.write_bytes(safetensors.torch.save(tensors))
    with pytest.raises(IntegrityError, match="probe"):
        store.load_probe(variant)


def _artifact(**changes) -> Artifact:
    arrays = {"norms": np.arange(4, dtype=np.float32), "grid": np.ones((3, 3), np.float32)}
    attrs = {"top": 2, "label": "x", "extra": {"freqs": [1, 2]}}
    arrays.update(changes.pop("arrays", {}))
    attrs.update(changes.pop("attrs", {}))
    return Artifact(SCHEMA, 10, arrays, attrs, "p" * 64, "c" * 64)


def test_artifact_round_trip(store: Store, variant: str):
    store.write_artifact(variant, _artifact())
    back = store.load_artifact(variant, SCHEMA, 10)
    np.testing.assert_array_equal(back["norms"], np.arange(4, dtype=np.float32))
    assert back.attrs == {"top": 2, "label": "x", "extra": {"freqs": [1, 2]}}
    assert (back.probe_sha256, back.checkpoint_sha256) == ("p" * 64, "c" * 64)


@pytest.mark.parametrize("changes, message", [
    ({"arrays": {"norms": np.arange(4, dtype=np.float64)}}, "dtype float64"),
    ({"arrays": {"grid": np.ones(3, np.float32)}}, "declared dims"),
    ({"arrays": {"grid": np.ones((3, 4), np.float32)}}, None),  # a != b is allowed
    ({"arrays": {"bonus": np.ones(2, np.float32)}}, "undeclared"),
    ({"attrs": {"top": "two"}}, "is not a int"),
    ({"attrs": {"top": True}}, "is not a int"),
    ({"attrs": {"extra": {"x": float("nan")}}}, "not JSON"),
])
def test_artifact_schema_violations_write_nothing(store: Store, variant: str, changes, message):
    if message is None:
        store.write_artifact(variant, _artifact(**changes))
        return
    before = snapshot(store.root)
    with pytest.raises(SchemaError, match=message):
        store.write_artifact(variant, _artifact(**changes))
    assert snapshot(store.root) == before


def test_shared_dimension_sizes_must_agree():
    schema = ArtifactSchema("s", 1, arrays=(ArraySpec("x", "float32", ("n",)),
                                            ArraySpec("y", "float32", ("n",))))
    with pytest.raises(SchemaError, match="dimension 'n'"):
        schema.validate({"x": np.ones(3, np.float32), "y": np.ones(4, np.float32)}, {})


def test_failed_atomic_write_leaves_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "f.bin"
    atomic_write_bytes(target, b"old")

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError, match="No space"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]  # no temp file left behind


def test_store_from_a_newer_tdw_is_refused(tmp_path):
    Store(tmp_path / "s")
    db = sqlite3.connect(tmp_path / "s" / "catalog.sqlite")
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="newer tdw"):
        Store(tmp_path / "s")


@pytest.mark.parametrize("make_path", [
    lambda tmp: tmp / "a-file" / "store",   # parent is a file
    lambda tmp: tmp / "a-file",             # the store path itself is a file
    lambda tmp: "",                         # empty
])
def test_unusable_store_paths_get_a_clear_error(tmp_path, make_path):
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(StoreError, match="--store|TDW_HOME"):
        Store(make_path(tmp_path))
    assert (tmp_path / "a-file").read_text() == "not a folder"


def test_variant_lookup_by_unique_prefix_and_unknown_lists_known(store: Store, variant: str):
    assert store.variant("p7-ms999").id == variant
    with pytest.raises(Exception, match="choose one of"):
        store.variant("p11")
