"""The figures the docs quote, by name: each is one value of one run, as the docs print it.

A figure is a function ``(run, arg) -> str`` registered with :func:`figure`, declaring the
run it reads (a name in :data:`benchmarks._docs_runs.RUNS`, or a function of the argument),
the analyzers whose artifacts it reads (``ALL`` for every one), and whether it is
*measured* (a time, a load average, the number of cores: it changes from run to run) or
deterministic (the same preset gives the same value on this CPU build). A template writes
``{name}`` or ``{~name}``, with ``@arg`` where the figure takes one (an epoch, ``end``,
``memorised``, ``generalised`` or ``transition``; an epoch range ``a-b``; a signal; a seed).

Epoch arguments name checkpoints for artifacts and any epoch for per-epoch metrics.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from benchmarks._docs_runs import RunData
from tdw.library.story import tell

__all__ = ["Figure", "FIGURES", "FigureError", "NotMeasured", "ALL", "figure",
           "figure_per_run", "attr_figure", "peak_figures", "two"]

ALL = "*"
"""In ``needs``: every analyzer of the run's family (a figure about the whole analysis)."""


class FigureError(ValueError):
    """A figure cannot be computed from its run (a bad argument, a missing checkpoint)."""


class NotMeasured(LookupError):
    """A measured figure whose step this process did not make (a reused store)."""


@dataclass(frozen=True)
class Figure:
    """A named value (see the module docstring)."""

    name: str
    run: Callable[[str | None], str]
    needs: tuple[str, ...]
    compute: Callable[[RunData, str | None], str]
    measured: bool


FIGURES: dict[str, Figure] = {}


def figure_per_run(prefixes: Mapping[str, str], name: str, *,
                   needs: tuple[str, ...] = ()) -> Callable:
    """Register the decorated ``fn(run, arg) -> str`` once per run: as ``{prefix}{name}``,
    reading run ``prefixes[prefix]``, for each prefix (a family's runs share its figures)."""
    def register(fn: Callable[[RunData, str | None], str]) -> Callable:
        for prefix, run in prefixes.items():
            figure(prefix + name, needs=needs, run=run)(fn)
        return fn
    return register


def figure(name: str, *, needs: tuple[str, ...] = (), run: str | Callable = "quick",
           measured: bool = False) -> Callable:
    """Register the decorated ``fn(run, arg) -> str`` as figure ``name``."""
    def register(fn: Callable[[RunData, str | None], str]) -> Callable:
        if name in FIGURES:
            raise ValueError(f"figure {name!r} is registered twice")
        which = run if callable(run) else (lambda arg: run)
        FIGURES[name] = Figure(name, which, needs, fn, measured)
        return fn
    return register


# ------------------------------------------------------------------------- formatting

def count(n: int | None) -> str:
    """``1,588``; ``never`` for None."""
    return "never" if n is None else f"{int(n):,}"


def two(x: float) -> str:
    """Two decimals (a score, a share, nats): ``0.13``, ``-2.85``."""
    return f"{float(x):.2f}"


def pct(x: float, digits: int = 0) -> str:
    return f"{100 * float(x):.{digits}f}%"


def num(x: float) -> str:
    """Two significant digits (three from 10), ``6.9e-7`` below 0.001.

    >>> [num(x) for x in (6.94e-7, 0.0086, 0.19, 5.96, 10.36, 139.9, 2345.6)]
    ['6.9e-7', '0.0086', '0.19', '6.0', '10.4', '140', '2,346']
    """
    x = float(x)
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    if abs(x) < 1e-3:
        mantissa, exponent = f"{x:.1e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.3g}" if abs(x) >= 10 else f"{x:.1f}" if abs(x) >= 1 else f"{x:.2g}"


def listing(items: list) -> str:
    """``9, 10 and 11``; ``none`` when empty."""
    words = [str(i) for i in items]
    return "none" if not words else (words[0] if len(words) == 1
                                     else ", ".join(words[:-1]) + " and " + words[-1])


