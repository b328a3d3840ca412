"""The benchmark table: printed to the terminal and written as ``docs/benchmarks.md``."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Sequence

import torch

from benchmarks._measure import Row

__all__ = ["machine", "table", "markdown"]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{cpu}; {os.cpu_count()} cores; torch {torch.__version__} with "
            f"{torch.get_num_threads()} threads; Python {platform.python_version()}; "
            f"load average at the end {load}")


def _figure(row: Row) -> tuple[str, str, str]:
    ours = row.tdw.text(row.unit) if row.tdw else ""
    ref = row.ref.text(row.unit) if row.ref else ""
    ratio = f"{row.ratio:.2f}x" if row.ratio is not None else ""
    if row.value:
        ratio = f"{ratio}; {row.value}" if ratio else row.value
    return ours, ref, ratio


def _verdict(row: Row) -> str:
    return {True: "met", False: "NOT met", None: "-"}[row.met]


def table(rows: Sequence[Row]) -> str:
    lines = []
    for row in rows:
        ours, ref, ratio = _figure(row)
        lines.append(f"- {row.figure}\n    tdw {ours or '-'} | reference {ref or '-'} | "
                     f"{ratio or '-'} | target {row.target}: {_verdict(row)}")
    return "\n".join(lines)


def markdown(rows: Sequence[Row], *, repeat: int, notes: str) -> str:
    out = ["# Benchmarks", "",
           "Written by `python -m benchmarks` (do not edit the table by hand; edit "
           "`benchmarks/notes.md`, which is appended below it).", "",
           f"- measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
           f"- machine: {machine()}",
           f"- each timed figure: median of {repeat} runs (min-max); tdw and its reference are "
           "run alternately in the same process, so the ratio holds when the machine's load "
           "does not", "",
           "| figure | reference | tdw | reference time | ratio / value | target | "
           "peak RSS | agreement checked before timing |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        ours, ref, ratio = _figure(row)
        rss = f"{row.peak_rss_mb:.0f} MB" if row.peak_rss_mb else ""
        out.append(f"| {row.figure} | {row.reference} | {ours} | {ref} | {ratio} | "
                   f"{row.target}: **{_verdict(row)}** | {rss} | {row.agreement} |")
    notes_rows = [f"- **{row.figure}**: {row.note}" for row in rows if row.note]
    if notes_rows:
        out += ["", "## What each figure does", "", *notes_rows]
    if notes.strip():
        out += ["", notes.strip()]
    return "\n".join(out) + "\n"
