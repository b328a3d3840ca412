"""Curve smoothing: TensorBoard's debiased exponential moving average, in Python and in JS.

:func:`ema` is what a curve view draws in a notebook, an exported image and the first
drawing of a page; :data:`EMA_JS` is the same function for the browser, which redraws the
smoothed curve while the reader drags the smoothing slider
(:mod:`tdw.family.plot.curve_scale`). Both follow one definition:

* **Over points.** The weight applies from one point of the series to the next, whatever
  the x distance between them, as TensorBoard smooths: a per-epoch metric is smoothed per
  epoch, a series over checkpoints per checkpoint. (Checkpoints are often spaced
  unevenly; weighting by x distance would leave the dense early checkpoints averaged and
  the sparse late ones untouched, and one weight would mean something else on each view.)
* **Debiased.** ``s_n = m_n / (1 - w ** n)`` with ``m_n = w * m_(n-1) + (1 - w) * y_n`` and
  ``m_0 = 0``, over the ``n`` finite points so far: the first point is itself, not pulled
  towards 0. The result is a weighted mean of the finite points so far, so it stays
  within their range (on a log axis as well).
* **Gaps stay gaps.** A point that is missing or not finite (None, NaN, ±inf) is skipped:
  it neither moves the average nor counts in ``n``, and the smoothed series has a gap
  (NaN) there too.
* ``w = 0`` gives the series itself; the weight must be below 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tdw.errors import ParameterError

__all__ = ["ema", "smooth_column", "EMA_JS", "MAX_WEIGHT"]

MAX_WEIGHT = 0.99
"""The largest weight a page offers (1 would freeze the curve at its first point)."""


def ema(values: Sequence[Any] | np.ndarray, weight: float) -> np.ndarray:
    """The debiased exponential moving average of ``values`` over points (module docstring).

    Args:
        values: one series; None, NaN and ±inf are gaps.
        weight: how much of the average each point keeps, from 0 (no smoothing) to below 1.

    Returns:
        A float64 array as long as ``values``, NaN where ``values`` has a gap.

    >>> ema([1.0, None, 3.0], 0.5).tolist()
    [1.0, nan, 2.3333333333333335]
    """
    if isinstance(weight, bool) or not 0 <= weight < 1:
        raise ParameterError(f"smoothing weight {weight!r} is out of range: choose a decimal "
                             f"from 0 (no smoothing) to {MAX_WEIGHT}")
    ys = np.asarray(values, dtype=np.float64).ravel().tolist()
    out = [math.nan] * len(ys)
    mean, n = 0.0, 0
    for i, y in enumerate(ys):
        if not math.isfinite(y):
            continue
        mean = weight * mean + (1 - weight) * y
        n += 1
        out[i] = mean / (1 - weight ** n)
    return np.asarray(out, dtype=np.float64)


def smooth_column(column: Any, weight: float) -> Any:
    """:func:`ema` of one column of a source: of each line of a ``multi_line`` column (a
    list of series, returned as a list of lists), else of the column itself (an array)."""
    if _nested(column):
        return [ema(line, weight).tolist() for line in column]
    return ema(column, weight)


def _nested(column: Any) -> bool:
    if isinstance(column, np.ndarray):
        return column.ndim > 1
    return any(np.ndim(v) > 0 for v in column)


EMA_JS = """
// The debiased EMA over points of tdw.family.plot.smoothing.ema: gaps (null, NaN, +-inf)
// are skipped and stay gaps.
const tdwEma = (ys, w) => {
  const out = new Float64Array(ys.length);
  let mean = 0, n = 0;
  for (let i = 0; i < ys.length; i++) {
    const y = ys[i];
    if (y == null || !Number.isFinite(y)) { out[i] = NaN; continue; }
    mean = w * mean + (1 - w) * y;
    n += 1;
    out[i] = mean / (1 - Math.pow(w, n));
  }
  return out;
};
// A column of a source: a list of lines (multi_line) or one series.
const tdwNested = (column) => column.length > 0 && column[0] != null &&
  typeof column[0] === "object" && column[0].length !== undefined;
const tdwSmoothColumn = (column, w) => (tdwNested(column) ?
  Array.from(column, (line) => Array.from(tdwEma(line, w))) : tdwEma(column, w));
"""
"""The browser's twin of :func:`ema` and :func:`smooth_column` (``tdwEma``,
``tdwSmoothColumn``)."""
