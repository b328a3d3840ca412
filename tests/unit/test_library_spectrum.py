"""``singular_values`` and its views, against closed forms on planted spectra.

Each matrix is planted as U diag(s) V^T with orthonormal U and V, so its singular values
are ``s`` by construction, and every summary has a closed form in ``s``.
"""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
import torch

from tdw.family.analyzer import CheckpointInputs
from tdw.family.artifacts import Artifact
from tdw.family.views import ViewContext
from tdw.library import spectrum
from tdw.library.spectrum import singular_values, top_count
from tdw.library.spectrum_views import (
    SINGULAR_VALUE_SPECTRUM,
    SPECTRAL_CONCENTRATION,
    SPECTRUM_VIEWS,
    matrix_spectrum,
)
from tdw.library.weights import effective_dimensionality

RANK3 = np.array([5.0, 3.0, 1.0])
"""The planted spectrum of the rank-3 matrix."""


def _orthonormal(rows: int, cols: int, seed: int) -> np.ndarray:
    return np.linalg.qr(np.random.default_rng(seed).standard_normal((rows, cols)))[0]


def _planted(shape: tuple[int, int], values: np.ndarray, seed: int) -> torch.Tensor:
    """A ``shape`` matrix whose non-zero singular values are ``values``."""
    n = len(values)
    u, v = _orthonormal(shape[0], n, seed), _orthonormal(shape[1], n, seed + 1)
    return torch.as_tensor(u @ np.diag(values) @ v.T, dtype=torch.float32)


def _inputs(weights: dict[str, torch.Tensor]) -> CheckpointInputs:
    return CheckpointInputs(values={}, epoch=0, weights=weights, final_weights=weights,
                            probe={})


def _closed_form(values: np.ndarray, rank: int) -> dict[str, float]:
    """The summaries written out for singular values ``values`` padded by zeros to ``rank``."""
    e = np.sort(np.asarray(values, dtype=np.float64))[::-1] ** 2
    n_top = math.ceil(rank / 10)
    return {"participation_ratio": e.sum() ** 2 / (e ** 2).sum(), "top_share": e[0] / e.sum(),
            "top_decile_share": e[:n_top].sum() / e.sum(), "stable_rank": e.sum() / e[0]}


@pytest.fixture(scope="module")
def planted() -> dict[str, torch.Tensor]:
    """Matrices of rank bound 12, 40 and 8 (one of rank 3), an orthogonal one, a bias."""
    return {"a.weight": _planted((12, 30), RANK3, 0),  # rank bound 12, rank 3
            "b.weight": _planted((60, 40), np.linspace(4.0, 0.5, 40), 2),
            "c.weight": torch.as_tensor(_orthonormal(8, 8, 4), dtype=torch.float32),
            "c.bias": torch.ones(8)}


def test_docstring_examples() -> None:
    result = doctest.testmod(spectrum)
    assert result.attempted > 0 and result.failed == 0


def test_a_planted_rank_3_matrix_gives_its_spectrum_and_closed_forms(planted) -> None:
    arrays, attrs = singular_values.run(_inputs(planted))
    assert attrs["matrices"] == ["a.weight", "b.weight", "c.weight"]  # 2-D only, sorted
    assert attrs["top_fraction"] == 0.1
    np.testing.assert_array_equal(arrays["rank"], [12, 40, 8])
    sv = arrays["singular_values"]
    assert sv.shape == (3, 40) and sv.dtype == np.float32
    np.testing.assert_allclose(sv[0, :3], RANK3, rtol=1e-5)
    np.testing.assert_allclose(sv[0, 3:12], 0.0, atol=1e-5)  # rank 3 of 12: true zeros
    assert np.isnan(sv[0, 12:]).all() and np.isnan(sv[2, 8:]).all()  # padding, not zeros
    np.testing.assert_allclose(sv[1], np.linspace(4.0, 0.5, 40), rtol=1e-5)
    np.testing.assert_allclose(sv[2, :8], 1.0, rtol=1e-5)
    expected = [_closed_form(RANK3, 12), _closed_form(np.linspace(4.0, 0.5, 40), 40),
                _closed_form(np.ones(8), 8)]
    # written out for the rank-3 matrix: energies 25, 9, 1 of 35, top 10% of 12 = 2 values
    assert expected[0] == pytest.approx({"participation_ratio": 35 ** 2 / 707,
                                         "top_share": 25 / 35, "top_decile_share": 34 / 35,
                                         "stable_rank": 1.4})
    for key in ("participation_ratio", "top_share", "top_decile_share", "stable_rank"):
        np.testing.assert_allclose(arrays[key], [e[key] for e in expected], rtol=1e-5,
                                   err_msg=key)
    # an orthogonal matrix uses every direction alike: PR = stable rank = rank
    assert arrays["participation_ratio"][2] == pytest.approx(8, rel=1e-5)
    assert arrays["stable_rank"][2] == pytest.approx(8, rel=1e-5)


