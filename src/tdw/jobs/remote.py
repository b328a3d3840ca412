"""The worker side of a job run through Dask: the same runner, a catalog of its own.

A Dask worker may sit on another machine, and SQLite over a network filesystem is not
safe (its locks and WAL shared memory do not work there). So the worker never opens the
store's catalog. :func:`run_job` builds a *scratch store* on the worker's local disk:
a private ``catalog.sqlite`` whose ``variants/`` and ``jobs/`` are symlinks into the shared
store. It plants the rows the job needs (sent by the coordinator), starts the ordinary
runner (``python -m tdw.jobs.runner SCRATCH ID``) and, every half second, reports the job's
progress and the variant's catalog rows to the coordinator as a Dask event. Files go
straight to the shared filesystem (atomically, as always); rows reach the real catalog
only through the coordinator, which alone writes it (:mod:`tdw.store.replication` holds
both ends of that exchange).
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
from tdw.jobs.process import spawn
from tdw.store.jobs import ACTIVE, FINISHED
from tdw.store.locks import held_elsewhere, holding
from tdw.store.replication import (
    JOB_FIELDS,
    Rows,
    index_orphan_checkpoints,
    plant,
    variant_rows,
)
from tdw.store.store import Store

__all__ = ["run_job", "remove_abandoned_scratch"]

SHARED = ("variants", "jobs")
"""Folders of the store that live on the shared filesystem (the catalog does not)."""


def run_job(root: str, job: dict[str, Any], rows: Rows, topic: str,
            cancel_event: str, period: float = 0.5, threads: int = 0,
            pin_gpu: bool = False) -> dict[str, Any]:
    """Run job ``job`` (its ``id``, ``kind``, ``variant``, ``params`` JSON) of the store at
    ``root`` on this Dask worker; returns the final report (job fields and variant rows).

    ``rows`` are the variant's catalog rows at submission; progress reports go to the
    Dask event ``topic``; setting the Dask ``Event`` named ``cancel_event`` cancels the job.
    ``threads`` caps the job's torch/BLAS threads; 0 keeps this worker's environment.
    ``pin_gpu`` (a worker of a local cluster, one per GPU) pins the job to the GPU of the
    worker's number.
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
        plant(local.catalog, rows, job)
        if job["kind"] == "train":
            index_orphan_checkpoints(local, job["variant"])
        spawn(local, job["id"], die_with_parent=True, threads=threads,
              gpu=int(worker.name) if pin_gpu else None)
        sent_job: dict[str, Any] = {}
        sent_rows: tuple = ()
        since: float | None = None  # progress reports carry rows created since then
        while True:
            jobs.reconcile(local)
            record = jobs.job(local, job["id"])
            if record.state in ACTIVE and cancel.is_set():
                record = jobs.cancel(local, job["id"])
            fields = {k: getattr(record, k) for k in JOB_FIELDS}
            if record.state in FINISHED:  # the final report carries every row
                return {"id": record.id, "job": fields,
                        "rows": variant_rows(local.catalog, job["variant"])}
            rows_now = local.signature(job["variant"])
            if fields != sent_job or rows_now != sent_rows:
                report: dict[str, Any] = {"id": record.id, "job": fields}
                if rows_now != sent_rows:  # the rows created since the last report
                    stamp = time.time()
                    report["delta"] = variant_rows(local.catalog, job["variant"], since)
                    since = stamp - 5.0  # a row is stamped before its file is written
                worker.log_event(topic, report)
                sent_job, sent_rows = fields, rows_now
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

