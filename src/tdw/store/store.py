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

:class:`Store` is the way in: variants, probes, checkpoints, metrics and artifacts, as the
records of :mod:`tdw.store.records`. The rest has modules of its own: ``jobs``, ``sweeps``,
``annotations`` (tags, notes), ``removal`` (``tdw rm``), ``listing`` and ``replication``
(the rows a Dask worker sends back). No module outside this package issues SQL.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import safetensors.numpy

from tdw.errors import ProbeMismatchError, StoreError, UnknownNameError
from tdw.family.artifacts import Artifact, ArtifactSchema
from tdw.family.family import Family, variant_id
from tdw.family.schedule import ScheduleRecord
from tdw.store import sealed, trash
from tdw.store.atomic import sha256_bytes, sha256_file
from tdw.store.catalog import Catalog, now
from tdw.store.placement import INDEXED_TABLES, place
from tdw.store.records import ArtifactRecord, CheckpointRecord, Probe, VariantRecord, row_options
from tdw.store.serialisation import (
    FORMAT,
    array_bytes,
    metadata,
    read_verified_bytes,
    read_verified_tensors,
    tensor_bytes,
)

if TYPE_CHECKING:
    import torch

__all__ = ["Store", "default_root", "probe_sha256"]


def default_root() -> Path:
    """``$TDW_HOME`` if set, else ``$XDG_DATA_HOME/tdw``, else ``~/.local/share/tdw``."""
    if home := os.environ.get("TDW_HOME"):
        return Path(home).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or "~/.local/share"
    return Path(base).expanduser() / "tdw"


