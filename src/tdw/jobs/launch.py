"""Start training and analysis jobs: the single path the CLI and the dashboards share.

Every request is validated completely (family, parameters, schedule, probe, plan) before
a job is queued, so a bad request never leaves a job or a half-made variant behind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tdw.analysis.run import AnalysisRun
from tdw.family.family import variant_id
from tdw.family.model import check_device
from tdw.family.schedule import Schedule
from tdw.jobs import jobs
from tdw.store.jobs import JobRecord
from tdw.store.store import Store
from tdw.training.run import check_training

__all__ = ["TrainingRequest", "validate_training", "training_parameters", "start_training",
           "start_analysis", "analysis_parameters"]


@dataclass(frozen=True)
class TrainingRequest:
    """A validated training request, ready to become a job."""

    family: str
    values: Mapping[str, Any]
    schedule: Schedule
    variant: str
    force: bool = False
    device: str = "auto"

    def describe(self) -> str:
        return f"{self.variant}: {self.schedule.n_epochs} epochs, {self.schedule.describe()}"


def validate_training(store: Store, family: str, params: Mapping[str, Any] | None = None, *,
                      preset: str | None = None, schedule: str = "", force: bool = False,
                      device: str = "auto", require_resume: bool = False) -> TrainingRequest:
    """Check a training request with no side effects.

    Raises:
        AlreadyTrained: the variant is trained and ``force`` is not set.
        TdwError: anything else wrong with the request, with the fix in the message.
    """
    fam, values, sched = check_training(store, family, params, preset, schedule, force=force,
                                        require_resume=require_resume)
    check_device(device)  # a device this machine lacks fails now, not inside the job
    return TrainingRequest(fam.name, values, sched, variant_id(fam, values), force, device)


def training_parameters(request: TrainingRequest) -> dict[str, Any]:
    """The ``train.ipynb`` parameters of a validated request."""
    return {"family": request.family, "preset": "", "params": dict(request.values),
            "schedule": request.schedule.spec, "device": request.device,
            "force": request.force}


def start_training(store: Store, request: TrainingRequest) -> JobRecord:
    """Queue the papermill training job of a validated request."""
    return jobs.submit(store, "train", request.variant, training_parameters(request))


def start_analysis(store: Store, variant: str, *, analyzers: str | Sequence[str] = (),
                   checkpoints: str = "", force: bool = False, workers: int = 0,
                   device: str = "auto") -> tuple[AnalysisRun, JobRecord | None]:
    """Plan an analysis and, unless there is nothing to do, queue its job."""
    run = AnalysisRun.prepare(variant=variant, analyzers=analyzers, checkpoints=checkpoints,
                              force=force, workers=workers, device=device, store=store)
    if run.plan.empty:
        return run, None
    record = jobs.submit(store, "analyze", run.config.variant, analysis_parameters(run))
    return run, record


def analysis_parameters(run: AnalysisRun) -> dict[str, Any]:
    """The ``analyze.ipynb`` parameters of a prepared analysis."""
    c = run.config
    return {"variant": c.variant, "analyzers": ",".join(c.analyzers),
            "checkpoints": c.checkpoints, "force": c.force, "workers": c.workers,
            "device": c.device}
