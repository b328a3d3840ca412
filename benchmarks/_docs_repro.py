"""The figures of docs/reproductions.md about Modulo Addition's canonical variant (p = 113,
model seed 999, data seed 598, 25,000 epochs): one run per recipe, ``canonical`` (MIScope's
split and initialisation, ``--set recipe=miscope``) and ``canonical_tdw`` (tdw's own), each
figure registered twice, ``cm_NAME`` and ``ct_NAME``.

The phases are Nanda et al.'s (2023, §5.1), dated from the curves by rules stated here
once, so the report and this module cannot drift apart, and none of which moves when a run
trains on after it has generalised:

- **circuit formation** ends, and **clean-up** starts, where the test loss starts its fall:
  the transition of :func:`tdw.library.transition.detect_transition` (the first epoch of
  the unbroken descent around its steepest point), which ``grokking_transition`` stores;
- **memorisation** ends at the checkpoint where the excluded loss is lowest before then:
  it falls with the train loss while the model memorises, and rises once the training fit
  comes to lean on the Fourier circuit ("excluded loss rises");
- **clean-up** ends when the test accuracy first reaches 99%.

How far a loss has fallen between the end of memorisation and the end of clean-up is
measured in decades, on every epoch (a checkpoint series interpolated in log10), so the
restricted and the test loss are dated by one rule (:func:`fall_points`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from benchmarks._docs_figures import (
    FigureError,
    count,
    figure,
    figure_per_run,
    listing,
    num,
    pct,
)
from benchmarks._docs_induction import signal_jump
from benchmarks._docs_modulo import specialised_by_frequency
from benchmarks._docs_runs import TRAINED, RunData
from tdw.cli.format import duration
from tdw.jobs.jobs import jobs, log_tail
from tdw.library.transition import detect_transition

__all__ = ["PREFIXES", "PAPER", "GENERALISED", "Phases", "phases", "fall_points", "per_run"]

PREFIXES = {"cm_": "canonical", "ct_": "canonical_tdw"}
"""Figure-name prefix -> the run in :data:`benchmarks._docs_runs.RUNS` it reads."""

PAPER = {"memorisation": 1400, "circuit": 9400, "cleanup": 14000}
"""The epochs at which Nanda et al.'s phases end for their p = 113 run (memorisation
0-1.4k, circuit formation 1.4k-9.4k, clean-up 9.4k to about 14k, as issue 23 quotes them)."""
GENERALISED = 0.99
"""Test accuracy that ends clean-up."""


@dataclass(frozen=True)
class Phases:
    """The epoch at which each of the three phases ends (see the module docstring)."""

    memorisation: int
    circuit: int
    cleanup: int


def phases(epochs, excluded, test_loss, test_acc) -> Phases:
    """The phases of a run from its checkpoints' ``epochs`` and ``excluded`` loss and its
    per-epoch ``test_loss`` and ``test_acc``; raises FigureError, saying why, when the
    run has no clean-up (no transition, or never 99% on the test pairs)."""
    turn = detect_transition(np.asarray(test_loss, dtype=np.float64)).transition_epoch
    if turn is None:
        raise FigureError("the test loss shows no transition: the run never starts clean-up")
    reached = np.flatnonzero(np.asarray(test_acc, dtype=np.float64) >= GENERALISED)
    if not reached.size:
        raise FigureError(f"test accuracy never reaches {GENERALISED:.0%}: clean-up never ends")
    epochs, excluded = np.asarray(epochs), np.asarray(excluded, dtype=np.float64)
    lowest = int(np.argmin(np.where(epochs <= turn, excluded, np.inf)))
    return Phases(int(epochs[lowest]), int(turn), int(reached[0]))


def fall_points(epochs, values, start: int, end: int,
                shares: tuple[float, ...] = (0.1, 0.9)) -> tuple[int, ...]:
    """The first epochs in ``start``-``end`` by which ``values`` (at ``epochs``,
    interpolated in log10 to every epoch) has made each share of its fall, in decades,
    from its value at ``start`` to its value at ``end``; raises FigureError when it does
    not fall over that span."""
    every = np.arange(start, end + 1)
    logs = np.interp(every, np.asarray(epochs, dtype=np.float64),
                     np.log10(np.maximum(np.asarray(values, dtype=np.float64), 1e-300)))
    drop = logs[0] - logs[-1]
    if not drop > 0:
        raise FigureError(f"it does not fall between epochs {start:,} and {end:,}")
    return tuple(int(every[np.argmax(logs <= logs[0] - share * drop)]) for share in shares)


def per_run(name: str, needs: tuple[str, ...] = ()) -> Callable:
    """Register the decorated ``fn(run, arg) -> str`` as ``cm_NAME`` and ``ct_NAME``."""
    return figure_per_run(PREFIXES, name, needs=needs)


# ---------------------------------------------------------------------- reading a run

def _measures(run: RunData) -> dict[str, np.ndarray]:
    """The progress measures at every checkpoint, as arrays beside ``epochs``."""
    epochs = list(run.variant.epochs)  # plain ints: the catalog matches no numpy integer
    attrs = [run.variant.artifact("progress_measures", e).attrs for e in epochs]
    return {"epochs": np.asarray(epochs), **{
        k: np.array([a[k] for a in attrs], dtype=np.float64)
        for k in ("restricted_loss", "excluded_loss", "test_loss")}}


def _phases(run: RunData) -> Phases:
    m, metrics = _measures(run), run.variant.metrics()
    return phases(m["epochs"], m["excluded_loss"], metrics["test_loss"], metrics["test_acc"])


def _at_or_before(run: RunData, e: int) -> int:
    """The last checkpoint at or before epoch ``e``."""
    return max(c for c in run.variant.epochs if c <= e)


def _phase_epoch(run: RunData, arg: str | None) -> int:
    if arg not in PAPER:
        raise FigureError(f"not a phase: {arg!r} (one of {', '.join(PAPER)})")
    return getattr(_phases(run), arg)


def _loss(run: RunData, loss: str) -> tuple[np.ndarray, np.ndarray]:
    """(epochs, values) of the ``restricted`` loss (its checkpoints) or the ``test`` loss
    (every epoch)."""
    if loss == "test":
        values = np.asarray(run.variant.metrics()["test_loss"], dtype=np.float64)
        return np.arange(len(values)), values
    m = _measures(run)
    return m["epochs"], m["restricted_loss"]


def _loss_at(run: RunData, loss: str, epoch: int) -> float:
    """The ``restricted`` or ``test`` loss at ``epoch``: its last sample by then."""
    epochs, values = _loss(run, loss)
    return float(values[np.searchsorted(epochs, epoch, side="right") - 1])


MEASURES = ("progress_measures",)


# ------------------------------------------------------------------------- accuracies

@per_run("variant")
def _variant(run: RunData, arg: str | None) -> str:
    return run.variant.id


@per_run("checkpoints")
def _checkpoints(run: RunData, arg: str | None) -> str:
    return count(len(run.variant.epochs))


@per_run("epochs")
def _epochs(run: RunData, arg: str | None) -> str:
    return count(run.variant.record.n_epochs)


@per_run("reach")
def _reach(run: RunData, arg: str | None) -> str:
    """``reach@train99`` / ``reach@test50``: the first epoch the accuracy reaches the share."""
    which, share = (arg or "")[:-2], (arg or "")[-2:]
    if which not in ("train", "test") or not share.isdigit():
        raise FigureError(f"reach takes train|test and a percentage, e.g. test99, not {arg!r}")
    acc = np.asarray(run.variant.metrics()[f"{which}_acc"], dtype=np.float64)
    hit = np.flatnonzero(acc >= int(share) / 100)
    return count(int(hit[0]) if hit.size else None)


@per_run("final_test_acc")
def _final_test_acc(run: RunData, arg: str | None) -> str:
    return pct(run.variant.record.final_test_acc, 1)


@per_run("final_test_loss")
def _final_test_loss(run: RunData, arg: str | None) -> str:
    return num(run.variant.record.final_test_loss)


# ----------------------------------------------------------------------------- phases

@per_run("phase", needs=MEASURES)
def _phase(run: RunData, arg: str | None) -> str:
    """``phase@memorisation`` / ``@circuit`` / ``@cleanup``: the epoch the phase ends."""
    return count(_phase_epoch(run, arg))


@per_run("paper_ratio", needs=MEASURES)
def _paper_ratio(run: RunData, arg: str | None) -> str:
    """The phase's end over the paper's: ``1.52x``."""
    return f"{_phase_epoch(run, arg) / PAPER[arg]:.2f}x"


@per_run("excluded", needs=MEASURES)
def _excluded(run: RunData, arg: str | None) -> str:
    """The excluded loss at a phase's end (its last checkpoint by then), ``peak`` or ``end``."""
    m = _measures(run)
    if arg == "peak":
        return num(m["excluded_loss"].max())
    index = (-1 if arg == "end" else
             list(m["epochs"]).index(_at_or_before(run, _phase_epoch(run, arg))))
    return num(m["excluded_loss"][index])


