"""Grokking-transition detection on synthetic test-loss curves with known transitions."""

from __future__ import annotations

import numpy as np
import pytest

from tdw.family.analyzer import CrossEpochInputs
from tdw.library.transition import detect_transition, grokking_transition

N = 10_001  # epochs 0..10000, so sigma = 1% = 100 epochs
T = np.arange(N, dtype=np.float64)
T0, WIDTH, DROP = 6000.0, 200.0, 6.5
# For log10 loss = 0.5 - DROP * s((t - T0) / WIDTH), s the logistic, the descent rate
# s(1 - s) reaches 10% of its peak 1/4 where s = (1 - sqrt(0.9)) / 2, i.e. at
# t = T0 + WIDTH * log(s / (1 - s)); Gaussian smoothing moves this by less than sigma.
S10 = (1 - np.sqrt(0.9)) / 2
ANALYTIC_TURN = T0 + WIDTH * np.log(S10 / (1 - S10))  # 5272.6
SIGMA = 100


def sigmoid_drop(t: np.ndarray = T) -> np.ndarray:
    return 10 ** (0.5 - DROP / (1 + np.exp(-(t - T0) / WIDTH)))


def test_sigmoid_drop_turns_where_the_drop_starts_and_is_steepest_mid_way() -> None:
    turn = detect_transition(sigmoid_drop())
    assert abs(turn.transition_epoch - ANALYTIC_TURN) < SIGMA
    assert abs(turn.steepest_epoch - T0) <= 1
    assert turn.confidence > 0.8
    assert turn.sigma == pytest.approx(100.01)
    # The derivative of log10 loss peaks at -DROP / (4 * WIDTH), minus a little smoothing.
    assert turn.derivative[int(T0)] == pytest.approx(-DROP / (4 * WIDTH), rel=0.1)
    assert turn.smoothed[0] == pytest.approx(0.5, abs=1e-6)


def test_the_turn_is_found_on_the_log_scale() -> None:
    # On a linear scale the steepest fall of a sigmoid in log10 loss comes early in the drop
    # (where the loss is still large); on the log scale it is the midpoint.
    linear_steepest = int(np.argmin(np.gradient(sigmoid_drop())))
    assert linear_steepest < T0 - 2 * WIDTH
    assert detect_transition(sigmoid_drop()).steepest_epoch == pytest.approx(T0, abs=1)


def test_constant_curve_has_no_turn() -> None:
    turn = detect_transition(np.full(N, 4.7))
    assert (turn.transition_epoch, turn.steepest_epoch, turn.confidence) == (None, None, 0.0)
    np.testing.assert_allclose(turn.smoothed, np.log10(4.7))


def test_monotone_decay_from_the_start_is_no_turn() -> None:
    exponential = 10 ** (0.5 - 4 * T / N)  # four decades, falling at a constant rate
    power = 4.7 / (1 + T / 50)  # steepest at epoch 0
    for curve in (exponential, power):
        turn = detect_transition(curve)
        assert turn.transition_epoch is None and turn.confidence == 0.0


def test_slowly_accelerating_decay_turns_with_low_confidence() -> None:
    # log10 loss = 0.5 - 4 (t/N)^2 speeds up over the whole run: its descent reaches 10% of
    # its final rate at t = 0.1 N and never stops, so sharpness is 1 - 0.9 = 0.1.
    turn = detect_transition(10 ** (0.5 - 4 * (T / N) ** 2))
    assert turn.transition_epoch == pytest.approx(0.1 * N, abs=SIGMA)
    assert 0 < turn.confidence < 0.15


@pytest.mark.parametrize(("noise", "min_confidence"), [(0.05, 0.75), (0.3, 0.6)])
def test_noisy_sigmoid_is_still_found(noise: float, min_confidence: float) -> None:
    rng = np.random.default_rng(7)
    noisy = sigmoid_drop() * 10 ** rng.normal(0, noise, N)  # noise in decades
    turn = detect_transition(noisy)
    clean = detect_transition(sigmoid_drop())
    assert abs(turn.transition_epoch - clean.transition_epoch) < 50
    assert abs(turn.steepest_epoch - T0) < 50
    assert min_confidence < turn.confidence < clean.confidence


