"""The processes behind jobs: starting a runner, telling whether it lives, stopping it.

A job's runner (``python -m tdw.jobs.runner ROOT ID``, :mod:`tdw.jobs.runner`) runs in a
session of its own, so that it outlives the terminal or dashboard that started it and can
be signalled as a group; its kernel has a session of its own too. Whether a runner lives
is judged by the lock it holds (``jobs/<id>/runner.lock``), which the kernel releases
however the runner dies, not by its pid alone, which the system may give to another
process. A job run on another machine has no local process: its coordinator holds
``jobs/<id>/coordinator.lock`` instead.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from tdw.errors import TdwError
from tdw.store import jobs as job_table
from tdw.store.jobs import JobRecord
from tdw.store.locks import held_elsewhere
from tdw.store.store import Store

__all__ = ["spawn", "alive", "kill", "stop", "runner_alive", "runner_lock", "coordinator_lock",
           "THREAD_VARIABLES", "SPIN_COUNT", "CUBLAS_WORKSPACE", "job_environment",
           "visible_device"]

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
"""The environment variables that cap a job's torch/BLAS threads."""

SPIN_COUNT = "1000"
"""``GOMP_SPINCOUNT`` of a job: how long torch's idle OpenMP threads spin before they sleep.

At the end of every parallel region a thread waits for the others; by default it spins
300,000 times first. Alone that is fastest, but when another process holds a core the
waiting thread spins while its partner waits for a time slice. Measured on 2 cores, tdw's
training loop at p = 113 (``python -m benchmarks --only contention``, medians of 3): alone
145 ms an epoch with 1,000 spins against 143 ms with the default; beside one busy-looping
process 250 ms against 392 ms. (``OMP_WAIT_POLICY=PASSIVE``, no spinning at all, did as
well beside it but cost 5-30% alone; 10,000 spins were as slow as the default beside it.)
The wait changes no number of a run, unlike the thread count (see
:func:`tdw.training.loop.deterministic`), so it is safe to set for every job."""


CUBLAS_WORKSPACE = ":4096:8"
"""``CUBLAS_WORKSPACE_CONFIG`` of a job: cuBLAS reproduces its results bit for bit only with
a fixed workspace (torch's deterministic algorithms warn without it), which a resumed
CUDA training needs to continue exactly as one run in a single go. Harmless on the CPU."""


