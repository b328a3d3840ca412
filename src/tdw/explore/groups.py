"""Groups of variants, and each group's curves as a mean and a band.

A *group* is the variants that differ only in the parameters pooled over: pooling a
3 x 2 sweep of ``model_seed`` x ``data_seed`` over ``model_seed`` gives two groups of three,
one per data seed. Its curves (the metrics and every view's
:class:`~tdw.family.views.Trace`) are summarised per position by the members' mean and a
band: min to max, or the interquartile range.

Members need not share their epochs. Each member's curve is placed on the group's
positions (the union of the members' epochs, shifted by each member's transition when
aligned on it: :mod:`tdw.explore.align`) by linear interpolation inside the member's own
span, and is absent outside it. A position is drawn where at least half the members are
present, so the band never rests on one member's tail; the count is kept for the page to
show. A curve drawn on a log axis (a loss) is averaged in log space, a geometric mean,
so one member a decade above the others does not set the mean.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tdw.errors import TdwError
from tdw.explore.align import alignment, offset, shared_views
from tdw.explore.variant import Variant

__all__ = ["Group", "Band", "Curve", "BANDS", "varying", "default_pool", "group_variants",
           "band", "group_band", "curves_of", "check_band", "QUORUM"]

BANDS = {"minmax": "min–max", "iqr": "interquartile"}
"""Each band and how the page names it."""

QUORUM = 0.5
"""The share of a group's members that must cover a position for it to be drawn."""


@dataclass(frozen=True)
class Group:
    """Variants that share every varying parameter but the pooled ones.

    Attributes:
        label: the shared values that tell groups apart, e.g. ``"data_seed=1"`` (the
            family's name when nothing tells them apart).
        members: the variants, in the order given.
    """

    label: str
    members: tuple[Variant, ...]

    def __len__(self) -> int:
        return len(self.members)


@dataclass(frozen=True)
class Curve:
    """A curve every member has: a training metric, or a view's
    :class:`~tdw.family.views.Trace`.

    Attributes:
        name: the metric's or view's name.
        title: what the page calls it.
        label: its y axis' label.
        log: drawn on a log y axis (and averaged in log space).
        values: variant -> ``(epochs, values)``.
    """

    name: str
    title: str
    label: str
    log: bool
    values: Callable[[Variant], tuple[Any, Any]]


@dataclass(frozen=True, eq=False)
class Band:
    """A group's curve: per position (``x``), the members' mean, the band's edges and how
    many members are there."""

    x: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    count: np.ndarray

    def columns(self) -> dict[str, np.ndarray]:
        return {"x": self.x, "mean": self.mean, "low": self.low, "high": self.high,
                "count": self.count}


def _values(v: Variant) -> Mapping[str, Any]:
    return {"family": v.family.name, **v.params}


def varying(variants: Sequence[Variant]) -> list[str]:
    """The parameters (and ``family``, when they mix) whose values differ among
    ``variants``, in the first variant's order."""
    names: list[str] = []
    for v in variants:
        names.extend(n for n in _values(v) if n not in names)
    missing = object()
    return [n for n in names
            if len({repr(_values(v).get(n, missing)) for v in variants}) > 1]


def default_pool(variants: Sequence[Variant]) -> list[str]:
    """What to pool over first: the varying parameters named like a seed."""
    return [n for n in varying(variants) if "seed" in n]


def group_variants(variants: Sequence[Variant], pool: Sequence[str]) -> list[Group]:
    """``variants`` in groups, one per combination of the varying parameters not in
    ``pool`` (in order of first appearance); refuses a pooled name that does not vary."""
    vary = varying(variants)
    if unknown := [n for n in pool if n not in vary]:
        raise TdwError(f"cannot pool over {', '.join(unknown)}: "
                       + (f"the parameters that vary here are {', '.join(vary)}" if vary
                          else "these variants differ in no parameter"))
    keys = [n for n in vary if n not in pool]
    groups: dict[tuple[str, ...], list[Variant]] = {}
    for v in variants:
        values = _values(v)
        groups.setdefault(tuple(f"{n}={values.get(n, '-')}" for n in keys), []).append(v)
    name = variants[0].family.name if variants else ""
    return [Group(" · ".join(key) or name, tuple(members)) for key, members in groups.items()]


