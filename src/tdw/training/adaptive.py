"""Adaptive checkpoint density: add checkpoints while a training signal moves fast.

An adaptive schedule segment (``adaptive:0-2500/80``, see :mod:`tdw.family.schedule`) gives a
budget of K checkpoints for a window of epochs. The run can only save the epoch it is at,
so the policy decides online, once per epoch, from the signal so far:

1. The signal ``x`` is the declared per-epoch metric (the test loss by default): for a
   loss ``log10(loss)``, so that a change is relative and a fall from 1e-3 to 1e-4 counts
   as much as one from 1 to 0.1 (the grokking drop spans many decades, as in
   :mod:`tdw.library.transition`); for an accuracy, the accuracy itself. A loss that is not
   positive and finite is skipped.
2. It is smoothed causally, ``m_e = m_(e-1) + (x_e - m_(e-1)) / tau`` with
   ``tau = max(1, SMOOTHING * window length)`` epochs, so one noisy epoch does not buy a
   checkpoint.
3. The reference ``r`` is ``m`` at the latest checkpoint in the window, scheduled or
   adaptive (at the window start before there is one): a scheduled checkpoint already
   covers its moment.
4. With ``k`` of the budget spent, epoch ``e`` gets a checkpoint when
   ``|m_e - r| >= scale / (K - k)``, ``scale`` being :data:`LOSS_SCALE` decades for a
   loss or :data:`ACCURACY_SCALE` for an accuracy.

The threshold rises as the budget is spent: the first adaptive checkpoint needs a change
of ``scale / K``, the last one ``scale``. A signal that moves by ``V`` in total therefore
spends about ``K (1 - exp(-V / scale))`` checkpoints: a quiet run keeps most of its
budget, early movement cannot exhaust it (that takes about ``scale * ln K``), and a late
burst such as the grokking drop still gets checkpoints in proportion to its size. The cap
is hard: never more than K adaptive checkpoints. The rule is deterministic, and its state
(:meth:`AdaptivePolicy.state`) is saved with every resume point, so a resumed run makes
the same decisions as an uninterrupted one.

A flat loss that then falls 0.2 decades per epoch, with a budget of 3: the flat stretch
buys nothing, the fall buys all three, at 1, 1.5 and 3 decades apart.

>>> from tdw.family.schedule import Adaptive
>>> policy = AdaptivePolicy(Adaptive("test_loss", 0, 100, budget=3))
>>> loss = [1.0] * 50 + [10 ** (-e / 5) for e in range(51)]
>>> [e for e, v in enumerate(loss) if policy.observe(e, v, scheduled=False) is not None]
[55, 63, 79]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tdw.errors import IntegrityError
from tdw.family.schedule import Adaptive, Schedule, ScheduleRecord

__all__ = ["AdaptivePolicy", "decide", "simulate", "LOSS_SCALE", "ACCURACY_SCALE", "SMOOTHING"]

LOSS_SCALE = 3.0
"""Decades of loss change the budget is planned for: with K checkpoints left, the next one
needs a change of ``LOSS_SCALE / K`` decades."""
ACCURACY_SCALE = 0.5
"""The same for an accuracy signal, in accuracy units."""
SMOOTHING = 0.002
"""Time constant of the causal smoothing, as a fraction of the window length."""


@dataclass
class AdaptivePolicy:
    """The online rule of the module docstring for one adaptive segment.

    Attributes:
        spec: the adaptive segment (signal, window, budget).
        spent: adaptive checkpoints added so far.
        smoothed: the smoothed signal ``m`` after the last observed epoch (None before).
        reference: ``m`` at the latest checkpoint in the window (None before the window).
        epoch: the last observed epoch (-1 before any).
    """

    spec: Adaptive
    spent: int = 0
    smoothed: float | None = None
    reference: float | None = None
    epoch: int = -1

    @property
    def scale(self) -> float:
        return LOSS_SCALE if self.spec.signal.endswith("loss") else ACCURACY_SCALE

    @property
    def tau(self) -> float:
        return max(1.0, SMOOTHING * (self.spec.stop - self.spec.start + 1))

    @property
    def threshold(self) -> float:
        """The change the next adaptive checkpoint needs (infinite once the budget is spent)."""
        left = self.spec.budget - self.spent
        return self.scale / left if left > 0 else math.inf

    def _transform(self, value: float) -> float | None:
        if self.spec.signal.endswith("loss"):
            return math.log10(value) if 0 < value < math.inf else None
        return value if math.isfinite(value) else None

    def observe(self, epoch: int, value: float, scheduled: bool) -> float | None:
        """See the signal ``value`` of ``epoch`` (epochs in increasing order).

        Args:
            epoch: the current epoch.
            value: the signal's metric at this epoch.
            scheduled: this epoch is saved anyway (a fixed segment or the final epoch).

        Returns:
            The threshold the change reached if an adaptive checkpoint is added at this
            epoch, else None.
        """
        if epoch <= self.epoch:
            raise ValueError(f"epochs must increase: {epoch} after {self.epoch}")
        self.epoch = epoch
        if not self.spec.start <= epoch <= self.spec.stop:
            return None
        x = self._transform(float(value))
        if x is not None:
            self.smoothed = x if self.smoothed is None else (
                self.smoothed + (x - self.smoothed) / self.tau)
        if self.smoothed is None:
            return None
        if self.reference is None or scheduled:
            self.reference = self.smoothed
            return None
        threshold = self.threshold
        if abs(self.smoothed - self.reference) < threshold:
            return None
        self.spent += 1
        self.reference = self.smoothed
        return threshold

    def state(self) -> dict[str, Any]:
        """Everything a resumed run needs to decide as this one would (JSON-safe; floats
        round-trip exactly through ``json``)."""
        return {"segment": [self.spec.signal, self.spec.start, self.spec.stop,
                            self.spec.budget],
                "spent": self.spent, "smoothed": self.smoothed, "reference": self.reference,
                "epoch": self.epoch}

    @classmethod
    def from_state(cls, spec: Adaptive, state: dict[str, Any]) -> AdaptivePolicy:
        """The policy as :meth:`state` saved it; the segment must be the same."""
        saved = Adaptive(*state["segment"])
        if saved != spec:
            raise IntegrityError(f"the resume point was written by adaptive segment {saved}, "
                                 f"the run asks for {spec}; retrain with --force")
        return cls(spec, int(state["spent"]), state["smoothed"], state["reference"],
                   int(state["epoch"]))



def decide(policy: AdaptivePolicy | None, epoch: int, scheduled: bool,
           value: Callable[[], float]) -> tuple[str | None, float, float]:
    """Whether epoch ``epoch`` gets a checkpoint, and why.

    Args:
        policy: the run's adaptive policy, or None for a fixed schedule.
        epoch: the current epoch (epochs in increasing order).
        scheduled: the epoch is on the fixed grid (or is the final epoch).
        value: returns the policy's signal at this epoch; called only inside its window
            (on a GPU, reading a metric synchronises with the device).

    Returns:
        ``(reason, signal, threshold)``: the reason (one of
        :data:`~tdw.family.schedule.REASONS`, or None for no checkpoint), the smoothed signal (NaN
        outside the window) and the threshold an adaptive checkpoint reached (else NaN).
    """
    signal = threshold = math.nan
    if policy is not None:
        window = policy.spec.start <= epoch <= policy.spec.stop
        reached = policy.observe(epoch, value() if window else math.nan, scheduled)
        if window and policy.smoothed is not None:
            signal = policy.smoothed
        if reached is not None:
            threshold = reached
    if scheduled:
        return "scheduled", signal, threshold
    return ("adaptive" if not math.isnan(threshold) else None), signal, threshold


def simulate(schedule: Schedule, metrics: Mapping[str, Sequence[float]]) -> ScheduleRecord:
    """The checkpoints ``schedule`` would write for a run with these per-epoch ``metrics``
    (arrays of length ``n_epochs + 1``, as :meth:`~tdw.store.store.Store.load_metrics` returns).

    This is the :class:`~tdw.training.checkpointing.Checkpointer`'s decision, without training: to
    preview an adaptive schedule on a finished run, or to compare schedules on one. A
    stored run's metrics are float32, so near a threshold a preview can differ from what
    a live run (float64) decides by a checkpoint.
    """
    fixed = frozenset(schedule.epochs) | {schedule.n_epochs}
    policy = AdaptivePolicy(schedule.adaptive) if schedule.adaptive else None
    signal = metrics[policy.spec.signal] if policy else ()
    record = ScheduleRecord(schedule.spec)
    for epoch in range(schedule.n_epochs + 1):
        reason, smoothed, threshold = decide(policy, epoch, epoch in fixed,
                                             lambda e=epoch: float(signal[e]))
        if reason is not None:
            record = record.added(epoch, reason, smoothed, threshold)
    return record