def test_confidence_is_sharpness_times_clarity() -> None:
    noisy = sigmoid_drop() * 10 ** np.random.default_rng(9).normal(0, 0.3, N)
    turn = detect_transition(noisy)
    d = turn.derivative
    steepest = int(np.argmin(d))
    end = steepest + int(np.argmax(d[steepest:] > 0.1 * d[steepest])) - 1
    assert np.all(d[turn.transition_epoch:end + 1] <= 0.1 * d[steepest])
    assert d[turn.transition_epoch - 1] > 0.1 * d[steepest] and d[end + 1] > 0.1 * d[steepest]
    residual = np.log10(noisy) - turn.smoothed
    noise = 1.4826 * np.median(np.abs(residual - np.median(residual)))
    assert noise == pytest.approx(0.3, rel=0.05)
    z = (turn.smoothed[turn.transition_epoch] - turn.smoothed[end]) / noise
    sharpness, clarity = 1 - (end - turn.transition_epoch) / (N - 1), z / (z + 5)
    assert 0.5 < sharpness < 0.95 and 0.5 < clarity < 0.95  # both terms matter here
    assert turn.confidence == pytest.approx(sharpness * clarity, rel=1e-9)


def test_run_that_never_groks_has_no_turn() -> None:
    rng = np.random.default_rng(8)
    loss = np.full(N, 4.7)
    loss[3000:] = 4.7 + 0.3 * np.sin(T[3000:] / 300) + rng.normal(0, 0.05, N - 3000)
    loss[:3000] = 4.7 - 0.5 * T[:3000] / 3000  # a small early dip, then the wiggle
    turn = detect_transition(loss)
    assert (turn.transition_epoch, turn.steepest_epoch, turn.confidence) == (None, None, 0.0)


def test_unfinished_run_ignores_the_nan_tail() -> None:
    loss = sigmoid_drop()
    loss[8000:] = np.nan
    turn = detect_transition(loss)
    full = detect_transition(sigmoid_drop())
    assert ((turn.transition_epoch, turn.steepest_epoch)
            == (full.transition_epoch, full.steepest_epoch))
    assert turn.sigma == full.sigma  # smoothing fixed by the planned length
    assert np.all(np.isnan(turn.smoothed[8000:])) and np.all(np.isfinite(turn.smoothed[:8000]))
    assert np.all(np.isnan(turn.derivative[8000:]))
    unstarted = detect_transition(np.full(N, np.nan))
    assert unstarted.transition_epoch is None and np.all(np.isnan(unstarted.smoothed))


def test_interior_gaps_and_zero_losses_do_not_break_the_curve() -> None:
    loss = sigmoid_drop()
    loss[[100, 4000, 7000]] = np.nan
    loss[9000:] = 0.0  # rounded to 0: raised to the smallest positive loss, not a cliff
    turn = detect_transition(loss)
    assert abs(turn.transition_epoch - ANALYTIC_TURN) < SIGMA and abs(turn.steepest_epoch - T0) <= 5
    assert np.all(np.isfinite(turn.smoothed))
    assert turn.smoothed.min() >= np.log10(sigmoid_drop()[8999]) - 1e-9


def test_epochs_label_a_subsampled_curve() -> None:
    turn = detect_transition(sigmoid_drop()[::5], T[::5].astype(int))
    assert abs(turn.transition_epoch - ANALYTIC_TURN) < SIGMA
    assert abs(turn.steepest_epoch - T0) <= 5 and turn.transition_epoch % 5 == 0
    with pytest.raises(ValueError, match="increasing"):
        detect_transition(np.ones(3), np.array([0, 2, 1]))
    with pytest.raises(ValueError, match="sigma_fraction"):
        detect_transition(np.ones(3), sigma_fraction=0.0)


def test_grokking_transition_analyzer_reads_the_test_loss() -> None:
    def inputs(test_loss: np.ndarray) -> CrossEpochInputs:
        metrics = {"test_loss": test_loss.astype(np.float32), "train_loss": np.ones(N, np.float32),
                   "train_acc": np.ones(N, np.float32), "test_acc": np.ones(N, np.float32)}
        return CrossEpochInputs(values={}, epochs=np.array([0, N - 1]), artifacts={},
                                metrics=metrics)

    arrays, attrs = grokking_transition.run(inputs(sigmoid_drop()))
    expected = detect_transition(sigmoid_drop().astype(np.float32))
    assert attrs["transition_epoch"] == expected.transition_epoch
    assert attrs["steepest_epoch"] == 6000
    assert attrs["confidence"] == expected.confidence and attrs["sigma"] == expected.sigma
    assert arrays["smoothed"].dtype == np.float32 and arrays["smoothed"].shape == (N,)
    np.testing.assert_allclose(arrays["derivative"], expected.derivative, rtol=1e-5, atol=1e-9)
    _, flat = grokking_transition.run(inputs(np.full(N, 4.7)))
    assert flat == {"transition_epoch": None, "steepest_epoch": None, "confidence": 0.0,
                    "sigma": pytest.approx(100.01)}
