"""The coordinator of a sweep: starts each variant's next job on an executor, keeps at most
``executor.slots`` in flight, and follows them to the end.

It is the ``tdw sweep`` process (or, with ``--background``, ``python -m tdw.sweeps.coordinator``).
What a variant needs is read from the store each time, never remembered: a trained variant
is not trained again, an interrupted one resumes from its last checkpoint, and an analysis
computes only what is missing; so running a sweep again skips what is done and finishes
the rest. Only one coordinator runs a sweep at a time (a lock in ``sweeps/<id>/``), and it
alone writes the catalog, whichever executor runs the jobs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tdw.analysis.run import AnalysisRun
from tdw.errors import TdwError
from tdw.family.registry import get_family
from tdw.jobs import jobs, launch
from tdw.jobs.executors import Executor, ExecutorSpec, open_executor, parse_executor
from tdw.jobs.process import coordinator_lock
from tdw.store import jobs as job_table
from tdw.store import sweeps as sweep_table
from tdw.store.jobs import ACTIVE, FINISHED, JobRecord
from tdw.store.locks import holding
from tdw.store.store import Store
from tdw.sweeps.sweep import (
    SweepError,
    SweepMember,
    SweepPoint,
    SweepRecord,
    SweepSpec,
    create,
    lock_path,
    members,
    plan,
    reconcile,
    refuse_if_running,
    settle,
    sweep,
)
from tdw.training.run import AlreadyTrained

__all__ = ["run", "start_background", "check", "start_sweep"]


def _set_member(store: Store, sweep_id: int, position: int, **fields: Any) -> None:
    sweep_table.set_member(store.catalog, sweep_id, position, **fields)


def _next_job(store: Store, spec: SweepSpec, member: SweepMember, slots: int, *,
              trained: bool = False, gpu: bool = False) -> JobRecord | None:
    """Record the job the variant needs next (training, else analysis), or None if done.
    ``trained``: its training job just succeeded, so it must not need training again.
    ``gpu``: the executor runs the jobs on GPUs."""
    try:
        request = launch.validate_training(store, spec.family, {**spec.fixed, **member.params},
                                           preset=spec.preset or None, schedule=spec.schedule,
                                           device=spec.device)
    except AlreadyTrained:
        request = None
    if request is not None and trained:
        raise SweepError(f"{member.variant}: its training job succeeded but the catalog does "
                         "not list it as trained; check it with tdw variants "
                         f"{member.variant}")
    if request is not None:
        record = jobs.record(store, "train", request.variant, launch.training_parameters(request))
        # The variant is listed (as new) from now on; a remote worker receives its row.
        fam = get_family(request.family)
        store.ensure_variant(fam, request.values, request.schedule.spec,
                             request.schedule.n_epochs)
        _set_member(store, member.sweep, member.position, state="training",
                    train_job=record.id, analyze_job=None, error=None)
        return record
    if not spec.analyze:
        return None
    # Its share of the cores on the CPU; on a GPU (the job's own) the engine's default of
    # one worker per GPU.
    workers = 0 if gpu else max(1, (os.cpu_count() or 1) // slots)
    run = AnalysisRun.prepare(variant=member.variant, analyzers=spec.analyzers,
                              workers=workers, device=spec.device, store=store)
    if run.plan.empty:
        return None
    record = jobs.record(store, "analyze", run.config.variant, launch.analysis_parameters(run))
    _set_member(store, member.sweep, member.position, state="analyzing", analyze_job=record.id,
                error=None)
    return record


def run(store: Store, sweep_id: int, executor: Executor, *,
        on_change: Callable[[list[SweepMember]], None] | None = None,
        period: float = 0.5) -> SweepRecord:
    """Coordinate sweep ``sweep_id`` to its end on ``executor``; returns its final record.

    Only one coordinator runs a sweep at a time (a lock in ``sweeps/<id>/``). Variants
    already done are skipped, failed or cancelled ones are tried again, and a job still
    running from an earlier coordinator (a local runner outlives it) is followed, not
    restarted. ``on_change(members)`` is called whenever a variant or its job changes
    state, and each time a job passes another tenth of its work.
    """
    reconcile(store)
    record = sweep(store, sweep_id)
    lock = lock_path(store, sweep_id)
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        holding(fd)
    except BlockingIOError:
        os.close(fd)
        raise SweepError(f"sweep {sweep_id} is already running (coordinator pid {record.pid}); "
                         f"follow it with tdw sweep status {sweep_id}") from None
    try:
        return _coordinate(store, record, executor, on_change, period)
    finally:
        os.close(fd)


def _coordinate(store: Store, record: SweepRecord, executor: Executor,
                on_change: Callable[[list[SweepMember]], None] | None,
                period: float) -> SweepRecord:
    sweep_id, spec = record.id, record.spec
    sweep_table.start_run(store.catalog, sweep_id, os.getpid(), str(executor.spec))
    queue: list[int] = []
    active: dict[int, int] = {}  # job id -> position
    for member in members(store, sweep_id):
        job = member.job
        if job is not None and job.state == "queued" and job.pid is None \
                and not coordinator_lock(store, job.id).exists():
            # recorded by a coordinator that stopped before starting it: it never ran
            job_table.finish(store.catalog, job.id, "failed",
                             "never started: its sweep stopped first")
        elif job is not None and job.state in ACTIVE:
            active[job.id] = member.position  # an earlier coordinator's local job
            continue
        # Even a variant marked done is looked at again: the store, not this table, says
        # what it needs (nothing, usually, which costs one catalog query).
        _set_member(store, sweep_id, member.position, state="pending", error=None)
        queue.append(member.position)
    shown: list[str] = []
    trained: set[int] = set()  # positions whose training job succeeded in this run
    cancelled = False
    try:
        while queue or active:
            executor.poll(store)
            jobs.reconcile(store)
            if sweep(store, sweep_id).cancel_requested:
                cancelled = True
                break
            for job_id, position in list(active.items()):
                job = jobs.job(store, job_id)
                if job.state in FINISHED:
                    del active[job_id]
                    if job.state == "succeeded":
                        queue.insert(0, position)  # its next step, if any, goes first
                        trained.update([position] if job.kind == "train" else [])
                    else:
                        _set_member(store, sweep_id, position,
                                    state="failed" if job.state == "failed" else "cancelled",
                                    error=job.error)
            while queue and len(active) < executor.slots:
                position = queue.pop(0)
                member = _member(store, sweep_id, position)
                try:
                    job = _next_job(store, spec, member, executor.slots,
                                    trained=position in trained,
                                    gpu=getattr(executor, "gpu", False))
                except TdwError as exc:
                    _set_member(store, sweep_id, position, state="failed", error=str(exc))
                    continue
                if job is None:
                    _set_member(store, sweep_id, position, state="done", error=None)
                    continue
                try:
                    executor.start(store, job)
                except BaseException as exc:  # recorded but not started: it must not hang
                    job_table.finish(store.catalog, job.id, "failed", f"could not start: {exc}")
                    if not isinstance(exc, Exception):
                        raise
                    _set_member(store, sweep_id, position, state="failed", error=str(exc))
                    continue
                active[job.id] = position
            # a tenth of a job's work counts as a change too: a table that sits at 0% for
            # the minutes a training takes looks stuck
            states = [f"{m.state}:{m.job.state}:{int(m.job.fraction * 10)}" if m.job
                      else m.state for m in members(store, sweep_id)]
            if on_change is not None and states != shown:
                on_change(members(store, sweep_id))
            shown = states
            if queue or active:
                time.sleep(period)
    except KeyboardInterrupt:
        cancelled = True
    if cancelled:
        _stop_all(store, executor, active)
    final = members(store, sweep_id)
    state = ("cancelled" if cancelled else
             "succeeded" if all(m.state == "done" for m in final) else "failed")
    settle(store, sweep_id, state)
    if on_change is not None:
        on_change(members(store, sweep_id))
    return sweep(store, sweep_id)


def _member(store: Store, sweep_id: int, position: int) -> SweepMember:
    return next(m for m in members(store, sweep_id) if m.position == position)


def _stop_all(store: Store, executor: Executor, active: Mapping[int, int],
              timeout: float = 60.0) -> None:
    """Cancel every job in flight, then wait for the executor to report them (their rows)."""
    # A second Ctrl-C while the jobs stop must not leave them half-cancelled.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if _main_thread() else None
    try:
        for job_id in active:
            executor.stop(store, job_id)
        deadline = time.monotonic() + timeout
        while not executor.idle() and time.monotonic() < deadline:
            executor.poll(store)
            time.sleep(0.2)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def start_background(store: Store, sweep_id: int, executor: str) -> int:
    """Run the coordinator of recorded sweep ``sweep_id`` in a process of its own session
    (``python -m tdw.sweeps.coordinator ROOT ID EXECUTOR``; its output goes to
    ``sweeps/<id>/coordinator.log``), so that it outlives the terminal; returns its pid."""
    folder = store.path(Path("sweeps") / str(sweep_id))
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    with open(folder / "coordinator.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "tdw.sweeps.coordinator", str(store.root),
                                 str(sweep_id), executor], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                cwd=folder)
    return proc.pid


def check(store: Store, spec: SweepSpec, executor: str
          ) -> tuple[ExecutorSpec, list[SweepPoint]]:
    """What ``tdw sweep`` checks before it writes anything: the executor's text, every
    variant of the sweep (:func:`~tdw.sweeps.sweep.plan`), and that the sweep is not running
    already; returns the executor's spec and the variants. Nothing is written.

    Raises:
        TdwError: the first problem, in the words ``tdw sweep`` prints.
    """
    executor_spec = parse_executor(executor)
    points = plan(spec)
    refuse_if_running(store, spec)
    return executor_spec, points


def start_sweep(store: Store, spec: SweepSpec, executor: ExecutorSpec,
                points: list[SweepPoint]) -> tuple[SweepRecord, int]:
    """Record a :func:`check`-ed sweep and coordinate it in the background (``tdw sweep
    --background``, the Sweeps page's Start); returns its record and the coordinator's pid.
    An unreachable Dask scheduler fails before anything is written."""
    if executor.kind == "dask":
        open_executor(executor, spec.device).close()
    record = create(store, spec, points, str(executor))
    return record, start_background(store, record.id, str(executor))


def _interrupt(signum, frame):  # noqa: ARG001
    raise KeyboardInterrupt


def _main(root: str, sweep_id: str, executor: str) -> int:
    signal.signal(signal.SIGTERM, _interrupt)  # kill PID stops it as cleanly as a cancel
    store = Store(root)
    opened = open_executor(executor, sweep(store, int(sweep_id)).spec.device)
    try:
        final = run(store, int(sweep_id), opened)
    finally:
        opened.close()
    print(f"sweep {final.id} {final.state}", flush=True)
    return 0 if final.state == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(_main(*sys.argv[1:4]))
