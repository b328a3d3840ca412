"""Jobs: papermill executions of ``templates/*.ipynb`` in their own process, tracked in
the catalog.

:func:`submit` records a job as *queued* and starts a runner process (``python -m
tdw.jobs.jobs ROOT ID``) in its own session. The runner executes the template with papermill,
keeps the executed notebook as the record of the run (a failed job's notebook shows the
failing cell), and marks the job *succeeded*, *failed* or *cancelled*. The kernel
reports progress through :func:`progress_reporter`. A runner that dies without
reporting (SIGKILL, out of memory) is detected by :func:`reconcile` and marked failed.

:func:`submit` is :func:`record` (check and queue) then :func:`spawn` (start the runner
here). An executor that runs the job elsewhere (:mod:`tdw.jobs.executors`, Dask) records it the
same way, starts the same runner on a worker, and holds ``jobs/<id>/coordinator.lock``
while the job is in flight; :func:`reconcile` fails such a job once nobody holds that lock.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from tdw.errors import JobError
from tdw.store.catalog import now
from tdw.store.locks import held_elsewhere, holding
from tdw.store.store import Store
from tdw.training.loop import TrainState

__all__ = ["JobRecord", "JobReporter", "submit", "record", "spawn", "check_parameters", "job",
           "jobs", "cancel", "reconcile", "progress_reporter", "template_path", "log_tail",
           "coordinator_lock", "ACTIVE", "FINISHED", "THREAD_VARIABLES"]

ACTIVE = ("queued", "running")
FINISHED = ("succeeded", "failed", "cancelled")
_CHILDREN: dict[int, subprocess.Popen] = {}


@dataclass(frozen=True)
class JobRecord:
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


def log_tail(store: Store, record: JobRecord, lines: int = 20) -> list[str]:
    """The last ``lines`` lines of a job's log (empty before the job has one)."""
    if not record.log or not store.path(record.log).exists():
        return []
    return store.path(record.log).read_text(errors="replace").splitlines()[-lines:]


def template_path(name: str) -> Path:
    """Path of an installed template notebook (``train`` -> ``.../templates/train.ipynb``)."""
    path = Path(str(files("tdw.templates") / f"{name}.ipynb"))
    # a plain name only: "../dashboards/x" must not turn another notebook into a job
    if not name.isidentifier() or not path.exists():
        raise JobError(f"template {name}.ipynb is not installed with tdw (looked in "
                       f"{path.parent}); reinstall tdw")
    return path


def _record(row) -> JobRecord:
    data = dict(row)
    data["params"] = json.loads(data["params"])
    return JobRecord(**data)


def job(store: Store, job_id: int) -> JobRecord:
    row = store.catalog.one("SELECT * FROM jobs WHERE id = ?", (job_id,))
    if row is None:
        raise JobError(f"no job {job_id} in {store.root}; list them with tdw jobs")
    return _record(row)


def jobs(store: Store, *, variant: str | None = None, limit: int = 50) -> list[JobRecord]:
    """Most recent jobs first, after reconciling dead runners."""
    reconcile(store)
    sql, args = "SELECT * FROM jobs", ()
    if variant:
        sql, args = sql + " WHERE variant = ?", (variant,)
    return [_record(r) for r in store.catalog.query(sql + " ORDER BY id DESC LIMIT ?",
                                                    (*args, limit))]


_RUNNER_SET = ("store", "job_id")  # the runner sets these; a caller may not
_TYPES: dict[str, tuple[type, ...]] = {"str": (str,), "int": (int,), "float": (int, float),
                                       "bool": (bool,), "dict": (dict,), "list": (list,)}


