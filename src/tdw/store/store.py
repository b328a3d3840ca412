"""The store: one folder holding a SQLite catalog and the files it indexes.

Layout under the root (``--store``, else ``$TDW_HOME``, else ``~/.local/share/tdw``)::

    catalog.sqlite                       the index (WAL mode)
    variants/<family>/<variant>/
        probe.safetensors                the fixed analysis inputs, hashed once
        metrics.safetensors              per-epoch train/test loss and accuracy arrays
        schedule.safetensors             the checkpoints written and why (scheduled, adaptive)
        resume.safetensors               optimizer + RNG state at the last checkpoint
        checkpoints/epoch_00001500.safetensors
        artifacts/<analyzer>/epoch_00001500.safetensors
    jobs/<id>/notebook.ipynb, log.txt    the executed template: the record of a run

Every file is written atomically and hashed; readers re-hash before use, so a file
changed on disk is an :class:`~tdw.errors.IntegrityError`, never a silent wrong figure.
Only safetensors and JSON are read: nothing is unpickled.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.numpy
import safetensors.torch
import torch

from tdw.errors import IntegrityError, ProbeMismatchError, StoreError, UnknownNameError
from tdw.family.artifacts import Artifact, ArtifactSchema
from tdw.family.family import Family, variant_id
from tdw.family.schedule import REASONS, ScheduleRecord
from tdw.store.atomic import atomic_write_bytes, sha256_bytes, sha256_file
from tdw.store.catalog import Catalog, now
from tdw.store.locks import exclusive

__all__ = ["Store", "VariantRecord", "CheckpointRecord", "Probe", "default_root", "METRICS"]

METRICS = ("train_loss", "test_loss", "train_acc", "test_acc")
_FORMAT = "tdw/1"


def default_root() -> Path:
    """``$TDW_HOME`` if set, else ``$XDG_DATA_HOME/tdw``, else ``~/.local/share/tdw``."""
    if home := os.environ.get("TDW_HOME"):
        return Path(home).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or "~/.local/share"
    return Path(base).expanduser() / "tdw"


@dataclass(frozen=True)
class VariantRecord:
    """A variant as the catalog knows it."""

    id: str
    family: str
    params: dict[str, Any]
    schedule: str
    n_epochs: int
    state: str
    epochs_done: int
    final_train_acc: float | None
    final_test_acc: float | None
    final_train_loss: float | None
    final_test_loss: float | None
    created: float
    updated: float

    @property
    def folder(self) -> Path:
        """Path of the variant's files relative to the store root."""
        family, slug = self.id.split("/", 1)
        return Path("variants") / family / slug


@dataclass(frozen=True)
class CheckpointRecord:
    variant: str
    epoch: int
    sha256: str
    path: str
    bytes: int


@dataclass(frozen=True)
class Probe:
    """A variant's fixed analysis inputs and the sha256 of their stored file."""

    tensors: dict[str, torch.Tensor]
    sha256: str


def _header(meta: Mapping[str, str]) -> dict[str, str]:
    # safetensors keeps __metadata__ in a hash map, so several keys serialise in a random
    # order; one key holding sorted JSON makes equal content give equal bytes and hashes.
    return {"tdw": json.dumps(dict(meta), sort_keys=True)}


def _tensor_bytes(tensors: Mapping[str, torch.Tensor], meta: Mapping[str, str]) -> bytes:
    return safetensors.torch.save({k: v.contiguous() for k, v in tensors.items()}, _header(meta))


def _array_bytes(arrays: Mapping[str, np.ndarray], meta: Mapping[str, str]) -> bytes:
    return safetensors.numpy.save({k: np.ascontiguousarray(v) for k, v in arrays.items()},
                                  _header(meta))


def _metadata(data: bytes) -> dict[str, str]:
    """The ``__metadata__`` of safetensors bytes already in memory (the format's 8-byte
    length prefix and JSON header), so metadata and tensors come from one verified read."""
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length]).get("__metadata__") or {}
    return json.loads(header.get("tdw", "{}"))


def _data_section(data: bytes) -> bytes:
    (length,) = struct.unpack("<Q", data[:8])
    return data[8 + length:]


