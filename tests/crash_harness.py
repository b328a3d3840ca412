"""Child processes for the crash-safety and concurrency trials.

Children come from a multiprocessing fork server that has imported tdw and torch once, so
a trial costs a fork, not a Python start-up importing torch (seconds on a loaded
machine): that is what makes tens of real SIGKILLs affordable in CI. A child is a real
process: SIGKILL stops it wherever it is, mid-write included, and the kernel drops its
locks as it would for a job killed by the out-of-memory killer.

Trial counts and the seed come from the environment, so a long soak run is the same test:
``TDW_CRASH_TRIALS`` (default 10) and ``TDW_CRASH_SEED`` (default 0).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

CTX = multiprocessing.get_context("forkserver")
CTX.set_forkserver_preload(["tdw.training.run", "tdw.analysis.engine", "tdw.store.verify",
                            "tdw.explore.variant", "_forkserver_warmup"])

TRIALS = int(os.environ.get("TDW_CRASH_TRIALS", "10"))
SEED = int(os.environ.get("TDW_CRASH_SEED", "0"))

FAMILY = "modulo_addition_1l"
TRAIN = {"p": 7, "n_epochs": 60}
SCHEDULE = "0-60/5"


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)  # the machine is shared; results do not depend on it


def train_child(root: str, started=None, params: dict | None = None,
                schedule: str = SCHEDULE) -> None:
    """Train the trial variant into ``root``, resuming whatever a killed child left.
    ``started`` (an Event) is set at the first epoch, when the writing begins."""
    _one_thread()
    from tdw.training.run import AlreadyTrained, TrainingRun

    def signal_start(state) -> None:  # noqa: ARG001
        if started is not None:
            started.set()

    try:
        TrainingRun.prepare(family=FAMILY, params=params or TRAIN, schedule=schedule,
                            store=root, device="cpu").execute(callbacks=[signal_start])
    except AlreadyTrained:  # killed after it finished, before it returned
        pass


def analyse_child(root: str, started, vid: str) -> None:
    _one_thread()
    from tdw.analysis.run import AnalysisRun

    run = AnalysisRun.prepare(variant=vid, workers=1, store=root)
    if started is not None:
        started.set()
    run.execute()


def catalog_child(root: str, vid: str) -> None:
    """Index tiny checkpoints 0, 1, 2, ... as fast as possible, until killed."""
    import torch

    from tdw.store.store import Store

    store = Store(root)
    for epoch in range(1_000_000):
        store.write_checkpoint(vid, epoch, {"w": torch.full((64,), float(epoch))})


def slow_writer(path: str, seconds: float) -> None:
    """A writer caught mid-write: half its bytes in its temp file for ``seconds``."""
    from tdw.store.atomic import atomic_writer

    with atomic_writer(Path(path)) as fh:
        fh.write(b"half")
        time.sleep(seconds)
        fh.write(b" and the rest")


def hold_lock(path: str, seconds: float) -> None:
    """Stand in for a job runner: hold the lock on ``path`` for ``seconds``."""
    from tdw.store.locks import holding

    holding(os.open(path, os.O_RDWR | os.O_CREAT))
    time.sleep(seconds)


def start(target: Callable, *args) -> multiprocessing.Process:
    proc = CTX.Process(target=target, args=args, daemon=True)
    # The first start launches the fork server (``python -c ...``), which imports the warm-up
    # module and the trial targets from tests/: the variable is set only for that launch.
    here = Path(__file__).parent
    previous = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(here), previous]))
    try:
        proc.start()
    finally:
        if previous is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = previous
    return proc


def run(target: Callable, root: str, *args, timeout: float = 600) -> float:
    """Run a child to its end; the seconds from its ``started`` signal to its exit (the
    window in which a kill interrupts work). Fails if the child fails."""
    started = CTX.Event()
    proc = start(target, root, started, *args)
    assert started.wait(timeout), f"{target.__name__} never started its work"
    began = time.monotonic()
    proc.join(timeout)
    assert proc.exitcode == 0, f"{target.__name__}({root}) exited {proc.exitcode}"
    return time.monotonic() - began


def kill_during(target: Callable, root: str, *args, delay: float,
                timeout: float = 600) -> bool:
    """Start a child and SIGKILL it ``delay`` seconds after it starts its work; False if
    it finished first."""
    started = CTX.Event()
    proc = start(target, root, started, *args)
    while not started.wait(0.05):
        if proc.exitcode is not None:  # finished without work to do (already trained)
            assert proc.exitcode == 0
            return False
    return kill_after(proc, delay)


def finish(target: Callable, root: str, *args, timeout: float = 600) -> None:
    """Run a child to its end (no start signal); fails if it fails."""
    proc = start(target, root, None, *args)
    proc.join(timeout)
    assert proc.exitcode == 0, f"{target.__name__}({root}) exited {proc.exitcode}"


def kill_after(proc: multiprocessing.Process, delay: float) -> bool:
    """SIGKILL ``proc`` after ``delay`` seconds; False if it finished (successfully) first."""
    proc.join(delay)
    if proc.exitcode is not None:
        assert proc.exitcode == 0, f"child exited {proc.exitcode} before its kill"
        return False
    with contextlib.suppress(ProcessLookupError):  # it may have finished a moment ago
        os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    if proc.exitcode == 0:
        return False
    assert proc.exitcode == -signal.SIGKILL, f"child exited {proc.exitcode}"
    return True