@per_run("excluded_peak_epoch", needs=MEASURES)
def _excluded_peak_epoch(run: RunData, arg: str | None) -> str:
    m = _measures(run)
    return count(int(m["epochs"][int(np.argmax(m["excluded_loss"]))]))


SHARES = {"10": 0.1, "90": 0.9}


@per_run("fall", needs=MEASURES)
def _fall(run: RunData, arg: str | None) -> str:
    """``fall@restricted.10`` / ``fall@test.90``: the epoch by which the restricted (or the
    test) loss has made that share of its fall from the end of memorisation to the end of
    clean-up (:func:`fall_points`)."""
    loss, _, share = (arg or "").partition(".")
    if loss not in ("restricted", "test") or share not in SHARES:
        raise FigureError(f"fall takes restricted|test and 10|90, e.g. test.90, not {arg!r}")
    found = _phases(run)
    epochs, values = _loss(run, loss)
    try:
        (epoch,) = fall_points(epochs, values, found.memorisation, found.cleanup,
                               (SHARES[share],))
    except FigureError as exc:
        raise FigureError(f"the {loss} loss: {exc}") from exc
    return count(epoch)


@per_run("restricted_at", needs=MEASURES)
def _restricted_at(run: RunData, arg: str | None) -> str:
    """The restricted loss at a phase's end (its last checkpoint by then)."""
    return num(_loss_at(run, "restricted", _phase_epoch(run, arg)))


