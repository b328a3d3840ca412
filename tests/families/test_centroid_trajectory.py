"""centroid_trajectory and its views, against independent computations on planted signals.

Planted paths: linear systems z_{t+1} = A z_t (eigenvalues known: numpy's eig(A)), a switch
from A1 to A2 at a known step, and continuous flows z(e) = expm(e G) z_0 sampled on the
family's uneven default schedule. They enter either the functions directly or, lifted
into centred class centroids of a random d_model = 128 arrangement, the real
``repr_geometry`` analyzer (planted activations at '='), whose float16 artifacts the
analyzer then reads.
"""

from __future__ import annotations

import doctest
import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from bokeh.embed import json_item
from bokeh.models import Plot
from scipy.linalg import expm
from tdw.families.modulo_addition_1l import centroid_trajectory, geometry
from tdw.families.modulo_addition_1l.centroid_trajectory import (
    CEILING,
    CROSS_EPOCH,
    RESIDUAL_JUMP,
    WINDOW,
    centroid_residual,
    dmd_eigenvalues,
    dmd_modes,
    fit_generator,
    one_step_residual,
    shared_pcs,
    snapshot_pod,
)
from tdw.families.modulo_addition_1l.centroid_trajectory_views import (
    CENTROID_DMD_EIGENVALUES,
    CENTROID_DMD_RESIDUAL,
    CENTROID_PATHS,
    PLANES,
    VIEWS,
)
from tdw.families.modulo_addition_1l.geometry import HOOKS, SITES

from tdw.family.analyzer import CheckpointInputs, CrossEpochInputs
from tdw.family.artifacts import Artifact
from tdw.family.registry import get_family
from tdw.family.schedule import parse_schedule
from tdw.family.views import ViewContext
from tdw.library.phase import detect_jump
from tdw.store.serialisation import array_bytes

FAMILY = get_family("modulo_addition_1l")
(ANALYZER,) = CROSS_EPOCH
(GEOMETRY,) = geometry.ANALYZERS
D_MODEL = 128
SCHEDULE = np.array(parse_schedule(FAMILY.default_schedule({"n_epochs": 25_000}),
                                   25_000).epochs)  # 95 epochs, gaps of 100 and 500


def _blocks(pairs, seed) -> np.ndarray:
    """``(2n, 2n)`` matrix of 2 x 2 blocks [[a, -b], [b, a]] (one per ``(a, b)``), turned
    into a random orthonormal basis."""
    out = np.zeros((2 * len(pairs),) * 2)
    for i, (a, b) in enumerate(pairs):
        out[2 * i:2 * i + 2, 2 * i:2 * i + 2] = [[a, -b], [b, a]]
    q = np.linalg.qr(np.random.default_rng(seed).standard_normal(out.shape))[0]
    return q @ out @ q.T


def _spiral(modulus: float, turn: float) -> tuple[float, float]:
    return modulus * np.cos(turn), modulus * np.sin(turn)


A1 = _blocks([_spiral(0.99, 0.3), _spiral(1.0, 0.5), _spiral(0.98, 0.8)], seed=1)
A2 = _blocks([_spiral(1.01, -0.4), _spiral(0.97, 0.6), _spiral(1.0, 0.2)], seed=2)
G1 = _blocks([(-2e-5, 2e-4), (-5e-5, 5e-4), (0.0, 1e-4)], seed=1)  # per epoch
G2 = _blocks([(3e-5, -3e-4), (-1e-4, 2e-4), (2e-5, 6e-4)], seed=2)


def _iterate(n: int, switch: int | None = None, seed: int = 0) -> np.ndarray:
    """``(n, 6)`` states of z_{t+1} = A1 z_t, or A2 z_t from step ``switch`` on."""
    z = [np.random.default_rng(seed).standard_normal(6)]
    for t in range(n - 1):
        z.append((A2 if switch is not None and t >= switch else A1) @ z[-1])
    return np.array(z)


