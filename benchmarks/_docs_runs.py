"""The runs the docs' figures come from: trained and analysed as jobs through the ``tdw``
command, exactly as a reader would, each step timed with the load average beside it.

Training is bitwise deterministic on a given CPU build, so a run's accuracies, epochs and
analyses are the same whenever it is trained; its times are not, and are recorded only
when this process made the whole step (trained from scratch, or analysed every artifact),
each with the lowest and highest 1-minute load average seen while it ran.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tdw.analysis.run import AnalysisRun
from tdw.errors import TdwError
from tdw.explore.variant import Variant
from tdw.family.family import variant_id
from tdw.family.registry import get_family
from tdw.jobs.jobs import jobs, log_tail
from tdw.store.store import Store

__all__ = ["RunSpec", "RunData", "Timed", "LoadWatch", "RUNS", "prepare", "RunFailed",
           "with_preset", "analysis_timings", "TRAINED", "ANALYSED"]


@dataclass(frozen=True)
class RunSpec:
    """One variant whose figures the docs quote.

    Attributes:
        family: registered family name.
        preset: the family's preset it trains (``quick``); "" for the family's defaults.
        params: parameters set on top of the preset, as (name, value) pairs.
        schedule: checkpoint schedule; "" for the family's default.
        folder: store subfolder. A run on another schedule has the preset's variant id, so
            it needs a store of its own.
        timed: the quickstart's run: analysed in full, and its training and analysis times
            are figures. Other runs are analysed only as far as their figures need.
        make: for a run that is not trained (an imported series): makes it instead of
            :func:`prepare`, with the same arguments, returning its :class:`RunData`.
    """

    family: str
    preset: str
    params: tuple[tuple[str, Any], ...] = ()
    schedule: str = ""
    folder: str = ""
    timed: bool = False
    make: Callable[..., RunData] | None = None


RUNS: dict[str, RunSpec] = {
    "quick": RunSpec("modulo_addition_1l", "quick", timed=True),
    **{f"quick_ms{seed}": RunSpec("modulo_addition_1l", "quick", (("model_seed", seed),))
       for seed in (1, 2, 3)},
    "quick_adaptive": RunSpec("modulo_addition_1l", "quick",
                              schedule="0-2500/250,adaptive:0-2500/84", folder="adaptive"),
    "ih_quick": RunSpec("induction_heads", "quick", timed=True),
    "ih_control": RunSpec("induction_heads", "quick", (("repeat_fraction", 0.0),), timed=True),
    "toy": RunSpec("toy_operations", "", timed=True),
    "toy_quick": RunSpec("toy_operations", "quick", timed=True),
    "canonical": RunSpec("modulo_addition_1l", "", (("recipe", "miscope"),)),
    "canonical_tdw": RunSpec("modulo_addition_1l", ""),
}
"""Every run a figure may name (see :mod:`benchmarks._docs_figures`)."""


class RunFailed(RuntimeError):
    """A ``tdw`` command the figures needed did not succeed."""


@dataclass(frozen=True)
class Timed:
    """Seconds of one step, with the lowest and highest 1-minute load average seen."""

    seconds: float
    load: tuple[float, float]

    def load_text(self) -> str:
        lo, hi = (f"{x:.1f}" for x in self.load)
        return lo if lo == hi else f"{lo}-{hi}"


class LoadWatch:
    """Samples ``os.getloadavg()`` every ``every`` seconds while the ``with`` body runs."""

    def __init__(self, every: float = 5.0):
        self.every = every
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self.every):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self) -> LoadWatch:
        self.samples.append(os.getloadavg()[0])
        self._began = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])
        self.seconds = time.perf_counter() - self._began

    def timed(self, seconds: float | None = None) -> Timed:
        """The step's :class:`Timed` (``seconds`` if given, else the ``with`` body's)."""
        return Timed(self.seconds if seconds is None else seconds,
                     (min(self.samples), max(self.samples)))


@dataclass
class RunData:
    """A trained run as the figures read it: its variant (metrics, artifacts) and the
    times of the steps this process made.

    ``timings`` holds, when measured: ``train`` and ``analysis`` (the jobs, :class:`Timed`);
    from the training job's summary line ``train_epochs`` (seconds of epochs) and
    ``ms_per_epoch``; from the analysis job's ``analysis_seconds``,
    ``worker_per_checkpoint`` and ``analyzer_seconds`` (worker seconds of its slowest
    analyzers, by name); and ``workers`` (its worker processes).
    """

    name: str
    spec: RunSpec
    variant: Variant
    timings: dict[str, Any] = field(default_factory=dict)


TRAINED = re.compile(r"in ([\d.]+) s \(([\d.]+) ms/epoch\)")
"""The part of a training job's summary line (``TrainResult.summary``) the times come from."""
ANALYSED = re.compile(r"in ([\d.]+) s \(([\d.]+) s per checkpoint of worker time\); "
                      r"slowest analyzers in total: (.*)$")