def check_band(kind: str) -> str:
    """``kind`` if it names a band; else a refusal naming the choices."""
    if kind not in BANDS:
        raise TdwError(f"unknown band {kind!r}: use one of {', '.join(BANDS)}")
    return kind


def band(curves: Sequence[tuple[Any, Any]], kind: str = "minmax", *, log: bool = False,
         quorum: float = QUORUM) -> Band:
    """The mean and band of ``curves`` (each ``(x, y)``, x increasing or not) on the union
    of their x (see the module docstring).

    Non-finite values, and non-positive ones when ``log``, are left out, and a member is
    interpolated across such a gap: a loss that diverged to NaN mid-run, or underflowed to
    0, leaves the member out of the band where it happened (the hover's member count shows
    it) rather than dragging the mean."""
    check_band(kind)
    kept = []
    for x, y in curves:
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        ok = np.isfinite(x) & np.isfinite(y) & ((y > 0) if log else True)
        order = np.argsort(x[ok], kind="stable")
        x, y = x[ok][order], y[ok][order]
        if x.size:
            kept.append((x, np.log10(y) if log else y))
    if not kept:
        return Band(*(np.zeros(0) for _ in range(4)), np.zeros(0, dtype=np.int64))
    grid = np.unique(np.concatenate([x for x, _ in kept]))
    table = np.full((len(curves), grid.size), np.nan)
    for row, (x, y) in enumerate(kept):
        inside = (grid >= x[0]) & (grid <= x[-1])
        table[row, inside] = np.interp(grid[inside], x, y)
    count = np.isfinite(table).sum(axis=0)
    shown = count >= max(1, math.ceil(quorum * len(curves)))
    grid, table, count = grid[shown], table[:, shown], count[shown]
    with warnings.catch_warnings():  # every column kept has a member
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(table, axis=0)
        if kind == "minmax":
            low, high = np.nanmin(table, axis=0), np.nanmax(table, axis=0)
        else:
            low, high = np.nanpercentile(table, [25, 75], axis=0)
    if log:
        mean, low, high = 10 ** mean, 10 ** low, 10 ** high
    return Band(grid, mean, low, high, count.astype(np.int64))


def _metrics(v: Variant) -> Mapping[str, Any]:
    try:
        return v.metrics()
    except TdwError:  # a variant imported without its training metrics
        return {}


def curves_of(variants: Sequence[Variant]) -> list[Curve]:
    """The curves every one of ``variants`` has: the training metrics they all recorded,
    then the traces of the views they all have analysed (a trace of a metric already
    listed is not repeated, and a view that reads the metrics is left out unless every
    variant has them)."""
    metrics = [_metrics(v) for v in variants]
    shared = sorted((n for n in metrics[0] if all(n in m for m in metrics[1:])),
                    key=lambda n: ("loss" not in n, "acc" not in n, not n.startswith("train"), n))
    curves = [Curve(n, n.replace("_", " "), n.replace("_", " "), n.endswith("loss"),
                    lambda v, n=n: (np.arange(len(v.metrics()[n])), v.metrics()[n]))
              for n in shared]
    labels = {c.label for c in curves}
    for name in shared_views(list(variants)):
        view = variants[0]._view(name)
        if (view.trace is None or view.trace.label in labels
                or ("metrics" in view.reads and not all(metrics))):
            continue
        labels.add(view.trace.label)
        curves.append(Curve(name, view.title, view.trace.label, view.trace.log,
                            lambda v, t=view.trace: t.values(v.context(v.epochs[-1]))))
    return curves


def group_band(group: Group, curve: Curve, align: str, kind: str = "minmax", *,
               cache: dict[tuple[str, str], tuple[Any, Any]] | None = None) -> Band:
    """The band of ``curve`` over ``group``'s members, each shifted by its offset under
    ``align`` (its transition, or 0). ``cache`` keeps each member's ``(x, y)`` by
    ``(curve name, variant id)`` for the next call (they change with neither the band,
    the alignment nor the grouping)."""
    align = alignment(align)
    cache = {} if cache is None else cache
    curves = []
    for v in group.members:
        key = (curve.name, v.id)
        if key not in cache:
            cache[key] = curve.values(v)
        x, y = cache[key]
        curves.append((np.asarray(x, dtype=np.float64) - offset(v, align), y))
    return band(curves, kind, log=curve.log)