@per_run("decades", needs=MEASURES)
def _decades(run: RunData, arg: str | None) -> str:
    """``decades@restricted.circuit``: how many decades the restricted (or test) loss has
    fallen from the end of memorisation to the end of a phase (at checkpoints for the
    restricted loss, the last one by then; per epoch for the test loss)."""
    loss, _, phase = (arg or "").partition(".")
    if loss not in ("restricted", "test"):
        raise FigureError(f"decades takes restricted|test and a phase, not {arg!r}")
    first = _loss_at(run, loss, _phases(run).memorisation)
    return f"{np.log10(first / _loss_at(run, loss, _phase_epoch(run, phase))):.1f}"


@per_run("test_acc_at", needs=MEASURES)
def _test_acc_at(run: RunData, arg: str | None) -> str:
    """The test accuracy at a phase's end (per-epoch metric)."""
    return pct(run.variant.metrics()["test_acc"][_phase_epoch(run, arg)])


@per_run("test_loss_at", needs=MEASURES)
def _test_loss_at(run: RunData, arg: str | None) -> str:
    """The test loss at a phase's end (per-epoch metric)."""
    return num(_loss_at(run, "test", _phase_epoch(run, arg)))


@per_run("sq_weights", needs=MEASURES + ("parameter_snapshot",))
def _sq_weights(run: RunData, arg: str | None) -> str:
    """The sum of squared weights at a phase's end (its last checkpoint by then) or ``0``."""
    e = 0 if arg == "0" else _at_or_before(run, _phase_epoch(run, arg))
    norms = run.variant.artifact("parameter_snapshot", e)["group_norms"]
    return num(float(np.sum(np.asarray(norms, dtype=np.float64) ** 2)))


# ---------------------------------------------------------------- key frequencies

def _final(run: RunData, analyzer: str):
    return run.variant.artifact(analyzer, run.variant.epochs[-1])


@per_run("keys", needs=("dominant_frequencies",))
def _keys(run: RunData, arg: str | None) -> str:
    return listing(_final(run, "dominant_frequencies").attrs["key_frequencies"])


@per_run("key_count", needs=("dominant_frequencies",))
def _key_count(run: RunData, arg: str | None) -> str:
    return str(len(_final(run, "dominant_frequencies").attrs["key_frequencies"]))


