"""The figures of Induction Heads' README (``families/induction_heads/README.md``): the
quick preset (``ih_quick``) and its plain-random control (``ih_control``, the quick preset
with ``repeat_fraction = 0``). The templates of the README's blocks are in
:mod:`benchmarks._docs_induction_templates`.

Every figure is registered twice, as ``ih_NAME`` for the quick run and ``ihc_NAME`` for the
control (:func:`both`). An epoch argument is a number, ``end``, or one end of the quick
run's induction-score jump as its ``phase_change`` finds it: ``onset`` (the family's
transition) or ``top`` (the jump's last epoch).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import numpy as np

from benchmarks._docs_figures import (
    FigureError,
    checkpoint,
    count,
    epoch,
    figure,
    figure_per_run,
    listing,
    minutes,
    num,
    peak,
    series,
    span,
    timing,
    two,
)
from benchmarks._docs_modulo import metric_figure as metric
from benchmarks._docs_runs import RunData
from benchmarks._docs_times import timing_figures

__all__ = ["TEMPLATES", "RUNS", "PREVIOUS_TOKEN", "both", "at_epoch", "two", "signal_jump"]

RUNS = {"ih": "ih_quick", "ihc": "ih_control"}
"""Figure-name prefix -> the run its figures read."""
PREVIOUS_TOKEN = 0.3
"""A layer-0 head whose previous-token score ends above this is a previous-token head."""
INDUCTION = "induction score"
"""The primary signal of the family's ``phase_change``."""

Compute = Callable[[RunData, "str | None"], str]


def both(name: str, *, needs: tuple[str, ...] = ()) -> Callable[[Compute], Compute]:
    """Register the decorated figure for each run of :data:`RUNS` (``ih_NAME``,
    ``ihc_NAME``)."""
    return figure_per_run({f"{prefix}_": run for prefix, run in RUNS.items()}, name,
                          needs=needs)


# ------------------------------------------------------------------------- the jump

def _phase(run: RunData):
    return run.variant.artifact("phase_change")


def _signal_index(run: RunData, signal: str) -> int:
    names = _phase(run).attrs["signals"]
    if signal not in names:
        raise FigureError(f"phase_change has no signal {signal!r}: {names}")
    return names.index(signal)


def signal_jump(run: RunData, signal: str = INDUCTION) -> tuple[int, int, int] | None:
    """(onset, steepest, end) epochs of ``signal``'s jump, or None without one."""
    art, i = _phase(run), _signal_index(run, signal)
    if not art["detected"][i]:
        return None
    return (int(art["onset_epoch"][i]), int(art["steepest_epoch"][i]),
            int(art["end_epoch"][i]))


def _resolve(run: RunData, arg: str | None) -> str | None:
    """``arg`` with ``onset`` and ``top`` replaced by the epochs they name."""
    if arg not in ("onset", "top"):
        return arg
    jump = signal_jump(run)
    if jump is None:
        raise FigureError(f"{run.variant.id} has no induction-score jump")
    return str(jump[0] if arg == "onset" else jump[2])


def at_epoch(run: RunData, arg: str | None) -> int:
    """An epoch argument (see the module docstring)."""
    return epoch(run, _resolve(run, arg))


def _checkpoint(run: RunData, arg: str | None) -> int:
    return checkpoint(run, _resolve(run, arg))


def _attr(run: RunData, analyzer: str, name: str, arg: str | None):
    return run.variant.artifact(analyzer, _checkpoint(run, arg)).attrs[name]


@both("onset", needs=("phase_change",))
def _onset(run: RunData, arg: str | None) -> str:
    """The family's transition: the onset of the induction-score jump, or ``none``."""
    jump = signal_jump(run)
    return "none" if jump is None else count(jump[0])


@both("summary", needs=("phase_change",))
def _summary(run: RunData, arg: str | None) -> str:
    return str(_phase(run).attrs["summary"])


@both("confidence", needs=("phase_change",))
def _confidence(run: RunData, arg: str | None) -> str:
    return two(_phase(run).attrs["confidence"])


