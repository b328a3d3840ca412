"""A GPU check, ready before a GPU is: ``python -m benchmarks.gpu``.

On a machine with CUDA it measures, in under 5 minutes on one GPU:

* training ms per epoch at p = 113, tdw's loop against the plain TransformerLens loop
  (``benchmarks/training.py``'s loops, with the model and data on the GPU);
* analysis seconds per checkpoint, tdw's engine against the naive loop
  (``benchmarks/analysis.py``'s, the model on the GPU), the LLC sampler left out of both;
* the LLC analyzer's seconds per checkpoint;
* whether a CUDA training killed with SIGKILL resumes bitwise: the resumed run's
  checkpoints hash as those of an uninterrupted run.

Each line says what it measured or why it could not; the exit status is 0 unless the
resume check found a difference. On a machine without CUDA it prints one line saying so
and exits 0: nothing here can run on the CPU that the other benchmarks do not run already.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from tdw.jobs.process import CUBLAS_WORKSPACE

MEASURES = ("training ms per epoch at p = 113 against the naive loop, analysis seconds per "
            "checkpoint against the naive loop, LLC seconds per checkpoint, and whether a "
            "SIGKILLed CUDA training resumes bitwise")

TRAIN_EPOCHS = 300
"""Epochs per timed training run (each loop runs twice, alternately)."""

RESUME = {"p": 53, "n_epochs": 3000}
RESUME_SCHEDULE = "0-3000/100"  # killed after 5 of its 31 checkpoints


def _cuda() -> bool:
    import torch
    return torch.cuda.is_available()


@contextlib.contextmanager
def _booted_on(module, device) -> Iterator[None]:
    """Have ``module``'s ``boot_model`` (the benchmark loops') boot on ``device``."""
    from tdw.family.model import boot_model

    original = module.boot_model
    module.boot_model = lambda config, _device=device: boot_model(config, _device)
    try:
        yield
    finally:
        module.boot_model = original


def _synced(fn: Callable[[], object]) -> Callable[[], float]:
    """``fn`` timed to the end of its GPU work."""
    import torch

    def timed() -> float:
        torch.cuda.synchronize()
        began = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        return time.perf_counter() - began
    return timed


def training(scratch: Path) -> str:
    from benchmarks import training as bench
    from tdw.family.schedule import parse_schedule

    fam, values, data = bench._setup(113)
    data = data.to("cuda")
    canonical = parse_schedule(fam.default_schedule(values), 25_000).epochs
    ckpts = frozenset(e for e in canonical if e <= TRAIN_EPOCHS) | {TRAIN_EPOCHS}
    counter = iter(range(10**6))
    with _booted_on(bench, "cuda"):
        naive = _synced(lambda: bench.reference_loop(fam, values, data, TRAIN_EPOCHS))
        ours = _synced(lambda: bench.tdw_loop(fam, values, data, TRAIN_EPOCHS,
                                              scratch / f"t{next(counter)}", ckpts))
        naive(), ours()  # warm-up: CUDA context, kernels, allocator
        ref = min(naive() for _ in range(2)) / TRAIN_EPOCHS * 1000
        tdw = min(ours() for _ in range(2)) / TRAIN_EPOCHS * 1000
    return (f"training p=113: tdw {tdw:.2f} ms per epoch, naive loop {ref:.2f} ms "
            f"({ref / tdw:.1f}x), {TRAIN_EPOCHS} epochs, best of 2")


def analysis(scratch: Path) -> str:
    from benchmarks import analysis as bench
    from tdw.family.registry import get_family

    store, vid = bench.trained_variant(scratch / "store", smoke=False)
    names = bench._per_checkpoint(get_family(bench.FAMILY))
    n_ckpt = len(store.checkpoints(vid))
    with _booted_on(bench, "cuda"):
        naive = _synced(lambda: bench.naive_analysis(store, vid, scratch / "naive", names))()
    ours = _synced(lambda: bench.tdw_analysis(store, vid, names))()
    agreement = bench._agree(store, vid, scratch / "naive", names)
    llc = bench.tdw_analysis(store, vid, ("llc",))
    per_llc = llc.analyzer_seconds.get("llc", float("nan")) / n_ckpt
    return (f"analysis: tdw {ours / n_ckpt:.3f} s per checkpoint, naive loop "
            f"{naive / n_ckpt:.3f} s ({naive / ours:.1f}x), {n_ckpt} checkpoints, "
            f"{agreement}\nLLC: {per_llc:.3f} s per checkpoint (worker seconds)")


def _train_child(root: str) -> None:
    from tdw.training.run import AlreadyTrained, TrainingRun

    with contextlib.suppress(AlreadyTrained):
        TrainingRun.prepare(family="modulo_addition_1l", params=RESUME,
                            schedule=RESUME_SCHEDULE, store=root, device="cuda").execute()


def _hashes(root: Path) -> dict[int, str]:
    from tdw.store.store import Store

    store = Store(root)
    (variant,) = store.variants()
    return {c.epoch: c.sha256 for c in store.checkpoints(variant.id)}


def resume(scratch: Path) -> tuple[bool, str]:
    """Train once without a break; train again, SIGKILLed after a few checkpoints, then
    resumed; compare every checkpoint's hash. The children get a job's CUDA setting."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    ctx = multiprocessing.get_context("spawn")
    whole, killed = scratch / "whole", scratch / "killed"

    def train(root: Path) -> multiprocessing.process.BaseProcess:
        child = ctx.Process(target=_train_child, args=(str(root),))
        child.start()
        return child

    train(whole).join()
    child = train(killed)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.is_alive():
        with contextlib.suppress(Exception):
            if len(_hashes(killed)) >= 5:
                break
        time.sleep(0.05)
    if not child.is_alive():
        return False, "resume: the training to kill ended before it could be killed"
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    at = len(_hashes(killed))
    train(killed).join()
    expected, got = _hashes(whole), _hashes(killed)
    same = expected == got and len(expected) > at
    return same, (f"resume after SIGKILL on CUDA: {'bitwise equal' if same else 'DIFFERS'} "
                  f"({len(got)} checkpoints, killed after {at})")


def main() -> int:
    if not _cuda():
        print(f"benchmarks.gpu: no CUDA GPU was found; with one it measures {MEASURES}.")
        return 0
    import torch

    print(f"benchmarks.gpu on {torch.cuda.get_device_name(0)}", flush=True)
    scratch = Path(tempfile.mkdtemp(prefix="tdw-gpu-"))
    ok = True
    for name, step in (("training", training), ("analysis", analysis)):
        try:
            print(step(scratch / name), flush=True)
        except Exception as exc:  # a step that fails on this GPU is a finding, not a crash
            print(f"{name}: failed ({type(exc).__name__}: {exc})", flush=True)
    try:
        ok, line = resume(scratch / "resume")
        print(line, flush=True)
    except Exception as exc:
        ok = False
        print(f"resume: failed ({type(exc).__name__}: {exc})", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
