"""Sweeps: every variant of a parameter grid, trained (and optionally analysed) as jobs.

A :class:`SweepSpec` (family, :class:`Grid`, fixed parameters, preset, schedule, analyze)
is checked completely by :func:`plan` before anything is written: every grid point must
resolve to valid parameters of the family. :func:`create` records the sweep and its
variants in the catalog (the same spec twice is the same sweep); :mod:`tdw.sweeps.coordinator`
runs it. :func:`members` is its per-variant progress, :func:`cancel` stops it: running
jobs are cancelled (their checkpoints kept) and pending variants are not started.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tdw.errors import TdwError, UnknownNameError
from tdw.family.family import Family, variant_id
from tdw.family.model import check_device
from tdw.family.params import parse_assignments
from tdw.family.registry import get_family
from tdw.jobs import jobs
from tdw.store import sweeps as sweep_table
from tdw.store.jobs import ACTIVE, JobRecord
from tdw.store.locks import held_elsewhere
from tdw.store.store import Store
from tdw.training.run import plan_training

__all__ = ["Grid", "SweepSpec", "SweepPoint", "SweepRecord", "SweepMember", "SweepError",
           "plan", "refuse_if_running", "create", "cancel", "sweep", "sweeps", "members",
           "reconcile", "settle", "lock_path", "coordinator_alive", "FINISHED"]

FINISHED = ("succeeded", "failed", "cancelled", "interrupted")


class SweepError(TdwError):
    """A sweep that cannot be planned, started or cancelled as asked."""


@dataclass(frozen=True)
class Grid:
    """The swept parameters: ``(name, values)`` pairs in the order given on the command
    line; the sweep is their Cartesian product.

    >>> Grid((("p", (53, 59)), ("model_seed", (1, 2)))).points()[1]
    {'p': 53, 'model_seed': 2}
    """

    axes: tuple[tuple[str, tuple[Any, ...]], ...]

    def points(self) -> list[dict[str, Any]]:
        names = [name for name, _ in self.axes]
        return [dict(zip(names, values, strict=True))
                for values in itertools.product(*(vals for _, vals in self.axes))]

    @classmethod
    def parse(cls, family: Family, items: Sequence[str]) -> Grid:
        """``["p=53,59", "model_seed=1,2"]`` as typed values of ``family``'s parameters.

        Raises:
            SweepError: no axis, an empty or repeated value, a name given twice.
            UnknownNameError: a name that is not a parameter of the family.
            ParameterError: a value of the wrong type or out of range.
        """
        if not items:
            raise SweepError("a sweep needs at least one --grid NAME=V1,V2,..., e.g. --grid "
                             "p=53,59,61 --grid model_seed=1,2")
        by_name = {p.name: p for p in family.params}
        axes: list[tuple[str, tuple[Any, ...]]] = []
        for item in items:
            name, sep, text = item.partition("=")
            name = name.strip()
            raw = [v.strip() for v in text.split(",")]
            if not sep or not name or not text.strip() or any(v == "" for v in raw):
                raise SweepError(f"--grid {item!r}: write NAME=V1,V2,... with no empty value, "
                                 "e.g. --grid p=53,59,61")
            if name not in by_name:
                raise UnknownNameError(f"parameter of {family.name}", name, list(by_name))
            if any(name == seen for seen, _ in axes):
                raise SweepError(f"--grid {name} is given twice; list all its values in one "
                                 f"--grid {name}=V1,V2,...")
            param = by_name[name]
            values = tuple(param.validate(param.convert(v)) for v in raw)
            if len(set(values)) != len(values):
                repeated = next(v for v in values if values.count(v) > 1)
                raise SweepError(f"--grid {item!r} lists {name}={repeated} twice; each value "
                                 "once")
            axes.append((name, values))
        return cls(tuple(axes))


@dataclass(frozen=True)
class SweepSpec:
    """What to sweep; equal specs are the same sweep.

    Attributes:
        family: the family's registered name.
        grid: the swept parameters and their values.
        fixed: parameters set for every variant (``--set``), as given.
        preset: a preset of the family applied first, or empty.
        schedule: the checkpoint schedule, or empty for the family's default.
        analyze: whether each trained variant is also analysed.
        analyzers: the analyzers to run when analysing; empty for all of the family's.
        device: where every job of the sweep runs: ``auto`` (CUDA when available), ``cpu``,
            ``cuda`` or ``cuda:N``; on CUDA at most one job per GPU (:mod:`tdw.jobs.gpus`).
    """

    family: str
    grid: Grid
    fixed: Mapping[str, Any] = field(default_factory=dict)
    preset: str = ""
    schedule: str = ""
    analyze: bool = False
    analyzers: tuple[str, ...] = ()
    device: str = "auto"

    def key(self) -> str:
        """Canonical JSON: what the catalog stores, and how a re-run finds its sweep."""
        data = {"family": self.family, "grid": [[n, list(v)] for n, v in self.grid.axes],
                "fixed": dict(sorted(self.fixed.items())), "preset": self.preset,
                "schedule": self.schedule, "analyze": self.analyze}
        if self.analyzers:  # absent when empty, so earlier sweeps keep their keys
            data["analyzers"] = list(self.analyzers)
        if self.device != "auto":  # likewise
            data["device"] = self.device
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_key(cls, text: str) -> SweepSpec:
        data = json.loads(text)
        grid = Grid(tuple((n, tuple(v)) for n, v in data["grid"]))
        return cls(data["family"], grid, data["fixed"], data["preset"], data["schedule"],
                   data["analyze"], tuple(data.get("analyzers", ())),
                   data.get("device", "auto"))

    @classmethod
    def from_cli(cls, family: str, grid: Sequence[str], sets: Sequence[str] = (), *,
                 preset: str = "", schedule: str = "", analyze: bool = False,
                 analyzers: str = "", device: str = "auto") -> SweepSpec:
        """The spec of ``tdw sweep``'s arguments; naming ``analyzers`` implies ``analyze``.
        A device this machine lacks is refused here, before anything is recorded."""
        fam = get_family(family)
        parsed = Grid.parse(fam, grid)
        fixed = parse_assignments(sets)
        if clash := sorted(set(fixed) & {name for name, _ in parsed.axes}):
            raise SweepError(f"{clash[0]} is both swept (--grid) and fixed (--set); keep one")
        names = tuple(n.strip() for n in analyzers.split(",") if n.strip())
        known = [a.name for a in (*fam.analyzers, *fam.cross_epoch)]
        for name in names:
            if name not in known:
                raise UnknownNameError(f"analyzer of {fam.name}", name, known)
        check_device(device)
        return cls(fam.name, parsed, fixed, preset or "", schedule or "",
                   analyze or bool(names), names, device)


@dataclass(frozen=True)
class SweepPoint:
    """One variant of a sweep: its grid point and the variant it names."""

    position: int
    params: Mapping[str, Any]
    variant: str


def plan(spec: SweepSpec) -> list[SweepPoint]:
    """Every variant of the sweep, each checked like ``tdw train`` checks one; no writes.

    Raises:
        TdwError: the first point whose parameters, preset or schedule are invalid, named.
    """
    points = []
    for position, point in enumerate(spec.grid.points()):
        shown = ", ".join(f"{k}={v}" for k, v in point.items())
        try:
            fam, values, _ = plan_training(spec.family, {**spec.fixed, **point},
                                           spec.preset or None, spec.schedule)
        except TdwError as exc:
            raise SweepError(f"sweep point {shown}: {exc}") from None
        points.append(SweepPoint(position, point, variant_id(fam, values)))
    ids = [p.variant for p in points]
    if len(set(ids)) != len(ids):
        raise SweepError("two grid points name the same variant; sweep parameters that change "
                         "the variant")
    return points


@dataclass(frozen=True)
class SweepRecord:
    id: int
    family: str
    spec: SweepSpec
    executor: str
    state: str
    pid: int | None
    cancel_requested: int
    created: float
    started: float | None
    finished: float | None
    updated: float


@dataclass(frozen=True)
class SweepMember:
    """One variant of a sweep, with its current job (if it has had one)."""

    sweep: int
    position: int
    variant: str
    params: dict[str, Any]
    state: str
    train_job: int | None
    analyze_job: int | None
    error: str | None
    job: JobRecord | None

    @property
    def fraction(self) -> float:
        """Progress of the variant: 1 when done, else its current job's."""
        if self.state == "done":
            return 1.0
        return self.job.fraction if self.job is not None and self.state != "pending" else 0.0


