"""Where an analysis runs: which devices its workers use, how many workers, how many threads.

On the CPU, checkpoints are spread over one single-threaded worker process per core (a
lone worker keeps every thread). On CUDA, a worker per core would make every process
hold a context and a copy of the model on the same GPU and fight over it; one worker per
GPU keeps each device busy instead, each worker with its share of the cores for the
host-side work (loading weights, numpy analyzers). ``--workers`` overrides the count;
extra workers on CUDA take the GPUs in turn.

The policy is a pure function of the device choice and the machine's counts
(:func:`plan_devices`), so it is tested on a machine without a GPU by passing
``cuda_count``; :func:`device_plan` reads the counts of this machine.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tdw.errors import ParameterError

__all__ = ["DevicePlan", "plan_devices", "device_plan", "device_queue", "cuda_count",
           "visible_gpus", "device_choices"]

_CUDA = re.compile(r"^cuda(?::(?P<index>\d+))?$")
_FIX = "use --device auto (CUDA when available, else CPU), cpu, cuda or cuda:N"


def cuda_count() -> int:
    """CUDA devices torch sees on this machine (0 without CUDA)."""
    import torch
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def visible_gpus(driver: Path = Path("/proc/driver/nvidia/gpus"),
                 environ: dict[str, str] | None = None) -> int:
    """CUDA devices this machine offers, without loading torch when it is not loaded yet
    (the dashboards' kernels never load it): the NVIDIA driver's GPUs, as many as
    ``CUDA_VISIBLE_DEVICES`` lets through. A form offers them; the job checks the choice
    with torch (:func:`tdw.family.model.check_device`)."""
    if "torch" in sys.modules:
        return cuda_count()
    found = len(list(driver.iterdir())) if driver.is_dir() else 0
    visible = (os.environ if environ is None else environ).get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return found
    return min(found, len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"]))


def device_choices(gpus: int) -> list[str]:
    """The choices a form offers on a machine with ``gpus`` CUDA devices.

    >>> device_choices(0), device_choices(2)
    (['auto', 'cpu'], ['auto', 'cpu', 'cuda:0', 'cuda:1'])
    """
    return ["auto", "cpu", *(f"cuda:{i}" for i in range(gpus))]


@dataclass(frozen=True)
class DevicePlan:
    """How one analysis uses the machine.

    Attributes:
        devices: the device of each worker, in order (``"cpu"``, ``"cuda:1"``...).
        threads: torch/BLAS threads of each worker.
    """

    devices: tuple[str, ...]
    threads: int

    @property
    def workers(self) -> int:
        return len(self.devices)

    @property
    def accelerated(self) -> bool:
        """Whether the workers run on a GPU (or another accelerator) rather than the CPU."""
        return self.devices[0] != "cpu"


def plan_devices(choice: str, *, workers: int = 0, tasks: int = 1, cpu_count: int = 1,
                 cuda_count: int = 0, lone_threads: int = 0) -> DevicePlan:
    """The devices and threads of an analysis of ``tasks`` checkpoints.

    Args:
        choice: ``auto`` (every CUDA device when there is one, else the CPU), ``cpu``,
            ``cuda`` (every CUDA device), ``cuda:N`` (that one) or ``mps``.
        workers: worker processes asked for (``--workers``); 0 for the default: one per
            core on the CPU, one per device on a GPU.
        tasks: checkpoints to analyse (never more workers than that, at least one).
        cpu_count: this machine's cores.
        cuda_count: this machine's CUDA devices.
        lone_threads: threads of a single worker, which runs in the calling process (the
            caller's torch threads); 0 for ``cpu_count``.

    Raises:
        ParameterError: a device that is not a device, or that this machine lacks.

    >>> plan_devices("auto", tasks=8, cpu_count=4, cuda_count=2)
    DevicePlan(devices=('cuda:0', 'cuda:1'), threads=2)
    >>> plan_devices("cuda:1", tasks=8, cpu_count=4, cuda_count=2, lone_threads=3)
    DevicePlan(devices=('cuda:1',), threads=3)
    >>> plan_devices("auto", tasks=8, cpu_count=4).devices
    ('cpu', 'cpu', 'cpu', 'cpu')
    """
    if workers < 0:
        raise ParameterError(f"workers must be a whole number >= 0, got {workers}")
    match = _CUDA.match(choice)
    if choice == "cpu" or (choice == "auto" and cuda_count == 0):
        n = max(1, min(workers or cpu_count, tasks))
        return DevicePlan(("cpu",) * n, 1 if n > 1 else (lone_threads or cpu_count))
    if choice == "mps":
        gpus = ["mps"]
    elif choice == "auto" or (match and match["index"] is None):
        if cuda_count == 0:
            raise ParameterError(f"device {choice!r}: this machine has no CUDA device; {_FIX}")
        gpus = [f"cuda:{i}" for i in range(cuda_count)]
    elif match:
        index = int(match["index"])
        if index >= cuda_count:
            raise ParameterError(f"device {choice!r}: this machine has {cuda_count} CUDA "
                                 f"devices; {_FIX}")
        gpus = [f"cuda:{index}"]
    else:
        raise ParameterError(f"device {choice!r} is not a device; {_FIX}")
    n = max(1, min(workers or len(gpus), tasks))
    threads = max(1, cpu_count // n) if n > 1 else (lone_threads or cpu_count)
    return DevicePlan(tuple(gpus[i % len(gpus)] for i in range(n)), threads)


def device_plan(choice: str, *, workers: int = 0, tasks: int = 1,
                lone_threads: int = 0) -> DevicePlan:
    """:func:`plan_devices` for this machine's cores and CUDA devices."""
    gpus = 0 if choice == "cpu" else cuda_count()
    return plan_devices(choice, workers=workers, tasks=tasks, cpu_count=os.cpu_count() or 1,
                        cuda_count=gpus, lone_threads=lone_threads)


def device_queue(context: Any, plan: DevicePlan) -> Any:
    """A ``context.Queue`` holding each worker's device, for a pool whose workers run on
    GPUs (each worker process takes the next one as it starts); None on the CPU, where
    every worker's device is the same."""
    if not plan.accelerated:
        return None
    queue = context.Queue()
    for name in plan.devices:
        queue.put(name)
    return queue