"""The same for an analysis job (``AnalysisReport.summary``)."""


def _tdw(store: Path, *args: str, say: Callable[[str], None]) -> None:
    command = [sys.executable, "-m", "tdw.cli", "--store", str(store), *args]
    say("$ tdw " + " ".join(["--store", str(store), *args]))
    if subprocess.run(command, check=False).returncode != 0:
        raise RunFailed(f"`tdw {' '.join(args)}` failed (store {store})")


def _summary(store: Store, vid: str, kind: str, pattern: re.Pattern) -> tuple[Any, re.Match]:
    record = next(j for j in jobs(store, variant=vid) if j.kind == kind)
    for line in reversed(log_tail(store, record, lines=200)):
        if match := pattern.search(line):
            return record, match
    raise RunFailed(f"job {record.id} ({kind} {vid}) printed no summary line matching "
                    f"{pattern.pattern!r}: has its format changed?")


def prepare(name: str, spec: RunSpec, root: Path, needs: Sequence[str], *, full: bool,
            say: Callable[[str], None] = print) -> RunData:
    """Train ``spec`` into the store at ``root`` unless it holds it, and analyse what its
    figures read: every analyzer if ``full``, else ``needs`` (nothing if empty)."""
    if spec.make is not None:
        return spec.make(name, spec, root, needs, full=full, say=say)
    folder = root / spec.folder if spec.folder else root
    store = Store(folder)
    fam = get_family(spec.family)
    values = fam.resolve(dict(spec.params), preset=spec.preset or None)
    vid = variant_id(fam, values)
    timings: dict[str, Any] = {}
    known = {v.id: v for v in store.variants(fam.name)}
    if vid not in known or known[vid].state != "trained":
        fresh = vid not in known
        sets = [a for k, v in spec.params for a in ("--set", f"{k}={v}")]
        schedule = ["--schedule", spec.schedule] if spec.schedule else []
        with LoadWatch() as watch:
            preset = ["--preset", spec.preset] if spec.preset else []
            _tdw(folder, "train", spec.family, *preset, "--device", "cpu", *sets, *schedule,
                 say=say)
        if fresh and spec.timed:
            record, match = _summary(store, vid, "train", TRAINED)
            timings["train"] = watch.timed(record.finished - record.started)
            timings["train_epochs"], timings["ms_per_epoch"] = map(float, match.groups())
    names = [] if full else sorted(set(needs))
    if full or names:
        try:
            plan = AnalysisRun.prepare(variant=vid, analyzers=names, store=store).plan
        except TdwError as exc:
            raise RunFailed(f"cannot plan the analysis of {vid}: {exc}") from exc
        if not plan.empty:
            picked = ["--analyzers", ",".join(names)] if names else []
            with LoadWatch() as watch:
                _tdw(folder, "analyze", vid, *picked, say=say)
            if full and spec.timed and plan.up_to_date == 0:
                timings.update(analysis_timings(store, vid, watch))
    return RunData(name, spec, Variant(vid, store), timings)


def analysis_timings(store: Store, vid: str, watch: LoadWatch) -> dict[str, Any]:
    record, match = _summary(store, vid, "analyze", ANALYSED)
    slowest = {}
    for part in match.group(3).split(", "):
        analyzer, _, seconds = part.rpartition(" ")
        slowest[analyzer] = float(seconds.rstrip("s"))
    return {"analysis": watch.timed(record.finished - record.started),
            "analysis_seconds": float(match.group(1)),
            "worker_per_checkpoint": float(match.group(2)),
            "analyzer_seconds": slowest,
            "workers": min(os.cpu_count() or 1, len(Variant(vid, store).epochs))}


def with_preset(spec: RunSpec, preset: str | None) -> RunSpec:
    """``spec`` on another preset (``--preset tiny`` exercises the script in seconds)."""
    return spec if not preset else replace(spec, preset=preset)
