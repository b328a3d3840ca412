"""The analysis engine: plan what is missing or stale, then fill exactly those gaps.

:func:`make_plan` compares the catalog with the family's analyzers: an (analyzer,
checkpoint) pair needs work when its artifact is missing, or was made by another
analyzer version, with other options (:func:`tdw.family.analyzer.options_change`), on
another probe, or from another checkpoint file. Planning is one
catalog query, so a rerun with nothing to do answers at once.

:func:`execute` analyses each planned checkpoint once: it loads the (hash-verified)
weights, runs **one** forward pass on the probe with only the hooks the planned analyzers
declared (the family's ``probe_forward`` when it has one, else the bridge's
``run_with_cache`` with a ``names_filter``), hands every analyzer its slice, and writes
each artifact atomically. Checkpoints are spread over worker processes, each holding one
checkpoint's activations at a time. Cross-epoch analyzers run afterwards on the stored artifacts.
A killed run leaves complete artifacts or none; the next run fills only the gaps.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context

import numpy as np

from tdw.analysis.device import device_plan, device_queue
from tdw.analysis.forward import shared_forward
from tdw.analysis.worker import STATE as _STATE
from tdw.analysis.worker import init_worker as _init_worker
from tdw.errors import ParameterError, ProbeMismatchError, TdwError, UnknownNameError
from tdw.family.analyzer import (
    Analyzer,
    CheckpointInputs,
    CrossEpochAnalyzer,
    CrossEpochInputs,
    options_change,
)
from tdw.family.artifacts import Artifact
from tdw.family.family import Family, analyzers_of
from tdw.family.model import check_device, load_weights
from tdw.family.registry import get_family
from tdw.family.schedule import parse_schedule
from tdw.store.records import ArtifactRecord
from tdw.store.store import Store

__all__ = ["AnalysisRunConfig", "Plan", "WorkItem", "AnalysisReport", "make_plan", "execute"]

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class AnalysisRunConfig:
    """Which analyses to bring up to date for one variant.

    Attributes:
        variant: variant id (or a unique prefix).
        analyzers: analyzer names; empty for all of the family's. Naming a cross-epoch
            analyzer brings in the per-checkpoint analyzers it reads.
        checkpoints: a schedule-style spec of epochs (``"0-5000/500,end"``); empty for all
            stored checkpoints. Naming an epoch without a checkpoint is an error.
        force: recompute even up-to-date artifacts: those of the named analyzers (of
            every one when none is named), not the inputs a named cross-epoch analyzer
            brings in, which are recomputed only when missing or stale.
        workers: worker processes; 0 for one per CPU core, or one per GPU on CUDA.
        device: ``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda`` (every GPU),
            ``cuda:N`` or ``mps`` (:mod:`tdw.analysis.device`); checked on creation.
    """

    variant: str
    analyzers: tuple[str, ...] = ()
    checkpoints: str = ""
    force: bool = False
    workers: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) \
                or self.workers < 0:
            raise ParameterError(f"workers must be a whole number >= 0 (0: one per CPU core), "
                                 f"got {self.workers!r}")
        if not isinstance(self.device, str) or not self.device.strip():
            raise ParameterError(f"device must be auto, cpu, cuda or cuda:N, got "
                                 f"{self.device!r}")
        check_device(self.device)  # a device this machine lacks fails now, before any work


@dataclass(frozen=True)
class WorkItem:
    analyzer: str
    epoch: int  # -1 for a cross-epoch analyzer
    reason: str  # "missing", "forced" or "stale: ..."


@dataclass(frozen=True)
class Plan:
    """The gaps to fill, computed before any work."""

    variant: str
    family: str
    probe_sha256: str
    items: tuple[WorkItem, ...]
    up_to_date: int
    epochs: tuple[int, ...]
    per_checkpoint: tuple[str, ...]
    cross_epoch: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not self.items

    def by_epoch(self) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for item in self.items:
            if item.epoch >= 0:
                out.setdefault(item.epoch, []).append(item.analyzer)
        return out

    def describe(self) -> str:
        if self.empty:
            return (f"{self.variant}: nothing to do; {self.up_to_date} artifacts up to date "
                    f"({len(self.per_checkpoint)} analyzers x {len(self.epochs)} checkpoints, "
                    f"{len(self.cross_epoch)} cross-epoch)")
        lines = [f"{self.variant}: {len(self.items)} to compute, {self.up_to_date} up to date"]
        by_analyzer: dict[tuple[str, str], list[int]] = {}
        for item in self.items:
            by_analyzer.setdefault((item.analyzer, item.reason), []).append(item.epoch)
        for (name, reason), epochs in by_analyzer.items():
            where = "across epochs" if epochs == [-1] else f"{len(epochs)} checkpoints"
            lines.append(f"  {name}: {where} ({reason})")
        return "\n".join(lines)


@dataclass(frozen=True)
class AnalysisReport:
    variant: str
    computed: int
    checkpoints: int
    seconds: float
    seconds_per_checkpoint: float
    analyzer_seconds: Mapping[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        slowest = ", ".join(f"{k} {v:.2f}s" for k, v in sorted(
            self.analyzer_seconds.items(), key=lambda kv: -kv[1])[:4])
        return (f"{self.variant}: {self.computed} artifacts over {self.checkpoints} checkpoints "
                f"in {self.seconds:.1f} s ({self.seconds_per_checkpoint:.2f} s per checkpoint of "
                f"worker time); slowest analyzers in total: {slowest or '-'}")


def _select(family: Family, names: Iterable[str]
            ) -> tuple[list[Analyzer], list[CrossEpochAnalyzer]]:
    known = analyzers_of(family)
    chosen = list(names) or list(known)
    for name in chosen:
        if name not in known:
            raise UnknownNameError(f"analyzer of {family.name}", name, list(known))
    cross = [known[n] for n in chosen if isinstance(known[n], CrossEpochAnalyzer)]
    wanted = {n for n in chosen if isinstance(known[n], Analyzer)}
    for c in cross:
        wanted |= set(c.inputs)
    return [a for a in family.analyzers if a.name in wanted], cross


def _digest(rows: Iterable[tuple]) -> str:
    h = hashlib.sha256()
    for row in rows:
        h.update(repr(row).encode())
    return h.hexdigest()


def make_plan(store: Store, config: AnalysisRunConfig) -> Plan:
    """List every (analyzer, checkpoint) pair that is missing or stale. Reads only the catalog."""
    variant = store.variant(config.variant)
    family = get_family(variant.family)
    per, cross = _select(family, config.analyzers)
    probe_sha = store.stored_probe_sha256(variant.id)
    checkpoints = {c.epoch: c.sha256 for c in store.checkpoints(variant.id)}
    if probe_sha is None or not checkpoints:
        raise TdwError(f"variant {variant.id} has no checkpoints yet; train it first "
                       f"(tdw train {variant.family} ...)")
    epochs = sorted(checkpoints)
    if config.checkpoints:
        chosen = parse_schedule(config.checkpoints.replace("end", str(epochs[-1])),
                                max(variant.n_epochs, 1))
        if chosen.adaptive is not None:
            raise TdwError(f"--checkpoints {config.checkpoints!r} picks stored checkpoints; an "
                           "adaptive segment only places new ones in training: drop it")
        wanted = chosen.epochs
        absent = [e for e in wanted if e not in checkpoints]
        if absent:
            raise UnknownNameError(f"checkpoint epoch of {variant.id}", str(absent[0]),
                                   [str(e) for e in epochs])
        epochs = list(wanted)
    stored = {(a.analyzer, a.epoch): a for a in store.artifacts(variant.id)}
    forced = {a.name for a in (*per, *cross)
              if config.force and (not config.analyzers or a.name in config.analyzers)}
    items: list[WorkItem] = []
    fresh = 0
    for analyzer in per:
        for epoch in epochs:
            reason = _staleness(stored.get((analyzer.name, epoch)), analyzer, probe_sha,
                                checkpoints[epoch], analyzer.name in forced)
            if reason:
                items.append(WorkItem(analyzer.name, epoch, reason))
            else:
                fresh += 1
    planned = {i.analyzer for i in items}
    for analyzer in cross:
        digest = _cross_digest(store, variant.id, analyzer, stored)
        reason = _staleness(stored.get((analyzer.name, -1)), analyzer, probe_sha, digest,
                            analyzer.name in forced)
        if not reason and planned & set(analyzer.inputs):
            reason = "stale: its inputs are being recomputed"
        if reason:
            items.append(WorkItem(analyzer.name, -1, reason))
        else:
            fresh += 1
    return Plan(variant.id, family.name, probe_sha, tuple(items), fresh, tuple(epochs),
                tuple(a.name for a in per), tuple(a.name for a in cross))


def _staleness(stored: ArtifactRecord | None, analyzer: Analyzer | CrossEpochAnalyzer,
               probe_sha: str, source_sha: str, force: bool) -> str:
    if stored is None:
        return "missing"
    if force:
        return "forced"
    if stored.version != analyzer.version:
        return f"stale: analyzer version {stored.version} -> {analyzer.version}"
    if change := options_change(stored.options, analyzer.options_json):
        return f"stale: {change}"
    if stored.probe_sha256 != probe_sha:
        return "stale: probe changed"
    if stored.checkpoint_sha256 != source_sha:
        return "stale: checkpoint changed" if stored.epoch >= 0 else "stale: inputs changed"
    return ""


def _cross_digest(store: Store, vid: str, analyzer: CrossEpochAnalyzer,
                  stored: Mapping[tuple[str, int], ArtifactRecord]) -> str:
    """What a cross-epoch artifact was computed from: its inputs' artifact hashes + metrics."""
    rows = sorted((name, epoch, row.sha256) for (name, epoch), row in stored.items()
                  if name in analyzer.inputs and epoch >= 0)
    metrics = store.path(store.variant(vid).folder / "metrics.safetensors")
    metrics_sha = store.file_sha256(metrics.relative_to(store.root)) if metrics.exists() else ""
    return _digest([*rows, ("metrics", metrics_sha)])