def _sealed(serialise: Callable[[Mapping[str, str]], bytes], meta: Mapping[str, str]) -> bytes:
    """Safetensors bytes whose metadata carries the sha256 of their own tensor data.

    For the files the catalog does not index (metrics, the resume point): a flipped bit
    in them would otherwise pass unnoticed into a loss curve or a resumed run. The data
    section does not depend on the metadata, so the digest can sit in the header.
    """
    digest = sha256_bytes(_data_section(serialise(meta)))
    return serialise({**meta, "data_sha256": digest})


def _unsealed(path: Path, fix: str) -> bytes:
    """The bytes of a :func:`_sealed` file, refused if its data no longer match the seal."""
    try:
        data = path.read_bytes()
        expected = _metadata(data).get("data_sha256")
    except FileNotFoundError:
        raise IntegrityError(f"{path} does not exist; {fix}") from None
    except Exception as exc:  # a mangled header: bad length or JSON
        raise IntegrityError(f"{path} is unreadable ({exc}); {fix}") from None
    if expected is not None and sha256_bytes(_data_section(data)) != expected:
        raise IntegrityError(f"{path} was changed on disk: its data no longer match the sha256 "
                             f"recorded in its header ({expected[:16]}...); {fix}")
    return data


def probe_sha256(tensors: Mapping[str, torch.Tensor]) -> str:
    """The hash a probe has once stored (its canonical safetensors bytes)."""
    return sha256_bytes(_tensor_bytes(tensors, {"format": _FORMAT, "kind": "probe"}))