def _flow(epochs, switch: float = np.inf, jitter: float = 0.0, seed: int = 0) -> np.ndarray:
    """``(T, 6)`` states of dz/de = G1 z, G2 z after epoch ``switch``, at ``epochs``, each
    jittered by ``jitter`` of the states' RMS norm."""
    rng = np.random.default_rng(seed)
    start = rng.standard_normal(6)

    def at(epoch: float) -> np.ndarray:
        if epoch <= switch:
            return expm(epoch * G1) @ start
        return expm((epoch - switch) * G2) @ expm(switch * G1) @ start

    z = np.array([at(e) for e in epochs])
    return z + jitter * np.sqrt((z ** 2).sum(1).mean()) * rng.standard_normal(z.shape)


def _lift(z: np.ndarray, p: int, seed: int = 3, scale: float = 10.0) -> np.ndarray:
    """``(T, class, d_model)`` centred class centroids whose flattening is ``z`` on k
    orthonormal arrangements (each summing to 0 over the classes)."""
    raw = np.random.default_rng(seed).standard_normal((z.shape[1], p, D_MODEL))
    raw -= raw.mean(1, keepdims=True)
    basis = np.linalg.qr(raw.reshape(len(raw), -1).T)[0].T  # (k, p * d), still centred
    return scale * (z @ basis).reshape(len(z), p, D_MODEL)


def _classes(p: int) -> np.ndarray:
    a, b = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    return ((a + b) % p).ravel()


def _geometry_artifacts(offsets: dict[str, np.ndarray], epochs, p: int) -> list[Artifact]:
    """Real ``repr_geometry`` artifacts of activations whose class centroids at '=' are a
    shared point plus ``offsets[site][t]`` (rows spread about them, exactly centred in
    each class); noise elsewhere."""
    rng = np.random.default_rng(5)
    values = FAMILY.resolve({"p": p})
    probe = FAMILY.probe(values)
    c = _classes(p)
    out = []
    for t, epoch in enumerate(epochs):
        activations = {}
        for site in SITES:
            acts = rng.standard_normal((p * p, 3, D_MODEL))
            if site in offsets:
                spread = rng.standard_normal((p * p, D_MODEL)) * 0.3
                for r in range(p):
                    spread[c == r] -= spread[c == r].mean(0)
                acts[:, 2] = 4.0 + offsets[site][t][c] + spread
            activations[HOOKS[site]] = torch.tensor(acts, dtype=torch.float32)
        inputs = CheckpointInputs(values=values, epoch=int(epoch), weights={},
                                  final_weights={}, probe=probe, activations=activations)
        out.append(Artifact(GEOMETRY.schema, int(epoch), *GEOMETRY.run(inputs)))
    return out


def _run(artifacts: list[Artifact], epochs) -> tuple[dict, dict]:
    return ANALYZER.run(CrossEpochInputs({}, np.asarray(epochs, np.int64),
                                         {"repr_geometry": artifacts}, {}))


P = 13
N = 60
SWITCH = 30  # the first step under A2: checkpoint 30 -> 31
EVEN = 100 * np.arange(N)
PLANTED_Z = _iterate(N)
SWITCH_Z = _iterate(N, switch=SWITCH, seed=4)
GEOMETRIES = _geometry_artifacts({"resid_post": _lift(PLANTED_Z, P),
                                  "mlp_out": _lift(SWITCH_Z, P, seed=6)}, EVEN, P)
PLANTED = _run(GEOMETRIES, EVEN)


def _eig_close(found: np.ndarray, expected: np.ndarray, tol: float) -> None:
    """Equal multisets of complex numbers: each expected value has a found one within
    ``tol``, one for one (nearest first)."""
    found = list(found)
    for value in sorted(expected, key=lambda v: (v.real, v.imag)):
        i = int(np.argmin([abs(f - value) for f in found]))
        assert abs(found.pop(i) - value) < tol, (value, found)
    assert not found


# --- the definitions, one by one ----------------------------------------------------


def test_the_docstring_examples_run():
    result = doctest.testmod(centroid_trajectory)
    assert result.attempted > 0 and result.failed == 0