@per_run("key_share", needs=("dominant_frequencies",))
def _key_share(run: RunData, arg: str | None) -> str:
    return pct(_final(run, "dominant_frequencies").attrs["key_share"], 1)


@per_run("next_share", needs=("dominant_frequencies",))
def _next_share(run: RunData, arg: str | None) -> str:
    """The share of the squared Fourier norm of the strongest frequency that is not key."""
    final = _final(run, "dominant_frequencies")
    norms = np.asarray(final["norms"], dtype=np.float64) ** 2  # frequency 1..p//2
    keys = set(final.attrs["key_frequencies"])
    others = [n for k, n in enumerate(norms, 1) if k not in keys]
    if not others:
        raise FigureError("every frequency is key: there is no next one")
    return pct(max(others) / norms.sum(), 1)


per_run("neuron_keys", needs=("neuron_freq_clusters",))(specialised_by_frequency)


# ----------------------------------------------------------------- tdw's own markers

@per_run("phase_change", needs=("phase_change",))
def _phase_change(run: RunData, arg: str | None) -> str:
    """``phase_change``'s own sentence."""
    return run.variant.artifact("phase_change").attrs["summary"]


# -------------------------------------------------------------------------- costs

def _jobs(run: RunData, kind: str) -> list:
    """The run's successful ``kind`` jobs, latest first."""
    done = [j for j in jobs(run.variant.store, variant=run.variant.id)
            if j.kind == kind and j.state == "succeeded"]
    return sorted(done, key=lambda j: j.finished, reverse=True)


FROM_SCRATCH = re.compile(r": epochs 0->\d+ in ")
"""A training job's summary line when it trained the whole run (not a resumed remainder)."""


def _named(arg: str | None) -> str:
    if arg is None:
        raise FigureError("this figure needs a run: NAME@RUN")
    return arg


@figure("train_cost", run=_named, measured=True)
def _train_cost(run: RunData, arg: str | None) -> str:
    """``train_cost@RUN``: ``1h12m as a job (172.3 ms/epoch)``, from the training job's
    record in the store (whoever started it)."""
    for record in _jobs(run, "train"):
        lines = log_tail(run.variant.store, record, lines=200)
        line = next((x for x in reversed(lines) if TRAINED.search(x)), "")
        if FROM_SCRATCH.search(line):
            rate = float(TRAINED.search(line).group(2))
            return f"{duration(record.finished - record.started)} as a job ({rate:.1f} ms/epoch)"
    raise FigureError(f"{run.variant.id} has no training job that ran from epoch 0 to the "
                      "end in one go (a resumed run's jobs each time only their part)")


@figure("analysis_cost", run=_named, measured=True)
def _analysis_cost(run: RunData, arg: str | None) -> str:
    """``analysis_cost@RUN``: the wall time of its latest analysis of every analyzer."""
    full = [j for j in _jobs(run, "analyze") if not j.params.get("analyzers")]
    if not full:
        raise FigureError(f"{run.variant.id} has no successful analysis of every analyzer "
                          f"(run: tdw analyze {run.variant.id})")
    seconds, n = full[0].finished - full[0].started, len(run.variant.epochs)
    return f"{duration(seconds)} as a job ({count(n)} checkpoints, {seconds / n:.1f} s each)"


# ------------------------------------------------------------- Induction Heads' bump

@figure("ih_loss_slope", run="ih_quick", needs=("phase_change",))
def _ih_loss_slope(run: RunData, arg: str | None) -> str:
    """``ih_loss_slope@before|during|after``: the test loss's mean fall in nats per epoch
    over as many epochs before the induction-score jump as it lasts, during it, and after
    it (Olsson et al. see induction heads form as a bump in the loss curve)."""
    jump = signal_jump(run)
    if jump is None:
        raise FigureError(f"{run.variant.id} has no induction-score jump")
    onset, _, end = jump
    last = run.variant.record.n_epochs
    spans = {"before": (max(0, 2 * onset - end), onset), "during": (onset, end),
             "after": (end, last)}
    if arg not in spans:
        raise FigureError(f"ih_loss_slope takes before, during or after, not {arg!r}")
    a, b = spans[arg]
    if b <= a:
        raise FigureError(f"no epochs {arg} the jump ({a}-{b})")
    loss = np.asarray(run.variant.metrics()["test_loss"], dtype=np.float64)
    return f"{(loss[a] - loss[b]) / (b - a):.3f}"
