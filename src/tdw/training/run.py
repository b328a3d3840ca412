"""A training run of one variant: what the ``train.ipynb`` template calls.

:meth:`TrainingRun.prepare` validates everything before any work (family, parameters,
schedule, the variant's state), and :meth:`TrainingRun.execute` boots the model, stores
the probe, resumes from the last checkpoint when there is one, trains, and records the
result. A finished variant is never silently retrained: that takes ``force=True``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tdw.errors import TdwError
from tdw.family.family import Family, variant_id
from tdw.family.model import boot_variant, pick_device
from tdw.family.registry import get_family
from tdw.family.schedule import Schedule, parse_schedule
from tdw.store.records import VariantRecord
from tdw.store.store import Store
from tdw.training.checkpointing import Checkpointer, restore_run, restore_schedule
from tdw.training.loop import Callback, make_optimizer, train

if TYPE_CHECKING:
    import torch

__all__ = ["TrainingRun", "TrainResult", "AlreadyTrained", "check_training", "plan_training"]


class AlreadyTrained(TdwError):
    """The variant finished training before; retraining needs ``force``."""


@dataclass(frozen=True)
class TrainResult:
    variant: str
    epochs_trained: int
    start_epoch: int
    checkpoints_written: int
    seconds: float
    final: Mapping[str, float]
    adaptive_written: int = 0

    def summary(self) -> str:
        f, end = self.final, self.start_epoch + self.epochs_trained
        per_epoch = 1000 * self.seconds / max(1, self.epochs_trained)
        added = f" ({self.adaptive_written} adaptive)" if self.adaptive_written else ""
        return (f"{self.variant}: epochs {self.start_epoch}->{end} in {self.seconds:.1f} s "
                f"({per_epoch:.1f} ms/epoch), {self.checkpoints_written} checkpoints "
                f"written{added}; "
                f"final train acc {f['train_acc']:.3f}, test acc {f['test_acc']:.3f}, "
                f"test loss {f['test_loss']:.3g}")


@dataclass(frozen=True)
class TrainingRun:
    """A validated plan to train one variant into a store."""

    store: Store
    family: Family
    values: Mapping[str, Any]
    schedule: Schedule
    variant: VariantRecord
    device: torch.device
    job_id: int = 0

    @classmethod
    def prepare(cls, *, family: str, params: Mapping[str, Any] | None = None,
                preset: str | None = None, schedule: str = "", store: str | Store | None = None,
                job_id: int = 0, resume: bool = True, force: bool = False,
                device: str = "auto") -> TrainingRun:
        """Validate a run (see :func:`check_training`), then create or reset the variant."""
        store = store if isinstance(store, Store) else Store(store or None)
        fam, values, sched = check_training(store, family, params, preset, schedule,
                                            resume=resume, force=force)
        vid = variant_id(fam, values)
        if force and any(v.id == vid for v in store.variants(fam.name)):
            store.reset_variant(vid)
        record = store.ensure_variant(fam, values, sched.spec, sched.n_epochs)
        return cls(store, fam, dict(values), sched, record, pick_device(device), job_id)

    def describe(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.values.items())
        return (f"{self.family.title} variant {self.variant.id}\n  {shown}\n  "
                f"{self.schedule.describe()} on schedule {self.schedule.spec!r}\n"
                f"  device {self.device}, store {self.store.root}")

    def execute(self, callbacks: Sequence[Callback] = ()) -> TrainResult:
        fam, values, vid = self.family, self.values, self.variant.id
        config = fam.train_config(values)
        model = boot_variant(fam, values, self.store.path(self.variant.folder), self.device)
        data = fam.dataset(values).to(self.device)
        self.store.ensure_probe(vid, fam.probe(values))
        optimizer = make_optimizer(model, config)
        start, metrics = restore_run(self.store, vid, model, optimizer)
        epochs = frozenset(self.schedule.epochs) | {config.n_epochs}
        resumed = start if metrics else None
        policy, record = restore_schedule(self.store, vid, self.schedule, resumed)
        checkpointer = Checkpointer(self.store, vid, epochs, skip=resumed, policy=policy,
                                    record=record)
        self.store.update_variant(vid, state="training")
        began = time.perf_counter()
        try:
            state = train(model, config, data, readout=fam.readout, optimizer=optimizer,
                          start_epoch=start, metrics=metrics,
                          callbacks=[checkpointer, *callbacks])
        except BaseException:
            self.store.update_variant(vid, state="interrupted")
            raise
        seconds = time.perf_counter() - began
        written = set(checkpointer.written)
        final = state.metrics_at(config.n_epochs)
        self.store.update_variant(
            vid, state="trained", epochs_done=config.n_epochs,
            **{f"final_{k}": float(v) for k, v in final.items()})
        self.store.resume_path(vid).unlink(missing_ok=True)
        adaptive = sum(1 for e, r in zip(checkpointer.record.epochs, checkpointer.record.reasons,
                                         strict=True) if r == "adaptive" and e in written)
        return TrainResult(vid, config.n_epochs - start, start, len(written), seconds, final,
                           adaptive)


def check_training(store: Store, family: str, params: Mapping[str, Any] | None,
                   preset: str | None, schedule: str, *, resume: bool = True,
                   force: bool = False, require_resume: bool = False
                   ) -> tuple[Family, dict[str, Any], Schedule]:
    """Everything that can be wrong with a training request, checked with no side effects.

    Returns the family, the resolved values and the schedule to use (a resumed run keeps
    the schedule it started with).

    Raises:
        AlreadyTrained: the variant finished and ``force`` is not set.
        TdwError: bad family, parameters or schedule; an interrupted run that may not be
            resumed; a changed schedule on resume; ``require_resume`` with nothing to resume.
    """
    fam, values, sched = plan_training(family, params, preset, schedule)
    vid = variant_id(fam, values)
    existing = next((v for v in store.variants(fam.name) if v.id == vid), None)
    resumable = existing is not None and store.resume_path(vid).exists()
    if require_resume and not resumable:
        raise TdwError(f"variant {vid} has no interrupted run to resume; drop --resume to "
                       "train it")
    if existing is None or force:
        return fam, values, sched
    if existing.state == "trained":
        raise AlreadyTrained(
            f"variant {vid} is already trained ({len(store.checkpoints(vid))} checkpoints); "
            "pass --force (force=True in Python) to retrain it from scratch")
    if resumable:
        if not resume:
            raise TdwError(f"variant {vid} has an interrupted run (last checkpoint epoch "
                           f"{existing.epochs_done}); resume it, or pass --force to start over")
        if schedule and sched.spec != existing.schedule:
            raise TdwError(f"variant {vid} was started with schedule {existing.schedule!r}; a "
                           f"resumed run keeps it (pass --force to restart with {sched.spec!r})")
        sched = parse_schedule(existing.schedule, sched.n_epochs)
    return fam, values, sched


def plan_training(family: str, params: Mapping[str, Any] | None, preset: str | None,
                  schedule: str) -> tuple[Family, dict[str, Any], Schedule]:
    """Resolve a family, its parameters and the schedule, raising on any bad input."""
    fam = get_family(family)
    if fam.imported_by:
        raise TdwError(f"{fam.name} variants are imported, not trained: {fam.imported_by} "
                       "(see tdw import --help)")
    values = fam.resolve(params or {}, preset=preset or None)
    n_epochs = fam.train_config(values).n_epochs
    return fam, values, parse_schedule(schedule or fam.default_schedule(values), n_epochs)