def _record(row: Mapping[str, Any]) -> SweepRecord:
    data = dict(row)
    data["spec"] = SweepSpec.from_key(data["spec"])
    return SweepRecord(**data)


def sweep(store: Store, sweep_id: int) -> SweepRecord:
    row = sweep_table.get(store.catalog, sweep_id)
    if row is None:
        raise SweepError(f"no sweep {sweep_id} in {store.root}; list them with tdw sweep status")
    return _record(row)


def sweeps(store: Store, limit: int = 20) -> list[SweepRecord]:
    """The most recent sweeps first, after :func:`reconcile`."""
    reconcile(store)
    return [_record(r) for r in sweep_table.recent(store.catalog, limit)]


def members(store: Store, sweep_id: int) -> list[SweepMember]:
    """The variants of a sweep in grid order, each with its current job."""
    out = []
    for data in sweep_table.members(store.catalog, sweep_id):
        current = data["analyze_job"] or data["train_job"]
        data["job"] = jobs.job(store, current) if current else None
        out.append(SweepMember(**data))
    return out


def lock_path(store: Store, sweep_id: int) -> Path:
    return store.path(Path("sweeps") / str(sweep_id) / "coordinator.lock")


def coordinator_alive(store: Store, sweep_id: int) -> bool:
    return held_elsewhere(lock_path(store, sweep_id))


