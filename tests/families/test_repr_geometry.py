"""The representation-geometry analyzer and its views, proven on planted signals.

Planted activations put the class centroids on known shapes (a ring at frequency k, two
rings, a line, a random cloud, one point) at '=' and check the analyzer against them or
against direct computations (a loop over class pairs, the covariance's trace); a real
p = 11 bridge checks the hook names and that the four sites add up.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from tdw.families.modulo_addition_1l import geometry
from tdw.families.modulo_addition_1l.geometry import HOOKS, SITES, class_geometry, fisher_matrix
from tdw.families.modulo_addition_1l.geometry_views import VIEWS

from tdw.family.analyzer import CheckpointInputs
from tdw.family.artifacts import Artifact
from tdw.family.model import boot_model
from tdw.family.registry import get_family
from tdw.family.views import ViewContext

FAMILY = get_family("modulo_addition_1l")
(ANALYZER,) = geometry.ANALYZERS
D_MODEL = 128


def _classes(p: int) -> np.ndarray:
    """``(p*p,)`` answer class (a + b) mod p of each row, rows in ``a * p + b`` order."""
    a, b = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    return ((a + b) % p).ravel()


def _rings(p, rings, noise=0.05, seed=0) -> np.ndarray:
    """``(p*p, d_model)`` rows whose class c sits at amplitude * (cos, sin)(2 pi k c / p +
    phase) in a random plane per ``(k, amplitude, phase)`` ring (orthogonal planes), plus
    an offset and isotropic noise."""
    rng = np.random.default_rng(seed)
    c = _classes(p)
    planes = np.linalg.qr(rng.standard_normal((D_MODEL, 2 * len(rings))))[0].T  # (2n, d)
    rows = rng.standard_normal(D_MODEL) + noise * rng.standard_normal((p * p, D_MODEL))
    for i, (k, amplitude, phase) in enumerate(rings):
        angle = 2 * np.pi * k * c / p + phase  # (p*p,)
        rows += amplitude * np.column_stack([np.cos(angle), np.sin(angle)]) @ planes[2 * i:
                                                                                   2 * i + 2]
    return rows


def _inputs(p, sites: dict[str, np.ndarray], seed=1) -> CheckpointInputs:
    """Inputs whose activation at '=' is ``sites[site]`` (noise where not given) and noise
    at the other positions, so reading the wrong position or hook fails."""
    rng = np.random.default_rng(seed)
    values = FAMILY.resolve({"p": p})
    activations = {}
    for site in SITES:
        out = rng.standard_normal((p * p, 3, D_MODEL))
        if site in sites:
            out[:, 2] = sites[site]
        activations[HOOKS[site]] = torch.tensor(out, dtype=torch.float32)
    return CheckpointInputs(values=values, epoch=0, weights={}, final_weights={},
                            probe=FAMILY.probe(values), activations=activations)


def _direct(rows, p):
    """Centroids ``(class, d)`` and class variances ``(class,)`` by a loop over classes."""
    c = _classes(p)
    mu = np.stack([rows[c == r].mean(0) for r in range(p)])
    var = np.array([((rows[c == r] - mu[r]) ** 2).sum(-1).mean() for r in range(p)])
    return mu, var


def _angles(coords):
    return np.angle(coords[:, 0] + 1j * coords[:, 1])


def _wrapped(angle):
    return np.angle(np.exp(1j * angle))


# --- planted shapes -------------------------------------------------------------------


@pytest.mark.parametrize("k, phase", [(5, 0.7), (-5, 2.0), (9, -1.0)])
def test_a_planted_ring_is_circular_aligned_at_its_frequency_and_held_still(k, phase):
    p = 23
    arrays, attrs = ANALYZER.run(_inputs(p, {"mlp_out": _rings(p, [(k, 3.0, phase)])}))
    site = SITES.index("mlp_out")
    assert attrs["sites"] == list(SITES)
    assert arrays["circularity"][site] > 0.97 and arrays["ring_fit"][site] > 0.97
    assert arrays["alignment"][site] > 0.999
    assert arrays["best_k"][site] == abs(k)
    assert arrays["participation_ratio"][site] == pytest.approx(2, abs=0.05)
    # Either orientation and any phase land in one frame: class c at angle 2 pi |k| c / p.
    coords = arrays["centroids"][site].astype(np.float64)  # (class, pc)
    expected = 2 * np.pi * abs(k) * np.arange(p) / p
    assert np.abs(_wrapped(_angles(coords) - expected)).max() < 0.02
    cx, cy, radius = arrays["circle"][site]
    assert np.hypot(cx, cy) < 0.02 and radius == pytest.approx(3.0, rel=0.01)
    # The noise sites carry no ring.
    assert arrays["circularity"][SITES.index("attn_out")] < 0.2


def test_the_stored_ring_does_not_depend_on_the_residual_basis():
    p = 17
    rows = _rings(p, [(3, 2.0, 0.4), (6, 0.8, 0.0)], noise=0.2)
    rotation = np.linalg.qr(np.random.default_rng(4).standard_normal((D_MODEL, D_MODEL)))[0]
    first, turned = class_geometry(rows, p), class_geometry(rows @ rotation, p)
    np.testing.assert_allclose(turned.centroids, first.centroids, atol=1e-9)
    np.testing.assert_allclose(turned.circle, first.circle, atol=1e-9)


@pytest.mark.parametrize("flips", [(0,), (1,), (0, 1), (2,), (0, 2)])
def test_the_stored_ring_does_not_depend_on_the_signs_the_svd_picks(flips, monkeypatch):
    # The centroids' Gram matrix fixes the SVD up to the sign of each component, which
    # LAPACK chooses: flipping one of the top two mirrors the plane, flipping both turns it.
    p = 19
    rows = _rings(p, [(7, 2.0, 0.3)], noise=0.1) + 0.3 * _rings(p, [(2, 1.0, 0.0)], seed=3)
    first = class_geometry(rows, p)
    svd = np.linalg.svd

    def flipped(matrix, full_matrices=True):
        u, s, vt = svd(matrix, full_matrices=full_matrices)
        u[:, list(flips)] *= -1
        vt[list(flips)] *= -1
        return u, s, vt

    monkeypatch.setattr(np.linalg, "svd", flipped)
    second = class_geometry(rows, p)
    assert first.best_k == second.best_k == 7
    np.testing.assert_allclose(second.centroids, first.centroids, atol=1e-9)
    np.testing.assert_allclose(second.circle, first.circle, atol=1e-9)


def test_two_rings_share_circularity_by_variance_and_the_stronger_wins():
    p = 29
    g = class_geometry(_rings(p, [(4, 3.0, 0.0), (11, 1.5, 1.0)], noise=0.02), p)
    share = 9 / (9 + 1.5 ** 2)  # the planes' variances are amplitude^2 / 2
    assert g.pc_share[:2].sum() == pytest.approx(share, abs=0.01)
    assert g.circularity == pytest.approx(share, abs=0.02)
    assert g.best_k == 4 and g.alignment > 0.999
    # Two orthogonal rings: eigenvalues (a, a, b, b), PR = (2a + 2b)^2 / (2a^2 + 2b^2).
    a, b = 9 / 2, 1.5 ** 2 / 2
    assert g.participation_ratio == pytest.approx((2 * a + 2 * b) ** 2 / (2 * a * a + 2 * b * b),
                                                  rel=0.01)


def test_a_random_cloud_and_a_line_are_not_rings():
    p = 23
    rng = np.random.default_rng(2)
    cloud = class_geometry(rng.standard_normal((p * p, D_MODEL)) * 0.1
                           + rng.standard_normal((p, D_MODEL))[_classes(p)], p)
    assert cloud.circularity < 0.15 and cloud.alignment < 0.3
    direction = rng.standard_normal(D_MODEL)
    line = class_geometry(np.outer(_classes(p) - p / 2, direction)
                          + 0.01 * rng.standard_normal((p * p, D_MODEL)), p)
    assert line.pc_share[0] > 0.99  # one line: a circle fit calls it a wide arc
    assert line.ring_fit < 0.01 and line.circularity < 0.01


def test_one_point_has_zero_geometry():
    p = 13
    point = np.tile(np.random.default_rng(3).standard_normal(D_MODEL), (p * p, 1))
    g = class_geometry(point * 1e3, p)
    for name in ("participation_ratio", "snr", "ring_fit", "circularity", "alignment",
                 "fisher_mean", "fisher_min", "best_k"):
        assert getattr(g, name) == 0, name
    np.testing.assert_array_equal(g.centroids, 0.0)
    assert g.spread < 1e-9 and g.radius < 1e-9


# --- the measures against direct computations ------------------------------------------


def _fisher_rows(p, seed=5):
    """Random centroids with a different noise scale per class, so both variances count."""
    rng = np.random.default_rng(seed)
    c = _classes(p)
    scale = rng.uniform(0.2, 2.0, p)[c][:, None]  # (p*p, 1)
    return (2 * rng.standard_normal((p, D_MODEL))[c] + scale * rng.standard_normal(
        (p * p, D_MODEL)))


def test_fisher_matches_a_loop_over_pairs():
    p = 13
    rows = _fisher_rows(p)
    arrays, _ = ANALYZER.run(_inputs(p, {"resid_post": rows}))
    mu, var = _direct(rows, p)
    J = {(r, s): ((mu[r] - mu[s]) ** 2).sum() / (var[r] + var[s])
         for r in range(p) for s in range(r + 1, p)}
    worst = min(J, key=J.get)
    site = SITES.index("resid_post")
    assert arrays["fisher_min"][site] == pytest.approx(J[worst], rel=1e-5)
    assert arrays["fisher_mean"][site] == pytest.approx(np.mean(list(J.values())), rel=1e-5)
    assert tuple(arrays["worst_pair"][site]) == worst
    np.testing.assert_allclose(arrays["radii"][site], np.sqrt(var), rtol=1e-5)
    # What the Fisher view draws: J from the stored float16 distances and the radii.
    matrix = fisher_matrix(arrays["distances"][site], arrays["radii"][site])
    for (r, s), value in J.items():
        assert matrix[r, s] == matrix[s, r] == pytest.approx(value, rel=2e-3)
    assert np.all(np.diag(matrix) == 0)


def test_participation_ratio_and_snr_match_the_covariance():
    p = 19
    rows = _fisher_rows(p, seed=6)
    g = class_geometry(rows, p)
    mu, var = _direct(rows, p)
    cov = np.cov(mu.T, bias=True)  # (d, d) covariance of the centroids
    assert g.participation_ratio == pytest.approx(np.trace(cov) ** 2 / np.trace(cov @ cov),
                                                  rel=1e-9)
    spread_sq = ((mu - mu.mean(0)) ** 2).sum(-1).mean()
    assert g.snr == pytest.approx(spread_sq / var.mean(), rel=1e-9)
    # With equal classes the total variance splits into spread^2 + radius^2.
    assert g.spread ** 2 + g.radius ** 2 == pytest.approx(((rows - rows.mean(0)) ** 2).sum(-1)
                                                          .mean(), rel=1e-9)
    np.testing.assert_allclose(g.distances, np.linalg.norm(mu[:, None] - mu[None], axis=-1),
                               atol=1e-9)


def test_with_equal_radii_the_mean_fisher_is_the_snr():
    # mean_{r<s} |mu_r - mu_s|^2 = 2 p spread^2 / (p - 1), each pair over 2 radius^2.
    p = 11
    rng = np.random.default_rng(7)
    c = _classes(p)
    noise = rng.standard_normal((p * p, D_MODEL))
    for r in range(p):  # centred in each class, mean squared norm exactly 0.5
        part = noise[c == r] - noise[c == r].mean(0)
        noise[c == r] = part * np.sqrt(0.5 / (part ** 2).sum(-1).mean())
    g = class_geometry(rng.standard_normal((p, D_MODEL))[c] + noise, p)
    np.testing.assert_allclose(g.radii, np.sqrt(0.5), rtol=1e-12)
    assert g.fisher_mean == pytest.approx(g.snr * p / (p - 1), rel=1e-9)


def test_the_centroids_in_the_residual_basis_match_a_loop_over_classes():
    p = 13
    rows = {"resid_post": _fisher_rows(p, seed=8), "mlp_out": _rings(p, [(4, 2.0, 0.3)])}
    arrays, _ = ANALYZER.run(_inputs(p, rows))
    assert arrays["centroid_offsets"].shape == (geometry.MATRIX_SITES, p, D_MODEL)
    assert arrays["centroid_mean"].shape == (geometry.MATRIX_SITES, D_MODEL)
    for site, site_rows in rows.items():
        mu, _ = _direct(site_rows, p)  # (class, d)
        i = SITES.index(site)
        np.testing.assert_allclose(arrays["centroid_mean"][i], mu.mean(0), rtol=1e-6,
                                   atol=1e-6)
        offsets = arrays["centroid_offsets"][i].astype(np.float64)
        # float16: 11 significant bits of each entry
        np.testing.assert_allclose(offsets, mu - mu.mean(0), rtol=2 ** -10, atol=1e-4)
        # the stored distances are the offsets' distances
        gap = np.linalg.norm(offsets[:, None] - offsets[None], axis=-1)
        np.testing.assert_allclose(arrays["distances"][i], gap, rtol=2e-3, atol=2e-3)


def test_the_offsets_turn_with_the_residual_basis_unlike_the_ring():
    # The offsets are in the residual basis: a rotation of the rows rotates them. (The
    # ring's own-PC coordinates stay put: see the test of the residual basis above.)
    p = 17
    rows = _rings(p, [(3, 2.0, 0.4), (6, 0.8, 0.0)], noise=0.2)
    rotation = np.linalg.qr(np.random.default_rng(4).standard_normal((D_MODEL, D_MODEL)))[0]
    first, turned = class_geometry(rows, p), class_geometry(rows @ rotation, p)
    np.testing.assert_allclose(turned.offsets, first.offsets @ rotation, atol=1e-9)
    np.testing.assert_allclose(turned.mean, first.mean @ rotation, atol=1e-9)
    np.testing.assert_allclose(first.offsets.sum(0), 0.0, atol=1e-9)


def test_the_artifact_stays_small_at_p_113():
    p = 113
    rng = np.random.default_rng(0)
    inputs = _inputs(p, {site: rng.standard_normal((p * p, D_MODEL)) for site in SITES})
    arrays, _ = ANALYZER.run(inputs)
    # 84,134 B at version 1, plus the centroids in the residual basis: 3 x 113 x 128
    # float16 offsets (86,784 B) and 3 x 128 float32 means (1,536 B)
    assert sum(a.nbytes for a in arrays.values()) == 172_454 < 200_000
    assert arrays["distances"].shape == (geometry.MATRIX_SITES, p, p)
    assert arrays["centroid_offsets"].nbytes + arrays["centroid_mean"].nbytes == 88_320


# --- the real bridge ------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_forward():
    values = FAMILY.resolve({"p": 11})
    model = boot_model(FAMILY.model_config(values))
    probe = FAMILY.probe(values)
    with torch.inference_mode():
        _, cache = model.run_with_cache(probe["tokens"],
                                        names_filter=lambda name: name in ANALYZER.hooks)
    return model, values, probe, {hook: cache[hook] for hook in ANALYZER.hooks}


def test_the_hooks_exist_in_the_bridge_and_the_sites_add_up(real_forward):
    model, values, probe, activations = real_forward
    assert set(ANALYZER.hooks) <= set(model.hook_dict)
    at = {site: activations[HOOKS[site]][:, 2].double() for site in SITES}  # (pair, d_model)
    torch.testing.assert_close(at["resid_post"], at["resid_pre"] + at["attn_out"]
                               + at["mlp_out"], rtol=0, atol=1e-5)
    weights = model.state_dict()
    equals = weights["embed.weight"][11] + weights["pos_embed.weight"][2]  # '=' at position 2
    torch.testing.assert_close(at["resid_pre"], equals.double().expand(121, -1))
    arrays, attrs = ANALYZER.run(CheckpointInputs(values=values, epoch=0, weights={},
                                                  final_weights={}, probe=probe,
                                                  activations=activations))
    p, n = 11, len(SITES)
    assert arrays["centroids"].shape == (n, p, 3) and arrays["radii"].shape == (n, p)
    assert arrays["distances"].shape == (3, p, p) and arrays["worst_pair"].shape == (n, 2)
    pre = SITES.index("resid_pre")
    assert arrays["participation_ratio"][pre] == arrays["snr"][pre] == 0
    assert (arrays["participation_ratio"][:pre] >= 1).all()


# --- views ----------------------------------------------------------------------------


def _context(p=17, selection=None) -> ViewContext:
    """Two checkpoints: noise at epoch 0, a ring at k = 3 in resid_post at epoch 10."""
    artifacts = {}
    for epoch, rows in ((0, np.random.default_rng(8).standard_normal((p * p, D_MODEL))),
                        (10, _rings(p, [(3, 2.0, 0.5)], noise=0.1))):
        arrays, attrs = ANALYZER.run(_inputs(p, {"resid_post": rows}, seed=epoch))
        artifacts[epoch] = Artifact(ANALYZER.schema, epoch, arrays, attrs)
    return ViewContext(variant="v", values=FAMILY.resolve({"p": p}), epoch=0, epochs=(0, 10),
                       load=lambda name, epoch: artifacts[epoch], metrics=lambda: {},
                       selection=selection or {})


def test_every_view_builds_a_figure_with_its_selectors():
    from bokeh.models import Plot

    ctx = _context()
    assert [v.name for v in VIEWS] == ["class_ring", "class_distances", "class_fisher",
                                       "repr_geometry_series"]
    for view in VIEWS:
        assert view.group == "Geometry" and view.reads == ("repr_geometry",)
        for site in range(view.selector_range(ctx, "site")):
            for epoch in ctx.epochs:
                chosen = replace(ctx, epoch=epoch, selection={"site": site})
                assert isinstance(view.figure(chosen), Plot)
    ranges = {v.name: v.selector_range(ctx, "site") for v in VIEWS}
    assert ranges == {"class_ring": 4, "class_distances": 3, "class_fisher": 3,
                      "repr_geometry_series": 4}


def test_the_ring_moves_with_the_checkpoint_and_the_site():
    ring = VIEWS[0]
    ctx = _context()
    before, after = ring.epoch_data(ctx)["ring"], ring.epoch_data(ctx.at(10))["ring"]
    assert not np.allclose(before["x"], after["x"])
    assert ring.epoch_data(ctx.at(10))["label"]["text"][0].startswith("resid_post: circ")
    angles = _angles(np.column_stack([after["x"], after["y"]]))
    assert np.abs(_wrapped(angles - 2 * np.pi * 3 * np.arange(17) / 17)).max() < 0.1
    other = ring.epoch_data(_context(selection={"site": 2}).at(10))
    assert other["label"]["text"][0].startswith("mlp_out")
    assert not np.allclose(other["ring"]["x"], after["x"])


def test_the_series_puts_every_measure_on_zero_to_one():
    series = VIEWS[3]
    ctx = _context()
    lines = series.data(ctx)["lines"]
    ys = np.array(lines["ys"])  # (line, checkpoint)
    assert ys.shape == (5, 2) and ((ys >= 0) & (ys <= 1)).all()
    art = ctx.load("repr_geometry", 10)
    snr = float(art["snr"][0])
    assert ys[2, 1] == pytest.approx(snr / (1 + snr), rel=1e-6)
    assert ys[0, 1] > 0.9 > 0.2 > ys[0, 0]  # the ring forms between the two checkpoints
    assert series.epoch_data(ctx.at(10)) == {"current": {"x": [10]}}
    epochs, values = series.trace.values(ctx)
    assert list(epochs) == [0, 10] and values[1] == pytest.approx(art["circularity"][0])
