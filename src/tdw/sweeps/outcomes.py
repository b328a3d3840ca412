"""Outcomes of a variant that a sweep map plots against the swept parameters.

An :class:`Outcome` reads one number of a variant: its final test accuracy (from the
catalog), the epoch and confidence of its detected transition (the family's
``transition`` analyzer), its final LLC (``llc_mean`` of the ``llc`` artifact at the last
checkpoint analysed) and, for each of the family's ``summaries``, the value at the last
checkpoint (a list counts its entries, e.g. Modulo Addition's key frequencies). A variant
that lacks an outcome gets NaN and the reason (``not trained``, ``not analysed``, ...), so a
map can say why a point is missing instead of dropping it silently.

>>> [o.name for o in outcomes_for(None)]
['final test accuracy', 'transition epoch', 'transition confidence', 'final LLC']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tdw.errors import IntegrityError, TdwError, UnknownNameError
from tdw.explore.variant import Variant
from tdw.family.family import Family, analyzers_of
from tdw.store.store import Store

__all__ = ["Outcome", "Missing", "Measured", "OUTCOMES", "outcomes_for", "outcome",
           "measure"]

LLC = "llc"
"""The analyzer whose ``llc_mean`` is the final LLC."""


class Missing(Exception):  # noqa: N818 (a reason, not a failure)
    """Raised by an outcome's reader: the variant has no such number, for this reason."""


@dataclass(frozen=True)
class Outcome:
    """One number of a variant.

    Attributes:
        name: what the map's selector lists and its axis or colour bar says.
        read: ``Variant -> float``; raises :class:`Missing` with the reason when the variant
            has no such number.
        percent: the value is a fraction drawn as a percentage.
    """

    name: str
    read: Callable[[Variant], float]
    percent: bool = False


def _test_accuracy(variant: Variant) -> float:
    value = variant.record.final_test_acc
    if value is None:
        raise Missing("not trained")
    return float(value)


def _readable(variant: Variant, analyzer: str, epoch: int | None) -> Any:
    """The artifact, or :class:`Missing` with one reason for every variant alike (the
    store's message names the variant: a map counts reasons)."""
    try:
        return variant.artifact(analyzer, epoch)
    except IntegrityError:
        raise Missing("damaged: run tdw verify") from None
    except TdwError:  # an older version or schema of the analyzer
        raise Missing("out of date: re-run tdw analyze") from None


def _turn(index: int) -> Callable[[Variant], float]:
    def read(variant: Variant) -> float:
        name = variant.family.transition
        if name is None:
            raise Missing(f"{variant.family.name} detects no transition")
        if -1 not in variant.store.artifact_epochs(variant.id).get(name, set()):
            raise Missing("not analysed")
        attrs = _readable(variant, name, None).attrs
        if attrs.get("transition_epoch") is None:
            raise Missing("no transition found")
        return float(attrs["transition_epoch"] if index == 0 else attrs["confidence"])
    return read


def _last_artifact(variant: Variant, analyzer: str) -> Any:
    """The artifact of per-checkpoint ``analyzer`` at the last checkpoint analysed."""
    epochs = variant.store.artifact_epochs(variant.id).get(analyzer)
    if not epochs:
        raise Missing("not analysed")
    return _readable(variant, analyzer, max(epochs))


def _llc(variant: Variant) -> float:
    if LLC not in analyzers_of(variant.family):
        raise Missing(f"{variant.family.name} has no {LLC} analyzer")
    return float(_last_artifact(variant, LLC).attrs["llc_mean"])


def _summary(analyzer: str, attr: str) -> Callable[[Variant], float]:
    def read(variant: Variant) -> float:
        value = _last_artifact(variant, analyzer).attrs.get(attr)
        if value is None:
            raise Missing(f"no {attr}")
        return float(len(value)) if isinstance(value, list | tuple) else float(value)
    return read


OUTCOMES = (
    Outcome("final test accuracy", _test_accuracy, percent=True),
    Outcome("transition epoch", _turn(0)),
    Outcome("transition confidence", _turn(1)),
    Outcome("final LLC", _llc),
)
"""The outcomes every family's variants have (or say why not)."""


def outcomes_for(family: Family | None) -> list[Outcome]:
    """:data:`OUTCOMES`, then one per ``summaries`` entry of ``family`` (a list-valued
    summary as ``number of <label>``)."""
    out = list(OUTCOMES)
    for label, analyzer, attr in family.summaries if family is not None else ():
        out.append(Outcome(f"number of {label}", _summary(analyzer, attr)))
    return out


def outcome(family: Family | None, name: str) -> Outcome:
    """The outcome called ``name`` for ``family``'s variants.

    Raises:
        UnknownNameError: no such outcome; the error lists the known ones.
    """
    known = outcomes_for(family)
    for candidate in known:
        if candidate.name == name:
            return candidate
    raise UnknownNameError("sweep outcome", name, [o.name for o in known])


@dataclass(frozen=True)
class Measured:
    """One outcome of several variants, in their order.

    Attributes:
        outcome: what was measured.
        values: the numbers, NaN where a variant lacks the outcome.
        reasons: why each value is NaN (empty where it is a number).
    """

    outcome: Outcome
    values: tuple[float, ...]
    reasons: tuple[str, ...]

    def missing(self) -> dict[str, int]:
        """Reason -> how many variants lack the outcome for it."""
        counts: dict[str, int] = {}
        for reason in self.reasons:
            if reason:
                counts[reason] = counts.get(reason, 0) + 1
        return counts


def measure(store: Store, variants: Sequence[str], wanted: Outcome) -> Measured:
    """``wanted`` of each of ``variants`` (ids; one not in the catalog yet is ``not
    started``)."""
    values, reasons = [], []
    for vid in variants:
        try:
            variant = Variant(vid, store)
        except TdwError:
            values.append(math.nan)
            reasons.append("not started")
            continue
        try:
            value = wanted.read(variant)
            reason = "" if math.isfinite(value) else "not a finite number"
        except Missing as exc:
            value, reason = math.nan, str(exc)
        values.append(value if not reason else math.nan)
        reasons.append(reason)
    return Measured(wanted, tuple(values), tuple(reasons))
