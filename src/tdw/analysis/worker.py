"""The state of one analysis worker process: the store, the model on its device, the probe
and the final weights, loaded once per process by :func:`init_worker` (the pool's
initializer, or the engine itself for a lone worker) and read by each checkpoint's
analysis in :mod:`tdw.analysis.engine`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tdw.family.family import Family
from tdw.family.model import boot_variant
from tdw.family.registry import get_family
from tdw.store.store import Store

if TYPE_CHECKING:
    import torch

__all__ = ["WorkerState", "STATE", "init_worker"]


@dataclass
class WorkerState:
    """Per-process state: the store, the model, the probe and the final weights, loaded once.

    The model lives on the worker's device; the probe and the weights stay on the host
    (analyzers read them with numpy): the shared forward (:mod:`tdw.analysis.forward`)
    moves the probe's tokens to the model's device.
    """

    store: Store
    family: Family
    values: Mapping[str, Any]
    probe: Mapping[str, torch.Tensor]
    final_weights: Mapping[str, torch.Tensor]
    model: Any


STATE: dict[str, WorkerState] = {}
"""This process's worker state, under ``"worker"``."""


def init_worker(root: str, vid: str, probe_sha: str, threads: int, device: str,
                devices: Any = None) -> None:
    """Load one worker's state. ``devices``, when given, is a queue of the pool's devices:
    each worker process takes the next one (one per GPU) instead of ``device``."""
    import torch
    from threadpoolctl import threadpool_limits

    if devices is not None:
        device = devices.get()

    # torch's own pool, and numpy's and scipy's BLAS (OpenBLAS starts one thread per core in
    # every process): N workers on N cores must not run N x N threads.
    torch.set_num_threads(threads)
    threadpool_limits(limits=threads)
    store = Store(root)
    variant = store.variant(vid)
    family = get_family(variant.family)
    probe = store.require_probe(vid, probe_sha)  # re-hashes the file: never a changed probe
    final = store.checkpoints(vid)[-1].epoch
    model = boot_variant(family, variant.params, store.path(variant.folder), device)
    model.eval()
    STATE["worker"] = WorkerState(store, family, variant.params, probe.tensors,
                                  store.load_checkpoint(vid, final), model)