def visible_device(base: Mapping[str, str], gpu: int) -> str:
    """The ``CUDA_VISIBLE_DEVICES`` entry of GPU index ``gpu`` as this process counts them:
    when ``base`` already narrows the devices (a scheduler's ``2,3``, UUIDs, MIG slices),
    index ``gpu`` is its ``gpu``-th entry, not physical GPU ``gpu``.

    >>> visible_device({"CUDA_VISIBLE_DEVICES": "2,3"}, 1), visible_device({}, 1)
    ('3', '1')
    """
    given = [d.strip() for d in base.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    if not given:
        return str(gpu)
    if gpu >= len(given):
        raise TdwError(f"GPU {gpu} is not among CUDA_VISIBLE_DEVICES={','.join(given)}; "
                       "run fewer jobs at once, or make more GPUs visible")
    return given[gpu]


def job_environment(base: Mapping[str, str], threads: int = 0,
                    gpu: int | None = None) -> dict[str, str]:
    """The environment of a job's runner, and so of its kernel and workers, from ``base``.

    ``threads`` caps torch/BLAS threads (0 leaves them be). ``gpu`` pins the job to that
    CUDA device (``CUDA_VISIBLE_DEVICES``; inside the job it is ``cuda:0``), as a sweep
    does so that two jobs never share a GPU; None leaves the devices be. The OpenMP wait is
    bounded by :data:`SPIN_COUNT` unless ``base`` already says how threads should wait
    (``GOMP_SPINCOUNT`` or ``OMP_WAIT_POLICY``), and ``CUBLAS_WORKSPACE_CONFIG`` is
    :data:`CUBLAS_WORKSPACE` unless set: a user's own setting wins.
    """
    env = dict(base)
    if threads:
        env.update({name: str(threads) for name in THREAD_VARIABLES})
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = visible_device(base, gpu)
    env.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    if "GOMP_SPINCOUNT" not in env and "OMP_WAIT_POLICY" not in env:
        env["GOMP_SPINCOUNT"] = SPIN_COUNT
    # papermill's "python3" kernel may resolve `python` on PATH: make it this interpreter.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env

_CHILDREN: dict[int, subprocess.Popen] = {}  # runners started by this process, to reap


def spawn(store: Store, job_id: int, *, die_with_parent: bool = False,
          threads: int = 0, gpu: int | None = None) -> int:
    """Start the runner of queued job ``job_id`` (``python -m tdw.jobs.runner ROOT ID``),
    record its pid, and return it.

    ``die_with_parent`` (Linux) has the kernel kill the runner when this process dies, as a
    Dask worker's runner must: a retry elsewhere may not race an orphan. ``threads`` caps
    the job's torch/BLAS threads (when several jobs share the cores); 0 leaves them be.
    ``gpu`` pins the job to one CUDA device. The runner's environment comes from
    :func:`job_environment`.
    """
    folder = store.path(Path("jobs") / str(job_id))
    folder.mkdir(parents=True, exist_ok=True)
    env = job_environment(os.environ, threads, gpu)
    with open(folder / "runner.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tdw.jobs.runner", str(store.root), str(job_id)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
            start_new_session=True, cwd=folder,
            preexec_fn=_parent_death_signal() if die_with_parent else None)
    _CHILDREN[proc.pid] = proc
    job_table.set_runner_pid(store.catalog, job_id, proc.pid)
    return proc.pid


def _parent_death_signal() -> Callable[[], object] | None:
    """A ``preexec_fn`` asking Linux to SIGKILL the child when its parent dies (no-op
    elsewhere). The C function is looked up before the fork; the child only calls it."""
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def alive(pid: int) -> bool:
    """Whether process ``pid`` lives; a zombie (killed, not yet reaped) counts as dead."""
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


def kill(pid: int | None, sig: int, *, group: bool = False) -> None:
    """Send ``sig`` to process ``pid`` (or its process group); nothing if it is gone."""
    if pid is None:
        return
    try:
        (os.killpg if group else os.kill)(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop(pid: int | None, kernel_pid: int | None, grace: float = 15.0) -> None:
    """Stop a job's runner (its process group) and kernel: SIGTERM, then SIGKILL whatever
    still lives after ``grace`` seconds."""
    # The kernel runs in a session of its own (jupyter_client), so it is signalled apart.
    kill(kernel_pid, signal.SIGTERM)
    if pid is not None and alive(pid):
        kill(pid, signal.SIGTERM, group=True)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and alive(pid):
            time.sleep(0.1)
        if alive(pid):
            kill(pid, signal.SIGKILL, group=True)
    kill(kernel_pid, signal.SIGKILL)


def runner_lock(store: Store, job_id: int) -> Path:
    """The lock a job's runner holds from before it marks the job running until it exits."""
    return store.path(Path("jobs") / str(job_id) / "runner.lock")


def coordinator_lock(store: Store, job_id: int) -> Path:
    """The lock a coordinator holds while job ``job_id`` runs on another machine."""
    return store.path(Path("jobs") / str(job_id) / "coordinator.lock")


def runner_alive(store: Store, job: JobRecord) -> bool:
    """Whether a job's runner still lives.

    A running job's runner holds the lock on ``jobs/<id>/runner.lock`` from before it
    marks the job running until it exits; the kernel drops the lock when the runner dies,
    however it dies. Unlike a pid, which the system may give to a new process, a released
    lock cannot pass for a live runner. A queued job (its runner not started yet) and a
    job recorded before runners took the lock are judged by their pid.
    """
    lock = runner_lock(store, job.id)
    if job.state == "running" and lock.exists():
        # Both must hold: a dead pid is a dead runner even if some orphan still holds the
        # lock's open description, and a free lock is a dead runner even if the pid was reused.
        return held_elsewhere(lock) and alive(job.pid)
    return alive(job.pid)