def test_the_shared_basis_is_numpys_svd_of_the_stacked_rows():
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((300, 20)) * np.linspace(3, 0.1, 20) + 5.0  # (row, dim)
    basis, share = shared_pcs(rows, 3)
    _, s, vt = np.linalg.svd(rows - rows.mean(0), full_matrices=False)
    for got, want in zip(basis, vt[:3], strict=True):
        np.testing.assert_allclose(got, want * np.sign(want[np.argmax(np.abs(want))]),
                                   atol=1e-10)
        assert got[np.argmax(np.abs(got))] > 0  # the sign convention
    np.testing.assert_allclose(share, s[:3] ** 2 / (s ** 2).sum(), rtol=1e-10)


def test_the_analyzer_paths_are_the_stacked_rows_on_their_svd():
    arrays, attrs = PLANTED
    assert attrs["sites"] == ["resid_post", "attn_out", "mlp_out"]
    for site in range(3):
        offsets = np.stack([a["centroid_offsets"][site] for a in GEOMETRIES]).astype(float)
        rows = offsets.reshape(-1, D_MODEL)
        u, s, vt = np.linalg.svd(rows - rows.mean(0), full_matrices=False)
        sign = np.sign(vt[np.arange(3), np.argmax(np.abs(vt[:3]), axis=1)])  # (pc,)
        np.testing.assert_allclose(arrays["basis"][site], vt[:3] * sign[:, None], atol=1e-5)
        np.testing.assert_allclose(arrays["share"][site], s[:3] ** 2 / (s ** 2).sum(),
                                   rtol=1e-5)
        scores = (u[:, :3] * s[:3] * sign).reshape(len(EVEN), P, 3)  # (checkpoint, class, pc)
        np.testing.assert_allclose(arrays["paths"][site], scores, rtol=2e-3,
                                   atol=2e-3 * np.abs(scores).max())


def test_the_pod_coordinates_keep_the_snapshots_geometry():
    snapshots = _lift(PLANTED_Z, P).reshape(len(PLANTED_Z), -1)  # (T, p * d), rank 6
    z, kept = snapshot_pod(snapshots, 8)
    assert z.shape == (N, 6) and kept == pytest.approx(1.0)  # the cut drops rank noise
    np.testing.assert_allclose(z @ z.T, snapshots @ snapshots.T, atol=1e-8)
    _, s, _ = np.linalg.svd(snapshots, full_matrices=False)
    np.testing.assert_allclose(np.linalg.norm(z, axis=0), s[:6], rtol=1e-9)
    two, kept = snapshot_pod(snapshots, 2)
    assert two.shape == (N, 2) and kept == pytest.approx((s[:2] ** 2).sum() / (s ** 2).sum())


def test_a_planted_linear_system_gives_its_eigenvalues_and_no_residual():
    generator = fit_generator(PLANTED_Z, EVEN)
    _eig_close(dmd_eigenvalues(generator, 100.0), np.linalg.eigvals(A1), 1e-9)
    residual = one_step_residual(PLANTED_Z, EVEN)
    assert np.isnan(residual[:WINDOW + 1]).all()
    assert np.nanmax(residual) < 1e-8
    # the same through the lift into class centroids and POD: a change of basis
    z, _ = snapshot_pod(_lift(PLANTED_Z, P).reshape(N, -1), 8)
    lam, amplitude = dmd_modes(fit_generator(z, EVEN), z, 100.0)
    _eig_close(lam, np.linalg.eigvals(A1), 1e-8)
    assert (np.diff(amplitude) <= 0).all()


def test_a_planted_linear_system_through_the_float16_artifacts():
    arrays, attrs = PLANTED
    assert attrs["reference_gap"] == 100.0 and attrs["rank"] == 8
    assert attrs["window"] == WINDOW
    eigenvalues = arrays["eigenvalues"][0].astype(np.float64)  # resid_post: (mode, part)
    lam = eigenvalues[:, 0] + 1j * eigenvalues[:, 1]
    found = np.isfinite(lam)
    assert found.sum() == 6  # the POD keeps the 6 planted directions, not the rounding
    _eig_close(lam[found], np.linalg.eigvals(A1), 2e-3)
    residual = arrays["residual"][0]
    assert np.isnan(residual[:WINDOW + 1]).all() and np.nanmax(residual) < 0.01
    assert arrays["pod_share"][0] == pytest.approx(1.0, abs=1e-5)


