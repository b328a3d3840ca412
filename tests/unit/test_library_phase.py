"""The phase-change detector on planted signals: where a jump is, when it counts, and when
another signal agrees (issue 23, part 4).

A grokking run's test loss falls fast and then drags a long tail on a log scale; a jump is
judged by its bulk (10%-90% of its change), so such a fall counts, while a drift over the
whole run does not. The Induction Heads detector's own cases (a planted sigmoid, flat
noise, a slow drift, a small step, agreement of three signals) are in
``tests/families/test_induction_heads.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from tdw.family.analyzer import CrossEpochInputs
from tdw.family.artifacts import Artifact, ArtifactSchema
from tdw.library.phase import MAX_SPAN, Signal, detect_jump, make_phase_change
from tdw.library.views import phase_relation

EPOCHS = np.arange(0, 2501, 10)  # (checkpoint,) a 2,500-epoch run, every 10 epochs
RUN = float(EPOCHS[-1] - EPOCHS[0])


def _log_loss(points: list[tuple[int, float]]) -> np.ndarray:
    """log10 loss at every checkpoint, linear between ``(epoch, log10 loss)`` points."""
    x, y = zip(*points, strict=True)
    return np.interp(EPOCHS, x, y)


# Flat at 10^0.5 to epoch 1,000; 4 decades by 1,300; 3.3 more, slowly, by 2,400.
GROKKING = _log_loss([(0, 0.5), (1000, 0.5), (1300, -3.5), (2400, -6.8), (2500, -6.8)])


def _fall(log_loss: np.ndarray, noise: float = 0.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    loss = 10.0 ** (log_loss + rng.normal(0.0, noise, log_loss.size))
    return detect_jump(loss, EPOCHS, direction=-1, min_change=1.0, log=True)


def test_a_fall_that_drags_a_long_tail_is_a_jump():
    jump = _fall(GROKKING)
    # the whole jump (slope >= 20% of the peak) spans more than half the run ...
    assert (jump.end - jump.onset) / RUN > MAX_SPAN
    # ... but 80% of its 7.3 decades fall between 1,060 and 2,150: that is a jump
    assert jump.detected and jump.change == pytest.approx(7.3, abs=0.1)
    assert 980 <= jump.onset <= 1000 and 1000 <= jump.steepest <= 1300
    first, last = jump.bulk
    assert 1000 <= first <= 1100 and 2050 <= last <= 2250
    assert 0.5 < jump.confidence <= 1 - (last - first) / RUN  # sharpness x clarity


@pytest.mark.parametrize("noise", [0.0, 0.05])
def test_a_fall_spread_over_the_whole_run_is_a_drift_not_a_jump(noise):
    jump = _fall(_log_loss([(0, 0.5), (2500, -6.5)]), noise)
    assert not jump.detected and jump.confidence == 0.0
    if not noise:  # (with noise the steepest step is a wiggle, far below a decade)
        assert (jump.bulk[1] - jump.bulk[0]) / RUN > MAX_SPAN


def test_of_two_falls_the_jump_is_the_steeper_and_its_bulk_stays_on_it():
    # 2 decades over 600-700, then 3 decades over 1,800-1,850: the second is steeper
    jump = _fall(_log_loss([(0, 0.0), (600, 0.0), (700, -2.0), (1800, -2.0), (1850, -5.0),
                            (2500, -5.0)]))
    assert jump.detected and 1780 <= jump.onset <= 1800 and 1790 <= jump.steepest <= 1850
    assert 1790 <= jump.bulk[0] < jump.bulk[1] <= 1860
    assert jump.change == pytest.approx(3.0, abs=0.2)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noise_moves_the_onset_little(seed):
    clean, noisy = _fall(GROKKING), _fall(GROKKING, noise=0.05, seed=seed)
    assert noisy.detected and abs(noisy.onset - clean.onset) <= 40
    assert 1000 <= noisy.steepest <= 1300 and 0 < noisy.confidence < 1


def test_more_noise_means_less_confidence():
    drop = _log_loss([(0, 0.5), (1000, 0.5), (1300, -3.5), (2500, -3.5)])
    quiet, loud = _fall(drop, noise=0.02), _fall(drop, noise=0.3)
    assert quiet.detected and loud.detected
    assert loud.confidence < quiet.confidence


def _artifacts(name: str, values: np.ndarray) -> list[Artifact]:
    schema = ArtifactSchema(name, 1)
    return [Artifact(schema, int(e), {}, {"v": float(v)}) for e, v in zip(EPOCHS, values,
                                                                          strict=True)]


def test_a_signal_agrees_when_the_bulk_of_its_jump_overlaps_the_primary_jump():
    signals = tuple(Signal(name, name, lambda a: a.attrs["v"], -1, 1.0, log=True)
                    for name in ("primary", "late", "early"))
    primary = _log_loss([(0, 0.0), (900, 0.0), (1300, -3.0), (1700, -5.0), (2500, -5.0)])
    # steepest after 1,860, outside the primary jump, but falling from 1,500 on: its bulk
    # overlaps the primary's
    late = _log_loss([(0, 0.0), (1500, 0.0), (1860, -2.5), (1960, -5.5), (2300, -6.0),
                      (2500, -6.0)])
    early = _log_loss([(0, 0.0), (100, 0.0), (200, -3.0), (2500, -3.0)])
    series = {"primary": 10.0 ** primary, "late": 10.0 ** late, "early": 10.0 ** early}
    analyzer = make_phase_change(signals)
    arrays, attrs = analyzer.run(CrossEpochInputs(
        {}, EPOCHS, {n: _artifacts(n, v) for n, v in series.items()}, {}))
    steepest = dict(zip(attrs["signals"], arrays["steepest_epoch"], strict=True))
    assert steepest["late"] > arrays["end_epoch"][0] + 0.05 * RUN  # outside, widened
    assert attrs["agreeing"] == ["primary", "late"]
    assert list(arrays["detected"]) == [1, 1, 1] and list(arrays["agrees"]) == [1, 1, 0]
    assert "late (steepest at" in attrs["summary"] and "early (steepest at" in attrs["summary"]


def test_the_phase_view_says_how_the_red_line_relates_to_its_own_date():
    attrs = {"transition_epoch": 900, "signals": ["restricted loss"]}
    red, own = phase_relation(attrs, (961, 0.38))
    assert "epoch 961" in red and "transition marker" in red
    assert "restricted loss's jump, from epoch 900" in own
    (same,) = phase_relation(attrs, (900, 0.4))
    assert "onset of the restricted loss's jump" in same
    _, none = phase_relation({"transition_epoch": None, "signals": ["test loss"]}, (961, 0.4))
    assert "finds no jump of the test loss" in none
    assert "no detected transition" in phase_relation(attrs, None)[0]
