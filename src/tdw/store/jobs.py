"""The catalog's ``jobs`` table: one row per papermill job, from queued to its final state.

Every statement on the table lives here; :mod:`tdw.jobs` decides when to issue them. The
writers are several processes at once (the CLI or a dashboard that queues a job, the
runner that executes it, the kernel that reports progress, a coordinator that reconciles
dead runners), so each function is one statement in autocommit or one immediate
transaction, and a decision that depends on what the table holds (is the variant busy? is
the job already over?) is taken inside the transaction that acts on it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tdw.errors import JobError
from tdw.store.catalog import Catalog, now

__all__ = ["JobRecord", "ACTIVE", "FINISHED", "get", "recent", "active", "blocking",
           "busy_error", "queue", "set_runner_pid", "mark_running", "set_kernel_pid",
           "report_progress", "request_cancel", "finish"]

ACTIVE = ("queued", "running")
"""The states of a job that is not over yet."""
FINISHED = ("succeeded", "failed", "cancelled")
"""The final states; a finished job never changes again."""


@dataclass(frozen=True)
class JobRecord:
    """A job as the catalog knows it."""

    id: int
    kind: str
    variant: str
    state: str
    params: dict[str, Any]
    progress: int
    total: int
    message: str
    pid: int | None
    kernel_pid: int | None
    cancel_requested: int
    notebook: str | None
    log: str | None
    error: str | None
    created: float
    started: float | None
    progress_started: float | None
    progress_at_start: int
    finished: float | None
    updated: float

    @property
    def fraction(self) -> float:
        return self.progress / self.total if self.total else (1.0 if self.state == "succeeded"
                                                              else 0.0)

    @property
    def eta_seconds(self) -> float | None:
        """Seconds left at the rate seen since progress began, or None before any."""
        if self.state != "running" or not self.progress_started or not self.total:
            return None
        done = self.progress - self.progress_at_start
        elapsed = self.updated - self.progress_started
        if done <= 0 or elapsed <= 0:
            return None
        return (self.total - self.progress) * elapsed / done


def _record(row: sqlite3.Row) -> JobRecord:
    data = dict(row)
    data["params"] = json.loads(data["params"])
    return JobRecord(**data)


def get(catalog: Catalog, job_id: int) -> JobRecord | None:
    """Job ``job_id``, or None if the catalog has no such job."""
    row = catalog.one("SELECT * FROM jobs WHERE id = ?", (job_id,))
    return None if row is None else _record(row)


def recent(catalog: Catalog, *, variant: str | None = None, limit: int = 50) -> list[JobRecord]:
    """The most recent jobs (of ``variant``, if given) first."""
    sql, args = "SELECT * FROM jobs", ()
    if variant:
        sql, args = sql + " WHERE variant = ?", (variant,)
    return [_record(r) for r in catalog.query(sql + " ORDER BY id DESC LIMIT ?",
                                              (*args, limit))]


def active(catalog: Catalog) -> list[JobRecord]:
    """Every job not over yet (queued or running)."""
    return [_record(r) for r in catalog.query("SELECT * FROM jobs WHERE state IN "
                                              "('queued', 'running')")]


# Analyses of one variant may queue behind each other (the second waits for the first's
# lock, then computes only what is still missing); training excludes all.
_BLOCKING = ("SELECT * FROM jobs WHERE variant = ? AND state IN ('queued', 'running') "
             "AND (kind = 'train' OR ? = 'train') ORDER BY id")


def blocking(catalog: Catalog, kind: str, variant: str) -> list[JobRecord]:
    """The active jobs that make :func:`queue` refuse a ``kind`` job on ``variant``, oldest
    first. Read only: a dry run asks it to say what the real command would meet."""
    return [_record(r) for r in catalog.query(_BLOCKING, (variant, kind))]


def busy_error(variant: str, job_kind: str, job_id: int) -> JobError:
    """How :func:`queue` refuses a job on ``variant`` while job ``job_id`` holds it."""
    return JobError(f"variant {variant} is busy with {job_kind} job {job_id}; "
                    f"wait for it or cancel it (tdw jobs cancel {job_id})")


def queue(catalog: Catalog, kind: str, variant: str, parameters: Mapping[str, Any]) -> int:
    """Record a *queued* job and return its id; refuse (raise :class:`JobError`, writing
    nothing) a training job while the variant has any active job, and any job while it
    trains (the jobs :func:`blocking` lists). The check and the insert are one
    transaction, so two processes queueing at once cannot both pass it."""
    t = now()
    with catalog.transaction() as db:
        busy = db.execute(_BLOCKING, (variant, kind)).fetchone()
        if busy is not None:
            raise busy_error(variant, busy["kind"], busy["id"])
        cur = db.execute("INSERT INTO jobs (kind, variant, state, params, created, updated) "
                         "VALUES (?, ?, 'queued', ?, ?, ?)",
                         (kind, variant, json.dumps(dict(parameters)), t, t))
        return int(cur.lastrowid)


def set_runner_pid(catalog: Catalog, job_id: int, pid: int) -> None:
    """Record the runner started for a job; a pid already recorded (the runner's own, set
    when it began running) is kept."""
    catalog.execute("UPDATE jobs SET pid = ?, updated = ? WHERE id = ? AND pid IS NULL",
                    (pid, now(), job_id))


def mark_running(catalog: Catalog, job_id: int, pid: int, notebook: str, log: str) -> None:
    """The runner ``pid`` has begun a queued job, writing ``notebook`` and ``log`` (paths
    relative to the store). A job no longer queued (cancelled meanwhile) stays as it is."""
    catalog.execute(
        "UPDATE jobs SET state = 'running', pid = ?, started = ?, updated = ?, notebook = ?, "
        "log = ? WHERE id = ? AND state = 'queued'",
        (pid, now(), now(), notebook, log, job_id))


def set_kernel_pid(catalog: Catalog, job_id: int, pid: int) -> None:
    """Record the kernel executing a job's template (signalled apart when it is cancelled)."""
    catalog.execute("UPDATE jobs SET kernel_pid = ? WHERE id = ?", (pid, job_id))


def report_progress(catalog: Catalog, job_id: int, done: int, total: int, message: str
                    ) -> None:
    """A job's progress; the first report also stamps when (and where) progress began, from
    which :attr:`JobRecord.eta_seconds` estimates the rate."""
    catalog.execute(
        "UPDATE jobs SET progress = ?, total = ?, message = ?, updated = ?, "
        "progress_started = COALESCE(progress_started, ?), "
        "progress_at_start = CASE WHEN progress_started IS NULL THEN ? "
        "ELSE progress_at_start END WHERE id = ?",
        (done, total, message, now(), now(), done, job_id))


def request_cancel(catalog: Catalog, job_id: int) -> None:
    catalog.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (job_id,))


def finish(catalog: Catalog, job_id: int, state: str, error: str | None = None) -> None:
    """End a job in ``state`` (one of :data:`FINISHED`) with ``error``, unless it is over
    already (the first ending wins). A training job that did not succeed leaves its variant
    *interrupted* rather than *training*, in the same transaction."""
    with catalog.transaction() as db:
        row = db.execute("SELECT state, variant, kind FROM jobs WHERE id = ?",
                         (job_id,)).fetchone()
        if row is None or row["state"] in FINISHED:
            return
        db.execute("UPDATE jobs SET state = ?, error = ?, finished = ?, updated = ? WHERE id = ?",
                   (state, error, now(), now(), job_id))
        if row["kind"] == "train" and state != "succeeded":
            db.execute("UPDATE variants SET state = 'interrupted' WHERE id = ? AND state = "
                       "'training'", (row["variant"],))