# ------------------------------------------------------------------ execution
def _analyze_checkpoint(vid: str, epoch: int, names: list[str], probe_sha: str
                        ) -> dict[str, float]:
    import torch
    w = _STATE["worker"]
    chosen = [a for a in w.family.analyzers if a.name in names]
    weights = w.store.load_checkpoint(vid, epoch)
    checkpoint_sha = w.store.checkpoint(vid, epoch).sha256
    load_weights(w.model, weights, source=f"checkpoint {epoch} of {vid}")
    hooks = sorted({h for a in chosen for h in a.hooks})
    with torch.inference_mode():
        activations = shared_forward(w.family, w.model, w.probe, hooks) if hooks else {}
    seconds: dict[str, float] = {}
    for analyzer in chosen:
        began = time.perf_counter()
        inputs = CheckpointInputs(
            values=w.values, epoch=epoch, weights=weights, final_weights=w.final_weights,
            probe=w.probe, activations={h: activations[h] for h in analyzer.hooks},
            model=w.model if analyzer.needs_model else None)
        arrays, attrs = analyzer.run(inputs)
        w.store.write_artifact(vid, Artifact(analyzer.schema, epoch, arrays, attrs, probe_sha,
                                             checkpoint_sha))
        seconds[analyzer.name] = time.perf_counter() - began
    return seconds