class Store:
    """An opened store. Cheap to open; one per process."""

    def __init__(self, root: str | Path | None = None):
        if root is not None and str(root).strip() == "":
            raise StoreError("the store path is empty; pass --store DIR or set TDW_HOME")
        self.root = Path(root).expanduser() if root is not None else default_root()
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"the store path {self.root} is a file, not a folder; "
                             "pass --store DIR or set TDW_HOME to a folder")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".write-test-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise StoreError(f"the store {self.root} is not writable ({exc.strerror}); "
                             "pass --store DIR or set TDW_HOME to a folder you can write") from None
        self.catalog = Catalog(self.root / "catalog.sqlite")

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    def path(self, relative: str | Path) -> Path:
        return self.root / relative

    # ---------------------------------------------------------------- variants
    def ensure_variant(self, family: Family, values: Mapping[str, Any], schedule: str,
                       n_epochs: int) -> VariantRecord:
        """Create the variant row if new; return the (possibly existing) record."""
        vid = variant_id(family, values)
        t = now()
        with self.catalog.transaction() as db:
            db.execute("INSERT INTO families VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE "
                       "SET title = excluded.title, version = excluded.version",
                       (family.name, family.title, family.version))
            db.execute(
                "INSERT OR IGNORE INTO variants (id, family, params, schedule, n_epochs, state, "
                "created, updated) VALUES (?, ?, ?, ?, ?, 'new', ?, ?)",
                (vid, family.name, json.dumps(dict(values), sort_keys=True), schedule, n_epochs,
                 t, t))
        return self.variant(vid)

    def variant(self, ref: str) -> VariantRecord:
        """The variant with id ``ref``, or the only one whose id ends with or starts with it."""
        row = self.catalog.one("SELECT * FROM variants WHERE id = ?", (ref,))
        if row is None:
            ids = [r["id"] for r in self.catalog.query("SELECT id FROM variants ORDER BY id")]
            # An empty reference is a prefix of every id: refuse it rather than pick the
            # store's only variant.
            hits = [i for i in ids if ref.strip() and (i.split("/", 1)[1].startswith(ref)
                                                       or i.startswith(ref))]
            if len(hits) != 1:
                known = ids if not hits else hits
                raise UnknownNameError("variant" if not hits else "variant (ambiguous)", ref,
                                       known)
            row = self.catalog.one("SELECT * FROM variants WHERE id = ?", (hits[0],))
        return self._record(row)

    def variants(self, family: str | None = None) -> list[VariantRecord]:
        sql, args = "SELECT * FROM variants", ()
        if family:
            sql, args = sql + " WHERE family = ?", (family,)
        return [self._record(r) for r in self.catalog.query(sql + " ORDER BY id", args)]

    @staticmethod
    def _record(row) -> VariantRecord:
        data = dict(row)
        data["params"] = json.loads(data["params"])
        return VariantRecord(**data)

    def update_variant(self, vid: str, **fields: Any) -> None:
        allowed = {"state", "epochs_done", "schedule", "final_train_acc", "final_test_acc",
                   "final_train_loss", "final_test_loss"}
        if not fields.keys() <= allowed:
            raise ValueError(f"cannot update {sorted(fields.keys() - allowed)}")
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self.catalog.transaction() as db:
            db.execute(f"UPDATE variants SET {cols}, updated = ? WHERE id = ?",
                       (*fields.values(), now(), vid))

    def reset_variant(self, vid: str) -> None:
        """Forget a variant's training output (for ``--force``): rows first, then files."""
        rec = self.variant(vid)
        with self.catalog.transaction() as db:
            for table in ("artifacts", "checkpoints", "probes"):
                db.execute(f"DELETE FROM {table} WHERE variant = ?", (vid,))
            db.execute("UPDATE variants SET state = 'new', epochs_done = 0, final_train_acc = "
                       "NULL, final_test_acc = NULL, final_train_loss = NULL, final_test_loss = "
                       "NULL, updated = ? WHERE id = ?", (now(), vid))
        shutil.rmtree(self.path(rec.folder), ignore_errors=True)

    def adopt_variant(self, staging: Store, vid: str) -> VariantRecord:
        """Move variant ``vid``, complete in ``staging`` (a store whose root lies inside
        this one), into this store, all or nothing.

        This is how a variant that was never trained here (an imported checkpoint series)
        arrives: it is written into a staging store through the ordinary API (so its files
        are hashed exactly as trained ones), then its folder is renamed in and its catalog
        rows (variant, probe, checkpoints, artifacts) are copied in one transaction. Until
        that transaction commits no row points into the folder, so a failure leaves this
        store as it was, and a folder left by a killed adoption is replaced by the next.
        """
        if self.catalog.one("SELECT 1 FROM variants WHERE id = ?", (vid,)) is not None:
            raise StoreError(f"variant {vid} is already in the store {self.root}")
        record = staging.variant(vid)
        source, target = staging.path(record.folder), self.path(record.folder)
        if target.exists():  # debris of a killed adoption: no catalog row points into it
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
        try:
            with self.catalog.transaction() as db:
                family = staging.catalog.one("SELECT * FROM families WHERE name = ?",
                                             (record.family,))
                db.execute("INSERT OR IGNORE INTO families VALUES (?, ?, ?)", tuple(family))
                for table, key in (("variants", "id"), ("probes", "variant"),
                                   ("checkpoints", "variant"), ("artifacts", "variant")):
                    for row in staging.catalog.query(f"SELECT * FROM {table} WHERE {key} = ?",
                                                     (vid,)):
                        db.execute(f"INSERT INTO {table} VALUES ({', '.join('?' * len(row))})",
                                   tuple(row))
        except BaseException:
            os.replace(target, source)
            raise
        return self.variant(vid)

    # ------------------------------------------------------------------ probes
    def ensure_probe(self, vid: str, tensors: Mapping[str, torch.Tensor]) -> Probe:
        """Store the variant's probe the first time; afterwards, require it to be identical."""
        row = self.catalog.one("SELECT sha256 FROM probes WHERE variant = ?", (vid,))
        if row is not None:
            return self.require_probe(vid, Probe(dict(tensors), probe_sha256(tensors)))
        data = _tensor_bytes(tensors, {"format": _FORMAT, "kind": "probe"})
        rel = self.variant(vid).folder / "probe.safetensors"
        n_items = len(next(iter(tensors.values()))) if tensors else 0
        digest = sha256_bytes(data)
        self._place(vid, rel, data, digest, "probes", {"variant": vid},
                    (vid, digest, str(rel), n_items, now()))
        return Probe(dict(tensors), digest)

    def load_probe(self, vid: str) -> Probe:
        """The stored probe, re-hashed: a probe altered on disk is refused."""
        row = self.catalog.one("SELECT sha256, path FROM probes WHERE variant = ?", (vid,))
        if row is None:
            raise StoreError(f"variant {vid} has no probe yet; train it first (tdw train)")
        path = self.path(row["path"])
        tensors = self._read_verified(path, row["sha256"], what=f"the probe of {vid}",
                                      fix="retrain the variant with --force to regenerate it")
        return Probe(tensors, row["sha256"])

    def require_probe(self, vid: str, probe: Probe | str) -> Probe:
        """Return the stored probe if ``probe`` (or its hash) is it; else raise naming both."""
        offered = probe if isinstance(probe, str) else probe.sha256
        stored = self.load_probe(vid)
        if offered != stored.sha256:
            raise ProbeMismatchError(
                f"probe mismatch for {vid}: offered sha256 {offered[:16]}..., stored sha256 "
                f"{stored.sha256[:16]}...; an analysis must use the variant's own stored probe"
            )
        return stored

    # ------------------------------------------------------------- checkpoints
    def write_checkpoint(self, vid: str, epoch: int, weights: Mapping[str, torch.Tensor]
                         ) -> CheckpointRecord:
        rel = self.variant(vid).folder / "checkpoints" / f"epoch_{epoch:08d}.safetensors"
        data = _tensor_bytes(weights, {"format": _FORMAT, "kind": "checkpoint",
                                       "variant": vid, "epoch": str(epoch)})
        digest = sha256_bytes(data)
        self._place(vid, rel, data, digest, "checkpoints", {"variant": vid, "epoch": epoch},
                    (vid, epoch, digest, str(rel), len(data), now()))
        return CheckpointRecord(vid, epoch, digest, str(rel), len(data))

    def checkpoints(self, vid: str) -> list[CheckpointRecord]:
        rows = self.catalog.query("SELECT variant, epoch, sha256, path, bytes FROM checkpoints "
                                  "WHERE variant = ? ORDER BY epoch", (vid,))
        return [CheckpointRecord(**dict(r)) for r in rows]

    def checkpoint(self, vid: str, epoch: int) -> CheckpointRecord:
        row = self.catalog.one("SELECT variant, epoch, sha256, path, bytes FROM checkpoints "
                               "WHERE variant = ? AND epoch = ?", (vid, epoch))
        if row is None:
            known = [str(c.epoch) for c in self.checkpoints(vid)]
            raise UnknownNameError(f"checkpoint epoch of {vid}", str(epoch), known)
        return CheckpointRecord(**dict(row))

    def load_checkpoint(self, vid: str, epoch: int) -> dict[str, torch.Tensor]:
        """The weights at ``epoch``, verified against the recorded sha256."""
        rec = self.checkpoint(vid, epoch)
        return self._read_verified(
            self.path(rec.path), rec.sha256, what=f"checkpoint epoch {epoch} of {vid}",
            fix=f"retrain from the last good checkpoint (tdw train {vid} --force rebuilds all)")

    # ----------------------------------------------------------------- metrics
    def write_metrics(self, vid: str, arrays: Mapping[str, np.ndarray]) -> None:
        rel = self.variant(vid).folder / "metrics.safetensors"
        columns = {k: arrays[k] for k in METRICS}
        data = _sealed(lambda meta: _array_bytes(columns, meta),
                       {"format": _FORMAT, "kind": "metrics"})
        atomic_write_bytes(self.path(rel), data)

    def load_metrics(self, vid: str) -> dict[str, np.ndarray]:
        """Per-epoch arrays of length n_epochs + 1 (NaN where not yet trained)."""
        path = self.path(self.variant(vid).folder / "metrics.safetensors")
        if not path.exists():
            raise StoreError(f"variant {vid} has no metrics yet; train it first (tdw train)")
        fix = "resume or retrain the variant to rewrite it"
        data = _unsealed(path, fix)
        try:
            return safetensors.numpy.load(data)
        except Exception as exc:  # safetensors raises its own error types
            raise IntegrityError(f"metrics file {path} is unreadable ({exc}); {fix}") from None

    # -------------------------------------------------------- schedule record
    def write_schedule_record(self, vid: str, record: ScheduleRecord) -> None:
        """Store which checkpoints the run wrote and why (rewritten at every checkpoint)."""
        rel = self.variant(vid).folder / "schedule.safetensors"
        arrays = {"epoch": np.asarray(record.epochs, dtype=np.int64),
                  "reason": np.asarray([REASONS.index(r) for r in record.reasons], np.int8),
                  "signal": np.asarray(record.signal, dtype=np.float64),
                  "threshold": np.asarray(record.threshold, dtype=np.float64)}
        meta = {"format": _FORMAT, "kind": "schedule", "spec": record.spec,
                "reasons": json.dumps(REASONS)}
        atomic_write_bytes(self.path(rel), _sealed(lambda m: _array_bytes(arrays, m), meta))

    def load_schedule_record(self, vid: str) -> ScheduleRecord | None:
        """The stored :class:`~tdw.family.schedule.ScheduleRecord`; None for a variant trained
        before records existed, or imported."""
        path = self.path(self.variant(vid).folder / "schedule.safetensors")
        if not path.exists():
            return None
        fix = "resume or retrain the variant to rewrite it"
        data = _unsealed(path, fix)
        try:
            arrays, meta = safetensors.numpy.load(data), _metadata(data)
            names = json.loads(meta["reasons"])
            return ScheduleRecord(meta["spec"], tuple(map(int, arrays["epoch"])),
                                  tuple(names[i] for i in arrays["reason"]),
                                  tuple(map(float, arrays["signal"])),
                                  tuple(map(float, arrays["threshold"])))
        except Exception as exc:
            raise IntegrityError(f"schedule record {path} is unreadable ({exc}); {fix}"
                                 ) from None

    # ------------------------------------------------------------------ resume
    def resume_path(self, vid: str) -> Path:
        return self.path(self.variant(vid).folder / "resume.safetensors")

    def write_resume(self, vid: str, tensors: Mapping[str, torch.Tensor],
                     meta: Mapping[str, str]) -> None:
        data = _sealed(lambda header: _tensor_bytes(tensors, header),
                       {"format": _FORMAT, "kind": "resume", **meta})
        atomic_write_bytes(self.resume_path(vid), data)

    def load_resume(self, vid: str) -> tuple[dict[str, torch.Tensor], dict[str, str]] | None:
        path = self.resume_path(vid)
        if not path.exists():
            return None
        fix = "retrain the variant with --force"
        data = _unsealed(path, fix)
        try:
            return safetensors.torch.load(data), _metadata(data)
        except Exception as exc:
            raise IntegrityError(f"resume file {path} is unreadable ({exc}); {fix}") from None

    # --------------------------------------------------------------- artifacts
    def write_artifact(self, vid: str, artifact: Artifact) -> str:
        """Validate ``artifact`` against its schema, write it atomically, index it."""
        schema = artifact.schema
        schema.validate(artifact.arrays, artifact.attrs)
        epoch = -1 if artifact.epoch is None else artifact.epoch
        name = "cross_epoch" if epoch < 0 else f"epoch_{epoch:08d}"
        rel = self.variant(vid).folder / "artifacts" / schema.analyzer / f"{name}.safetensors"
        meta = {"format": _FORMAT, "kind": "artifact", "analyzer": schema.analyzer,
                "version": str(schema.version), "attrs": json.dumps(dict(artifact.attrs)),
                "probe_sha256": artifact.probe_sha256,
                "checkpoint_sha256": artifact.checkpoint_sha256}
        data = _array_bytes(artifact.arrays, meta)
        digest = sha256_bytes(data)
        self._place(vid, rel, data, digest, "artifacts",
                    {"variant": vid, "analyzer": schema.analyzer, "epoch": epoch},
                    (vid, schema.analyzer, epoch, schema.version, artifact.probe_sha256,
                     artifact.checkpoint_sha256, digest, str(rel), len(data), now()))
        return digest

    def artifact_epochs(self, vid: str) -> dict[str, set[int]]:
        """Analyzer name -> epochs with a stored artifact (-1 for a cross-epoch one)."""
        coverage: dict[str, set[int]] = {}
        for row in self.catalog.query("SELECT analyzer, epoch FROM artifacts WHERE variant = ?",
                                      (vid,)):
            coverage.setdefault(row["analyzer"], set()).add(int(row["epoch"]))
        return coverage

    def artifact_bytes(self, vid: str, analyzer: str, epoch: int | None
                       ) -> tuple[sqlite3.Row, bytes]:
        """An artifact's catalog row and file bytes, verified against the recorded sha256."""
        key = -1 if epoch is None else epoch
        row = self.catalog.one("SELECT * FROM artifacts WHERE variant = ? AND analyzer = ? "
                               "AND epoch = ?", (vid, analyzer, key))
        if row is None:
            raise StoreError(f"no {analyzer} artifact for {vid} at epoch {epoch}; "
                             f"run tdw analyze {vid}")
        data = self._read_bytes_verified(
            self.path(row["path"]), row["sha256"], what=f"artifact {analyzer} epoch {epoch} of "
            f"{vid}", fix=f"recompute it: tdw analyze {vid} --analyzers {analyzer} --force")
        return row, data

    def load_artifact(self, vid: str, schema: ArtifactSchema, epoch: int | None) -> Artifact:
        row, data = self.artifact_bytes(vid, schema.analyzer, epoch)
        arrays = safetensors.numpy.load(data)
        meta = _metadata(data)
        attrs = json.loads(meta["attrs"])
        if int(meta["version"]) != schema.version:
            raise StoreError(f"artifact {schema.analyzer} epoch {epoch} of {vid} is version "
                             f"{meta['version']}, the analyzer is {schema.version}; re-run "
                             f"tdw analyze {vid}")
        schema.validate(arrays, attrs)
        return Artifact(schema, epoch, arrays, attrs, row["probe_sha256"],
                        row["checkpoint_sha256"])

    # ---------------------------------------------------------------- helpers
    def _place(self, vid: str, rel: Path, data: bytes, digest: str, table: str,
               key: Mapping[str, Any], row: tuple) -> None:
        """Write ``data`` (sha256 ``digest``) to ``rel`` and index it with ``row`` in ``table``.

        File and row change together as far as any other writer can tell: both happen
        under the variant's write lock. A row recording other bytes is deleted once the new
        bytes are on disk and just before they replace its file, so a kill between the two
        leaves a gap that the next run fills, never a row that disagrees with its file.
        A write that fails puts the old row back; if the catalog refuses the new row, a
        file that did not exist before is removed again: a failed write changes nothing.
        """
        where, args = " AND ".join(f"{k} = ?" for k in key), tuple(key.values())
        path = self.path(rel)
        with exclusive(self.path(self.variant(vid).folder)):
            existed = path.exists()
            old = self.catalog.one(f"SELECT * FROM {table} WHERE {where}", args)
            stale = old is not None and old["sha256"] != digest

            def drop_stale_row() -> None:
                if stale:
                    with self.catalog.transaction() as db:
                        db.execute(f"DELETE FROM {table} WHERE {where}", args)

            try:
                atomic_write_bytes(path, data, before_replace=drop_stale_row)
            except BaseException:
                if stale:  # the file was not replaced: its row stands again
                    self._insert(table, tuple(old))
                raise
            try:
                self._insert(table, row)
            except BaseException as exc:
                if not existed:
                    path.unlink(missing_ok=True)
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"cannot index {path} in the catalog {self.catalog.path} "
                                     f"({exc}); nothing refers to the new file; fix the cause "
                                     "and run the command again") from exc
                raise

    def _insert(self, table: str, row: tuple) -> None:
        with self.catalog.transaction() as db:
            db.execute(f"INSERT OR REPLACE INTO {table} VALUES ({', '.join('?' * len(row))})",
                       row)

    def _read_bytes_verified(self, path: Path, sha256: str, *, what: str, fix: str) -> bytes:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise IntegrityError(f"{what} is missing: {path} does not exist; {fix}") from None
        if sha256_bytes(data) != sha256:
            raise IntegrityError(f"{what} was changed on disk: {path} no longer matches its "
                                 f"recorded sha256 {sha256[:16]}...; {fix}")
        return data

    def _read_verified(self, path: Path, sha256: str, *, what: str, fix: str
                       ) -> dict[str, torch.Tensor]:
        return safetensors.torch.load(self._read_bytes_verified(path, sha256, what=what, fix=fix))

    def file_sha256(self, relative: str | Path) -> str:
        return sha256_file(self.path(relative))