@both("agreeing", needs=("phase_change",))
def _agreeing(run: RunData, arg: str | None) -> str:
    return listing(_phase(run).attrs["agreeing"]) or "none"


@both("steepest", needs=("phase_change",))
def _steepest(run: RunData, arg: str | None) -> str:
    """The steepest epoch of signal ``arg`` (``induction_score``, ...)."""
    jump = signal_jump(run, (arg or INDUCTION).replace("_", " "))
    return "none" if jump is None else count(jump[1])


@both("jump", needs=("phase_change",))
def _jump_span(run: RunData, arg: str | None) -> str:
    """The epochs of signal ``arg``'s jump, ``9-17``, or ``none``."""
    jump = signal_jump(run, (arg or INDUCTION).replace("_", " "))
    return "none" if jump is None else span(jump[0], jump[2])


# ------------------------------------------------------------------ per-checkpoint values

@both("induction", needs=("head_scores", "phase_change"))
def _induction(run: RunData, arg: str | None) -> str:
    """The best head's induction score at checkpoint ``arg``."""
    return two(_attr(run, "head_scores", "max_induction", arg))


@both("best_head", needs=("head_scores", "phase_change"))
def _best_head(run: RunData, arg: str | None) -> str:
    return str(_attr(run, "head_scores", "best_induction_head", arg))


@both("icl", needs=("in_context_learning", "phase_change"))
def _icl(run: RunData, arg: str | None) -> str:
    """The in-context learning score (nats) at checkpoint ``arg``."""
    return num(_attr(run, "in_context_learning", "icl_score", arg))


@both("hessian", needs=("hessian_spectrum", "phase_change"))
def _hessian(run: RunData, arg: str | None) -> str:
    return num(_attr(run, "hessian_spectrum", "top_eigenvalue", arg))


def _hessian_series(run: RunData) -> dict[int, float]:
    return series(run, "hessian_spectrum", "top_eigenvalue", None)


@both("hessian_peak", needs=("hessian_spectrum",))
def _hessian_peak(run: RunData, arg: str | None) -> str:
    return num(max(_hessian_series(run).values()))


@both("hessian_peak_epoch", needs=("hessian_spectrum",))
def _hessian_peak_epoch(run: RunData, arg: str | None) -> str:
    return count(peak(_hessian_series(run)))


def _metric(name: str) -> Compute:
    """The metric ``name`` after epoch ``arg`` (0: at initialisation)."""
    return lambda run, arg: metric(name, two)(run, _resolve(run, arg))


for _name in ("train_loss", "test_loss"):
    both(_name, needs=("phase_change",))(_metric(_name))


@both("checkpoints")
def _checkpoints(run: RunData, arg: str | None) -> str:
    return count(len(run.variant.epochs))


def _previous_heads(run: RunData) -> list[int]:
    """Indices of the layer-0 heads whose previous-token score ends above
    :data:`PREVIOUS_TOKEN`."""
    art = run.variant.artifact("head_scores", run.variant.epochs[-1])
    heads = art.attrs["heads"]
    return [i for i, name in enumerate(heads) if name.startswith("L0")
            and art["previous_token"][i] > PREVIOUS_TOKEN]


@both("previous_heads", needs=("head_scores",))
def _previous_heads_text(run: RunData, arg: str | None) -> str:
    heads = run.variant.artifact("head_scores", run.variant.epochs[-1]).attrs["heads"]
    return listing([heads[i] for i in _previous_heads(run)])


@both("previous", needs=("head_scores", "phase_change"))
def _previous(run: RunData, arg: str | None) -> str:
    """The previous-token heads' scores at checkpoint ``arg``: ``0.45`` or ``0.41-0.52``."""
    found = _previous_heads(run)
    if not found:
        raise FigureError(f"{run.variant.id} has no previous-token head")
    scores = run.variant.artifact("head_scores", _checkpoint(run, arg))["previous_token"]
    lo, hi = (two(f(scores[found])) for f in (np.min, np.max))
    return lo if lo == hi else f"{lo}-{hi}"