def execute(store: Store, plan: Plan, *, workers: int = 0, device: str = "auto",
            progress: Progress | None = None) -> AnalysisReport:
    """Fill the plan's gaps: per-checkpoint work in parallel on ``device`` (workers and
    threads by :func:`tdw.analysis.device.device_plan`), then cross-epoch analyzers."""
    import torch
    began = time.perf_counter()
    tasks = sorted(plan.by_epoch().items())
    cross = [i.analyzer for i in plan.items if i.epoch < 0]
    total = len(tasks) + len(cross)
    done = 0
    seconds: dict[str, float] = {}
    machine = device_plan(device, workers=workers, tasks=len(tasks),
                          lone_threads=torch.get_num_threads())
    n_workers = machine.workers

    def finished(result: Mapping[str, float]) -> None:
        nonlocal done
        done += 1
        for name, s in result.items():
            seconds[name] = seconds.get(name, 0.0) + s
        if progress:
            progress(done, total)

    if tasks and n_workers == 1:
        _init_worker(str(store.root), plan.variant, plan.probe_sha256, machine.threads,
                     machine.devices[0])
        for epoch, names in tasks:
            finished(_analyze_checkpoint(plan.variant, epoch, names, plan.probe_sha256))
    elif tasks:
        context = get_context("spawn")
        devices = device_queue(context, machine)  # each worker process takes its own GPU
        with ProcessPoolExecutor(n_workers, mp_context=context, initializer=_init_worker,
                                 initargs=(str(store.root), plan.variant, plan.probe_sha256,
                                           machine.threads, machine.devices[0],
                                           devices)) as pool:
            futures = [pool.submit(_analyze_checkpoint, plan.variant, epoch, names,
                                   plan.probe_sha256) for epoch, names in tasks]
            try:
                for future in as_completed(futures):
                    finished(future.result())
            except BrokenProcessPool:
                raise TdwError(
                    f"an analysis worker process of {plan.variant} died (killed, or out of "
                    f"memory) after {done} of {total} steps; every artifact written so far "
                    f"is whole: run tdw analyze {plan.variant} again to compute only the "
                    "rest (fewer --workers use less memory)") from None
    for name in cross:
        t = time.perf_counter()
        _run_cross_epoch(store, plan, name)
        finished({name: time.perf_counter() - t})
    worker_time = sum(v for k, v in seconds.items() if k not in cross)
    return AnalysisReport(plan.variant, len(plan.items), len(tasks),
                          time.perf_counter() - began, worker_time / max(1, len(tasks)), seconds)


