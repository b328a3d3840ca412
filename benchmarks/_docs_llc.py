"""The figures of Modulo Addition's quick preset that need the LLC sampler: the local
learning coefficient itself and the phase-change detector that reads it as a signal.

A plain ``--check`` leaves them to ``--check --full`` (the sampler is most of the
analysis time); a rewrite computes them like any other.
"""

from __future__ import annotations

from benchmarks._docs_figures import (
    FigureError,
    attr,
    attr_figure,
    confidence,
    count,
    figure,
    lo_hi,
    num,
    pct,
    peak_figures,
    series,
    span,
)
from benchmarks._docs_runs import RunData


def _signal(run: RunData, arg: str | None) -> int:
    signals = attr(run, "phase_change", "signals")
    name = (arg or "").replace("_", " ")
    if name not in signals:
        raise FigureError(f"phase_change has no signal {name!r}: {signals}")
    return signals.index(name)


def _phase(run: RunData, array: str, arg: str | None):
    return run.variant.artifact("phase_change")[array][_signal(run, arg)]


@figure("phase_onset", needs=("phase_change",))
def _phase_onset(run: RunData, arg: str | None) -> str:
    return count(attr(run, "phase_change", "transition_epoch"))


attr_figure("phase_confidence", "phase_change", "confidence", confidence)
attr_figure("phase_summary", "phase_change", "summary", str)


@figure("phase_steepest", needs=("phase_change",))
def _phase_steepest(run: RunData, arg: str | None) -> str:
    return count(int(_phase(run, "steepest_epoch", arg)))


@figure("phase_decades", needs=("phase_change",))
def _phase_decades(run: RunData, arg: str | None) -> str:
    return f"{float(_phase(run, 'change', arg)):.1f}"


@figure("phase_span", needs=("phase_change",))
def _phase_span(run: RunData, arg: str | None) -> str:
    return span(int(_phase(run, "onset_epoch", arg)), int(_phase(run, "end_epoch", arg)))


@figure("phase_bulk", needs=("phase_change",))
def _phase_bulk(run: RunData, arg: str | None) -> str:
    first, last = (int(e) for e in _phase(run, "bulk_epochs", arg))
    return span(first, last)


attr_figure("llc", "llc", "llc_mean", num)
peak_figures("llc_peak", "llc", "llc_mean")


@figure("llc_spread", needs=("llc",))
def _llc_spread(run: RunData, arg: str | None) -> str:
    """The spread over chains (``llc_std``), lowest-highest over the checkpoints in ``arg``."""
    return lo_hi(series(run, "llc", "llc_std", arg).values())


@figure("llc_spread_max", needs=("llc",))
def _llc_spread_max(run: RunData, arg: str | None) -> str:
    return num(max(series(run, "llc", "llc_std", arg).values()))


@figure("llc_drift", needs=("llc",))
def _llc_drift(run: RunData, arg: str | None) -> str:
    """The chains' drift: at one checkpoint, or lowest-highest over a range ``a-b``."""
    if arg and "-" in arg:
        return lo_hi(series(run, "llc", "drift", arg).values())
    return num(attr(run, "llc", "drift", arg))


@figure("llc_drift_share", needs=("llc",))
def _llc_drift_share(run: RunData, arg: str | None) -> str:
    """The drift as a share of the estimate, lowest-highest over the range ``arg``."""
    drift, mean = series(run, "llc", "drift", arg), series(run, "llc", "llc_mean", arg)
    shares = [drift[e] / mean[e] for e in drift]
    return f"{100 * min(shares):.0f}-{pct(max(shares))}"


def _sgld(run: RunData) -> dict:
    return attr(run, "llc", "sgld", str(run.variant.epochs[-1]))


@figure("llc_nbeta", needs=("llc",))
def _llc_nbeta(run: RunData, arg: str | None) -> str:
    return f"{attr(run, 'llc', 'nbeta', str(run.variant.epochs[-1])):.0f}"


@figure("llc_n_train", needs=("llc",))
def _llc_n_train(run: RunData, arg: str | None) -> str:
    return count(attr(run, "llc", "n_train", str(run.variant.epochs[-1])))


@figure("llc_passes", needs=("llc",))
def _llc_passes(run: RunData, arg: str | None) -> str:
    sgld = _sgld(run)
    return str(sgld["chains"] * (sgld["burnin"] + sgld["draws"]))


