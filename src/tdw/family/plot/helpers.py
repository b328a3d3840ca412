"""Small column helpers and the curves Compare overlays across variants."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from tdw.family.views import Columns, Trace, ViewContext


def nearest_index(epochs: np.ndarray | Sequence[int], epoch: int) -> int:
    """Index of the epoch in ``epochs`` closest to ``epoch`` (the first of a tie)."""
    return int(np.argmin(np.abs(np.asarray(epochs) - epoch)))


def trend(ctx: ViewContext, analyzer: str, values: Callable[[Any], float]) -> dict[str, list]:
    """Columns ``epoch`` and ``value`` of ``values(artifact)`` across every checkpoint."""
    return {"epoch": list(ctx.epochs),
            "value": [float(values(ctx.load(analyzer, e))) for e in ctx.epochs]}


def marker_at(columns: Mapping[str, Sequence[Any]], epoch: int) -> dict[str, list]:
    """A one-point ``x``/``y`` source on the :func:`trend` ``columns`` nearest ``epoch``."""
    i = nearest_index(columns["epoch"], epoch)
    return {"x": [columns["epoch"][i]], "y": [columns["value"][i]]}


def attribute_trace(label: str, analyzer: str, attr: str, *, log: bool = False) -> Trace:
    """The :class:`Trace` of one scalar attribute of ``analyzer``'s artifacts across every
    checkpoint, e.g. ``attribute_trace("gradient norm", "hessian_spectrum",
    "gradient_norm", log=True)``."""

    def values(ctx: ViewContext):
        return list(ctx.epochs), [ctx.load(analyzer, e).attrs[attr] for e in ctx.epochs]
    return Trace(label, values, log=log)


def line_trace(label: str, lines: Callable[[ViewContext], tuple[Any, Sequence[Any], Any]],
               *, log: bool = False) -> Trace:
    """The :class:`Trace` of a lines view's first line: ``lines(ctx)`` returns ``(xs,
    series, names)`` as :data:`~tdw.family.plot.lines.Lines`, e.g. ``line_trace(
    "circularity", _series)``."""

    def values(ctx: ViewContext):
        xs, series, _ = lines(ctx)
        return xs, series[0]
    return Trace(label, values, log=log)


def column_trace(label: str, data: Callable[[ViewContext], Columns], source: str, y: str, *,
                 x: str = "epoch", log: bool = False) -> Trace:
    """The :class:`Trace` drawn from a view's own columns: ``data(ctx)[source]``'s ``x``
    and ``y``, e.g. ``column_trace("LLC", _llc_data, "llc", "llc")``."""

    def values(ctx: ViewContext):
        columns = data(ctx)[source]
        return columns[x], columns[y]
    return Trace(label, values, log=log)