def test_a_planted_switch_makes_the_residual_jump_at_the_switch():
    residual = one_step_residual(SWITCH_Z, EVEN)  # A1 up to checkpoint 30, then A2
    after = SWITCH + 1  # the checkpoint of the first A2 step
    assert np.nanmax(residual[:after]) < 1e-8  # predicted while the window is all A1
    assert residual[after] > 0.5  # the first A2 step is missed
    assert (residual[after:after + WINDOW] > 1e-3).all()  # while the window mixes them
    assert np.nanmax(residual[after + WINDOW:]) < 1e-8  # the window holds only A2 again
    # the same in the artifacts of mlp_out (site 2), after float16
    stored = PLANTED[0]["residual"][2]
    assert np.nanmax(stored[:after]) < 0.01 and stored[after] > 0.5
    assert np.nanmax(stored[after + WINDOW:]) < 0.01
    np.testing.assert_allclose(stored, centroid_residual(GEOMETRIES, EVEN, site=2),
                               rtol=1e-6, equal_nan=True)


def test_uneven_gaps_are_steps_in_epochs_not_a_change_of_regime():
    z = _flow(SCHEDULE)
    residual = one_step_residual(z, SCHEDULE)
    assert np.nanmax(residual) < 0.05  # across every change of gap (100 <-> 500 epochs)
    # Counting checkpoints as even steps, the first gap of 100 after gaps of 500 (epoch
    # 9,100) is predicted 5 times too long: a false change of regime.
    even = one_step_residual(z, np.arange(len(z)))
    at = int(np.flatnonzero(SCHEDULE == 9100)[0])
    assert even[at] > 1.0 > 0.05 > residual[at]
    # The eigenvalues per median gap (100 epochs) are those of exp(100 G) to second order:
    # the trapezoidal rule misses (w gap)^2 / 12 of a turn rate w, at most 0.25^2 / 12 of
    # 5e-4 per epoch over the gaps of 500, so 3e-4 per 100 epochs.
    lam = dmd_eigenvalues(fit_generator(z, SCHEDULE), 100.0)
    _eig_close(lam, np.exp(100 * np.linalg.eigvals(G1)), 5e-4)


@pytest.mark.parametrize("jitter", [0.0, 1e-4, 1e-3])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_suggested_signal_dates_a_switch_and_ignores_a_steady_flow(jitter, seed):
    # The Signal suggested for phase_change: direction +1, min_change RESIDUAL_JUMP, not
    # log, the detector's default smoothing of one checkpoint.
    def jump(switch):
        residual = one_step_residual(_flow(SCHEDULE, switch, jitter, seed), SCHEDULE)
        return detect_jump(residual, SCHEDULE, direction=1, min_change=RESIDUAL_JUMP)

    changed, steady = jump(10_000), jump(np.inf)
    assert changed.detected and 9900 <= changed.onset <= 10_000 <= changed.end
    assert changed.change > 0.8 and changed.steepest in (9900, 10_000)
    assert not steady.detected and steady.change < 0.3


def test_the_residual_is_capped_and_a_still_step_has_none():
    z = _iterate(30)
    z[25] = z[24]  # a step that does not move
    z[27] = z[26] + 1e-3 * (z[26] - z[25])  # a step 1,000 times shorter than predicted
    residual = one_step_residual(z, 10 * np.arange(30))
    assert np.isnan(residual[25]) and residual[27] == CEILING
    assert np.nanmax(residual) <= CEILING