def _run_cross_epoch(store: Store, plan: Plan, name: str) -> None:
    variant = store.variant(plan.variant)
    family = get_family(variant.family)
    analyzer = analyzers_of(family)[name]
    stored = {(a.analyzer, a.epoch): a for a in store.artifacts(variant.id)}
    schemas = {a.name: a.schema for a in family.analyzers}
    current = {a.name: (a.version, a.options_json) for a in family.analyzers}
    if analyzer.inputs:  # the checkpoints where every input has a current artifact
        epochs = sorted(set.intersection(*(
            {e for (n, e), row in stored.items()
             if n == name and e >= 0 and (row.version, row.options) == current[name]}
            for name in analyzer.inputs)))
    else:
        epochs = [c.epoch for c in store.checkpoints(variant.id)]
    artifacts: dict[str, list[Artifact]] = {}
    for input_name in analyzer.inputs:
        loaded = [store.load_artifact(variant.id, schemas[input_name], e) for e in epochs]
        mixed = {a.probe_sha256 for a in loaded} - {plan.probe_sha256}
        if mixed:
            raise ProbeMismatchError(
                f"{input_name} artifacts of {variant.id} were computed on another probe "
                f"({sorted(mixed)[0][:16]}...); rerun tdw analyze {variant.id} --force")
        artifacts[input_name] = loaded
    # An imported series has no training metrics: its cross-epoch analyzers get none.
    has_metrics = store.path(variant.folder / "metrics.safetensors").exists()
    inputs = CrossEpochInputs(variant.params, np.asarray(epochs, dtype=np.int64), artifacts,
                              store.load_metrics(variant.id) if has_metrics else {})
    arrays, attrs = analyzer.run(inputs)
    digest = _cross_digest(store, variant.id, analyzer, stored)
    store.write_artifact(variant.id, Artifact(analyzer.schema, None, arrays, attrs,
                                              plan.probe_sha256, digest))
