"""The figures of Modulo Addition 1-Layer's quick preset (the quickstart's run) that the
README, docs/getting_started.md and the family's README quote.

Each function is registered by name (:func:`benchmarks._docs_figures.figure`); the
templates in :mod:`benchmarks._docs_templates` say where each is printed. Those that need
the LLC sampler are in :mod:`benchmarks._docs_llc`, the times in
:mod:`benchmarks._docs_times`.
"""

from __future__ import annotations

import math

import numpy as np

from benchmarks._docs_figures import (
    ALL,
    FigureError,
    attr,
    attr_figure,
    checkpoint,
    confidence,
    count,
    epoch,
    figure,
    listing,
    num,
    pct,
    peak_figures,
    span,
    story,
)
from benchmarks._docs_runs import RunData
from tdw.cli.format import pct as cli_pct
from tdw.library.transition import fall_window

# ------------------------------------------------------------ the run and its schedule

@figure("variant")
def _variant(run: RunData, arg: str | None) -> str:
    return run.variant.id


@figure("checkpoints")
def _checkpoints(run: RunData, arg: str | None) -> str:
    return count(len(run.variant.epochs))


@figure("analyzers")
def _analyzers(run: RunData, arg: str | None) -> str:
    return str(len(run.variant.family.analyzers))


@figure("other_analyzers")
def _other_analyzers(run: RunData, arg: str | None) -> str:
    return str(len(run.variant.family.analyzers) - 1)


@figure("cross_epoch")
def _cross_epoch(run: RunData, arg: str | None) -> str:
    return str(len(run.variant.family.cross_epoch))


def _artifacts(run: RunData) -> int:
    """What a full analysis writes: every analyzer at every checkpoint, plus the
    cross-epoch ones (the family's lists and the run's checkpoints; nothing analysed)."""
    fam = run.variant.family
    return len(fam.analyzers) * len(run.variant.epochs) + len(fam.cross_epoch)


@figure("artifacts")
def _artifacts_text(run: RunData, arg: str | None) -> str:
    return count(_artifacts(run))


@figure("artifacts_plain")
def _artifacts_plain(run: RunData, arg: str | None) -> str:
    return str(_artifacts(run))  # as tdw's plan prints it


@figure("window_checkpoints", run=lambda arg: arg or "quick")
def _window_checkpoints(run: RunData, arg: str | None) -> str:
    """Checkpoints of run ``arg`` in the grokking window (the 10%-90% fall of the smoothed
    log test loss, :func:`tdw.library.transition.fall_window`)."""
    window = fall_window(run.variant.metrics()["test_loss"])
    if window is None:
        raise FigureError(f"{run.variant.id} has no grokking window (no transition)")
    return str(sum(window[0] <= e <= window[1] for e in run.variant.epochs))


# -------------------------------------------------------------------- per-epoch metrics

@figure("memorised")
def _memorised(run: RunData, arg: str | None) -> str:
    return count(story(run).memorised_epoch)


@figure("generalised")
def _generalised(run: RunData, arg: str | None) -> str:
    return count(story(run).generalised_epoch)


@figure("perfect")
def _perfect(run: RunData, arg: str | None) -> str:
    """The epoch from which the test accuracy is 100% to the end."""
    below = np.flatnonzero(run.variant.metrics()["test_acc"] < 1)
    last = run.variant.record.n_epochs
    return count(0 if not below.size else None if below[-1] >= last else below[-1] + 1)


def metric_figure(name: str, fmt):
    """A figure: per-epoch metric ``name`` at the argument's epoch, formatted by ``fmt``."""
    def compute(run: RunData, arg: str | None) -> str:
        values = run.variant.metrics()[name]
        e = epoch(run, arg)
        if not 0 <= e < len(values):
            raise FigureError(f"epoch {e} is outside {run.variant.id}'s run")
        return fmt(values[e])
    return compute


for _name, _fmt in (("test_acc", pct), ("train_loss", num), ("test_loss", num)):
    figure(_name)(metric_figure(_name, _fmt))


@figure("test_loss_peak")
def _test_loss_peak(run: RunData, arg: str | None) -> str:
    return num(np.nanmax(run.variant.metrics()["test_loss"]))