def probe_sha256(tensors: Mapping[str, torch.Tensor]) -> str:
    """The hash a probe has once stored (its canonical safetensors bytes)."""
    return sha256_bytes(tensor_bytes(tensors, {"format": FORMAT, "kind": "probe"}))


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
            if db.execute(
                "INSERT OR IGNORE INTO variants (id, family, params, schedule, n_epochs, state, "
                "created, updated) VALUES (?, ?, ?, ?, ?, 'new', ?, ?)",
                (vid, family.name, json.dumps(dict(values), sort_keys=True), schedule, n_epochs,
                 t, t)).rowcount:  # new: files a killed `tdw rm` left are not its own
                trash.discard(self.root / "variants" / vid)
        return self.variant(vid)

    def variant(self, ref: str) -> VariantRecord:
        """The variant with id ``ref``, or the only one whose id ends with or starts with it."""
        row = self.catalog.one("SELECT * FROM variants WHERE id = ?", (ref,))
        if row is None:
            ids = [r["id"] for r in self.catalog.query("SELECT id FROM variants ORDER BY id")]
            # An empty reference is a prefix of every id: refuse it, not pick the only one.
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
    def stored_probe_sha256(self, vid: str) -> str | None:
        """The sha256 the catalog records for the variant's probe; None before it has one.
        Reads the catalog only (no file)."""
        row = self.catalog.one("SELECT sha256 FROM probes WHERE variant = ?", (vid,))
        return None if row is None else row["sha256"]

    def ensure_probe(self, vid: str, tensors: Mapping[str, torch.Tensor]) -> Probe:
        """Store the variant's probe the first time; afterwards, require it to be identical."""
        if self.stored_probe_sha256(vid) is not None:
            return self.require_probe(vid, Probe(dict(tensors), probe_sha256(tensors)))
        data = tensor_bytes(tensors, {"format": FORMAT, "kind": "probe"})
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
        tensors = read_verified_tensors(path, row["sha256"], what=f"the probe of {vid}",
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
        data = tensor_bytes(weights, {"format": FORMAT, "kind": "checkpoint",
                                      "variant": vid, "epoch": str(epoch)})
        digest = sha256_bytes(data)
        self._place(vid, rel, data, digest, "checkpoints", {"variant": vid, "epoch": epoch},
                    (vid, epoch, digest, str(rel), len(data), now()))
        return CheckpointRecord(vid, epoch, digest, str(rel), len(data))

    def checkpoints(self, vid: str) -> list[CheckpointRecord]:
        rows = self.catalog.query("SELECT variant, epoch, sha256, path, bytes FROM checkpoints "
                                  "WHERE variant = ? ORDER BY epoch", (vid,))
        return [CheckpointRecord(**dict(r)) for r in rows]

    def checkpoint_counts(self) -> dict[str, int]:
        """Variant id -> how many checkpoints the catalog indexes for it (variants with none
        are absent)."""
        return {r["variant"]: r["n"] for r in self.catalog.query(
            "SELECT variant, COUNT(*) AS n FROM checkpoints GROUP BY variant")}

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
        variant = self.variant(vid)
        settings = " ".join(f"--set {k}={v}" for k, v in variant.params.items())
        return read_verified_tensors(
            self.path(rec.path), rec.sha256, what=f"checkpoint epoch {epoch} of {vid}",
            fix=f"retrain the variant: tdw train {variant.family} {settings} --force")

    # ------------------------------------------- metrics, schedule record, resume
    # Files the catalog does not index: each seals its own hash (tdw.store.sealed).
    def write_metrics(self, vid: str, arrays: Mapping[str, np.ndarray]) -> None:
        sealed.write_metrics(self.path(self.variant(vid).folder / "metrics.safetensors"), arrays)

    def load_metrics(self, vid: str) -> dict[str, np.ndarray]:
        """Per-epoch arrays of length n_epochs + 1 (NaN where not yet trained)."""
        path = self.path(self.variant(vid).folder / "metrics.safetensors")
        if not path.exists():
            raise StoreError(f"variant {vid} has no metrics yet; train it first (tdw train)")
        return sealed.read_metrics(path)

    def write_schedule_record(self, vid: str, record: ScheduleRecord) -> None:
        """Store which checkpoints the run wrote and why (rewritten at every checkpoint)."""
        sealed.write_schedule_record(self.path(self.variant(vid).folder / "schedule.safetensors"),
                                     record)

    def load_schedule_record(self, vid: str) -> ScheduleRecord | None:
        """The stored :class:`~tdw.family.schedule.ScheduleRecord`; None for a variant trained
        before records existed, or imported."""
        path = self.path(self.variant(vid).folder / "schedule.safetensors")
        return sealed.read_schedule_record(path) if path.exists() else None

    def resume_path(self, vid: str) -> Path:
        return self.path(self.variant(vid).folder / "resume.safetensors")

    def write_resume(self, vid: str, tensors: Mapping[str, torch.Tensor],
                     meta: Mapping[str, str]) -> None:
        sealed.write_resume(self.resume_path(vid), tensors, meta)

    def load_resume(self, vid: str) -> tuple[dict[str, torch.Tensor], dict[str, str]] | None:
        path = self.resume_path(vid)
        return sealed.read_resume(path) if path.exists() else None

    # --------------------------------------------------------------- artifacts
    def write_artifact(self, vid: str, artifact: Artifact) -> str:
        """Validate ``artifact`` against its schema, write it atomically, index it."""
        schema = artifact.schema
        schema.validate(artifact.arrays, artifact.attrs)
        epoch = -1 if artifact.epoch is None else artifact.epoch
        name = "cross_epoch" if epoch < 0 else f"epoch_{epoch:08d}"
        rel = self.variant(vid).folder / "artifacts" / schema.analyzer / f"{name}.safetensors"
        meta = {"format": FORMAT, "kind": "artifact", "analyzer": schema.analyzer,
                "version": str(schema.version), "attrs": json.dumps(dict(artifact.attrs)),
                "probe_sha256": artifact.probe_sha256,
                "checkpoint_sha256": artifact.checkpoint_sha256}
        data = array_bytes(artifact.arrays, meta)
        digest = sha256_bytes(data)
        self._place(vid, rel, data, digest, "artifacts",
                    {"variant": vid, "analyzer": schema.analyzer, "epoch": epoch},
                    (vid, schema.analyzer, epoch, schema.version, artifact.probe_sha256,
                     artifact.checkpoint_sha256, digest, str(rel), len(data), now(),
                     row_options(artifact.attrs)))
        return digest

    def signature(self, vid: str) -> tuple:
        """Changes whenever any catalog row of the variant does: its own row, its probe,
        checkpoints and artifacts (counts and latest stamps; a few indexed queries). A page
        polls it to notice new checkpoints and artifacts; a Dask worker, to notice rows to
        report."""
        parts: list[Any] = [tuple(self.catalog.one(
            "SELECT updated, state, epochs_done FROM variants WHERE id = ?", (vid,)) or ())]
        for table in INDEXED_TABLES:
            row = self.catalog.one(f"SELECT COUNT(*), MAX(created) FROM {table} WHERE "
                                   "variant = ?", (vid,))
            parts.append(tuple(row))
        return tuple(parts)

    def artifact_epochs(self, vid: str) -> dict[str, set[int]]:
        """Analyzer name -> epochs with a stored artifact (-1 for a cross-epoch one)."""
        coverage: dict[str, set[int]] = {}
        for row in self.catalog.query("SELECT analyzer, epoch FROM artifacts WHERE variant = ?",
                                      (vid,)):
            coverage.setdefault(row["analyzer"], set()).add(int(row["epoch"]))
        return coverage

    def artifacts(self, vid: str) -> list[ArtifactRecord]:
        """Every artifact the catalog indexes for ``vid``, by analyzer then epoch (no file is
        read: this is what planning compares with the family's analyzers)."""
        rows = self.catalog.query("SELECT * FROM artifacts WHERE variant = ? ORDER BY "
                                  "analyzer, epoch", (vid,))
        return [ArtifactRecord.from_row(r) for r in rows]

    def artifact_bytes(self, vid: str, analyzer: str, epoch: int | None
                       ) -> tuple[sqlite3.Row, bytes]:
        """An artifact's catalog row and file bytes, verified against the recorded sha256."""
        key = -1 if epoch is None else epoch
        row = self.catalog.one("SELECT * FROM artifacts WHERE variant = ? AND analyzer = ? "
                               "AND epoch = ?", (vid, analyzer, key))
        if row is None:
            raise StoreError(f"no {analyzer} artifact for {vid} at epoch {epoch}; "
                             f"run tdw analyze {vid}")
        data = read_verified_bytes(
            self.path(row["path"]), row["sha256"], what=f"artifact {analyzer} epoch {epoch} of "
            f"{vid}", fix=f"recompute it: tdw analyze {vid} --analyzers {analyzer} --force")
        return row, data

    def load_artifact(self, vid: str, schema: ArtifactSchema, epoch: int | None) -> Artifact:
        row, data = self.artifact_bytes(vid, schema.analyzer, epoch)
        arrays = safetensors.numpy.load(data)
        meta = metadata(data)
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
        """Write ``data`` to ``rel`` and index it with ``row`` in ``table``, under the
        variant's write lock (:func:`tdw.store.placement.place`)."""
        place(self.catalog, self.path(self.variant(vid).folder), self.path(rel), data, digest,
              table, key, row)

    def file_sha256(self, relative: str | Path) -> str:
        return sha256_file(self.path(relative))