def test_it_agrees_with_effective_dimensionality_and_numpy_on_random_weights() -> None:
    g = torch.Generator().manual_seed(0)
    shapes = {"embed.weight": (60, 32), "pos_embed.weight": (3, 32), "w.weight": (128, 32),
              "w.bias": (128,), "unembed.weight": (59, 32)}
    weights = {n: torch.randn(s, generator=g) for n, s in shapes.items()}
    arrays, attrs = singular_values.run(_inputs(weights))
    pr, pr_attrs = effective_dimensionality.run(_inputs(weights))
    assert attrs["matrices"] == pr_attrs["matrices"]  # same matrices, same order
    np.testing.assert_allclose(arrays["participation_ratio"], pr["participation_ratio"],
                               rtol=1e-5)
    for row, name in enumerate(attrs["matrices"]):
        s = np.linalg.svd(weights[name].double().numpy(), compute_uv=False)
        np.testing.assert_allclose(arrays["singular_values"][row, :s.size], s, rtol=1e-5)
        e = s ** 2
        assert arrays["stable_rank"][row] == pytest.approx(
            np.linalg.norm(weights[name].double().numpy(), "fro") ** 2
            / np.linalg.norm(weights[name].double().numpy(), 2) ** 2, rel=1e-5)
        assert arrays["top_decile_share"][row] == pytest.approx(
            e[:math.ceil(s.size / 10)].sum() / e.sum(), rel=1e-5)


def test_a_zero_matrix_has_zero_singular_values_and_nan_ratios() -> None:
    arrays, _ = singular_values.run(_inputs({"z.weight": torch.zeros(5, 7),
                                             "y.weight": torch.eye(3)}))
    np.testing.assert_array_equal(arrays["singular_values"][1], 0.0)  # z.weight, sorted last
    for key in ("participation_ratio", "top_share", "top_decile_share", "stable_rank"):
        assert np.isnan(arrays[key][1]) and np.isfinite(arrays[key][0]), key
    art = Artifact(singular_values.schema, 0, arrays, {"matrices": ["y.weight", "z.weight"]})
    assert np.isnan(matrix_spectrum(art, 1)[1]).all()  # a log axis draws no zeros


@pytest.mark.parametrize(("rank", "count"), [(1, 1), (9, 1), (10, 1), (11, 2), (30, 3),
                                             (113, 12), (128, 13)])
def test_the_top_decile_is_the_ceiling_of_a_tenth(rank: int, count: int) -> None:
    assert top_count(rank) == count


# --- views ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def context(planted) -> ViewContext:
    """Three checkpoints: random-ish weights shrinking onto the planted low-rank ones."""
    g = torch.Generator().manual_seed(5)
    arts = {}
    for epoch, noise in ((0, 1.0), (10, 0.3), (20, 0.0)):
        weights = {n: t + noise * torch.randn(t.shape, generator=g) for n, t in planted.items()}
        arts[epoch] = Artifact(singular_values.schema, epoch,
                               *singular_values.run(_inputs(weights)))

    def load(name: str, epoch: int) -> Artifact:
        assert name == "singular_values"
        return arts[epoch]
    return ViewContext("v", {}, 0, (0, 10, 20), load, lambda: {}, transition=(10, 0.5))


