"""How a sweep's jobs share this machine's GPUs: never two jobs on one GPU.

A sweep on CUDA runs at most one job per GPU at once. With ``--device auto`` or ``cuda``
each job is pinned to a free GPU of its own (``CUDA_VISIBLE_DEVICES``, so inside the job
that GPU is ``cuda:0``); with ``cuda:N`` every job needs GPU N, so they run one at a time.
Dask declares the same thing with a ``GPU`` resource (see :mod:`tdw.jobs.executors`).

The decisions are pure functions of the device choice and the GPU count, tested on a
machine without a GPU by passing the count.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["wants_gpu", "pins_gpu", "gpu_slots", "GpuSlots"]


def wants_gpu(device: str, gpus: int) -> bool:
    """Whether jobs on ``device`` run on a CUDA GPU of a machine (or cluster) with ``gpus``.

    >>> wants_gpu("auto", 0), wants_gpu("auto", 2), wants_gpu("cpu", 2), wants_gpu("cuda:1", 0)
    (False, True, False, True)
    """
    return device.startswith("cuda") or (device == "auto" and gpus > 0)


def pins_gpu(device: str, gpus: int) -> bool:
    """Whether each job is given a GPU of its own (``auto`` or ``cuda`` with GPUs); a job
    on ``cuda:N`` names its GPU itself."""
    return wants_gpu(device, gpus) and ":" not in device and gpus > 0


def gpu_slots(device: str, gpus: int, slots: int) -> int:
    """Jobs at once on ``device``: ``slots`` on the CPU; on CUDA at most one per GPU (one in
    all for ``cuda:N``), and no more than ``slots``.

    >>> gpu_slots("cpu", 2, 4), gpu_slots("auto", 2, 4), gpu_slots("auto", 2, 1)
    (4, 2, 1)
    >>> gpu_slots("cuda:1", 2, 4), gpu_slots("auto", 0, 3)
    (1, 3)
    """
    if not wants_gpu(device, gpus):
        return slots
    if not pins_gpu(device, gpus):
        return 1
    return max(1, min(slots, gpus))


@dataclass
class GpuSlots:
    """The GPUs of this machine handed out to jobs: :meth:`take` the lowest free one for a
    job, :meth:`release` it when the job ends."""

    gpus: int
    held: dict[int, int] = field(default_factory=dict)  # job id -> GPU

    def take(self, job_id: int) -> int:
        """A free GPU for ``job_id`` (the one it holds already, if any).

        Raises:
            RuntimeError: every GPU is held (the caller starts at most :func:`gpu_slots`).
        """
        if job_id in self.held:
            return self.held[job_id]
        free = sorted(set(range(self.gpus)) - set(self.held.values()))
        if not free:
            raise RuntimeError(f"all {self.gpus} GPUs are held by jobs "
                               f"{sorted(self.held)}; start at most one job per GPU")
        self.held[job_id] = free[0]
        return free[0]

    def release(self, job_id: int) -> None:
        self.held.pop(job_id, None)
