"""Phase changes: abrupt jumps in several per-checkpoint signals, and where they agree.

Olsson et al. 2022 ("In-context learning and induction heads") date the induction-head
phase change by several signals that move together: the heads' induction (prefix-matching)
scores jump, the in-context learning score drops, and the loss curve bends. A single
signal can jump for other reasons; several jumping at the same epochs is the evidence.

:func:`detect_jump` finds the main jump of one signal over the analysed checkpoints:

1. Orient it (``direction`` +1 for a rise, -1 for a fall), optionally take log10, and
   smooth it over checkpoints with a Gaussian of ``sigma`` checkpoints
   (``scipy.ndimage.gaussian_filter1d``, edges padded with the nearest value).
2. The steepest interval is the largest slope per epoch between consecutive checkpoints;
   the jump is the unbroken run of intervals around it whose slope is at least
   ``DESCENT_FRACTION`` (20%) of that peak: ``onset`` is its first epoch, ``end`` its last.
3. Its *bulk* runs from the epoch at which the smoothed signal has made ``BULK_FRACTION``
   (10%) of the jump's change to the one at which it has made 90% (interpolated between
   checkpoints).
4. It counts when the smoothed signal changes by at least ``min_change`` over the jump and
   its bulk spans at most ``MAX_SPAN`` (half) of the run: a drift over the whole run, or a
   wiggle smaller than the threshold, is no phase change. The bulk, not the whole jump, is
   measured because a fall on a log scale keeps a long tail: the quick grokking run's
   test loss falls 6.5 decades from epoch 1,170 to 2,450 (51% of the run), 80% of them
   between about 1,435 and 2,250 (32%), and that is a jump.

Its confidence is ``sharpness * clarity``: ``sharpness = 1 - bulk / run`` and
``clarity = z / (z + 5)`` with ``z`` the change over the noise (the robust standard
deviation of the raw checkpoint-to-checkpoint differences, divided by sqrt 2).

:func:`make_phase_change` builds the cross-epoch analyzer: the first signal is primary (it
defines the transition: ``transition_epoch`` is its onset); another signal *agrees* when its
jump's bulk overlaps the primary jump's bulk widened by ``agreement`` of the run on each
side: the two move at the same time (on the quick grokking run the test loss, whose
steepest fall in decades comes in clean-up at epoch 1,850, agrees with the restricted loss,
whose bulk spans about 1,000-1,600, because most of its own fall, from about 1,450,
overlaps it). The confidence is the
primary's confidence times ``(1 + agreeing) / n_signals``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from tdw.family.analyzer import CrossEpochAnalyzer, CrossEpochInputs, Output
from tdw.family.artifacts import ArraySpec, Artifact, AttrSpec

__all__ = ["Signal", "Jump", "detect_jump", "make_phase_change", "DESCENT_FRACTION",
           "MAX_SPAN", "BULK_FRACTION", "HALF_CLARITY_Z"]

DESCENT_FRACTION = 0.2
"""The jump extends over intervals whose slope is at least this share of the steepest.

