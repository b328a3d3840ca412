"""LLC calibration (tdw.library.llc_calibration) and the verdict it rests on
(tdw.library.llc.verdict), on a planted quadratic loss whose learning coefficient is d / 2.

With d = 100 the loss sums many coordinates, so its fluctuations average out and the
verdicts below hold for every seed tried (0-7), not only for the fixed one."""

from __future__ import annotations

import math

import pytest
import torch

from tdw.errors import ParameterError
from tdw.library.llc import SGLDConfig, verdict
from tdw.library.llc_calibration import calibrate
from tdw.library.llc_views import headline

N = 1000  # n*beta = n / log n = 145
D = 100


def _quadratic():
    w = torch.zeros(D, requires_grad=True)

    def loss(indices):
        return (w ** 2).sum()  # lambda = d / 2 = 50
    return loss, w


def _run(lrs, localizations, **base):
    loss, w = _quadratic()
    cal = calibrate(loss, [w], N, lrs=lrs, localizations=localizations,
                    base=SGLDConfig(chains=2, draws=60, burnin=30, **base))
    assert torch.equal(w, torch.zeros(D))  # restored after every cell
    return cal


def test_the_grid_is_localisation_major_and_each_cell_is_judged():
    done = []
    loss, w = _quadratic()
    cal = calibrate(loss, [w], N, lrs=[1e-3, 1.0], localizations=[1.0, 1000.0],
                    base=SGLDConfig(chains=2, draws=60, burnin=30),
                    progress=lambda i, n: done.append((i, n)))
    rows = cal.table()
    assert [(r["localization"], r["lr"]) for r in rows] == [
        (1.0, 1e-3), (1.0, 1.0), (1000.0, 1e-3), (1000.0, 1.0)]
    assert done == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert set(rows[0]) == {"lr", "localization", "llc_mean", "llc_std", "drift", "diverged",
                            "verdict"}
    by_cell = {(r["localization"], r["lr"]): r for r in rows}
    for gamma in (1.0, 1000.0):  # a huge step blows up whatever the localisation
        huge = by_cell[(gamma, 1.0)]
        assert huge["verdict"] == "diverged" and huge["diverged"] == 2
        assert huge["llc_mean"] is None
    good = by_cell[(1.0, 1e-3)]  # a step that mixes within the burn-in finds lambda = d / 2
    assert good["verdict"] == "ok" and good["llc_mean"] == pytest.approx(D / 2, rel=0.25)
    assert cal.cells[0].loss_trace.shape == (2, 90)


def test_the_recommendation_is_the_largest_ok_step_then_the_smallest_localisation():
    cal = _run([1e-6, 1e-3, 1.0], [1.0, 1000.0])
    verdicts = {(c.localization, c.lr): c.verdict for c in cal.cells}
    assert verdicts == {(1.0, 1e-6): "not converged", (1.0, 1e-3): "ok", (1.0, 1.0): "diverged",
                        (1000.0, 1e-6): "not converged", (1000.0, 1e-3): "ok",
                        (1000.0, 1.0): "diverged"}  # too small a step is still climbing
    best = cal.recommended
    assert (best.lr, best.localization) == (1e-3, 1.0)
    assert cal.config() == SGLDConfig(lr=best.lr, localization=best.localization, chains=2,
                                      draws=60, burnin=30)
    grid = cal.figure()  # one panel per cell, one row per localisation
    panels = sorted(grid.children, key=lambda child: (child[1], child[2]))
    assert [p.title.text for p, *_ in panels] == [
        f"lr {c.lr:g}, γ {c.localization:g}: {c.verdict}" for c in cal.cells]
    assert "lr 1, γ 1: diverged" in [p.title.text for p, *_ in panels]
    assert [row for _, row, *_ in panels] == [0, 0, 0, 1, 1, 1]


def test_no_ok_cell_means_no_recommendation():
    cal = _run([1.0], [1.0])
    assert cal.recommended is None and cal.config() is None


@pytest.mark.parametrize("lrs", [[], [0.0], [-1e-3], [math.nan]])
def test_a_bad_grid_is_refused_before_any_chain_runs(lrs):
    loss, w = _quadratic()
    with pytest.raises(ParameterError, match="positive lr values.*e.g. --lr 1e-5"):
        calibrate(loss, [w], N, lrs=lrs, localizations=[1.0])
    with pytest.raises(ParameterError, match="positive localization values.*e.g. "
                                             "--localization 100,1000"):
        calibrate(loss, [w], N, lrs=[1e-3], localizations=lrs)


def test_the_verdict_rules_in_order():
    assert verdict(math.nan, math.nan, None, 2) == "diverged"
    assert verdict(5.0, 0.1, 0.0, 1) == "diverged"  # any diverged chain
    assert verdict(-0.5, 0.1, 0.0, 0) == "negative"
    assert verdict(10.0, 1.0, 2.1, 0) == "not converged"  # > 2 std and > 10 / 5
    assert verdict(10.0, 1.0, 1.9, 0) == "ok"
    assert verdict(10.0, 0.01, -2.5, 0) == "not converged"  # falling counts too
    assert verdict(10.0, 1.0, None, 0) == "not converged"  # too few draws to tell


def test_the_trace_views_headline_states_estimate_drift_and_verdict():
    attrs = {"llc_mean": 12.345, "llc_std": 0.42, "drift": 0.2, "diverged_chains": 0,
             "options": {"chains": 4}}
    assert headline(attrs) == ("LLC 12.3 ± 0.42, drift 0.2, 0 of 4 chains diverged: ok")
    short = {**attrs, "drift": None, "options": {"chains": 2}}  # too few draws to halve
    assert headline(short).endswith("drift n/a, 0 of 2 chains diverged: not converged")
