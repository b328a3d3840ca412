"""Checkpoint schedules: which epochs of a training run are saved.

A schedule is written as comma-separated segments:

=====================  ====================================================
``500``                one epoch
``0-1500/100``         a range with a step, both ends included when on the grid
``log:1-25000/40``     40 log-spaced epochs from 1 to 25000 (rounded, deduplicated)
``end``                the final epoch of the run
=====================  ====================================================

Segments may overlap (a dense window inside a coarse range); the result is the sorted
union. An explicit list must be increasing, and every epoch must lie in
``0..n_epochs``: a typo is an error, never silently dropped.

>>> parse_schedule("0-1000/250,end", n_epochs=1200).epochs
(0, 250, 500, 750, 1000, 1200)
>>> parse_schedule("log:1-1000/4", n_epochs=1000).epochs
(1, 10, 100, 1000)
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from tdw.errors import ScheduleError

__all__ = ["Schedule", "parse_schedule", "schedule_from_epochs"]

_RANGE = re.compile(r"^(\d+)-(\d+)/(\d+)$")
_LOG = re.compile(r"^log:(\d+)-(\d+)/(\d+)$")
_HELP = "write e.g. '0-1500/100,1500-9000/500,end', 'log:1-25000/40' or '0,10,100'"


@dataclass(frozen=True)
class Schedule:
    """A parsed checkpoint schedule.

    Attributes:
        spec: the text it was parsed from (kept so the run records what was asked).
        epochs: the sorted, deduplicated epochs at which checkpoints are written.
        n_epochs: the length of the run the schedule was validated against.
    """

    spec: str
    epochs: tuple[int, ...]
    n_epochs: int

    def __contains__(self, epoch: int) -> bool:
        return epoch in self._set

    @property
    def _set(self) -> frozenset[int]:
        return frozenset(self.epochs)


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


def parse_schedule(spec: str, n_epochs: int) -> Schedule:
    """Parse ``spec`` for a run of ``n_epochs`` epochs.

    Raises:
        ScheduleError: the text is malformed, an explicit list is not increasing, an
            epoch is negative or past ``n_epochs``, or the schedule is empty.
    """
    if n_epochs < 1:
        raise ScheduleError(f"a run needs at least one epoch, got n_epochs={n_epochs}")
    text = spec.replace(" ", "")
    if not text:
        raise ScheduleError(f"the checkpoint schedule is empty; {_HELP}")
    epochs: set[int] = set()
    explicit: list[int] = []
    for seg in text.split(","):
        if not seg:
            raise ScheduleError(f"empty segment in schedule {spec!r}; {_HELP}")
        for epoch in _segment(seg, n_epochs, explicit):
            _check_end(epoch, seg, n_epochs)
            epochs.add(epoch)
    return Schedule(spec=spec, epochs=tuple(sorted(epochs)), n_epochs=n_epochs)


def schedule_from_epochs(epochs: Iterable[int], n_epochs: int) -> Schedule:
    """Build a schedule from an explicit Python list (validated like the text form)."""
    items = list(epochs)
    if any(not isinstance(e, int) or isinstance(e, bool) for e in items):
        raise ScheduleError(f"schedule epochs must be integers, got {items!r}")
    for e in items:
        if e < 0:
            raise ScheduleError(f"schedule epoch {e} is negative; epochs start at 0")
    return parse_schedule(",".join(map(str, items)), n_epochs)