def test_short_and_flat_runs():
    one = _run(GEOMETRIES[:1], EVEN[:1])[0]
    assert np.isnan(one["eigenvalues"]).all() and np.isnan(one["residual"]).all()
    assert one["paths"].shape == (3, 1, P, 3)
    four = _run(GEOMETRIES[:4], EVEN[:4])[0]  # the tiny preset's 4 checkpoints
    assert 0 < np.isfinite(four["eigenvalues"][0]).all(-1).sum() <= 4  # 4 snapshots
    assert np.isnan(four["residual"]).all()
    # attn_out is noise with no class structure beyond rounding: no crash, finite paths
    assert np.isfinite(PLANTED[0]["paths"][1].astype(float)).all()


def test_the_artifact_at_p_113_and_95_checkpoints():
    p, rng = 113, np.random.default_rng(0)
    drift = rng.standard_normal((3, p, D_MODEL))
    arts = [Artifact(GEOMETRY.schema, int(e), {"centroid_offsets": (
        drift * (1 + e / 25_000) + 0.1 * rng.standard_normal((3, p, D_MODEL))
    ).astype(np.float16)}) for e in SCHEDULE]
    arrays, attrs = _run(arts, SCHEDULE)
    assert arrays["paths"].shape == (3, 95, p, 3)
    # 193,230 B of float16 paths; basis 4,608; residual 1,140; epochs 760; the rest 336
    assert sum(a.nbytes for a in arrays.values()) == 200_074
    assert len(array_bytes(arrays, {"attrs": json.dumps(attrs)})) < 202_000


# --- the views ------------------------------------------------------------------------


def _context(epoch: int = 0, selection=None) -> ViewContext:
    trajectory = Artifact(ANALYZER.schema, None, *PLANTED)
    by_epoch = dict(zip(EVEN.tolist(), GEOMETRIES, strict=True))

    def load(name: str, e: int) -> Artifact:
        return trajectory if name == "centroid_trajectory" else by_epoch[e]
    return ViewContext("v", FAMILY.resolve({"p": P}), epoch, tuple(EVEN.tolist()), load,
                       lambda: {}, selection=selection or {}, transition=(1200, 0.7))


@pytest.mark.parametrize("view", VIEWS, ids=lambda v: v.name)
def test_each_view_builds_a_valid_figure(view):
    assert view.group == "Geometry" and view.reads == ("centroid_trajectory",)
    assert view.scope == "summary"
    for selection in ({}, {"site": 2, "plane": 1}):
        ctx = _context(1500, selection)
        fig = view.figure(ctx)
        assert isinstance(fig, Plot) and json_item(fig)["doc"]["roots"]


def test_the_paths_stay_and_the_points_move_with_the_checkpoint():
    ctx = _context(selection={"site": 0, "plane": 2})
    assert {name: CENTROID_PATHS.selector_range(ctx, name) for name in ("site", "plane")} \
        == {"site": 3, "plane": 3}
    paths = PLANTED[0]["paths"][0].astype(np.float64)  # (checkpoint, class, pc)
    i, j = PLANES[2]
    static = CENTROID_PATHS.data(ctx)["paths"]
    assert len(static["xs"]) == P and static["color"][0] != static["color"][1]
    np.testing.assert_array_equal(static["xs"][4], paths[:, 4, i])
    np.testing.assert_array_equal(static["ys"][4], paths[:, 4, j])
    first, later = CENTROID_PATHS.epoch_data(ctx), CENTROID_PATHS.epoch_data(ctx.at(2000))
    assert set(first) == {"now", "label"}  # all a checkpoint change sends
    np.testing.assert_array_equal(later["now"]["x"], paths[20, :, i])  # epoch 2,000
    assert not np.allclose(first["now"]["x"], later["now"]["x"])
    share = PLANTED[0]["share"][0]
    assert later["label"]["text"][0] == (
        f"resid_post: x PC2 ({100 * share[1]:.0f}% of the variance), y PC3 "
        f"({100 * share[2]:.0f}%)\nepoch 2000: DMD residual 0.00")
    assert first["label"]["text"][0].endswith("epoch 0: DMD residual -")  # no window yet
    other = CENTROID_PATHS.epoch_data(_context(2000, {"site": 2, "plane": 0}))
    assert other["label"]["text"][0].startswith("mlp_out: x PC1")
    assert not np.allclose(other["now"]["x"], later["now"]["x"])
    near = CENTROID_PATHS.epoch_data(ctx.at(2040))  # between checkpoints: the nearest
    np.testing.assert_array_equal(near["now"]["x"], later["now"]["x"])
    sources = CENTROID_PATHS.sources(ctx)
    fig = CENTROID_PATHS.build(sources, ctx)
    sources["now"].data = later["now"]  # the frame swap
    drawn = [r for r in fig.renderers if getattr(r, "data_source", None) is sources["now"]]
    assert len(drawn) == 1 and list(drawn[0].data_source.data["x"]) == list(paths[20, :, i])