def reconcile(store: Store) -> None:
    """Mark running sweeps whose coordinator died as *interrupted* (run them again to
    finish), after failing the jobs it left (:func:`tdw.jobs.jobs.reconcile`)."""
    jobs.reconcile(store)
    for sweep_id in sweep_table.running(store.catalog):
        if not coordinator_alive(store, sweep_id):
            settle(store, sweep_id, "interrupted")


def refuse_if_running(store: Store, spec: SweepSpec) -> None:
    """Raise if the sweep of ``spec`` already has a live coordinator (before an executor,
    perhaps a whole cluster, is started for nothing)."""
    row = sweep_table.find(store.catalog, spec.key())
    if row is not None and coordinator_alive(store, row["id"]):
        raise SweepError(f"sweep {row['id']} is already running (coordinator pid {row['pid']});"
                         f" follow it with tdw sweep status {row['id']}")


def create(store: Store, spec: SweepSpec, points: Sequence[SweepPoint], executor: str
           ) -> SweepRecord:
    """Record the sweep (or find the one with this spec) and its variants."""
    sweep_id = sweep_table.create(store.catalog, spec.family, spec.key(), executor,
                                  [(p.position, p.variant, p.params) for p in points])
    return sweep(store, sweep_id)


def cancel(store: Store, sweep_id: int, timeout: float = 60.0) -> SweepRecord:
    """Stop a sweep: running jobs are cancelled, pending variants are not started.

    A live coordinator does the stopping; this waits up to ``timeout`` seconds for it (0:
    ask and return at once, as a dashboard button does).
    """
    reconcile(store)
    record = sweep(store, sweep_id)
    if record.state not in ("running", "interrupted"):
        raise SweepError(f"sweep {sweep_id} is {record.state}; nothing to cancel")
    sweep_table.request_cancel(store.catalog, sweep_id)
    if timeout == 0 and coordinator_alive(store, sweep_id):
        return sweep(store, sweep_id)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and coordinator_alive(store, sweep_id):
        time.sleep(0.2)  # the coordinator cancels its jobs and settles the sweep
    if coordinator_alive(store, sweep_id):
        raise SweepError(f"sweep {sweep_id}: its coordinator (pid {record.pid}) did not stop "
                         f"within {timeout:.0f} s; stop that process (Ctrl-C) and run tdw "
                         f"sweep cancel {sweep_id} again")
    for member in members(store, sweep_id):  # a dead coordinator's local jobs live on
        if member.job is not None and member.job.state in ACTIVE:
            jobs.cancel(store, member.job.id)
    settle(store, sweep_id, "cancelled")
    return sweep(store, sweep_id)


def settle(store: Store, sweep_id: int, state: str) -> None:
    """End the sweep in ``state``; unfinished variants become cancelled (if cancelled)."""
    sweep_table.settle(store.catalog, sweep_id, state)
