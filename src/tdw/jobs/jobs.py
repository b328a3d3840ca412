"""Jobs: papermill executions of ``templates/*.ipynb`` in their own process, tracked in
the catalog; this module is their life cycle, from queued to a final state.

:func:`submit` records a job as *queued* and starts a runner process
(:func:`tdw.jobs.process.spawn`) in its own session. The runner (:mod:`tdw.jobs.runner`)
executes the template with papermill, keeps the executed notebook as the record of the run
(a failed job's notebook shows the failing cell), and marks the job *succeeded*, *failed*
or *cancelled*. The kernel reports progress through
:func:`tdw.jobs.runner.progress_reporter`. A runner that dies without reporting (SIGKILL,
out of memory) is detected by :func:`reconcile` and marked failed.

:func:`submit` is :func:`record` (check and queue) then :func:`~tdw.jobs.process.spawn`
(start the runner here). An executor that runs the job elsewhere (:mod:`tdw.jobs.executors`,
Dask) records it the same way, starts the same runner on a worker, and holds
``jobs/<id>/coordinator.lock`` while the job is in flight; :func:`reconcile` fails such a
job once nobody holds that lock. The rows themselves are :mod:`tdw.store.jobs`'s.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tdw.errors import JobError
from tdw.jobs.parameters import check_parameters
from tdw.jobs.process import coordinator_lock, kill, runner_alive, spawn, stop
from tdw.store import jobs as job_table
from tdw.store.jobs import ACTIVE, FINISHED, JobRecord
from tdw.store.locks import held_elsewhere
from tdw.store.store import Store

# ACTIVE and FINISHED, the states of a job, are defined with its record by the store and
# are part of this module's interface: callers ask "is it over?" where they ask for a job.
__all__ = ["submit", "record", "job", "jobs", "cancel", "reconcile", "alive", "blocking",
           "log_tail", "ACTIVE", "FINISHED"]


def job(store: Store, job_id: int) -> JobRecord:
    """Job ``job_id``; a :class:`JobError` naming the store if there is none."""
    found = job_table.get(store.catalog, job_id)
    if found is None:
        raise JobError(f"no job {job_id} in {store.root}; list them with tdw jobs")
    return found


def jobs(store: Store, *, variant: str | None = None, limit: int = 50) -> list[JobRecord]:
    """Most recent jobs first, after reconciling dead runners."""
    reconcile(store)
    return job_table.recent(store.catalog, variant=variant, limit=limit)


def log_tail(store: Store, record: JobRecord, lines: int = 20) -> list[str]:
    """The last ``lines`` lines of a job's log (empty before the job has one)."""
    if not record.log or not store.path(record.log).exists():
        return []
    return store.path(record.log).read_text(errors="replace").splitlines()[-lines:]


def submit(store: Store, kind: str, variant: str, parameters: Mapping[str, Any]) -> JobRecord:
    """Queue a job and start its runner here (:func:`record`, then
    :func:`~tdw.jobs.process.spawn`)."""
    job_id = record(store, kind, variant, parameters).id
    spawn(store, job_id)
    return job(store, job_id)


def record(store: Store, kind: str, variant: str, parameters: Mapping[str, Any]) -> JobRecord:
    """Queue a job without starting it; refuse a training job while the variant has any
    active job and any job while it trains (analyses queue behind each other), or if
    :func:`~tdw.jobs.parameters.check_parameters` refuses its parameters (then nothing is
    recorded)."""
    check_parameters(store, kind, variant, parameters)
    reconcile(store)
    job_id = job_table.queue(store.catalog, kind, variant, parameters)
    store.path(Path("jobs") / str(job_id)).mkdir(parents=True, exist_ok=True)
    return job(store, job_id)


def reconcile(store: Store) -> None:
    """Mark active jobs whose runner process is gone as failed (it died without reporting).

    The kernel also exits by itself when its runner dies (ipykernel's parent poller); it
    is killed here too so that no orphan can write after the job is declared over.
    """
    for active in job_table.active(store.catalog):
        if alive(store, active):
            continue
        kill(active.kernel_pid, signal.SIGKILL)
        again = ("train the variant again to resume from its last checkpoint"
                 if active.kind == "train" else
                 f"run tdw analyze {active.variant} again: it computes only what is missing")
        job_table.finish(store.catalog, active.id, "failed",
                         f"the job's process died without reporting (killed or out of memory); "
                         f"{again}")


def alive(store: Store, active: JobRecord) -> bool:
    """Whether an active job's process still lives; :func:`reconcile` fails those that don't.

    A job run elsewhere (or not spawned yet) has no pid here: it lives while its
    coordinator holds the lock, or until a coordinator has made one."""
    if active.pid is None:
        lock = coordinator_lock(store, active.id)
        return not lock.exists() or held_elsewhere(lock)
    return runner_alive(store, active)


def blocking(store: Store, kind: str, variant: str) -> JobRecord | None:
    """The live job that would make :func:`record` refuse a ``kind`` job on ``variant`` now,
    or None. Writes nothing: a job whose process died does not count, since :func:`record`
    reconciles before it checks (a dry run asks this to tell the truth)."""
    return next((j for j in job_table.blocking(store.catalog, kind, variant)
                 if alive(store, j)), None)


def cancel(store: Store, job_id: int) -> JobRecord:
    """Stop a job: its process group gets SIGTERM; the runner records it as cancelled."""
    current = job(store, job_id)
    if current.state in FINISHED:
        raise JobError(f"job {job_id} already {current.state}; nothing to cancel")
    job_table.request_cancel(store.catalog, job_id)
    stop(current.pid, current.kernel_pid)
    job_table.finish(store.catalog, job_id, "cancelled", "cancelled by the user")
    return job(store, job_id)