def test_the_residual_lines_are_the_stored_residuals():
    ctx = _context(1500)
    columns = CENTROID_DMD_RESIDUAL.data(ctx)
    lines = columns["lines"]
    assert lines["name"] == ["resid_post", "attn_out", "mlp_out"]
    np.testing.assert_allclose(lines["ys"][2], PLANTED[0]["residual"][2], equal_nan=True)
    assert lines["xs"][0] == EVEN.tolist() and columns["transition"] == {"x": [1200]}
    assert CENTROID_DMD_RESIDUAL.epoch_data(ctx.at(2000)) == {"current": {"x": [2000]}}
    epochs, values = CENTROID_DMD_RESIDUAL.trace.values(ctx)
    np.testing.assert_allclose(values, PLANTED[0]["residual"][0], equal_nan=True)


def test_the_eigenvalue_marks_are_the_stored_eigenvalues():
    ctx = _context()
    eigen = CENTROID_DMD_EIGENVALUES.data(ctx)["eigen"]
    stored = PLANTED[0]["eigenvalues"]  # (site, mode, part)
    assert len(eigen["x"]) == int(np.isfinite(stored).all(-1).sum())
    resid_post = [k for k, s in enumerate(eigen["site"]) if s == "resid_post"]
    got = [complex(eigen["x"][k], eigen["y"][k]) for k in resid_post]
    _eig_close(np.array(got), np.linalg.eigvals(A1), 2e-3)
    assert max(eigen["size"]) == pytest.approx(18) and all(
        m == pytest.approx(abs(complex(x, y)))
        for m, x, y in zip(eigen["modulus"], eigen["x"], eigen["y"], strict=True))
    assert CENTROID_DMD_EIGENVALUES.epoch_data(replace(ctx, epoch=300)) == {}


def test_the_phase_change_detector_takes_the_residual_as_a_signal():
    # A Signal reading the whole run (series) rather than one number per artifact: the
    # switch planted in mlp_out's centroids is dated without reading any loss.
    from tdw.families.modulo_addition_1l.centroid_trajectory import centroid_residual

    from tdw.library.phase import Signal, make_phase_change

    signal = Signal("centroid DMD residual", "repr_geometry", None, direction=1,
                    min_change=RESIDUAL_JUMP,
                    series=lambda arts, epochs: centroid_residual(arts, epochs, site=2))
    detector = make_phase_change((signal,))
    arrays, attrs = detector.run(CrossEpochInputs({}, np.asarray(EVEN, np.int64),
                                                  {"repr_geometry": GEOMETRIES}, {}))
    assert attrs["transition_epoch"] is not None
    assert EVEN[SWITCH - 2] <= attrs["transition_epoch"] <= EVEN[SWITCH + 1]
    steady = Signal("steady", "repr_geometry", None, direction=1, min_change=RESIDUAL_JUMP,
                    series=lambda arts, epochs: centroid_residual(arts, epochs, site=0))
    _, attrs = make_phase_change((steady,)).run(CrossEpochInputs(
        {}, np.asarray(EVEN, np.int64), {"repr_geometry": GEOMETRIES}, {}))
    assert attrs["transition_epoch"] is None
    with pytest.raises(ValueError, match="value .* or series"):
        Signal("both", "repr_geometry", lambda a: 0.0, 1, 0.5, series=centroid_residual)
