"""How the ``tdw`` commands print values: plain-text tables, durations and percentages,
and the JSON their ``--json`` option prints."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["table", "duration", "pct", "jsonable", "print_json"]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned columns under a dashed rule; None prints as an empty cell."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def duration(seconds: float | None) -> str:
    """``1h02m``, ``3m05s`` or ``7s`` (rounded to the second); ``-`` when unknown."""
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def pct(value: float | None) -> str:
    """A fraction as ``97.3%``; ``-`` when unknown."""
    return "-" if value is None else f"{100 * value:.1f}%"


def jsonable(value: Any) -> Any:
    """``value`` in JSON's types: numpy numbers as numbers, arrays and tuples as lists, NaN
    and infinities as None (JSON has no NaN), anything else unknown (a path) as its text.

    >>> jsonable({"acc": np.float32(0.5), "loss": float("nan"), "epochs": (0, np.int64(10))})
    {'acc': 0.5, 'loss': None, 'epochs': [0, 10]}
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [jsonable(v) for v in value]
    return str(value)


def print_json(value: Any) -> None:
    """Print ``value`` (see :func:`jsonable`) as indented, strictly valid JSON."""
    print(json.dumps(jsonable(value), indent=2, allow_nan=False))