@figure("test_loss_peak_epoch")
def _test_loss_peak_epoch(run: RunData, arg: str | None) -> str:
    return count(int(np.nanargmax(run.variant.metrics()["test_loss"])))


@figure("test_loss_decades")
def _test_loss_decades(run: RunData, arg: str | None) -> str:
    """Decades from the test loss's peak to its final value."""
    loss = run.variant.metrics()["test_loss"]
    return f"{math.log10(np.nanmax(loss) / loss[-1]):.1f}"


@figure("final_acc")
def _final_acc(run: RunData, arg: str | None) -> str:
    """``final_acc@train`` / ``@test``, as ``tdw variants`` prints it (``100.0%``)."""
    return cli_pct(getattr(run.variant.record, f"final_{arg}_acc"))


@figure("summary_acc")
def _summary_acc(run: RunData, arg: str | None) -> str:
    """``summary_acc@train`` / ``@test``, as the training job's summary prints it."""
    return f"{getattr(run.variant.record, f'final_{arg}_acc'):.3f}"


@figure("summary_test_loss")
def _summary_test_loss(run: RunData, arg: str | None) -> str:
    return f"{run.variant.record.final_test_loss:.3g}"


# ----------------------------------------------------------------------------- analyses

@figure("transition", needs=("grokking_transition",))
def _transition(run: RunData, arg: str | None) -> str:
    found = attr(run, "grokking_transition", "transition_epoch")
    return "none" if found is None else count(found)


@figure("steepest", needs=("grokking_transition",))
def _steepest(run: RunData, arg: str | None) -> str:
    steepest = attr(run, "grokking_transition", "steepest_epoch")
    return "none" if steepest is None else count(steepest)


attr_figure("transition_confidence", "grokking_transition", "confidence", confidence)
attr_figure("keys", "dominant_frequencies", "key_frequencies", listing)
attr_figure("key_share", "dominant_frequencies", "key_share", pct)
attr_figure("restricted", "progress_measures", "restricted_loss", num)
attr_figure("excluded", "progress_measures", "excluded_loss", num)
attr_figure("coarseness", "coarseness", "mean", num)
peak_figures("excluded_peak", "progress_measures", "excluded_loss")


@figure("restricted_vs_train", needs=("progress_measures",))
def _restricted_vs_train(run: RunData, arg: str | None) -> str:
    """``below`` or ``above``: the final restricted loss against the final train loss."""
    final = run.variant.artifact("progress_measures", run.variant.epochs[-1]).attrs
    return "below" if final["restricted_loss"] < final["train_loss"] else "above"


@figure("half_graduated", needs=("graduation",))
def _half_graduated(run: RunData, arg: str | None) -> str:
    """The first checkpoint by which half of all pairs have graduated."""
    grad = run.variant.artifact("graduation")
    reached = np.flatnonzero(grad["graduated_fraction"] >= 0.5)
    return count(int(grad["epochs"][reached[0]]) if reached.size else None)


def _neuron0(run: RunData) -> int:
    """The MLP index of the first of the neurons ``neuron_activations`` stores."""
    return int(run.variant.artifact("neuron_activations", run.variant.epochs[-1])["neurons"][0])


@figure("neuron0", needs=("neuron_activations",))
def _neuron0_text(run: RunData, arg: str | None) -> str:
    return str(_neuron0(run))


def _clusters(run: RunData):
    return run.variant.artifact("neuron_freq_clusters", run.variant.epochs[-1])


@figure("neuron0_frequency", needs=("neuron_activations", "neuron_freq_clusters"))
def _neuron0_frequency(run: RunData, arg: str | None) -> str:
    return str(int(_clusters(run)["dominant"][_neuron0(run)]))


@figure("neuron0_share", needs=("neuron_activations", "neuron_freq_clusters"))
def _neuron0_share(run: RunData, arg: str | None) -> str:
    return pct(float(_clusters(run)["fraction"][_neuron0(run)].max()))


@figure("specialised", needs=("neuron_freq_clusters",))
def _specialised(run: RunData, arg: str | None) -> str:
    return count(int(_clusters(run)["specialised_count"].sum()))


