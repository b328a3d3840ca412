"""parameter_trajectory on planted sketch trajectories with unequal epoch gaps."""

from __future__ import annotations

import numpy as np
import pytest

from tdw.family.analyzer import CrossEpochInputs
from tdw.family.artifacts import Artifact
from tdw.library.trajectory import parameter_trajectory
from tdw.library.weights import SKETCH_DIM, parameter_snapshot


def run(sketches: np.ndarray, epochs: list[int]) -> dict[str, np.ndarray]:
    artifacts = [Artifact(parameter_snapshot.schema, epoch,
                          {"sketch": s.astype(np.float32), "group_norms": np.ones(2, np.float32)},
                          {"groups": ["a", "b"], "seed": 0, "n_params": 10})
                 for epoch, s in zip(epochs, sketches, strict=True)]
    inputs = CrossEpochInputs(values={}, epochs=np.array(epochs),
                              artifacts={"parameter_snapshot": artifacts}, metrics={})
    arrays, attrs = parameter_trajectory.run(inputs)
    assert attrs == {}
    return arrays


def orthonormal_rows(n: int, seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(SKETCH_DIM, n)))
    return q.T  # (n, SKETCH_DIM)


def test_motion_along_one_direction_is_one_component_with_known_speed() -> None:
    epochs = [0, 10, 30, 35, 100, 250]
    position = np.array([0.0, 5.0, 20.0, 18.0, 40.0, 45.0])  # backs up once
    u = orthonormal_rows(1, 0)[0]
    start = np.random.default_rng(1).normal(size=SKETCH_DIM)
    out = run(start + 3.0 * position[:, None] * u, epochs)
    assert out["pcs"].shape == (6, 6) and out["epochs"].dtype == np.int64
    assert out["explained_variance_ratio"][0] == pytest.approx(1.0, abs=1e-5)
    assert np.all(out["explained_variance_ratio"][1:] < 1e-5)
    np.testing.assert_allclose(out["pcs"][:, 0], 3.0 * (position - position.mean()), atol=2e-3)
    speed = 3.0 * np.diff(position) / np.diff(epochs)
    assert np.isnan(out["velocity"][0]) and np.all(np.isnan(out["component_velocity"][0]))
    np.testing.assert_allclose(out["velocity"][1:], np.abs(speed), rtol=1e-4)
    np.testing.assert_allclose(out["component_velocity"][1:, 0], speed, rtol=1e-4, atol=1e-5)


def test_two_planted_directions_split_the_variance_four_to_one() -> None:
    u, v = orthonormal_rows(2, 2)
    a = np.array([-1.0, 1.0, -1.0, 1.0])
    b = 0.5 * np.array([-1.0, -1.0, 1.0, 1.0])  # centred and orthogonal to a
    epochs = [0, 1, 4, 9]
    out = run(10 * (a[:, None] * u + b[:, None] * v), epochs)
    np.testing.assert_allclose(out["explained_variance_ratio"], [0.8, 0.2, 0, 0], atol=1e-5)
    np.testing.assert_allclose(np.abs(out["pcs"][:, :2]), 10 * np.abs(np.c_[a, b]), atol=1e-4)
    assert out["pcs"][-1, 1] > out["pcs"][0, 1]  # signed to end above its start
    quadrature = np.sqrt((out["component_velocity"][1:] ** 2).sum(axis=1))
    np.testing.assert_allclose(quadrature, out["velocity"][1:], rtol=1e-4)
    steps = np.linalg.norm(np.diff(10 * np.c_[a, b], axis=0), axis=1) / np.diff(epochs)
    np.testing.assert_allclose(out["velocity"][1:], steps, rtol=1e-4)


def test_at_most_ten_components_matching_the_covariance_spectrum() -> None:
    rng = np.random.default_rng(3)
    basis = orthonormal_rows(5, 4)
    coords = np.cumsum(rng.normal(size=(14, 5)) * [5, 3, 2, 1, 0.5], axis=0)  # (14, 5) walk
    out = run(coords @ basis, sorted(rng.choice(1000, size=14, replace=False).tolist()))
    assert out["pcs"].shape == (14, 10) and out["explained_variance_ratio"].shape == (10,)
    centred = coords - coords.mean(axis=0)
    eig = np.sort(np.linalg.eigvalsh(centred.T @ centred))[::-1]  # (5,)
    np.testing.assert_allclose(out["explained_variance_ratio"][:5], eig / eig.sum(), atol=1e-5)
    np.testing.assert_allclose(out["explained_variance_ratio"][5:], 0, atol=1e-6)
    gaps = np.linalg.norm(out["pcs"][:, None] - out["pcs"][None], axis=-1)
    true = np.linalg.norm(coords[:, None] - coords[None], axis=-1)
    np.testing.assert_allclose(gaps, true, atol=1e-3 * true.max())


def test_a_single_checkpoint_has_no_motion() -> None:
    out = run(np.ones((1, SKETCH_DIM)), [7])
    assert out["pcs"].shape == (1, 1) and out["pcs"][0, 0] == 0
    assert np.isnan(out["explained_variance_ratio"][0]) and np.isnan(out["velocity"][0])
