"""How the ``tdw`` commands print values: plain-text tables, durations and percentages."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["table", "duration", "pct"]


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