@figure("d_mlp", needs=("neuron_freq_clusters",))
def _d_mlp(run: RunData, arg: str | None) -> str:
    return count(_clusters(run)["fraction"].shape[0])


@figure("specialised_by_frequency", needs=("neuron_freq_clusters",))
def specialised_by_frequency(run: RunData, arg: str | None) -> str:
    """``79 in frequency 11, 84 in 13 and 94 in 21`` (frequencies are 1-based)."""
    counts = _clusters(run)["specialised_count"]
    parts = [f"{int(n)} in {k + 1}" for k, n in enumerate(counts) if n]
    if parts:
        parts[0] = parts[0].replace(" in ", " in frequency ", 1)
    return listing(parts)


@figure("norm", needs=("parameter_snapshot",))
def _norm(run: RunData, arg: str | None) -> str:
    """The norm of all parameters together at checkpoint ``arg``."""
    norms = run.variant.artifact("parameter_snapshot", checkpoint(run, arg))["group_norms"]
    return num(math.sqrt(float(np.sum(np.asarray(norms, dtype=np.float64) ** 2))))


# --------------------------------------------------------------------------- the story

def _story(run: RunData) -> dict:
    found = run.variant.story()
    if found is None:
        raise FigureError(f"{run.variant.id} has no variant_story artifact")
    return found


@figure("story_label", needs=("variant_story",))
def _story_label(run: RunData, arg: str | None) -> str:
    return _story(run)["label"]


@figure("window", needs=("variant_story",))
def _window(run: RunData, arg: str | None) -> str:
    """``window@first_descent``: a phase window's epochs, or ``none``."""
    window = _story(run)["windows"][(arg or "").replace("_", " ")]
    return "none" if window is None else span(*window)


@figure("first_mover", needs=("variant_story",))
def _first_mover(run: RunData, arg: str | None) -> str:
    mover = _story(run)["first_mover"]
    return "none" if mover is None else str(mover)


@figure("first_mover_epoch", needs=("variant_story",))
def _first_mover_epoch(run: RunData, arg: str | None) -> str:
    return count(_story(run)["first_mover_epoch"])


@figure("first_mover_fate", needs=("variant_story",))
def _first_mover_fate(run: RunData, arg: str | None) -> str:
    told = _story(run)
    if told["first_mover"] is None:
        return "no frequency reached 5% of the MLP neurons"
    return ("a key frequency at the end" if told["first_mover_is_key"]
            else "not a key frequency at the end: a false start")


@figure("story_brief", needs=("variant_story",), run=lambda arg: f"quick_ms{arg}")
def _story_brief(run: RunData, arg: str | None) -> str:
    """One seed's story in brief: ``healthy (plateau to 717, 95% at 1,301; first mover 11
    at 450)`` or ``no grokking (80.9% at the end, no transition detected; ...)``."""
    told = _story(run)
    if told["generalised_epoch"] is None:
        turn = told["transition_epoch"]
        parts = [f"{pct(told['final_test_acc'], 1)} at the end",
                 "no transition detected" if turn is None else f"transition at {count(turn)}"]
    else:
        plateau = told["windows"]["plateau"]
        parts = [f"plateau to {count(plateau[1])}" if plateau else "no plateau",
                 f"95% at {count(told['generalised_epoch'])}"]
    mover = ("no first mover" if told["first_mover"] is None else
             f"first mover {told['first_mover']} at {count(told['first_mover_epoch'])}")
    return f"{told['label']} ({', '.join(parts)}; {mover})"


# ------------------------------------------------------------------------------ sizes

@figure("artifact_mb", needs=(ALL,))
def _artifact_mb(run: RunData, arg: str | None) -> str:
    """MB of artifacts per checkpoint (the cross-epoch ones left out)."""
    records = run.variant.store.artifacts(run.variant.id)
    total = sum(r.bytes for r in records if r.epoch >= 0)
    return f"{total / len(run.variant.epochs) / 1e6:.2f}"


@figure("checkpoint_mb")
def _checkpoint_mb(run: RunData, arg: str | None) -> str:
    sizes = [c.bytes for c in run.variant.store.checkpoints(run.variant.id)]
    return f"{sum(sizes) / len(sizes) / 1e6:.2f}"