def check_parameters(store: Store, kind: str, variant: str, parameters: Mapping[str, Any]
                     ) -> None:
    """Refuse a job whose parameters its template does not declare, or that do not validate.

    papermill writes each parameter into the notebook as Python source (``name = value``),
    so only names the template's ``parameters`` cell declares, with values of the declared
    type, may reach it. A training job's values must also pass the family's typed schema
    and an analysis must plan, for the variant the job is recorded under.

    Raises:
        JobError: an unknown, runner-owned or ill-typed parameter, or another variant.
        TdwError: the family, parameters, schedule, device or analysis plan is invalid.
    """
    import ast

    import papermill

    declared = papermill.inspect_notebook(str(template_path(kind)))
    settable = [name for name in declared if name not in _RUNNER_SET]
    values = {name: ast.literal_eval(info["default"]) for name, info in declared.items()}
    try:
        json.dumps(dict(parameters), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise JobError(f"{kind} job parameters must be plain JSON values ({exc})") from None
    for name, value in parameters.items():
        if name not in settable:
            raise JobError(f"the {kind} template has no parameter {name!r}; it takes "
                           f"{', '.join(settable)}")
        expected = declared[name]["inferred_type_name"]
        types = _TYPES.get(expected, (object,))
        if not isinstance(value, types) or (isinstance(value, bool) and expected != "bool"):
            raise JobError(f"{kind} job parameter {name!r} must be of type {expected}, got "
                           f"{value!r}")
        values[name] = value
    if kind == "train":
        from tdw.family.family import variant_id
        from tdw.family.model import pick_device
        from tdw.training.run import plan_training

        fam, resolved, _ = plan_training(values["family"], values["params"],
                                         values["preset"] or None, values["schedule"])
        pick_device(values["device"])
        expected_variant = variant_id(fam, resolved)
    elif kind == "analyze":
        from tdw.analysis.run import AnalysisRun

        expected_variant = AnalysisRun.prepare(
            variant=values["variant"], analyzers=values["analyzers"],
            checkpoints=values["checkpoints"], force=values["force"],
            workers=values["workers"], store=store).config.variant
    else:
        return
    if variant != expected_variant:
        raise JobError(f"a {kind} job for {variant!r} has the parameters of "
                       f"{expected_variant!r}; submit it under that variant")


def submit(store: Store, kind: str, variant: str, parameters: Mapping[str, Any]) -> JobRecord:
    """Queue a job and start its runner here (:func:`record`, then :func:`spawn`)."""
    return spawn(store, record(store, kind, variant, parameters).id)


def record(store: Store, kind: str, variant: str, parameters: Mapping[str, Any]) -> JobRecord:
    """Queue a job without starting it; refuse a training job while the variant has any
    active job and any job while it trains (analyses queue behind each other), or if
    :func:`check_parameters` refuses its parameters (then nothing is recorded)."""
    check_parameters(store, kind, variant, parameters)
    reconcile(store)
    t = now()
    with store.catalog.transaction() as db:
        # Analyses of one variant may queue behind each other (the second waits for the
        # first's lock, then computes only what is still missing); training excludes all.
        busy = db.execute("SELECT id, kind FROM jobs WHERE variant = ? AND state IN "
                          "('queued', 'running') AND (kind = 'train' OR ? = 'train')",
                          (variant, kind)).fetchone()
        if busy is not None:
            raise JobError(f"variant {variant} is busy with {busy['kind']} job {busy['id']}; "
                           f"wait for it or cancel it (tdw jobs cancel {busy['id']})")
        cur = db.execute("INSERT INTO jobs (kind, variant, state, params, created, updated) "
                         "VALUES (?, ?, 'queued', ?, ?, ?)",
                         (kind, variant, json.dumps(dict(parameters)), t, t))
        job_id = int(cur.lastrowid)
    store.path(Path("jobs") / str(job_id)).mkdir(parents=True, exist_ok=True)
    return job(store, job_id)


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
"""The environment variables that cap a job's torch/BLAS threads."""


def spawn(store: Store, job_id: int, *, die_with_parent: bool = False,
          threads: int = 0) -> JobRecord:
    """Start the runner of queued job ``job_id`` (``python -m tdw.jobs.jobs ROOT ID``).

    ``die_with_parent`` (Linux) has the kernel kill the runner when this process dies, as a
    Dask worker's runner must: a retry elsewhere may not race an orphan. ``threads`` caps
    the job's torch/BLAS threads (when several jobs share the cores); 0 leaves them be.
    """
    folder = store.path(Path("jobs") / str(job_id))
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if threads:
        env.update({name: str(threads) for name in THREAD_VARIABLES})
    # papermill's "python3" kernel may resolve `python` on PATH: make it this interpreter.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    with open(folder / "runner.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tdw.jobs.jobs", str(store.root), str(job_id)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
            start_new_session=True, cwd=folder,
            preexec_fn=_parent_death_signal() if die_with_parent else None)
    _CHILDREN[proc.pid] = proc
    store.catalog.execute("UPDATE jobs SET pid = ?, updated = ? WHERE id = ? AND pid IS NULL",
                          (proc.pid, now(), job_id))
    return job(store, job_id)


