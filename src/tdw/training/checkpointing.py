"""Checkpoints on a schedule, and the resume file that makes a killed run continue exactly.

At each scheduled epoch, and at each epoch an adaptive policy (:mod:`tdw.training.adaptive`) adds,
the :class:`Checkpointer` writes, in this order: the weights
(``checkpoints/epoch_*.safetensors``, indexed in the catalog), the metrics so far, the
schedule record (every checkpoint so far and why it was written), and
``resume.safetensors`` (optimizer moments, RNG state, the epoch and its checkpoint's
hash, the adaptive policy's state). Each write is atomic, so a kill between two of them
leaves a resume point that is at most one checkpoint old, and replaying from it rewrites
the same bytes and makes the same adaptive decisions.

Between checkpoints the metrics are also rewritten every :data:`LIVE_SECONDS`, so that a
dashboard can draw a run's curves as they grow (:mod:`tdw.ui.live`). A resumed run reads
the metrics only up to its resume point, so those later epochs are never trusted.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tdw.errors import IntegrityError
from tdw.family.model import load_weights, weights_of
from tdw.family.schedule import Schedule, ScheduleRecord
from tdw.store.store import Store
from tdw.training.adaptive import AdaptivePolicy, decide
from tdw.training.loop import TrainState

if TYPE_CHECKING:
    import torch

__all__ = ["Checkpointer", "optimizer_tensors", "restore_optimizer", "restore_run",
           "restore_schedule", "LIVE_SECONDS"]

LIVE_SECONDS = 2.0
"""Seconds between two writes of the metrics while no checkpoint is due."""


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], str]:
    """Flatten an optimizer's state into tensors plus its param groups as JSON."""
    import torch
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    for index, slots in sd["state"].items():
        for key, value in slots.items():
            tensor = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"optim.{index}.{key}"] = tensor.detach().to("cpu").contiguous()
    return tensors, json.dumps(sd["param_groups"])


def restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                      param_groups: str) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, tensor in tensors.items():
        if name.startswith("optim."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = tensor
    groups = json.loads(param_groups)
    for group in groups:
        if "betas" in group:
            group["betas"] = tuple(group["betas"])
    optimizer.load_state_dict({"state": state, "param_groups": groups})


@dataclass
class Checkpointer:
    """Callback writing checkpoints, metrics, the schedule record and the resume file at
    scheduled epochs and wherever ``policy`` adds one.

    Attributes:
        epochs: the scheduled epochs (fixed segments and the final epoch).
        skip: the epoch a resumed run starts at: already on disk, already decided.
        policy: the adaptive policy, if the schedule has an adaptive segment.
        record: the checkpoints written so far and why (restored on resume).
        written: epochs written by this process.
        live_seconds: the most seconds between two writes of the metrics (0: only at
            checkpoints).
    """

    store: Store
    variant: str
    epochs: frozenset[int]
    skip: int | None = None
    policy: AdaptivePolicy | None = None
    record: ScheduleRecord = field(default_factory=lambda: ScheduleRecord(""))
    written: list[int] = field(default_factory=list)
    live_seconds: float = LIVE_SECONDS
    _metrics_at: float = field(default_factory=time.monotonic, repr=False)

    def __call__(self, state: TrainState) -> None:
        import torch
        epoch = state.epoch
        if epoch == self.skip:
            return
        policy = self.policy
        reason, signal, threshold = decide(
            policy, epoch, epoch in self.epochs,
            lambda: state.metrics_at(epoch)[policy.spec.signal])
        if reason is None:
            if self.live_seconds and time.monotonic() - self._metrics_at >= self.live_seconds:
                self._write_metrics(state)
            return
        written = self.store.write_checkpoint(self.variant, epoch, weights_of(state.model))
        self._write_metrics(state)
        self.record = self.record.added(epoch, reason, signal, threshold)
        self.store.write_schedule_record(self.variant, self.record)
        tensors, groups = optimizer_tensors(state.optimizer)
        tensors["rng.torch"] = torch.get_rng_state()
        meta = {"epoch": str(epoch), "checkpoint_sha256": written.sha256, "param_groups": groups}
        if policy is not None:
            meta["adaptive_policy"] = json.dumps(policy.state())
        self.store.write_resume(self.variant, tensors, meta)
        self.store.update_variant(self.variant, epochs_done=epoch)
        self.written.append(epoch)

    def _write_metrics(self, state: TrainState) -> None:
        self.store.write_metrics(self.variant, state.metrics())
        self._metrics_at = time.monotonic()


def restore_run(store: Store, variant: str, model, optimizer: torch.optim.Optimizer
                ) -> tuple[int, dict | None]:
    """Load the last resume point into ``model`` and ``optimizer``.

    Returns:
        ``(start_epoch, metrics)``; ``(0, None)`` when there is nothing to resume.
    """
    import torch
    saved = store.load_resume(variant)
    if saved is None:
        return 0, None
    tensors, meta = saved
    epoch = int(meta["epoch"])
    record = store.checkpoint(variant, epoch)
    if record.sha256 != meta["checkpoint_sha256"]:
        raise IntegrityError(
            f"the resume file of {variant} was written with checkpoint {epoch} sha256 "
            f"{meta['checkpoint_sha256'][:16]}..., the catalog has {record.sha256[:16]}...; "
            f"retrain with --force")
    load_weights(model, store.load_checkpoint(variant, epoch), source=f"checkpoint {epoch}")
    restore_optimizer(optimizer, tensors, meta["param_groups"])
    torch.set_rng_state(tensors["rng.torch"])
    return epoch, store.load_metrics(variant)


def restore_schedule(store: Store, variant: str, schedule: Schedule, start: int | None
                     ) -> tuple[AdaptivePolicy | None, ScheduleRecord]:
    """The adaptive policy and the schedule record as they stood at the resume point.

    Args:
        store: the store the run writes to.
        variant: the variant id.
        schedule: the run's schedule.
        start: the epoch the run resumes at (None for a fresh run).

    Returns:
        ``(policy, record)``: a fresh policy (None without an adaptive segment) and an
        empty record for a fresh run; else both as written with checkpoint ``start``
        (a record written after the resume file, by a run killed in between, is cut back).
    """
    policy = AdaptivePolicy(schedule.adaptive) if schedule.adaptive else None
    if start is None:
        return policy, ScheduleRecord(schedule.spec)
    saved = store.load_schedule_record(variant)
    if saved is None:  # a run started before schedule records existed: fixed, by then
        epochs = [c.epoch for c in store.checkpoints(variant) if c.epoch <= start]
        saved = ScheduleRecord(schedule.spec, tuple(epochs), ("scheduled",) * len(epochs),
                               (math.nan,) * len(epochs), (math.nan,) * len(epochs))
    record = saved.upto(start)
    if policy is not None:
        resumed = store.load_resume(variant)
        meta = resumed[1] if resumed else {}
        if "adaptive_policy" not in meta:
            raise IntegrityError(f"the resume file of {variant} holds no adaptive policy state, "
                                 f"but its schedule {schedule.spec!r} is adaptive; retrain "
                                 "with --force")
        policy = AdaptivePolicy.from_state(schedule.adaptive, json.loads(meta["adaptive_policy"]))
        if policy.epoch != start:
            raise IntegrityError(f"the adaptive policy state of {variant} is for epoch "
                                 f"{policy.epoch}, the resume point for epoch {start}; retrain "
                                 "with --force")
    return policy, record