On the Induction Heads quick preset 10% let the slow drift before the jump (induction score
0.09 to 0.13 over epochs 5 to 9) pull the onset back to epoch 8; 20% dates it at epoch 9,
the last checkpoint before the score rises (0.13, 0.16, 0.22, 0.34, ...)."""
MAX_SPAN = 0.5
"""A jump whose bulk spans more than this share of the run is a drift, not a phase change."""
BULK_FRACTION = 0.1
"""The bulk of a jump leaves out this share of its change at each end."""
HALF_CLARITY_Z = 5.0
"""Change-to-noise ratio at which the clarity term of the confidence is 1/2."""


@dataclass(frozen=True)
class Signal:
    """One per-checkpoint series the phase-change detector reads.

    Attributes:
        name: label in the artifact and the views, e.g. ``"induction score"``.
        analyzer: the per-checkpoint analyzer whose artifacts hold it.
        value: artifact -> the signal's value at that checkpoint; None when ``series``
            reads the whole run at once.
        direction: +1 if the phase change raises it, -1 if it lowers it.
        min_change: the smallest change of the smoothed signal over the jump that counts
            (in the signal's units, or decades when ``log``).
        log: detect on log10 of the (positive) signal, e.g. for curvature.
        series: ``(artifacts, epochs) -> (checkpoint,)`` values, for a signal no single
            checkpoint gives (e.g. how well the previous steps predict each step: Modulo
            Addition's ``centroid_residual``); None when ``value`` gives it.
    """

    name: str
    analyzer: str
    value: Callable[[Artifact], float] | None
    direction: int
    min_change: float
    log: bool = False
    series: Callable[[Sequence[Artifact], np.ndarray], np.ndarray] | None = None

    def __post_init__(self) -> None:
        if self.direction not in (1, -1):
            raise ValueError(f"signal {self.name}: direction must be +1 or -1")
        if not self.min_change > 0:
            raise ValueError(f"signal {self.name}: min_change must be positive")
        if (self.value is None) == (self.series is None):
            raise ValueError(f"signal {self.name}: give value (one number per checkpoint's "
                             "artifact) or series (the whole run at once), not both")

    def values(self, artifacts: Sequence[Artifact], epochs: np.ndarray) -> np.ndarray:
        """``(checkpoint,)`` the signal over ``artifacts`` (one per epoch of ``epochs``)."""
        if self.series is not None:
            return np.asarray(self.series(artifacts, epochs), dtype=np.float64)
        return np.array([self.value(a) for a in artifacts], dtype=np.float64)


@dataclass(frozen=True, eq=False)
class Jump:
    """The main jump of one signal (epochs of the analysed checkpoints).

    Attributes:
        detected: whether it counts as a phase change (see the module docstring).
        onset: first epoch of the jump; None if the signal never moves its way.
        steepest: start epoch of the steepest interval; None likewise.
        end: last epoch of the jump; None likewise.
        bulk: ``(first, last)`` epochs between which the smoothed signal makes the middle
            80% of the jump's change (see the module docstring); None likewise.
        change: change of the smoothed signal over the jump, in its own direction
            (positive), in its units (decades when log).
        confidence: 0..1, ``sharpness * clarity``; 0 when not detected.
        smoothed: ``(checkpoint,)`` the oriented, smoothed signal.
    """

    detected: bool
    onset: int | None
    steepest: int | None
    end: int | None
    change: float
    confidence: float
    smoothed: np.ndarray
    bulk: tuple[int, int] | None = None


def _noise(values: np.ndarray) -> float:
    """Robust standard deviation of white noise on ``values``, from its differences."""
    steps = np.diff(values)
    return float(1.4826 * np.median(np.abs(steps - np.median(steps))) / np.sqrt(2))


def detect_jump(values: np.ndarray, epochs: np.ndarray, *, direction: int = 1,
                min_change: float, sigma: float = 1.0, log: bool = False) -> Jump:
    """The main jump of ``values`` over checkpoint ``epochs`` (see the module docstring).

    Args:
        values: ``(checkpoint,)`` the signal; non-finite entries are bridged linearly.
        epochs: ``(checkpoint,)`` strictly increasing epochs.
        direction: +1 to look for a rise, -1 for a fall.
        min_change: smallest change over the jump that counts.
        sigma: Gaussian smoothing in checkpoints (0: none).
        log: work on log10 of the values (non-positive ones are raised to the smallest
            positive one).
    """
    from scipy.ndimage import gaussian_filter1d
    x = np.asarray(epochs, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    if y.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"values {y.shape} and epochs {x.shape} must be equal 1-D")
    if np.any(np.diff(x) <= 0):
        raise ValueError("epochs must be strictly increasing")
    finite = np.isfinite(y)
    if finite.sum() < 3:
        return Jump(False, None, None, None, 0.0, 0.0, np.full(y.shape, np.nan))
    y = np.interp(x, x[finite], y[finite])
    if log:
        positive = y[y > 0]
        y = np.log10(np.maximum(y, positive.min() if positive.size else 1.0))
    y = direction * y
    smoothed = gaussian_filter1d(y, sigma, mode="nearest") if sigma > 0 else y.copy()
    slope = np.diff(smoothed) / np.diff(x)  # (interval,)
    steepest = int(np.argmax(slope))
    peak = slope[steepest]
    if not peak > 0:
        return Jump(False, None, None, None, 0.0, 0.0, smoothed)
    rising = slope >= DESCENT_FRACTION * peak  # (interval,)
    before = np.flatnonzero(~rising[:steepest])
    after = np.flatnonzero(~rising[steepest:])
    first = int(before[-1]) + 1 if before.size else 0
    last = steepest + int(after[0]) - 1 if after.size else len(slope) - 1
    onset, end = int(x[first]), int(x[last + 1])
    change = float(smoothed[last + 1] - smoothed[first])
    # inside the jump every slope is positive, so the change made so far rises strictly and
    # the epochs at which it crosses 10% and 90% interpolate between checkpoints (a jump
    # over one interval keeps 80% of that interval as its bulk, not 0)
    made = smoothed[first:last + 2] - smoothed[first]  # (jump checkpoint,), 0 .. change
    crossed = np.interp([BULK_FRACTION * change, (1 - BULK_FRACTION) * change], made,
                        x[first:last + 2])  # (2,) epochs
    bulk = (int(round(crossed[0])), int(round(crossed[1])))
    span = float(crossed[1] - crossed[0]) / (x[-1] - x[0])
    detected = change >= min_change and span <= MAX_SPAN
    confidence = 0.0
    if detected:
        noise = _noise(y)
        z = np.inf if noise == 0 else change / noise
        clarity = 1.0 if noise == 0 else z / (z + HALF_CLARITY_Z)
        confidence = float((1.0 - span) * clarity)
    return Jump(bool(detected), onset, int(x[steepest]), end, change, confidence, smoothed,
                bulk)


def _epoch_or_minus_one(value: int | None) -> int:
    return -1 if value is None else value


def make_phase_change(signals: tuple[Signal, ...], *, name: str = "phase_change",
                      sigma: float = 1.0, agreement: float = 0.05) -> CrossEpochAnalyzer:
    """A cross-epoch analyzer dating a phase change from ``signals`` (the first is primary).

    Its attributes ``transition_epoch`` (the primary jump's onset, or None) and ``confidence``
    make it usable as a family's ``transition``.

    Args:
        signals: the series to read; ``signals[0]`` defines the transition.
        name: the analyzer's name.
        sigma: Gaussian smoothing over checkpoints.
        agreement: how far (share of the run) outside the primary jump's bulk another
            signal's bulk may lie and still agree.
    """
    if not signals:
        raise ValueError("a phase-change analyzer needs at least one signal")

    def compute(inputs: CrossEpochInputs) -> Output:
        epochs = np.asarray(inputs.epochs, dtype=np.int64)  # (checkpoint,)
        values = np.array([s.values(inputs.artifacts[s.analyzer], epochs)
                           for s in signals], dtype=np.float64)  # (signal, checkpoint)
        jumps = [detect_jump(v, epochs, direction=s.direction, min_change=s.min_change,
                             sigma=sigma, log=s.log) for s, v in zip(signals, values,
                                                                     strict=True)]
        primary = jumps[0]
        agrees = np.zeros(len(signals), dtype=np.uint8)
        found, confidence, consensus = None, 0.0, None
        if primary.detected:
            widen = agreement * float(epochs[-1] - epochs[0])
            agrees = np.array([j.detected and j.bulk[0] <= primary.bulk[1] + widen
                               and j.bulk[1] >= primary.bulk[0] - widen for j in jumps],
                              dtype=np.uint8)
            found = primary.onset
            confidence = primary.confidence * float(agrees.sum()) / len(signals)
            consensus = int(np.median([j.steepest for j, a in zip(jumps, agrees, strict=True)
                                       if a]))
        arrays = {
            "epochs": epochs,
            "values": values.astype(np.float32),
            "smoothed": np.stack([j.smoothed for j in jumps]).astype(np.float32),
            "detected": np.array([j.detected for j in jumps], dtype=np.uint8),
            "onset_epoch": np.array([_epoch_or_minus_one(j.onset) for j in jumps], np.int64),
            "steepest_epoch": np.array([_epoch_or_minus_one(j.steepest) for j in jumps],
                                       np.int64),
            "end_epoch": np.array([_epoch_or_minus_one(j.end) for j in jumps], np.int64),
            "bulk_epochs": np.array([(-1, -1) if j.bulk is None else j.bulk for j in jumps],
                                    np.int64),
            "change": np.array([j.change for j in jumps], dtype=np.float32),
            "agrees": agrees,
        }
        attrs = {"transition_epoch": found, "confidence": float(confidence),
                 "consensus_epoch": consensus, "signals": [s.name for s in signals],
                 "agreeing": [s.name for s, a in zip(signals, agrees, strict=True) if a],
                 "summary": _summary(signals, jumps, agrees, found)}
        return arrays, attrs

    return CrossEpochAnalyzer(
        name=name,
        version=4,  # 2: jumps extend while the slope is >= 20% of the peak (was 10%);
        # 3: the transition's attribute is transition_epoch (was turn_epoch);
        # 4: a jump counts when its bulk (10%-90% of its change) spans <= half the run
        description=(
            "Phase change dated by several signals (Olsson et al. 2022): for each, the "
            "main jump (steepest rise or fall of the checkpoint series smoothed over "
            f"{sigma:g} checkpoints, extended while the slope is >= 20% of the peak; it "
            "counts when it changes the signal by at least a threshold and makes 10% to 90% "
            "of that change within half the run). The transition is the onset of the first "
            f"signal's jump ({signals[0].name}); the others agree when the bulk of their "
            f"jump overlaps its bulk (widened by {agreement:.0%} of the run)."
        ),
        arrays=(
            ArraySpec("epochs", "int64", ("checkpoint",), "checkpoint epochs"),
            ArraySpec("values", "float32", ("signal", "checkpoint"), "each signal's values"),
            ArraySpec("smoothed", "float32", ("signal", "checkpoint"),
                      "each signal oriented to rise (x direction, log10 if log), smoothed"),
            ArraySpec("detected", "uint8", ("signal",), "1 where the signal has a jump"),
            ArraySpec("onset_epoch", "int64", ("signal",), "first epoch of the jump; -1 none"),
            ArraySpec("steepest_epoch", "int64", ("signal",),
                      "start of the steepest interval; -1 none"),
            ArraySpec("end_epoch", "int64", ("signal",), "last epoch of the jump; -1 none"),
            ArraySpec("bulk_epochs", "int64", ("signal", "bound"),
                      "first and last epoch of the jump's bulk (10%-90% of its change); -1 "
                      "none"),
            ArraySpec("change", "float32", ("signal",),
                      "change of the smoothed, oriented signal over the jump"),
            ArraySpec("agrees", "uint8", ("signal",),
                      "1 where the jump is detected and agrees with the primary one"),
        ),
        attrs=(
            AttrSpec("transition_epoch", "json", "onset of the primary signal's jump, or null"),
            AttrSpec("confidence", "float", "0..1; 0 when there is no phase change"),
            AttrSpec("consensus_epoch", "json",
                     "median steepest epoch of the agreeing signals, or null"),
            AttrSpec("signals", "json", "signal names, primary first"),
            AttrSpec("agreeing", "json", "names of the signals that agree"),
            AttrSpec("summary", "str", "one sentence: where, and which signals agree"),
        ),
        compute=compute,
        inputs=tuple(dict.fromkeys(s.analyzer for s in signals)),
    )


def _summary(signals: tuple[Signal, ...], jumps: list[Jump], agrees: np.ndarray,
             onset: int | None) -> str:
    if onset is None:
        return f"no phase change: {signals[0].name} has no jump"
    parts = [f"{s.name} (steepest at {j.steepest}, {'agrees' if a else 'does not agree'})"
             if j.detected else f"{s.name} (no jump)"
             for s, j, a in zip(signals, jumps, agrees, strict=True)]
    return f"phase change from epoch {onset}: " + "; ".join(parts)
