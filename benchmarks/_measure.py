"""Timing and the result rows every benchmark returns.

A figure is the median of ``repeat`` runs with its min and max. Where a benchmark has a
reference implementation, the two are run alternately (reference, tdw, reference, ...), so
that a change in the machine's load during the run falls on both sides of the ratio.
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Timing", "Row", "BenchConfig", "time_once", "alternate", "repeat", "peak_rss_mb"]


@dataclass(frozen=True)
class BenchConfig:
    """How a benchmark run is sized.

    Attributes:
        smoke: tiny sizes and one run each: proves the two implementations agree, times nothing
            worth reporting (what CI runs).
        repeat: runs per timed figure (the median is reported); at least 5 for the report.
        workdir: scratch folder for stores and servers.
    """

    smoke: bool
    repeat: int
    workdir: str


@dataclass(frozen=True)
class Timing:
    """Seconds of each run."""

    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def min(self) -> float:
        return min(self.samples)

    @property
    def max(self) -> float:
        return max(self.samples)

    def text(self, unit: str = "s") -> str:
        scale = {"s": 1.0, "ms": 1e3}[unit]
        return (f"{self.median * scale:.3g} {unit} "
                f"({self.min * scale:.3g}-{self.max * scale:.3g}, n={len(self.samples)})")


@dataclass(frozen=True)
class Row:
    """One line of the report.

    Attributes:
        figure: what is measured.
        reference: what tdw is compared against ("-" for none).
        target: the goal from the issue, in words.
        tdw: tdw's timing (or None when the figure is not a time).
        ref: the reference's timing, measured in the same run.
        value: the figure as text when it is not a plain time (a count, bytes, a ratio).
        met: whether the target is met; None when there is no target to meet.
        agreement: how the two implementations were shown to agree before timing.
        note: what explains the figure (a cause, a gap, the next step).
        unit: unit for the timings.
        paired: ``tdw`` and ``ref`` were timed alternately (:func:`alternate`), so the ratio
            is the median of each pair's ratio: a change of load between pairs cancels.
    """

    figure: str
    reference: str
    target: str
    tdw: Timing | None = None
    ref: Timing | None = None
    value: str = ""
    met: bool | None = None
    agreement: str = ""
    note: str = ""
    unit: str = "s"
    peak_rss_mb: float = field(default=0.0)
    paired: bool = False

    @property
    def ratio(self) -> float | None:
        """How many times faster tdw is than the reference (reference time / tdw time)."""
        if self.tdw is None or self.ref is None:
            return None
        if self.paired:
            return statistics.median(r / t for r, t in zip(self.ref.samples, self.tdw.samples,
                                                           strict=True))
        return self.ref.median / self.tdw.median


def time_once(fn: Callable[[], object]) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def repeat(fn: Callable[[], object], n: int) -> Timing:
    return Timing(tuple(time_once(fn) for _ in range(n)))


def alternate(reference: Callable[[], object], ours: Callable[[], object], n: int
              ) -> tuple[Timing, Timing]:
    """Time ``reference`` and ``ours`` ``n`` times each, interleaved; (reference, ours)."""
    ref, tdw = [], []
    for _ in range(n):
        ref.append(time_once(reference))
        tdw.append(time_once(ours))
    return Timing(tuple(ref)), Timing(tuple(tdw))


def peak_rss_mb() -> float:
    """This process's peak resident set size (each benchmark runs in its own process)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