# ------------------------------------------------------------------- loss by position

def _position_loss(run: RunData, which: str) -> np.ndarray:
    return np.asarray(run.variant.artifact("in_context_learning", run.variant.epochs[-1])
                      [f"{which}_loss"], dtype=np.float64)


def _half(run: RunData) -> int:
    return int(run.variant.record.params["n_ctx"]) // 2


@both("first_copy_loss", needs=("in_context_learning",))
def _first_copy_loss(run: RunData, arg: str | None) -> str:
    """At the end, the repeated probe's mean loss on the first copy's tokens 2..h (the
    early half of the in-context score)."""
    return two(np.mean(_position_loss(run, "repeated")[:_half(run) - 1]))


def _second_copy(run: RunData) -> np.ndarray:
    """At the end, the repeated probe's loss on the second copy's tokens 2..h (entry
    ``t - 2`` is token ``t``: position ``h + t - 2`` predicts it)."""
    half = _half(run)
    return _position_loss(run, "repeated")[half:2 * half - 1]


@both("second_copy", needs=("in_context_learning",))
def _second_copy_at(run: RunData, arg: str | None) -> str:
    """The loss on the second copy's token ``arg`` (2..h) at the end."""
    loss = _second_copy(run)
    if not (arg or "").isdigit() or not 2 <= int(arg) <= len(loss) + 1:
        raise FigureError(f"second_copy@TOKEN takes a token 2..{len(loss) + 1}, not {arg!r}")
    return two(loss[int(arg) - 2])


@both("second_copy_min", needs=("in_context_learning",))
def _second_copy_min(run: RunData, arg: str | None) -> str:
    return two(np.min(_second_copy(run)))


@both("second_copy_min_token", needs=("in_context_learning",))
def _second_copy_min_token(run: RunData, arg: str | None) -> str:
    return str(int(np.argmin(_second_copy(run))) + 2)


def _random_halves(run: RunData) -> tuple[float, float]:
    """At the end, the plain random probe's mean loss over each half."""
    half, loss = _half(run), _position_loss(run, "random")
    return float(np.nanmean(loss[:half])), float(np.nanmean(loss[half:]))


@both("random_first_half", needs=("in_context_learning",))
def _random_first_half(run: RunData, arg: str | None) -> str:
    return two(_random_halves(run)[0])


@both("random_second_half", needs=("in_context_learning",))
def _random_second_half(run: RunData, arg: str | None) -> str:
    return two(_random_halves(run)[1])


def _uniform(run: RunData) -> float:
    """log d_vocab: the loss of a uniform guess."""
    return math.log(int(run.variant.record.params["d_vocab"]))


@both("random_vs_uniform", needs=("in_context_learning",))
def _random_vs_uniform(run: RunData, arg: str | None) -> str:
    """``above`` or ``below``: the random probe's second half against a uniform guess."""
    return "above" if _random_halves(run)[1] > _uniform(run) else "below"


@both("d_vocab")
def _d_vocab(run: RunData, arg: str | None) -> str:
    return str(int(run.variant.record.params["d_vocab"]))


@both("uniform_loss")
def _uniform_loss(run: RunData, arg: str | None) -> str:
    return two(_uniform(run))


# ------------------------------------------------------------------------------ times

for _prefix, _run in RUNS.items():
    timing_figures(_run, f"{_prefix}_")


def _total(run: RunData, arg: str | None) -> str:
    """Training and analysis jobs together."""
    return minutes(timing(run, "train").seconds + timing(run, "analysis").seconds)


def _cores(run: RunData, arg: str | None) -> str:
    return str(os.cpu_count())


for _prefix, _run in RUNS.items():
    figure(f"{_prefix}_total", run=_run, measured=True)(_total)
    figure(f"{_prefix}_cores", run=_run, measured=True)(_cores)


from benchmarks._docs_induction_templates import TEMPLATES  # noqa: E402  (after the figures)
