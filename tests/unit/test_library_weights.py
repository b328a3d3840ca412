"""Weight analyzers against independent computations on planted parameters."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from tdw.family.analyzer import CheckpointInputs
from tdw.library.weights import (
    SKETCH_DIM,
    direction,
    effective_dimensionality,
    make_flatness,
    parameter_snapshot,
    participation_ratio,
    random_projection,
)

SHAPES = {"embed.weight": (60, 32), "pos_embed.weight": (3, 32),
          "blocks.0.mlp.in.weight": (128, 32), "blocks.0.mlp.in.bias": (128,),
          "unembed.weight": (59, 32)}  # 8128 parameters: two projection blocks


BLOCK = 4096


def inputs_for(weights: dict[str, torch.Tensor], model: object = None) -> CheckpointInputs:
    return CheckpointInputs(values={}, epoch=0, weights=weights, final_weights=weights,
                            probe={}, model=model)


def random_weights(seed: int, scale: float) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {name: scale * torch.randn(shape, generator=g) for name, shape in SHAPES.items()}


def flat(weights: dict[str, torch.Tensor]) -> np.ndarray:
    return np.concatenate([weights[n].double().numpy().ravel() for n in sorted(weights)])


# --- parameter_snapshot -------------------------------------------------------------------

def test_sketch_distances_approximate_parameter_distances() -> None:
    sets = [random_weights(seed, scale) for seed, scale in enumerate((0.5, 1.0, 1.0, 2.0, 0.1))]
    sketches = [parameter_snapshot.run(inputs_for(w))[0]["sketch"].astype(np.float64)
                for w in sets]
    assert all(s.shape == (SKETCH_DIM,) for s in sketches)
    ratios = [np.linalg.norm(sketches[i] - sketches[j]) / np.linalg.norm(flat(sets[i])
                                                                           - flat(sets[j]))
              for i, j in itertools.combinations(range(len(sets)), 2)]
    ratios += [np.linalg.norm(s) / np.linalg.norm(flat(w)) for s, w in zip(sketches, sets,
                                                                         strict=True)]
    assert np.all(np.abs(np.array(ratios) - 1) < 0.10), ratios


def test_projection_keeps_structured_differences_and_every_coordinate_counts() -> None:
    # A difference that would cancel under a repeated pattern (+v then -v) must keep its
    # length sqrt(2)*|v|; so must a change of the very last parameter.
    v = torch.randn(BLOCK)
    x = torch.randn(3 * BLOCK + 7)
    y = x.clone()
    y[:BLOCK] += v
    y[BLOCK:2 * BLOCK] -= v
    gap = np.linalg.norm(random_projection(y) - random_projection(x))
    assert gap == pytest.approx(np.sqrt(2) * float(v.norm()), rel=0.1)
    z = x.clone()
    z[-1] += 3.0
    assert np.linalg.norm(random_projection(z) - random_projection(x)) == pytest.approx(3.0,
                                                                                        rel=0.1)


def test_sketch_is_linear_deterministic_and_ignores_dict_order() -> None:
    x, y = random_weights(1, 1.0), random_weights(2, 1.0)
    both = {name: x[name] + y[name] for name in x}
    px, py, pxy = (parameter_snapshot.run(inputs_for(w))[0]["sketch"] for w in (x, y, both))
    np.testing.assert_allclose(pxy, px + py, rtol=0, atol=1e-4 * np.abs(pxy).max())
    reordered = dict(reversed(list(x.items())))
    np.testing.assert_array_equal(parameter_snapshot.run(inputs_for(reordered))[0]["sketch"], px)
    other_seed = random_projection(torch.from_numpy(flat(x)).float(), seed=1)
    assert not np.allclose(other_seed, px, atol=0.1)


def test_snapshot_group_norms_and_attrs() -> None:
    w = random_weights(3, 0.7)
    arrays, attrs = parameter_snapshot.run(inputs_for(w))
    assert attrs["groups"] == sorted(SHAPES)
    assert attrs["n_params"] == flat(w).size == 8128
    assert attrs["seed"] == 0
    expected = [np.linalg.norm(w[name].double().numpy()) for name in sorted(SHAPES)]
    np.testing.assert_allclose(arrays["group_norms"], expected, rtol=1e-6)


# --- effective_dimensionality -------------------------------------------------------------

def orthonormal(rows: int, cols: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(rows, cols, generator=g, dtype=torch.float64))
    return q  # (rows, cols), orthonormal columns


@pytest.mark.parametrize("rank", [1, 3, 7])
def test_planted_rank_with_equal_singular_values_gives_rank(rank: int) -> None:
    m = 2.5 * orthonormal(40, rank, 0) @ orthonormal(30, rank, 1).T  # (40, 30), rank r
    assert participation_ratio(m.float()) == pytest.approx(rank, rel=1e-4)


def test_orthogonal_and_planted_spectra() -> None:
    assert participation_ratio(orthonormal(16, 16, 2).float()) == pytest.approx(16, rel=1e-4)
    assert participation_ratio(orthonormal(50, 12, 3).T.float()) == pytest.approx(12, rel=1e-4)
    u, v = orthonormal(20, 2, 4), orthonormal(10, 2, 5)
    m = u @ torch.diag(torch.tensor([3.0, 1.0], dtype=torch.float64)) @ v.T
    assert participation_ratio(m) == pytest.approx((9 + 1) ** 2 / (81 + 1), rel=1e-9)
    assert np.isnan(participation_ratio(torch.zeros(4, 3)))


def test_effective_dimensionality_reads_every_matrix_and_only_matrices() -> None:
    weights = {"b.weight": (2 * orthonormal(9, 4, 6) @ orthonormal(8, 4, 7).T).float(),
               "a.weight": orthonormal(6, 6, 8).float(),
               "a.bias": torch.ones(6),
               "blocks.0.attn.W_Q": torch.randn(4, 6, 3)}
    arrays, attrs = effective_dimensionality.run(inputs_for(weights))
    assert attrs["matrices"] == ["a.weight", "b.weight"]
    np.testing.assert_allclose(arrays["participation_ratio"], [6, 4], rtol=1e-4)


# --- flatness -----------------------------------------------------------------------------

class Quadratic(torch.nn.Module):
    """Two parameter tensors and a buffer; the loss is the squared norm of all three."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(11)
        self.w = torch.nn.Parameter(scale * torch.randn(3, 4, generator=g))
        self.v = torch.nn.Parameter(scale * torch.randn(5, generator=g))
        self.register_buffer("frozen", torch.full((2,), 0.5))


