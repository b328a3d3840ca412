"""A variant's story: its phase windows and a failure-mode label, read from its metrics.

A grokking run is told in four phase windows, each an inclusive ``(first, last)`` epoch
range, read from the per-epoch training metrics:

* **first descent**: epoch 0 until the training set is memorised, the first epoch at which
  the training accuracy reaches :data:`MEMORISED` (99%);
* **plateau**: from memorisation until the test loss turns down (the transition of
  :func:`~tdw.library.transition.detect_transition`): the training set is fitted, the test
  loss is not falling yet;
* **cascade**: from the transition until the test accuracy first reaches :data:`GENERALISED`
  (95%): the test loss falls and the test accuracy climbs;
* **second descent**: from there until the smoothed log test loss is at its lowest: the
  loss keeps falling by decades after the accuracy has saturated (Nanda et al.'s clean-up).

Each window starts where the one before it ends. When a phase's end never comes, its
window runs to the last epoch and the windows after it are ``None`` (a run that never turns
sits on its plateau to the end). An end that comes before its window's start (a test loss
that turns before the training set is memorised) leaves that window ``None``, and the next
starts where the previous one ended, so the windows never overlap.

The **label** is the first of these that holds, with the reasons that led to it:

* ``no grokking``: the test accuracy never reaches 95% (a reason says when it was still
  rising at the end of the run, as a run stopped too early would be);
* ``degraded``: it reached 95%, later fell below :data:`DEGRADED` (90%), and ends below 95%;
* ``degraded and recovered``: the same fall, but it ends at 95% or more;
* ``late``: it reached 95% after :data:`LATE` (75%) of the run, leaving little of it for
  the second descent;
* ``healthy``: otherwise.

The thresholds are conventions, stated once here; the reasons quote the epochs and
accuracies so a reader can judge them. The windows and the label read the epochs with
finite metrics: an unfinished run is told as far as it went, and its reasons say so; "late"
and "of the run" measure against the planned length when it is known, so a run stopped
early is not called late for it.

>>> n = 1000
>>> epochs = np.arange(n + 1)
>>> train_acc = np.clip(epochs / 100, 0, 1)                 # memorised at 99
>>> test_acc = np.clip((epochs - 300) / 200, 0.01, 1)       # 95% at 490
>>> test_loss = 10.0 ** -np.clip((epochs - 300) / 100, 0, 5)
>>> story = tell({"train_acc": train_acc, "test_acc": test_acc, "test_loss": test_loss})
>>> story.label, story.windows["plateau"][0], story.windows["cascade"][1]
('healthy', 99, 490)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tdw.family.analyzer import CrossEpochAnalyzer, CrossEpochInputs, Output
from tdw.family.artifacts import ArraySpec, AttrSpec

from .transition import detect_transition

__all__ = ["Story", "tell", "make_story", "story_lines", "windows_text", "first_mover_text",
           "PHASES",
           "LABELS", "MEMORISED", "GENERALISED", "DEGRADED", "LATE"]

PHASES = ("first descent", "plateau", "cascade", "second descent")
LABELS = ("healthy", "late", "degraded", "degraded and recovered", "no grokking")
MEMORISED = 0.99
"""Training accuracy at which the training set counts as memorised."""
GENERALISED = 0.95
"""Test accuracy at which the run counts as generalising."""
DEGRADED = 0.90
"""A generalised run that falls below this test accuracy has degraded (the gap to
:data:`GENERALISED` keeps noise around 95% from counting as a fall)."""
LATE = 0.75
"""Share of the run after which reaching :data:`GENERALISED` is late."""
RISING, RISING_TAIL = 0.05, 0.9
"""A run that does not generalise but whose test accuracy rose by at least 5 points over its
last 10% is said to be still rising (a reason, not a label: it may grok if trained on)."""


@dataclass(frozen=True)
class Story:
    """What :func:`tell` reads from a run's metrics.

    Attributes:
        windows: phase name (:data:`PHASES`) -> inclusive ``(first, last)`` epochs, or None.
        label: one of :data:`LABELS`.
        reasons: sentences quoting the epochs and accuracies behind ``label``.
        last_epoch: the last epoch with finite metrics.
        memorised_epoch, transition_epoch, generalised_epoch: None where it never happens.
        final_test_acc: the test accuracy at ``last_epoch``.
    """

    windows: Mapping[str, tuple[int, int] | None]
    label: str
    reasons: tuple[str, ...]
    last_epoch: int
    memorised_epoch: int | None
    transition_epoch: int | None
    generalised_epoch: int | None
    final_test_acc: float


def _first(mask: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if hits.size else None


def _windows(events: tuple[int | None, ...], last: int) -> dict[str, tuple[int, int] | None]:
    """Phase -> window from the epochs that end each phase (None: never), in order."""
    windows: dict[str, tuple[int, int] | None] = {}
    start: int | None = 0
    for phase, event in zip(PHASES, events, strict=True):
        if start is None:  # an earlier phase never ended
            windows[phase] = None
            continue
        end = last if event is None else max(event, start)
        windows[phase] = (start, end) if end > start else None
        start = None if event is None else end
    return windows


def _percent(x: float) -> str:
    return f"{100 * x:.1f}%"


def tell(metrics: Mapping[str, np.ndarray], n_epochs: int | None = None) -> Story:
    """The :class:`Story` of per-epoch ``train_acc``, ``test_acc`` and ``test_loss``.

    ``n_epochs`` is the run's planned length: when the metrics stop before it, the reasons
    say that the run is unfinished. Raises ValueError when the metrics hold no epoch.
    """
    test_acc = np.asarray(metrics["test_acc"], dtype=np.float64)
    finite = np.flatnonzero(np.isfinite(test_acc))
    if not finite.size:
        raise ValueError("the metrics hold no finite test accuracy: train the variant first")
    last = int(finite[-1])
    test_acc = test_acc[:last + 1]
    train_acc = np.asarray(metrics["train_acc"], dtype=np.float64)[:last + 1]

    memorised = _first(train_acc >= MEMORISED)
    generalised = _first(test_acc >= GENERALISED)
    # the whole record: the smoothing width follows the planned run, not where it stopped
    turn = detect_transition(np.asarray(metrics["test_loss"], dtype=np.float64))
    floor = None
    if generalised is not None and np.isfinite(turn.smoothed[generalised:last + 1]).any():
        floor = generalised + int(np.nanargmin(turn.smoothed[generalised:last + 1]))
    windows = _windows((memorised, turn.transition_epoch, generalised, floor), last)
    length = max(n_epochs if n_epochs is not None else last, 1)

    reasons = []
    if memorised is None:
        reasons.append(f"training accuracy never reaches {_percent(MEMORISED)} "
                       f"(best {_percent(np.nanmax(train_acc))})")
    if generalised is None:
        best = int(np.nanargmax(test_acc))
        reasons.append(f"test accuracy never reaches {_percent(GENERALISED)} "
                       f"(best {_percent(test_acc[best])} at epoch {best:,})")
        if turn.transition_epoch is None:
            reasons.append("the test loss shows no transition (no fall of a decade or more that "
                           "starts after the first epoch)")
        tail = int(RISING_TAIL * last)
        if test_acc[-1] - test_acc[tail] >= RISING:
            reasons.append(f"it rose {100 * (test_acc[-1] - test_acc[tail]):.0f} points over "
                           f"the last {_percent(1 - RISING_TAIL)} of the run: it may yet "
                           "generalise if trained longer")
        label = "no grokking"
    else:
        reasons.append(f"test accuracy reaches {_percent(GENERALISED)} at epoch {generalised:,}"
                       f", {_percent(generalised / length)} of the run")
        after = test_acc[generalised:]
        fall = _first(after < DEGRADED)
        if fall is not None:
            low = generalised + fall + int(np.nanargmin(after[fall:]))
            reasons.append(f"it falls below {_percent(DEGRADED)} at epoch {generalised + fall:,}"
                           f" (lowest {_percent(test_acc[low])} at {low:,})")
            if test_acc[-1] >= GENERALISED:
                back = low + _first(test_acc[low:] >= GENERALISED)
                reasons.append(f"and is back at {_percent(GENERALISED)} from epoch {back:,}")
                label = "degraded and recovered"
            else:
                label = "degraded"
        elif generalised > LATE * length:
            reasons.append(f"later than {_percent(LATE)} of the run: little of it is left "
                           "for the second descent")
            label = "late"
        else:
            label = "healthy"
    reasons.append(f"test accuracy ends at {_percent(test_acc[-1])} (epoch {last:,})")
    if n_epochs is not None and last < n_epochs:
        reasons.append(f"the run is unfinished: {last:,} of {n_epochs:,} epochs")
    return Story(windows=windows, label=label, reasons=tuple(reasons), last_epoch=last,
                 memorised_epoch=memorised, transition_epoch=turn.transition_epoch,
                 generalised_epoch=generalised, final_test_acc=float(test_acc[-1]))


def make_story(extra: Callable[[CrossEpochInputs], Mapping[str, Any]] | None = None, *,
               extra_attrs: tuple[AttrSpec, ...] = (), inputs: tuple[str, ...] = (),
               description: str = "") -> CrossEpochAnalyzer:
    """The cross-epoch analyzer ``variant_story``: :func:`tell` of the variant's metrics.

    A family adds what only it can say (e.g. Modulo Addition's first-mover frequency) with
    ``extra``: ``inputs -> attrs``, declared by ``extra_attrs``, reading the per-checkpoint
    analyzers ``inputs``. Name it in ``Family.story`` for the workbench to show it above
    Explore and in the Variants table.
    """

    def compute(data: CrossEpochInputs) -> Output:
        if not data.metrics:
            raise ValueError("variant_story reads the training metrics, and this variant has "
                             "none (an imported checkpoint series has no story to tell)")
        story = tell(data.metrics, data.values.get("n_epochs"))
        bounds = np.array([story.windows[name] or (-1, -1) for name in PHASES], np.int64)
        attrs = {"label": story.label, "reasons": list(story.reasons),
                 "phases": list(PHASES), "last_epoch": story.last_epoch,
                 "memorised_epoch": story.memorised_epoch,
                 "transition_epoch": story.transition_epoch,
                 "generalised_epoch": story.generalised_epoch,
                 "final_test_acc": story.final_test_acc}
        if extra is not None:
            attrs.update(extra(data))
        return {"bounds": bounds}, attrs

    return CrossEpochAnalyzer(
        name="variant_story",
        version=3,  # 2: windows never overlap; the transition from the whole record;
        # 3: the transition's attribute is transition_epoch (was turn_epoch)
        description=(
            "The run told in phase windows (first descent: until train accuracy 99%; "
            "plateau: until the test loss turns; cascade: until test accuracy 95%; second "
            "descent: until the smoothed log test loss is lowest) and a failure-mode label "
            "(healthy, late, degraded, degraded and recovered, no grokking) with its "
            "reasons." + (" " + description if description else "")),
        arrays=(ArraySpec("bounds", "int64", ("phase", "end"),
                          "inclusive first and last epoch of each phase; -1, -1 for none"),),
        attrs=(
            AttrSpec("label", "str", "healthy, late, degraded, degraded and recovered, or "
                     "no grokking"),
            AttrSpec("reasons", "json", "sentences behind the label, quoting epochs"),
            AttrSpec("phases", "json", "the phase names, in the order of the phase axis"),
            AttrSpec("last_epoch", "int", "last epoch with metrics"),
            AttrSpec("memorised_epoch", "json", "first epoch at train accuracy >= 99%, or null"),
            AttrSpec("transition_epoch", "json",
                     "the test loss's transition (grokking_transition), or null"),
            AttrSpec("generalised_epoch", "json", "first epoch at test accuracy >= 95%, or null"),
            AttrSpec("final_test_acc", "float", "test accuracy at the last epoch"),
            *extra_attrs,
        ),
        compute=compute,
        inputs=inputs,
    )


def first_mover_text(story: Mapping[str, Any]) -> str:
    """What the story says of its first mover (empty when the family reports none)."""
    if "first_mover" not in story:
        return ""
    if story["first_mover"] is None:
        return "no first mover: no frequency became prominent among the neurons"
    fate = {True: " (a key frequency at the end)",
            False: " (not a key frequency at the end: a false start)"}
    return (f"first mover: frequency {story['first_mover']} at epoch "
            f"{story['first_mover_epoch']:,}{fate.get(story.get('first_mover_is_key'), '')}")


def windows_text(windows: Mapping[str, tuple[int, int] | None]) -> str:
    """``first descent 0-120 · plateau 120-961 · ...``: the windows that happened."""
    return " · ".join(f"{phase} {w[0]:,}-{w[1]:,}" for phase, w in windows.items()
                      if w is not None) or "no phase windows"


def story_lines(story: Mapping[str, Any]) -> list[str]:
    """A story (``Variant.story()``: the analyzer's attributes plus ``windows``) as lines of
    text: the label and windows, each reason, and the first mover."""
    mover = first_mover_text(story)
    return ([f"{story['label']}: {windows_text(story['windows'])}", *story["reasons"]]
            + ([mover] if mover else []))
