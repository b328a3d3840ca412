"""When does the test loss fall? Dating grokking, the transition of Modulo Addition, in the
per-epoch test loss.

Nanda et al. 2023 ("Progress measures for grokking via mechanistic interpretability")
split training into memorisation, circuit formation and clean-up; the sudden fall of the
test loss ("grokking") happens in clean-up. :func:`detect_transition` dates that fall from the
loss curve alone:

1. Work on ``log10(loss)``: the test loss of a grokking run falls by many orders of
   magnitude (from about ``log p`` to 1e-7), so what matters is the relative change per
   epoch (decades per epoch). On a linear scale the steepest fall would sit where the loss
   is still large, and everything below 1% of the starting loss would be invisible; in
   decades the criterion is scale-free across families and moduli, and multiplicative noise
   becomes additive (Nanda et al. plot the losses on a log scale too). Losses that rounded
   to 0 are raised to the run's smallest positive loss; interior gaps are bridged linearly.
2. Smooth with a Gaussian of ``sigma = sigma_fraction * len(test_loss)`` samples
   (``scipy.ndimage.gaussian_filter1d``, edges padded with the nearest value) and
   differentiate per epoch (``numpy.gradient``).
3. The steepest descent is the most negative derivative. Walking back from it, the transition
   is the first epoch of the unbroken stretch over which the descent is at least 10% of
   its peak rate; walking forward gives the end of the descent.

There is no transition (``None``, confidence 0) when the curve never descends, when the
descent drops less than ``min_drop`` decades (default 1: the run never groks), or when it already
descends at the first epoch (a monotone decay, not a transition).

Confidence is ``sharpness * clarity``, both in [0, 1]:

* ``sharpness = 1 - (end - start) / (last finite epoch - first epoch)``: the share of the run
  outside the descent; slow decays that span the run score near 0.
* ``clarity = z / (z + 5)`` with ``z = drop / noise``, the drop in decades over the noise of
  the log loss around its smoothed curve (1.4826 * median absolute deviation of the
  residual); 1/2 at z = 5, and 1 for a noiseless curve.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tdw.family.analyzer import CrossEpochAnalyzer, CrossEpochInputs, Output
from tdw.family.artifacts import ArraySpec, AttrSpec

__all__ = ["Transition", "detect_transition", "fall_window", "grokking_transition",
           "MIN_DROP_DECADES", "DESCENT_FRACTION", "HALF_CLARITY_Z"]

MIN_DROP_DECADES = 1.0
"""A descent must divide the (smoothed) test loss by at least 10 to count as a transition."""
DESCENT_FRACTION = 0.1
"""The descent starts and ends where its rate is this fraction of the steepest rate."""
HALF_CLARITY_Z = 5.0
"""Drop-to-noise ratio at which the clarity term of the confidence is 1/2."""


@dataclass(frozen=True, eq=False)
class Transition:
    """Where a loss curve turns down.

    Attributes:
        transition_epoch: first epoch of the main descent, or None if there is no transition.
        steepest_epoch: epoch of the steepest descent, or None if there is no transition.
        confidence: 0..1, ``sharpness * clarity`` (see the module docstring); 0 if none.
        smoothed: ``(epoch,)`` Gaussian-smoothed log10 loss; NaN over an unfinished tail.
        derivative: ``(epoch,)`` its derivative in decades per epoch; NaN over the tail.
        sigma: the Gaussian's standard deviation in samples.
    """

    transition_epoch: int | None
    steepest_epoch: int | None
    confidence: float
    smoothed: np.ndarray
    derivative: np.ndarray
    sigma: float


def _log_loss(loss: np.ndarray, epochs: np.ndarray) -> np.ndarray:
    """log10 of the loss; interior non-finite values bridged linearly in log.

    A loss that rounded to 0 (or below) is raised to the run's smallest positive loss: it
    is below the resolution of the record, and must not look like a cliff of many decades.
    """
    known = np.isfinite(loss)
    positive = loss[known & (loss > 0)]
    floor = positive.min() if positive.size else 1.0
    logs = np.log10(np.maximum(loss[known], floor))
    return np.interp(epochs, epochs[known], logs)


def _noise(log_loss: np.ndarray, smoothed: np.ndarray) -> float:
    """Robust standard deviation of the log loss around its smoothed curve."""
    residual = log_loss - smoothed
    return float(1.4826 * np.median(np.abs(residual - np.median(residual))))


def detect_transition(test_loss: np.ndarray, epochs: np.ndarray | None = None, *,
                      sigma_fraction: float = 0.01,
                      min_drop: float = MIN_DROP_DECADES) -> Transition:
    """The transition of a loss curve (see the module docstring for the definition).

    Args:
        test_loss: ``(n,)`` loss per entry; a non-finite tail (an unfinished run) is ignored.
        epochs: ``(n,)`` strictly increasing epoch of each entry; ``0..n-1`` by default.
            Smoothing counts samples, so entries should be evenly spaced.
        sigma_fraction: Gaussian standard deviation as a fraction of ``n`` (the planned
            length, so the smoothing does not change while a run is still going).
        min_drop: decades the smoothed loss must fall over the descent to count as a transition.
    """
    from scipy.ndimage import gaussian_filter1d
    loss = np.asarray(test_loss, dtype=np.float64)
    epochs = np.arange(loss.size) if epochs is None else np.asarray(epochs)
    if loss.ndim != 1 or epochs.shape != loss.shape:
        raise ValueError(f"test_loss {loss.shape} and epochs {epochs.shape} must be equal 1-D")
    if np.any(np.diff(epochs) <= 0):
        raise ValueError("epochs must be strictly increasing")
    if not sigma_fraction > 0:
        raise ValueError(f"sigma_fraction must be positive, got {sigma_fraction}")
    sigma = float(sigma_fraction * loss.size)
    smoothed = np.full(loss.size, np.nan)
    derivative = np.full(loss.size, np.nan)
    finite = np.flatnonzero(np.isfinite(loss))
    n = int(finite[-1]) + 1 if finite.size else 0
    none = Transition(None, None, 0.0, smoothed, derivative, sigma)
    if n < 3:
        return none
    x = epochs[:n].astype(np.float64)
    log_loss = _log_loss(loss[:n], x)  # (n,)
    smoothed[:n] = gaussian_filter1d(log_loss, sigma, mode="nearest")
    derivative[:n] = np.gradient(smoothed[:n], x)
    steepest = int(np.argmin(derivative[:n]))
    peak = derivative[steepest]
    if not peak < 0:
        return none
    descending = derivative[:n] <= DESCENT_FRACTION * peak  # (n,)
    before = np.flatnonzero(~descending[:steepest])
    after = np.flatnonzero(~descending[steepest:])
    start = int(before[-1]) + 1 if before.size else 0
    end = steepest + int(after[0]) - 1 if after.size else n - 1
    drop = smoothed[start] - smoothed[end]
    if start == 0 or drop < min_drop:
        return none
    sharpness = 1.0 - (x[end] - x[start]) / (x[-1] - x[0])
    noise = _noise(log_loss, smoothed[:n])
    clarity = 1.0 if noise == 0 else (drop / noise) / (drop / noise + HALF_CLARITY_Z)
    return Transition(int(epochs[start]), int(epochs[steepest]), float(sharpness * clarity),
                      smoothed, derivative, sigma)


def fall_window(test_loss: np.ndarray, *, fraction: float = 0.1,
                transition: Transition | None = None) -> tuple[int, int] | None:
    """The epochs over which the test loss makes the bulk of its fall (the grokking window).

    From the transition on, the smoothed log10 loss of :func:`detect_transition` falls by ``drop``
    decades to its lowest point; the window runs from the first epoch at which it has
    fallen ``fraction * drop`` to the first at which it has fallen ``(1 - fraction) *
    drop``: the 10%-90% fall time by default, measured in decades like the transition itself.

    Args:
        test_loss: ``(epoch,)`` per-epoch test loss.
        fraction: the share of the drop left out at each end, in (0, 0.5).
        transition: :func:`detect_transition` of ``test_loss``, if already computed.

    Returns:
        ``(first, last)`` epochs (both included), or None when there is no transition.

    >>> loss = 10.0 ** -np.clip((np.arange(400) - 100) / 50, 0, 4)  # 4 decades in 100-300
    >>> fall_window(loss)
    (121, 281)
    """
    if not 0 < fraction < 0.5:
        raise ValueError(f"fraction must lie in (0, 0.5), got {fraction}")
    found = detect_transition(test_loss) if transition is None else transition
    if found.transition_epoch is None:
        return None
    curve = found.smoothed[found.transition_epoch:]
    finite = curve[np.isfinite(curve)]
    top, drop = finite[0], finite[0] - finite.min()
    first = int(np.argmax(curve <= top - fraction * drop))
    last = int(np.argmax(curve <= top - (1 - fraction) * drop))
    return found.transition_epoch + first, found.transition_epoch + last


def _grokking_transition(inputs: CrossEpochInputs) -> Output:
    found = detect_transition(inputs.metrics["test_loss"])
    arrays = {"smoothed": found.smoothed.astype(np.float32),
              "derivative": found.derivative.astype(np.float32)}
    attrs = {"transition_epoch": found.transition_epoch,
             "steepest_epoch": found.steepest_epoch, "confidence": found.confidence,
             "sigma": found.sigma}
    return arrays, attrs


grokking_transition = CrossEpochAnalyzer(
    name="grokking_transition",
    version=1,
    description=(
        "The epoch where the test loss turns down (grokking; Nanda et al. 2023): log10 test "
        "loss smoothed by a Gaussian of 1% of the run, its steepest descent, and the first "
        "epoch from which the descent is at least 10% of that peak rate; with a 0..1 "
        "confidence = sharpness (share of the run outside the descent) x clarity "
        "(drop / noise z, as z / (z + 5))."
    ),
    arrays=(
        ArraySpec("smoothed", "float32", ("epoch",),
                  "Gaussian-smoothed log10 test loss per epoch (NaN after an unfinished run)"),
        ArraySpec("derivative", "float32", ("epoch",),
                  "derivative of the smoothed log10 test loss, decades per epoch"),
    ),
    attrs=(
        AttrSpec("transition_epoch", "json", "first epoch of the main descent, or null"),
        AttrSpec("steepest_epoch", "json", "epoch of the steepest descent, or null"),
        AttrSpec("confidence", "float", "0..1; 0 when there is no transition"),
        AttrSpec("sigma", "float", "Gaussian standard deviation in epochs"),
    ),
    compute=_grokking_transition,
)