def squared_norm(model: Quadratic, probe: dict) -> torch.Tensor:
    return (model.w ** 2).sum() + (model.v ** 2).sum() + (model.frozen ** 2).sum()


def test_direction_is_unit_global_and_seeded() -> None:
    shapes = {"w": (3, 4), "v": (5,)}
    d0 = direction(shapes, 0, 0)
    total = sum(float((t.double() ** 2).sum()) for t in d0.values())
    assert total == pytest.approx(1.0, abs=1e-6)
    assert all(torch.equal(d0[n], direction(shapes, 0, 0)[n]) for n in shapes)
    assert not torch.equal(d0["w"], direction(shapes, 0, 1)["w"])
    assert not torch.equal(d0["w"], direction(shapes, 1, 0)["w"])


@pytest.mark.parametrize("radius", [0.1, 0.7])
def test_flatness_on_a_quadratic_matches_2r_w_dot_d_plus_r_squared(radius: float) -> None:
    model = Quadratic(1.0)
    w = {"v": model.v.detach().double().clone(), "w": model.w.detach().double().clone()}
    analyzer = make_flatness(squared_norm, radius=radius, n_directions=5, seed=3)
    arrays, attrs = analyzer.run(inputs_for({}, model))
    shapes = {name: tuple(t.shape) for name, t in w.items()}
    expected = []
    for i in range(5):
        d = direction(shapes, 3, i)
        dot = sum(float((w[n] * d[n].double()).sum()) for n in w)
        expected.append(2 * radius * dot + radius ** 2)
    base = sum(float((t ** 2).sum()) for t in w.values()) + 0.5
    np.testing.assert_allclose(arrays["delta_loss"], expected, rtol=0, atol=2e-5)
    assert attrs["base_loss"] == pytest.approx(base, rel=1e-6)
    assert attrs["mean_delta"] == pytest.approx(np.mean(expected), abs=2e-5)
    assert attrs["radius"] == radius and attrs["n_directions"] == 5
    assert len(set(np.round(arrays["delta_loss"], 4))) == 5  # five distinct directions


def test_flatness_at_the_minimum_is_radius_squared_in_every_direction() -> None:
    model = Quadratic(0.0)
    arrays, attrs = make_flatness(squared_norm, radius=0.3).run(inputs_for({}, model))
    np.testing.assert_allclose(arrays["delta_loss"], np.full(8, 0.09), rtol=1e-5)
    assert attrs["base_loss"] == pytest.approx(0.5) and attrs["n_directions"] == 8


def test_flatness_restores_weights_bit_for_bit_even_when_the_loss_fails() -> None:
    model = Quadratic(1.0)
    before = {k: t.clone() for k, t in model.state_dict().items()}
    make_flatness(squared_norm, radius=5.0).run(inputs_for({}, model))
    assert all(torch.equal(before[k], t) for k, t in model.state_dict().items())

    calls = []

    def failing(m: Quadratic, probe: dict) -> torch.Tensor:
        calls.append(m.w.detach().clone())
        if len(calls) == 3:
            raise RuntimeError("probe failed")
        return squared_norm(m, probe)

    with pytest.raises(RuntimeError, match="probe failed"):
        make_flatness(failing, radius=5.0).run(inputs_for({}, model))
    assert not torch.equal(calls[2], before["w"])  # it was perturbed when it failed
    assert all(torch.equal(before[k], t) for k, t in model.state_dict().items())


def test_flatness_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="radius"):
        make_flatness(squared_norm, radius=0.0)
    with pytest.raises(ValueError, match="direction"):
        make_flatness(squared_norm, n_directions=0)


def test_flatness_on_the_grokking_bridge_perturbs_only_trainable_weights() -> None:
    from tdw.family.model import boot_model, weights_of
    from tdw.family.registry import get_family

    family = get_family("modulo_addition_1l")
    values = family.resolve({"p": 5})
    model = boot_model(family.model_config(values))
    probe = family.probe(values)
    seen_bias = []

    def loss_fn(m: object, pr: dict) -> torch.Tensor:
        seen_bias.append(m.state_dict()["unembed.bias"].clone())
        logits = family.readout(m, pr["tokens"])
        return torch.nn.functional.cross_entropy(logits, pr["labels"])

    before = weights_of(model)
    with torch.no_grad():
        expected_base = float(loss_fn(model, probe))
    arrays, attrs = make_flatness(loss_fn, n_directions=2).run(
        CheckpointInputs(values, 0, before, before, probe, model=model))
    assert attrs["base_loss"] == expected_base
    assert np.all(np.isfinite(arrays["delta_loss"])) and np.all(arrays["delta_loss"] != 0)
    assert all(torch.equal(b, before["unembed.bias"]) for b in seen_bias)  # a buffer
    after = weights_of(model)
    assert all(torch.equal(before[k], after[k]) for k in before)