def _parent_death_signal():
    """A ``preexec_fn`` asking Linux to SIGKILL the child when its parent dies (no-op
    elsewhere). The C function is looked up before the fork; the child only calls it."""
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _alive(pid: int) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A killed runner whose parent never reaps it lingers as a zombie: dead all the same.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (macOS): trust kill(0)
    return state not in ("Z", "X")


def _kill(pid: int | None, sig: int, *, group: bool = False) -> None:
    if pid is None:
        return
    try:
        (os.killpg if group else os.kill)(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _runner_lock(store: Store, job_id: int) -> Path:
    return store.path(Path("jobs") / str(job_id) / "runner.lock")


def coordinator_lock(store: Store, job_id: int) -> Path:
    """The lock a coordinator holds while job ``job_id`` runs on another machine."""
    return store.path(Path("jobs") / str(job_id) / "coordinator.lock")


def _runner_alive(store: Store, row) -> bool:
    """Whether a job's runner still lives.

    A running job's runner holds the lock on ``jobs/<id>/runner.lock`` from before it
    marks the job running until it exits; the kernel drops the lock when the runner dies,
    however it dies. Unlike a pid, which the system may give to a new process, a released
    lock cannot pass for a live runner. A queued job (its runner not started yet) and a
    job recorded before runners took the lock are judged by their pid.
    """
    lock = _runner_lock(store, row["id"])
    if row["state"] == "running" and lock.exists():
        # Both must hold: a dead pid is a dead runner even if some orphan still holds the
        # lock's open description, and a free lock is a dead runner even if the pid was reused.
        return held_elsewhere(lock) and _alive(row["pid"])
    return _alive(row["pid"])


def reconcile(store: Store) -> None:
    """Mark active jobs whose runner process is gone as failed (it died without reporting).

    The kernel also exits by itself when its runner dies (ipykernel's parent poller); it
    is killed here too so that no orphan can write after the job is declared over.
    """
    for row in store.catalog.query("SELECT id, kind, state, pid, kernel_pid, variant FROM jobs "
                                   "WHERE state IN ('queued', 'running')"):
        if row["pid"] is None:
            # Run elsewhere (or not spawned yet): alive while its coordinator holds the lock.
            lock = coordinator_lock(store, row["id"])
            if not lock.exists() or held_elsewhere(lock):
                continue
        elif _runner_alive(store, row):
            continue
        _kill(row["kernel_pid"], signal.SIGKILL)
        again = ("train the variant again to resume from its last checkpoint"
                 if row["kind"] == "train" else
                 f"run tdw analyze {row['variant']} again: it computes only what is missing")
        _finish(store, row["id"], "failed",
                f"the job's process died without reporting (killed or out of memory); {again}")


def _finish(store: Store, job_id: int, state: str, error: str | None = None) -> None:
    with store.catalog.transaction() as db:
        row = db.execute("SELECT state, variant, kind FROM jobs WHERE id = ?",
                         (job_id,)).fetchone()
        if row is None or row["state"] in FINISHED:
            return
        db.execute("UPDATE jobs SET state = ?, error = ?, finished = ?, updated = ? WHERE id = ?",
                   (state, error, now(), now(), job_id))
        if row["kind"] == "train" and state != "succeeded":
            db.execute("UPDATE variants SET state = 'interrupted' WHERE id = ? AND state = "
                       "'training'", (row["variant"],))


def cancel(store: Store, job_id: int) -> JobRecord:
    """Stop a job: its process group gets SIGTERM; the runner records it as cancelled."""
    record = job(store, job_id)
    if record.state in FINISHED:
        raise JobError(f"job {job_id} already {record.state}; nothing to cancel")
    store.catalog.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (job_id,))
    # The kernel runs in a session of its own (jupyter_client), so it is signalled apart.
    _kill(record.kernel_pid, signal.SIGTERM)
    if record.pid is not None and _alive(record.pid):
        _kill(record.pid, signal.SIGTERM, group=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and _alive(record.pid):
            time.sleep(0.1)
        if _alive(record.pid):
            _kill(record.pid, signal.SIGKILL, group=True)
    _kill(record.kernel_pid, signal.SIGKILL)
    _finish(store, job_id, "cancelled", "cancelled by the user")
    return job(store, job_id)


class JobReporter:
    """Reports a job's progress to the catalog from inside its kernel (throttled).

    Job 0 means "not run as a job" (a template executed by hand): nothing is reported.
    """

    def __init__(self, store: Store, job_id: int, *, every: float = 0.5):
        self.store, self.job_id, self.every = store, job_id, every
        self._last = 0.0
        if job_id:
            store.catalog.execute("UPDATE jobs SET kernel_pid = ? WHERE id = ?",
                                  (os.getpid(), job_id))

    def update(self, done: int, total: int, message: str = "") -> None:
        t = time.monotonic()
        if not self.job_id or (t - self._last < self.every and done < total):
            return
        self._last = t
        self.store.catalog.execute(
            "UPDATE jobs SET progress = ?, total = ?, message = ?, updated = ?, "
            "progress_started = COALESCE(progress_started, ?), "
            "progress_at_start = CASE WHEN progress_started IS NULL THEN ? "
            "ELSE progress_at_start END WHERE id = ?",
            (done, total, message or f"{done}/{total}", now(), now(), done, self.job_id))


def progress_reporter(store: Store, job_id: int) -> list:
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


def _on_sigterm(signum, frame):  # noqa: ARG001
    raise _Cancelled()


def _run(root: str, job_id: int) -> int:
    import papermill

    store = Store(root)
    record = job(store, job_id)
    folder = store.path(Path("jobs") / str(job_id))
    notebook = folder / f"{record.kind}.ipynb"
    log = folder / "log.txt"
    # Held until this process exits (the descriptor is not inherited by the kernel).
    lock_fd = os.open(_runner_lock(store, job_id), os.O_RDWR | os.O_CREAT, 0o644)
    holding(lock_fd)
    store.catalog.execute(
        "UPDATE jobs SET state = 'running', pid = ?, started = ?, updated = ?, notebook = ?, "
        "log = ? WHERE id = ? AND state = 'queued'",
        (os.getpid(), now(), now(), str(notebook.relative_to(store.root)),
         str(log.relative_to(store.root)), job_id))
    signal.signal(signal.SIGTERM, _on_sigterm)
    parameters = {**record.params, "store": str(store.root), "job_id": job_id}
    try:
        with open(log, "w") as out:
            papermill.execute_notebook(
                str(template_path(record.kind)), str(notebook), parameters=parameters,
                kernel_name="python3", progress_bar=False, stdout_file=out, stderr_file=out,
                cwd=str(folder))
    except _Cancelled:
        _finish(store, job_id, "cancelled", "cancelled by the user")
        return 1
    except papermill.PapermillExecutionError as exc:
        _finish(store, job_id, "failed", f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}")
        return 1
    except BaseException as exc:  # a runner must always leave a final state behind
        _finish(store, job_id, "failed", f"{type(exc).__name__}: {exc}")
        return 1
    _finish(store, job_id, "succeeded")
    return 0


if __name__ == "__main__":
    sys.exit(_run(sys.argv[1], int(sys.argv[2])))
