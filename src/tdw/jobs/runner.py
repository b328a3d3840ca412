"""What runs a job: the runner process and the reporter its kernel uses.

The runner (``python -m tdw.jobs.runner ROOT ID``, started by
:func:`tdw.jobs.process.spawn`) holds the job's runner lock for as long as it lives, marks
the job running, executes its template with papermill, keeps the executed notebook as the
record of the run, and always leaves a final state behind. Inside the kernel, the template
reports progress through :class:`JobReporter` (``from tdw.jobs.runner import
progress_reporter`` in ``train.ipynb``, ``JobReporter`` in ``analyze.ipynb``).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from tdw.jobs.jobs import job
from tdw.jobs.parameters import template_path
from tdw.jobs.process import runner_lock
from tdw.store import jobs as job_table
from tdw.store.locks import holding
from tdw.store.store import Store
from tdw.training.loop import TrainState

__all__ = ["JobReporter", "progress_reporter", "run"]


class JobReporter:
    """Reports a job's progress to the catalog from inside its kernel (throttled).

    Job 0 means "not run as a job" (a template executed by hand): nothing is reported.
    """

    def __init__(self, store: Store, job_id: int, *, every: float = 0.5):
        self.store, self.job_id, self.every = store, job_id, every
        self._last = 0.0
        if job_id:
            job_table.set_kernel_pid(store.catalog, job_id, os.getpid())

    def update(self, done: int, total: int, message: str = "") -> None:
        t = time.monotonic()
        if not self.job_id or (t - self._last < self.every and done < total):
            return
        self._last = t
        job_table.report_progress(self.store.catalog, self.job_id, done, total,
                                  message or f"{done}/{total}")


def progress_reporter(store: Store, job_id: int) -> list[Callable[[TrainState], None]]:
    """Training callbacks reporting epochs done to job ``job_id`` (none for job 0)."""
    if not job_id:
        return []
    reporter = JobReporter(store, job_id)

    def report(state: TrainState) -> None:
        n = state.config.n_epochs
        reporter.update(state.epoch, n, f"epoch {state.epoch}/{n}")

    return [report]


class _Cancelled(Exception):
    pass


def _on_sigterm(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001
    raise _Cancelled()


def run(root: str, job_id: int) -> int:
    """Run job ``job_id`` of the store at ``root`` to its end; 0 if it succeeded."""
    import papermill

    store = Store(root)
    record = job(store, job_id)
    folder = store.path(Path("jobs") / str(job_id))
    notebook = folder / f"{record.kind}.ipynb"
    log = folder / "log.txt"
    # Held until this process exits (the descriptor is not inherited by the kernel).
    lock_fd = os.open(runner_lock(store, job_id), os.O_RDWR | os.O_CREAT, 0o644)
    holding(lock_fd)
    job_table.mark_running(store.catalog, job_id, os.getpid(),
                           str(notebook.relative_to(store.root)),
                           str(log.relative_to(store.root)))
    signal.signal(signal.SIGTERM, _on_sigterm)
    parameters = {**record.params, "store": str(store.root), "job_id": job_id}
    try:
        with open(log, "w") as out:
            papermill.execute_notebook(
                str(template_path(record.kind)), str(notebook), parameters=parameters,
                kernel_name="python3", progress_bar=False, stdout_file=out, stderr_file=out,
                cwd=str(folder))
    except _Cancelled:
        job_table.finish(store.catalog, job_id, "cancelled", "cancelled by the user")
        return 1
    except papermill.PapermillExecutionError as exc:
        job_table.finish(store.catalog, job_id, "failed",
                         f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}")
        return 1
    except BaseException as exc:  # a runner must always leave a final state behind
        job_table.finish(store.catalog, job_id, "failed", f"{type(exc).__name__}: {exc}")
        return 1
    job_table.finish(store.catalog, job_id, "succeeded")
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1], int(sys.argv[2])))