def test_the_views_build_under_trajectory(context) -> None:
    from bokeh.models import ColumnDataSource, Model

    assert [v.name for v in SPECTRUM_VIEWS] == ["singular_value_spectrum",
                                                "spectral_concentration"]
    for view in SPECTRUM_VIEWS:
        assert view.group == "Trajectory" and view.reads == ("singular_values",)
        fig = view.figure(context)
        assert isinstance(fig, Model)
        sources = fig.select({"type": ColumnDataSource})
        assert any(len(next(iter(s.data.values()), [])) for s in sources if s.data)
    assert SINGULAR_VALUE_SPECTRUM.figure(context).y_scale.__class__.__name__ == "LogScale"
    assert SINGULAR_VALUE_SPECTRUM.selector_range(context, "matrix") == 3


def test_the_spectrum_moves_with_the_checkpoint_and_follows_the_selector(context) -> None:
    view = SINGULAR_VALUE_SPECTRUM
    first = view.epoch_data(context)["spectrum"]
    last = view.epoch_data(context.at(20))["spectrum"]
    assert not np.allclose(first["sigma"], last["sigma"])
    np.testing.assert_allclose(last["sigma"][:3], RANK3, rtol=1e-5)
    assert np.nanmax(last["sigma"][3:]) < 1e-6 and len(last["sigma"]) == 12  # rank 3 of 12
    assert last["cumulative"][2] == pytest.approx(1.0) and last["matrix"][0] == "a.weight"
    picked = ViewContext(context.variant, {}, 20, context.epochs, context.load,
                         context.metrics, {"matrix": 2})
    columns = view.epoch_data(picked)["spectrum"]
    assert columns["matrix"] == ["c.weight"] * 8 and len(columns["index"]) == 8
    reference = view.data(picked)["reference"]
    np.testing.assert_allclose(reference["ys"][1], 1.0, rtol=1e-5)  # last: orthogonal
    assert reference["label"] == ["first checkpoint (epoch 0)", "last checkpoint (epoch 20)"]


def test_the_concentration_lines_hold_the_artifacts(context) -> None:
    view = SPECTRAL_CONCENTRATION
    columns = view.data(context)
    assert columns["stable_rank"]["name"] == ["a.weight", "b.weight", "c.weight"]
    assert columns["stable_rank"]["xs"][0] == [0, 10, 20]
    assert columns["stable_rank"]["ys"][0][-1] == pytest.approx(1.4, rel=1e-5)
    assert columns["decile"]["ys"][0][-1] == pytest.approx(34 / 35, rel=1e-5)
    assert columns["transition"] == {"x": [10]}
    assert view.epoch_data(context) != view.epoch_data(context.at(20))  # the current line
    epochs, mean = view.trace.values(context)
    assert epochs == [0, 10, 20] and mean[-1] == pytest.approx((1.4 + columns[
        "stable_rank"]["ys"][1][-1] + 8) / 3, rel=1e-5)


def test_the_shared_spectra_follow_in_place_changes_and_inference_tensors():
    from tdw.library.weights import singular_values_of

    weights = {"w.weight": torch.randn(6, 4, generator=torch.Generator().manual_seed(0))}
    first = singular_values_of(weights)
    assert singular_values_of(weights) is first  # the second analyzer's read: reused
    assert not first["w.weight"].flags.writeable  # shared, so read-only
    weights["w.weight"].mul_(2)  # changed in place: computed again
    np.testing.assert_allclose(singular_values_of(weights)["w.weight"],
                               2 * first["w.weight"], rtol=1e-12)
    with torch.inference_mode():  # no version counter: computed, not cached
        frozen = {"w.weight": torch.ones(3, 3)}
    assert singular_values_of(frozen)["w.weight"][0] == pytest.approx(3.0)