def span(first: int, last: int) -> str:
    return f"{count(first)}-{count(last)}"


def minutes(seconds: float) -> str:
    """``2 min 36 s`` (``36 s`` under a minute)."""
    m, s = divmod(int(round(seconds)), 60)
    return f"{m} min {s} s" if m else f"{s} s"


# -------------------------------------------------------------------------- reading runs

def story(run: RunData):
    return tell(run.variant.metrics(), run.variant.record.n_epochs)


def epoch(run: RunData, arg: str | None) -> int:
    """An epoch argument: a number, ``end``, or the run's ``memorised``, ``generalised``
    or ``transition`` epoch (:func:`tdw.library.story.tell`)."""
    if arg is None:
        raise FigureError("this figure needs an epoch: NAME@EPOCH")
    if arg.isdigit():
        return int(arg)
    if arg == "end":
        return run.variant.record.n_epochs
    if arg in ("memorised", "generalised", "transition"):
        found = getattr(story(run), f"{arg}_epoch")
        if found is None:
            raise FigureError(f"{run.variant.id} has no {arg} epoch")
        return int(found)
    raise FigureError(f"not an epoch: {arg!r}")


def checkpoint(run: RunData, arg: str | None) -> int:
    e = epoch(run, arg)
    if e not in run.variant.epochs:
        raise FigureError(f"epoch {e} is not a checkpoint of {run.variant.id}")
    return e


def epochs_in(run: RunData, arg: str | None) -> list[int]:
    """The checkpoints in an inclusive range argument ``a-b`` (``b`` may be ``end``)."""
    first, _, last = (arg or "").partition("-")
    lo, hi = epoch(run, first), epoch(run, last)
    inside = [e for e in run.variant.epochs if lo <= e <= hi]
    if not inside:
        raise FigureError(f"no checkpoint of {run.variant.id} in {arg}")
    return inside


def attr(run: RunData, analyzer: str, name: str, arg: str | None = None):
    """Attribute ``name`` of ``analyzer``'s artifact (at checkpoint ``arg`` if per epoch)."""
    at = None if arg is None else checkpoint(run, arg)
    return run.variant.artifact(analyzer, at).attrs[name]


def timing(run: RunData, key: str):
    if key not in run.timings:
        raise NotMeasured(f"{key} of run {run.name} was not measured in this process")
    return run.timings[key]


def series(run: RunData, analyzer: str, name: str, arg: str | None) -> dict[int, float]:
    """``name`` of ``analyzer`` at each checkpoint of range ``arg`` (every one if None)."""
    epochs = run.variant.epochs if arg is None else epochs_in(run, arg)
    return {e: float(run.variant.artifact(analyzer, e).attrs[name]) for e in epochs}


def lo_hi(values, fmt: Callable[[float], str] = num) -> str:
    return f"{fmt(min(values))}-{fmt(max(values))}"


def peak(values: dict[int, float]) -> int:
    return max(values, key=values.get)


def attr_figure(name: str, analyzer: str, attribute: str, fmt: Callable[..., str]) -> None:
    """Register figure ``name``: ``fmt`` of ``analyzer``'s attribute ``attribute``, at the
    checkpoint the argument names when the analyzer runs per checkpoint."""
    figure(name, needs=(analyzer,))(lambda run, arg: fmt(attr(run, analyzer, attribute, arg)))


def peak_figures(name: str, analyzer: str, attribute: str) -> None:
    """Register ``name``, the highest ``attribute`` of ``analyzer`` over the checkpoints,
    and ``name_epoch``, the checkpoint where it is."""
    figure(name, needs=(analyzer,))(
        lambda run, arg: num(max(series(run, analyzer, attribute, None).values())))
    figure(f"{name}_epoch", needs=(analyzer,))(
        lambda run, arg: count(peak(series(run, analyzer, attribute, None))))


def confidence(x: float) -> str:
    return f"{x:.2f}"
