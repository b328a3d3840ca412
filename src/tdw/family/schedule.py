"""Checkpoint schedules: which epochs of a training run are saved.

A schedule is written as comma-separated segments:

=====================  ====================================================
``500``                one epoch
``0-1500/100``         a range with a step, both ends included when on the grid
``log:1-25000/40``     40 log-spaced epochs from 1 to 25000 (rounded, deduplicated)
``end``                the final epoch of the run
``adaptive:0-2500/80``  up to 80 more checkpoints in epochs 0..2500, added while the test
                       loss moves fast (``adaptive:train_acc:0-2500/80`` follows another
                       signal); see :mod:`tdw.training.adaptive` for the rule
=====================  ====================================================

Segments may overlap (a dense window inside a coarse range); the result is the sorted
union. An explicit list must be increasing, and every epoch must lie in
``0..n_epochs``: a typo is an error, never silently dropped.

The fixed segments give :attr:`Schedule.epochs`, known before training. An adaptive
segment (at most one) is a budget, spent during training: the checkpoints it adds depend on
the run, so they are recorded as the run writes them (:class:`ScheduleRecord`), and the
budget is a hard cap (:attr:`Schedule.max_checkpoints`).

>>> parse_schedule("0-1000/250,end", n_epochs=1200).epochs
(0, 250, 500, 750, 1000, 1200)
>>> parse_schedule("log:1-1000/4", n_epochs=1000).epochs
(1, 10, 100, 1000)
>>> parse_schedule("0-2500/500,adaptive:0-2500/40", n_epochs=2500).max_checkpoints
46
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from tdw.errors import ScheduleError

__all__ = ["Schedule", "Adaptive", "ScheduleRecord", "SIGNALS", "REASONS", "parse_schedule",
           "schedule_from_epochs"]

_RANGE = re.compile(r"^(\d+)-(\d+)/(\d+)$")
_LOG = re.compile(r"^log:(\d+)-(\d+)/(\d+)$")
_ADAPTIVE = re.compile(r"^adaptive:(?:([a-z_]+):)?(\d+)-(\d+)/(\d+)$")
_HELP = "write e.g. '0-1500/100,1500-9000/500,end', 'log:1-25000/40' or '0,10,100'"
_ADAPTIVE_HELP = ("write e.g. 'adaptive:0-25000/80' (test loss) or "
                  "'adaptive:train_acc:0-25000/80'")

SIGNALS = ("test_loss", "train_loss", "test_acc", "train_acc")
"""The per-epoch metrics an adaptive segment can follow."""
REASONS = ("scheduled", "adaptive")
"""Why a checkpoint was written: on the fixed grid (or the final epoch), or added by the
adaptive policy."""


@dataclass(frozen=True)
class Adaptive:
    """An adaptive segment: a budget of checkpoints placed during training.

    Attributes:
        signal: the per-epoch metric whose change triggers a checkpoint (one of
            :data:`SIGNALS`).
        start: first epoch of the window in which checkpoints may be added.
        stop: last epoch of the window (included).
        budget: the most checkpoints the segment may add (a hard cap).
    """

    signal: str
    start: int
    stop: int
    budget: int



@dataclass(frozen=True)
class Schedule:
    """A parsed checkpoint schedule.

    Attributes:
        spec: the text it was parsed from (kept so the run records what was asked).
        epochs: the sorted, deduplicated epochs of the fixed segments.
        n_epochs: the length of the run the schedule was validated against.
        adaptive: the adaptive segment, if any: checkpoints added during training.
    """

    spec: str
    epochs: tuple[int, ...]
    n_epochs: int
    adaptive: Adaptive | None = None

    def __contains__(self, epoch: int) -> bool:
        return epoch in self._set

    @property
    def max_checkpoints(self) -> int:
        """The most checkpoints a run can write: the fixed epochs, the final epoch (always
        saved) and the adaptive budget."""
        fixed = len(self._set | {self.n_epochs})
        return fixed + (self.adaptive.budget if self.adaptive else 0)

    def describe(self) -> str:
        """One line: how many checkpoints, and which are adaptive."""
        fixed = len(self._set | {self.n_epochs})
        if self.adaptive is None:
            return f"{fixed} checkpoints"
        a = self.adaptive
        return (f"{fixed} scheduled checkpoints plus up to {a.budget} adaptive ones in epochs "
                f"{a.start}-{a.stop} where {a.signal.replace('_', ' ')} moves fast "
                f"(at most {self.max_checkpoints})")

    @property
    def _set(self) -> frozenset[int]:
        return frozenset(self.epochs)


@dataclass(frozen=True)
class ScheduleRecord:
    """The checkpoints a run actually wrote, and why: stored with the variant.

    Attributes:
        spec: the schedule text of the run.
        epochs: ``(checkpoint,)`` epochs in the order written (increasing).
        reasons: ``(checkpoint,)`` one of :data:`REASONS` per checkpoint.
        signal: ``(checkpoint,)`` the adaptive policy's smoothed signal at the checkpoint
            (NaN outside its window, or when the schedule is not adaptive).
        threshold: ``(checkpoint,)`` the change of the smoothed signal an adaptive
            checkpoint had to reach (NaN for a scheduled one).
    """

    spec: str
    epochs: tuple[int, ...] = ()
    reasons: tuple[str, ...] = ()
    signal: tuple[float, ...] = ()
    threshold: tuple[float, ...] = ()

    def added(self, epoch: int, reason: str, signal: float = math.nan,
              threshold: float = math.nan) -> ScheduleRecord:
        """This record with one more checkpoint."""
        if reason not in REASONS:
            raise ValueError(f"unknown checkpoint reason {reason!r}; one of {REASONS}")
        return ScheduleRecord(self.spec, (*self.epochs, epoch), (*self.reasons, reason),
                              (*self.signal, signal), (*self.threshold, threshold))

    def upto(self, epoch: int) -> ScheduleRecord:
        """The record as it stood when checkpoint ``epoch`` was written (a resume point)."""
        n = sum(1 for e in self.epochs if e <= epoch)
        return ScheduleRecord(self.spec, self.epochs[:n], self.reasons[:n], self.signal[:n],
                              self.threshold[:n])

    def reason(self, epoch: int) -> str:
        """Why checkpoint ``epoch`` was written; "scheduled" for an epoch not recorded."""
        return dict(zip(self.epochs, self.reasons, strict=True)).get(epoch, "scheduled")

    def count(self, reason: str) -> int:
        return self.reasons.count(reason)


def _check_end(epoch: int, seg: str, n_epochs: int) -> None:
    if epoch > n_epochs:
        raise ScheduleError(
            f"schedule epoch {epoch} (from {seg!r}) is past the end of the run "
            f"(n_epochs={n_epochs}); shorten the schedule or train longer"
        )


def _segment(seg: str, n_epochs: int, last_explicit: list[int]) -> list[int]:
    if seg == "end":
        return [n_epochs]
    if seg.isdigit():
        epoch = int(seg)
        if last_explicit and epoch <= last_explicit[-1]:
            raise ScheduleError(
                f"schedule epochs must increase: {epoch} comes after {last_explicit[-1]}; {_HELP}"
            )
        last_explicit.append(epoch)
        return [epoch]
    if m := _RANGE.match(seg):
        start, stop, step = map(int, m.groups())
        if step <= 0 or start > stop:
            raise ScheduleError(f"range {seg!r} needs start <= stop and step > 0; {_HELP}")
        last = start + (stop - start) // step * step
        _check_end(last, seg, n_epochs)  # before listing: a typo'd stop must not fill memory
        return list(range(start, stop + 1, step))
    if m := _LOG.match(seg):
        start, stop, count = map(int, m.groups())
        if start < 1 or start > stop or count < 2:
            raise ScheduleError(
                f"log range {seg!r} needs 1 <= start <= stop and a count >= 2; {_HELP}"
            )
        _check_end(stop, seg, n_epochs)
        lo, hi = math.log(start), math.log(stop)
        if count - 1 > stop * (hi - lo):
            # Consecutive points lie less than one epoch apart, so rounding reaches every
            # epoch of the range: the same answer as the loop, without a huge count's cost.
            return list(range(start, stop + 1))
        return sorted({round(math.exp(lo + (hi - lo) * i / (count - 1))) for i in range(count)})
    if seg.startswith("-"):
        raise ScheduleError(f"schedule epoch {seg!r} is negative; epochs start at 0")
    raise ScheduleError(f"cannot parse schedule segment {seg!r}; {_HELP}")


def _adaptive(seg: str, n_epochs: int) -> Adaptive | None:
    if not seg.startswith("adaptive"):
        return None
    m = _ADAPTIVE.match(seg)
    if m is None:
        raise ScheduleError(f"cannot parse adaptive segment {seg!r}; {_ADAPTIVE_HELP}")
    signal = m.group(1) or "test_loss"
    start, stop, budget = map(int, m.groups()[1:])
    if signal not in SIGNALS:
        raise ScheduleError(f"adaptive segment {seg!r} follows unknown signal {signal!r}; "
                            f"choose one of: {', '.join(SIGNALS)}")
    if start > stop or budget < 1:
        raise ScheduleError(f"adaptive segment {seg!r} needs start <= stop and a budget >= 1; "
                            f"{_ADAPTIVE_HELP}")
    _check_end(stop, seg, n_epochs)
    return Adaptive(signal, start, stop, budget)


def parse_schedule(spec: str, n_epochs: int) -> Schedule:
    """Parse ``spec`` for a run of ``n_epochs`` epochs.

    Raises:
        ScheduleError: the text is malformed, an explicit list is not increasing, an
            epoch is negative or past ``n_epochs``, the schedule is empty, or an
            adaptive segment is repeated, follows an unknown signal, or asks for more
            checkpoints than its window has free epochs.
    """
    if n_epochs < 1:
        raise ScheduleError(f"a run needs at least one epoch, got n_epochs={n_epochs}")
    text = spec.replace(" ", "")
    if not text:
        raise ScheduleError(f"the checkpoint schedule is empty; {_HELP}")
    epochs: set[int] = set()
    explicit: list[int] = []
    adaptive: Adaptive | None = None
    for seg in text.split(","):
        if not seg:
            raise ScheduleError(f"empty segment in schedule {spec!r}; {_HELP}")
        if (found := _adaptive(seg, n_epochs)) is not None:
            if adaptive is not None:
                raise ScheduleError(f"schedule {spec!r} has two adaptive segments; a run takes "
                                    "one: merge them into one window with the summed budget")
            adaptive = found
            continue
        for epoch in _segment(seg, n_epochs, explicit):
            _check_end(epoch, seg, n_epochs)
            epochs.add(epoch)
    if adaptive is not None:
        a = adaptive
        free = (a.stop - a.start + 1) - sum(1 for e in epochs | {n_epochs}
                                            if a.start <= e <= a.stop)
        if a.budget > free:
            raise ScheduleError(f"the adaptive budget {a.budget} exceeds the {free} epochs of "
                                f"{a.start}-{a.stop} not already scheduled; lower it to at "
                                f"most {free}")
    return Schedule(spec=spec, epochs=tuple(sorted(epochs)), n_epochs=n_epochs,
                    adaptive=adaptive)


def schedule_from_epochs(epochs: Iterable[int], n_epochs: int) -> Schedule:
    """Build a schedule from an explicit Python list (validated like the text form)."""
    items = list(epochs)
    if any(not isinstance(e, int) or isinstance(e, bool) for e in items):
        raise ScheduleError(f"schedule epochs must be integers, got {items!r}")
    for e in items:
        if e < 0:
            raise ScheduleError(f"schedule epoch {e} is negative; epochs start at 0")
    return parse_schedule(",".join(map(str, items)), n_epochs)
