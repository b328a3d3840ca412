"""The worker side of a job run through Dask: the same runner, a catalog of its own.

A Dask worker may sit on another machine, and SQLite over a network filesystem is not
safe (its locks and WAL shared memory do not work there). So the worker never opens the
store's catalog. :func:`run_job` builds a *scratch store* on the worker's local disk:
a private ``catalog.sqlite`` whose ``variants/`` and ``jobs/`` are symlinks into the shared
store. It plants the rows the job needs (sent by the coordinator), starts the ordinary
runner (``python -m tdw.jobs.jobs SCRATCH ID``) and, every half second, reports the job's
progress and the variant's catalog rows to the coordinator as a Dask event. Files go
straight to the shared filesystem (atomically, as always); rows reach the real catalog
only through the coordinator, which alone writes it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from tdw.errors import StoreError
from tdw.jobs import jobs
from tdw.store.atomic import sha256_file
from tdw.store.catalog import now
from tdw.store.locks import held_elsewhere, holding
from tdw.store.store import Store

__all__ = ["run_job", "variant_rows", "JOB_FIELDS", "ROW_TABLES"]

JOB_FIELDS = ("state", "progress", "total", "message", "notebook", "log", "error", "started",
              "progress_started", "progress_at_start", "finished", "updated")
"""Job columns a worker reports; never pids, which mean nothing on the coordinator."""
ROW_TABLES = ("probes", "checkpoints", "artifacts")
"""Tables whose rows belong to one variant (``variant`` column), reported whole."""
SHARED = ("variants", "jobs")
"""Folders of the store that live on the shared filesystem (the catalog does not)."""


def variant_rows(store: Store, variant: str, since: float | None = None
                 ) -> dict[str, list[dict[str, Any]]]:
    """The catalog rows of ``variant`` and its family as plain dicts, by table: all of them,
    or (``since``) only the file rows created at or after that time (a report's delta)."""
    out: dict[str, list[dict[str, Any]]] = {
        "families": [dict(r) for r in store.catalog.query(
            "SELECT f.* FROM families f JOIN variants v ON v.family = f.name WHERE v.id = ?",
            (variant,))],
        "variants": [dict(r) for r in store.catalog.query("SELECT * FROM variants WHERE id = ?",
                                                          (variant,))]}
    for table in ROW_TABLES:
        out[table] = [dict(r) for r in store.catalog.query(
            f"SELECT * FROM {table} WHERE variant = ? AND created >= ?",
            (variant, since if since is not None else float("-inf")))]
    return out


def _signature(store: Store, variant: str) -> tuple:
    """Changes whenever any row of the variant does (cheap: counts and latest stamps)."""
    parts: list[Any] = [tuple(store.catalog.one("SELECT updated, state, epochs_done FROM "
                                                "variants WHERE id = ?", (variant,)) or ())]
    for table in ROW_TABLES:
        row = store.catalog.one(f"SELECT COUNT(*), MAX(created) FROM {table} WHERE variant = ?",
                                (variant,))
        parts.append(tuple(row))
    return tuple(parts)


def _plant(store: Store, rows: dict[str, list[dict[str, Any]]], job: dict[str, Any]) -> None:
    with store.catalog.transaction() as db:
        for table in ("families", "variants", *ROW_TABLES):
            for row in rows.get(table, []):
                cols = ", ".join(row)
                db.execute(f"INSERT OR REPLACE INTO {table} ({cols}) VALUES "
                           f"({', '.join('?' * len(row))})", tuple(row.values()))
        db.execute("INSERT INTO jobs (id, kind, variant, state, params, created, updated) "
                   "VALUES (?, ?, ?, 'queued', ?, ?, ?)",
                   (job["id"], job["kind"], job["variant"], job["params"], now(), now()))


def _index_orphans(store: Store, variant: str) -> None:
    """Index checkpoint files a killed earlier attempt wrote but never reported.

    A file is written whole or not at all (atomic rename), so a file on disk is a true
    checkpoint; its row is rebuilt from it. Without this the resume file of the killed
    attempt would name a checkpoint the catalog does not know.
    """
    row = store.catalog.one("SELECT id FROM variants WHERE id = ?", (variant,))
    if row is None:
        return
    folder = store.path(store.variant(variant).folder / "checkpoints")
    known = {r["epoch"] for r in store.catalog.query(
        "SELECT epoch FROM checkpoints WHERE variant = ?", (variant,))}
    for path in sorted(folder.glob("epoch_*.safetensors")):
        epoch = int(path.stem.split("_", 1)[1])
        if epoch in known:
            continue
        rel = path.relative_to(store.root)
        store.catalog.execute("INSERT INTO checkpoints VALUES (?, ?, ?, ?, ?, ?)",
                              (variant, epoch, sha256_file(path), str(rel),
                               path.stat().st_size, now()))


def run_job(root: str, job: dict[str, Any], rows: dict[str, list[dict[str, Any]]], topic: str,
            cancel_event: str, period: float = 0.5, threads: int = 0) -> dict[str, Any]:
    """Run job ``job`` (its ``id``, ``kind``, ``variant``, ``params`` JSON) of the store at
    ``root`` on this Dask worker; returns the final report (job fields and variant rows).

    ``rows`` are the variant's catalog rows at submission; progress reports go to the
    Dask event ``topic``; setting the Dask ``Event`` named ``cancel_event`` cancels the job.
    ``threads`` caps the job's torch/BLAS threads; 0 keeps this worker's environment.
    """
    from distributed import Event, get_worker

    shared = Path(root)
    if not (shared / "catalog.sqlite").exists():
        raise StoreError(f"the store {root} is not visible on this Dask worker "
                         f"({os.uname().nodename}); a sweep through Dask needs the store on a "
                         "filesystem every worker mounts at the same path")
    worker = get_worker()
    cancel = Event(cancel_event)
    scratch = Path(tempfile.mkdtemp(prefix=f"tdw-job{job['id']}-"))
    held = os.open(scratch, os.O_RDONLY)  # locked while this attempt lives
    holding(held)
    _remove_abandoned(scratch.parent)
    try:
        for name in SHARED:
            (shared / name).mkdir(exist_ok=True)
            (scratch / name).symlink_to(shared / name, target_is_directory=True)
        local = Store(scratch)
        _plant(local, rows, job)
        if job["kind"] == "train":
            _index_orphans(local, job["variant"])
        jobs.spawn(local, job["id"], die_with_parent=True, threads=threads)
        sent_job: dict[str, Any] = {}
        sent_rows: tuple = ()
        since: float | None = None  # progress reports carry rows created since then
        while True:
            jobs.reconcile(local)
            record = jobs.job(local, job["id"])
            if record.state in jobs.ACTIVE and cancel.is_set():
                record = jobs.cancel(local, job["id"])
            fields = {k: getattr(record, k) for k in JOB_FIELDS}
            if record.state in jobs.FINISHED:  # the final report carries every row
                return {"id": record.id, "job": fields,
                        "rows": variant_rows(local, job["variant"])}
            signature = _signature(local, job["variant"])
            if fields != sent_job or signature != sent_rows:
                report: dict[str, Any] = {"id": record.id, "job": fields}
                if signature != sent_rows:  # the rows created since the last report
                    stamp = time.time()
                    report["delta"] = variant_rows(local, job["variant"], since)
                    since = stamp - 5.0  # a row is stamped before its file is written
                worker.log_event(topic, report)
                sent_job, sent_rows = fields, signature
            time.sleep(period)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # unlinks the symlinks, not their targets
        os.close(held)


def remove_abandoned_scratch() -> None:
    """Run on every worker when a Dask sweep ends: the next attempt on a machine cleans up
    after a dead one, but a job that is not retried has no next attempt."""
    _remove_abandoned(Path(tempfile.gettempdir()))


def _remove_abandoned(folder: Path) -> None:
    """Remove the scratch stores of attempts that died (a killed worker cannot clean up):
    a live attempt holds a lock on its folder, which dies with it."""
    for path in folder.glob("tdw-job*-*"):
        if path.is_dir() and not path.is_symlink() and not held_elsewhere(path):
            shutil.rmtree(path, ignore_errors=True)

