"""Executors: where the jobs of a sweep run, behind one small interface.

* ``local[:N]`` (the default): :class:`LocalExecutor` starts each job's runner here, as
  ``tdw train --background`` does, at most N at a time (default: one per two cores).
* ``dask://HOST:PORT``: :class:`DaskExecutor` sends each job to an existing Dask
  distributed scheduler; ``dask-local[:N]`` starts a ``distributed.LocalCluster`` of N
  worker processes on this machine (for one big machine).

Every job is recorded in the catalog first (:func:`tdw.jobs.jobs.record`), then started by the
executor. A Dask worker runs the very same runner and papermill template
(:func:`tdw.jobs.remote.run_job`), writes files to the shared store, and reports progress and
catalog rows back; the coordinator (the process running the sweep) alone writes the
catalog (:mod:`tdw.store.replication`). See ``docs/sweeps.md`` for what the shared
filesystem must provide.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

from tdw.errors import TdwError
from tdw.jobs import jobs
from tdw.jobs.gpus import GpuSlots, gpu_slots, pins_gpu, wants_gpu
from tdw.jobs.process import coordinator_lock, spawn
from tdw.jobs.remote import remove_abandoned_scratch, run_job
from tdw.store import jobs as job_table
from tdw.store.jobs import ACTIVE, FINISHED, JobRecord
from tdw.store.locks import holding
from tdw.store.replication import JOB_FIELDS, job_for_worker, merge_rows, update_job, variant_rows
from tdw.store.store import Store

__all__ = ["ExecutorSpec", "Executor", "LocalExecutor", "DaskExecutor", "ExecutorError",
           "parse_executor", "open_executor", "default_slots", "local_cluster",
           "share_of_cores"]


class ExecutorError(TdwError):
    """An executor that cannot be named, reached or used."""


def share_of_cores(slots: int) -> int:
    """Torch/BLAS threads for each of ``slots`` jobs sharing this machine's cores (0, "leave
    them be", for a job alone)."""
    return max(1, (os.cpu_count() or 1) // slots) if slots > 1 else 0


def local_cluster(workers: int, gpus: int = 0) -> Any:
    """A ``distributed.LocalCluster`` of ``workers`` single-threaded worker processes that
    leaves this process's environment alone.

    By default each Dask nanny writes its ``pre-spawn-environ`` (``OMP_NUM_THREADS=1`` and
    friends) into ``os.environ`` of the process that holds it, here the coordinator, and
    again at every worker restart; every job started from here later would inherit one
    thread. A one-thread run does not reproduce a two-thread run bit for bit, so a resumed
    variant would differ from one trained in a single go. The cluster's jobs get their
    share of the cores explicitly instead (:func:`share_of_cores`).

    With ``gpus``, the cluster has one worker per GPU (at most ``workers``), each declaring
    the resource ``GPU: 1``; a CUDA job asks for it, so no two jobs share a GPU.
    """
    import dask
    from distributed import LocalCluster

    resources = {"resources": {"GPU": 1}} if gpus else {}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": {}}):
        return LocalCluster(n_workers=min(workers, gpus) if gpus else workers,
                            threads_per_worker=1, processes=True, dashboard_address=None,
                            **resources)


def default_slots() -> int:
    """Concurrent jobs on this machine by default: one per two cores (a training job keeps
    about two cores busy), at least one."""
    return max(1, (os.cpu_count() or 1) // 2)


@dataclass(frozen=True)
class ExecutorSpec:
    """Where jobs run.

    Attributes:
        kind: ``"local"`` (runner processes here), ``"dask"`` (an existing scheduler) or
            ``"dask-local"`` (a LocalCluster started for the sweep).
        address: the scheduler address for ``"dask"`` (``tcp://HOST:PORT``), else empty.
        workers: concurrent jobs for ``"local"``, worker processes for ``"dask-local"``;
            0 means :func:`default_slots`. Unused for ``"dask"`` (the scheduler's workers).
    """

    kind: str
    address: str = ""
    workers: int = 0

    def __str__(self) -> str:
        if self.kind == "dask":
            return f"dask://{self.address.removeprefix('tcp://')}"
        return f"{self.kind}:{self.workers}" if self.workers else self.kind


_FORMS = "local, local:N, dask://HOST:PORT, dask-local or dask-local:N"
_HOST_PORT = re.compile(r"^(?P<host>[A-Za-z0-9._-]+|\[[0-9A-Fa-f:]+\]):(?P<port>\d{1,5})$")


def parse_executor(text: str) -> ExecutorSpec:
    """``--executor`` text as a spec; anything else names the accepted forms.

    >>> str(parse_executor("dask://10.0.0.5:8786")), parse_executor("local:3").workers
    ('dask://10.0.0.5:8786', 3)
    """
    text = text.strip()
    if text.startswith(("dask://", "tcp://")):
        rest = text.split("://", 1)[1]
        match = _HOST_PORT.match(rest)
        if not match or not 0 < int(match["port"]) < 65536:
            raise ExecutorError(f"--executor {text!r}: a Dask scheduler address is "
                                "dask://HOST:PORT, e.g. dask://127.0.0.1:8786 (the address "
                                "`dask scheduler` prints)")
        return ExecutorSpec("dask", f"tcp://{rest}")
    kind, sep, count = text.partition(":")
    if kind in ("local", "dask-local"):
        if not sep:
            return ExecutorSpec(kind)
        if count.isdigit() and 0 < int(count) <= 256:
            return ExecutorSpec(kind, workers=int(count))
        raise ExecutorError(f"--executor {text!r}: after '{kind}:' write how many jobs run at "
                            f"once, a whole number from 1 to 256, e.g. {kind}:2")
    raise ExecutorError(f"--executor {text!r} is not an executor; write one of {_FORMS}")


class Executor(Protocol):
    """Runs recorded jobs; the coordinator polls it and reads states from the catalog."""

    spec: ExecutorSpec
    """What it is (recorded with the sweep)."""
    slots: int
    """How many jobs it runs at once."""

    gpu: bool
    """Whether its jobs run on CUDA GPUs, one job per GPU."""

    def start(self, store: Store, record: JobRecord) -> None:
        """Start queued job ``record`` (already in the catalog)."""

    def poll(self, store: Store) -> None:
        """Bring the catalog up to date with the jobs in flight (progress, rows, ends)."""

    def stop(self, store: Store, job_id: int) -> None:
        """Cancel one job; it ends *cancelled* in the catalog."""

    def idle(self) -> bool:
        """Whether no job started by this executor is still in flight."""

    def close(self) -> None:
        """Release the executor's resources (connections, a cluster it started)."""


def open_executor(spec: ExecutorSpec | str, device: str = "auto",
                  gpus: int | None = None) -> Executor:
    """A ready executor for jobs on ``device``: a Dask scheduler is reached now, so a wrong
    address fails before anything is recorded. ``gpus``: this machine's CUDA devices
    (None: ask torch)."""
    spec = parse_executor(spec) if isinstance(spec, str) else spec
    if spec.kind == "local":
        return LocalExecutor(spec, device, gpus)
    return DaskExecutor.connect(spec, device=device, gpus=gpus)


def _local_gpus(device: str, gpus: int | None) -> int:
    if gpus is not None or device == "cpu":
        return gpus or 0
    from tdw.analysis.device import cuda_count
    return cuda_count()


class LocalExecutor:
    """Runner processes on this machine (:func:`tdw.jobs.process.spawn`), ``slots`` at a
    time; on CUDA at most one per GPU, each pinned to a GPU of its own
    (:mod:`tdw.jobs.gpus`)."""

    def __init__(self, spec: ExecutorSpec = ExecutorSpec("local"), device: str = "auto",
                 gpus: int | None = None):
        gpus = _local_gpus(device, gpus)
        self.spec, self.slots = spec, gpu_slots(device, gpus, spec.workers or default_slots())
        self._gpus = GpuSlots(gpus) if pins_gpu(device, gpus) else None
        self.gpu = wants_gpu(device, gpus)
        self._started: set[int] = set()

    def start(self, store: Store, record: JobRecord) -> None:
        # N jobs share the cores: each gets its share of threads rather than all of them.
        gpu = self._gpus.take(record.id) if self._gpus is not None else None
        try:
            spawn(store, record.id, threads=share_of_cores(self.slots), gpu=gpu)
        except BaseException:
            if self._gpus is not None:  # a job that never started holds no GPU
                self._gpus.release(record.id)
            raise
        self._started.add(record.id)

    def poll(self, store: Store) -> None:
        jobs.reconcile(store)
        ended = {i for i in self._started if jobs.job(store, i).state in FINISHED}
        for job_id in ended:
            if self._gpus is not None:
                self._gpus.release(job_id)
        self._started -= ended

    def stop(self, store: Store, job_id: int) -> None:
        if jobs.job(store, job_id).state in ACTIVE:
            jobs.cancel(store, job_id)

    def idle(self) -> bool:
        return not self._started

    def close(self) -> None:
        pass


class DaskExecutor:
    """Jobs on the workers of a Dask distributed cluster; this process writes the catalog.

    Each job is one Dask task (:func:`tdw.jobs.remote.run_job`). While it is in flight this
    process holds ``jobs/<id>/coordinator.lock``, so if the coordinator dies the job is
    failed by the next :func:`tdw.jobs.jobs.reconcile` rather than left *running*. A worker that
    dies mid-job makes the scheduler run the task again on another worker (up to its
    ``distributed.scheduler.allowed-failures``, 3 by default); the retry resumes training
    from the last checkpoint. Past that the job is failed with the reason.
    """

    def __init__(self, spec: ExecutorSpec, client: Any, cluster: Any = None,
                 device: str = "auto"):
        self.spec, self.client, self.cluster = spec, client, cluster
        self.topic = f"tdw-{uuid.uuid4().hex[:12]}"
        self._events: deque[dict[str, Any]] = deque()
        self._futures: dict[int, Any] = {}
        self._locks: dict[int, int] = {}
        self._stopping: set[int] = set()  # jobs whose cancel event is set
        self._lock = threading.Lock()
        client.subscribe_topic(self.topic, self._on_event)
        workers = client.scheduler_info()["workers"].values()
        # GPUs the workers declare (dask worker --resources GPU=1); CUDA jobs ask for one.
        gpus = int(sum(w.get("resources", {}).get("GPU", 0) for w in workers))
        self.gpu = wants_gpu(device, gpus)
        self.pins = pins_gpu(device, gpus)  # each job a GPU of its own (not cuda:N)
        if self.gpu and not gpus:
            raise ExecutorError(
                f"--device {device}: no worker of the Dask scheduler declares a GPU; start "
                "each worker of a GPU machine with `dask worker ADDRESS --resources GPU=1` "
                "(one per GPU, with CUDA_VISIBLE_DEVICES set), or use --device cpu")
        self.slots = gpu_slots(device, gpus, max(1, sum(w.get("nthreads", 1)
                                                        for w in workers)))

    @classmethod
    def connect(cls, spec: ExecutorSpec, timeout: float = 10.0, *, device: str = "auto",
                gpus: int | None = None) -> DaskExecutor:
        """Reach the scheduler of ``spec`` (or start a LocalCluster, with one worker per GPU
        for jobs on CUDA); refuse one with no workers."""
        from distributed import Client

        cluster = None
        if spec.kind == "dask-local":
            here = _local_gpus(device, gpus)
            cluster = local_cluster(spec.workers or default_slots(),
                                    here if wants_gpu(device, here) else 0)
            address = cluster.scheduler_address
        else:
            address = spec.address
        try:
            client = Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ExecutorError(
                f"cannot reach the Dask scheduler at {address} ({type(exc).__name__}: {exc}); "
                "start one with `dask scheduler` and a worker per machine with `dask worker "
                "ADDRESS`, or fix --executor") from None
        if not client.scheduler_info()["workers"]:
            client.close()
            raise ExecutorError(f"the Dask scheduler at {address} has no workers; start one "
                                f"with `dask worker {address}` (on a machine that sees the "
                                "store at the same path)")
        return cls(spec, client, cluster, device)

    # ---------------------------------------------------------------- interface
    def start(self, store: Store, record: JobRecord) -> None:
        lock = coordinator_lock(store, record.id)
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        holding(fd)
        self._locks[record.id] = fd
        job = job_for_worker(store.catalog, record.id)
        # A cluster started here shares these cores; a remote worker's jobs keep its
        # environment (Dask's default there is OMP_NUM_THREADS=1; see docs/sweeps.md).
        threads = share_of_cores(self.slots) if self.cluster is not None else 0
        # A CUDA job holds one GPU of its worker; a local cluster's worker N has GPU N.
        gpu = {"resources": {"GPU": 1}} if self.gpu else {}
        future = self.client.submit(run_job, str(store.root.resolve()), job,
                                    variant_rows(store.catalog, record.variant), self.topic,
                                    self._cancel_name(record.id), threads=threads,
                                    pin_gpu=self.pins and self.cluster is not None, pure=False,
                                    key=f"tdw-job-{record.id}-{self.topic}", **gpu)
        self._futures[record.id] = future

    def poll(self, store: Store) -> None:
        while True:
            with self._lock:
                if not self._events:
                    break
                report = self._events.popleft()
            if report["id"] in self._futures:
                self._apply(store, report, final=False)
        for job_id, future in list(self._futures.items()):
            if not future.done():
                if job_id not in self._stopping and \
                        jobs.job(store, job_id).state in FINISHED:
                    self._stopping.add(job_id)  # cancelled from elsewhere (tdw jobs cancel)
                    self._event(job_id).set()
                continue
            del self._futures[job_id]
            try:
                self._apply(store, future.result(), final=True)
            except BaseException as exc:  # KilledWorker, a worker-side error: it failed
                if isinstance(exc, KeyboardInterrupt | SystemExit):
                    raise
                job_table.finish(store.catalog, job_id, "failed", _describe(exc))
            finally:
                os.close(self._locks.pop(job_id))

    def stop(self, store: Store, job_id: int) -> None:
        if job_id in self._futures and job_id not in self._stopping:
            self._stopping.add(job_id)
            self._event(job_id).set()
        if jobs.job(store, job_id).state in ACTIVE:
            jobs.cancel(store, job_id)  # no local process: marks it cancelled

    def idle(self) -> bool:
        return not self._futures

    def close(self) -> None:
        for fd in self._locks.values():
            os.close(fd)
        self._locks.clear()
        # What dead attempts left in the workers' temp folders: a job failed with its worker
        # has no next attempt to clean up, and a killed worker's kernel can outlive it by a
        # moment (it polls its parent about once a second), recreating a removed folder.
        with contextlib.suppress(Exception):  # best effort: a scheduler may be gone
            self.client.run(remove_abandoned_scratch, on_error="ignore")
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    # ------------------------------------------------------------------ helpers
    def _on_event(self, event: tuple[float, dict[str, Any]]) -> None:
        with self._lock:  # called on the client's event-loop thread
            self._events.append(event[1])

    def _cancel_name(self, job_id: int) -> str:
        return f"{self.topic}-cancel-{job_id}"

    def _event(self, job_id: int):
        from distributed import Event

        return Event(self._cancel_name(job_id), client=self.client)

    def _apply(self, store: Store, report: dict[str, Any], *, final: bool) -> None:
        """Write a worker's report into the catalog: the variant's rows, then the job."""
        if rows := report.get("rows"):
            merge_rows(store.catalog, rows)
        elif delta := report.get("delta"):
            merge_rows(store.catalog, delta, replace=False)
        fields = {k: v for k, v in report["job"].items() if k in JOB_FIELDS}
        state = fields.pop("state")
        current = jobs.job(store, report["id"])
        if current.state in FINISHED:
            return
        fields.pop("error"), fields.pop("finished")
        if state == "running":
            fields["state"] = "running"
        update_job(store.catalog, report["id"], fields)
        if final or state in FINISHED:
            job_table.finish(store.catalog, report["id"], state, report["job"]["error"])


def _describe(exc: BaseException) -> str:
    name = type(exc).__name__
    if name == "KilledWorker":
        return ("every Dask worker that ran the job died (killed or out of memory) more times "
                "than distributed.scheduler.allowed-failures allows; run the sweep again to "
                "resume it from its last checkpoint")
    return f"{name}: {exc}"
