"""graduation and neuron_specialisation on hand-built artifacts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tdw.family.analyzer import CrossEpochInputs
from tdw.family.artifacts import ArraySpec, Artifact, ArtifactSchema, AttrSpec
from tdw.library.progress import graduation, neuron_specialisation

TRACE = ArtifactSchema("prediction_trace", 1, arrays=(
    ArraySpec("correct", "uint8", ("a", "b")), ArraySpec("confidence", "float16", ("a", "b"))))
CLUSTERS = ArtifactSchema("neuron_freq_clusters", 1, arrays=(
    ArraySpec("fraction", "float32", ("neuron", "freq")),
    ArraySpec("dominant", "int32", ("neuron",)),
    ArraySpec("specialised_count", "int32", ("freq",))), attrs=(AttrSpec("threshold", "float"),))


def run_graduation(correct: np.ndarray, epochs: list[int]) -> tuple[dict, dict]:
    artifacts = []
    for epoch, grid in zip(epochs, correct, strict=True):
        arrays = {"correct": grid.astype(np.uint8), "confidence": np.full(grid.shape, 0.5,
                                                                          np.float16)}
        TRACE.validate(arrays, {})
        artifacts.append(Artifact(TRACE, epoch, arrays))
    return graduation.run(CrossEpochInputs({}, np.array(epochs),
                                           {"prediction_trace": artifacts}, {}))


def run_specialisation(counts: np.ndarray, epochs: list[int]) -> tuple[dict, dict]:
    artifacts = []
    for epoch, row in zip(epochs, counts, strict=True):
        arrays = {"fraction": np.zeros((8, row.size), np.float32),
                  "dominant": np.zeros(8, np.int32),
                  "specialised_count": row.astype(np.int32)}
        CLUSTERS.validate(arrays, {"threshold": 0.85})
        artifacts.append(Artifact(CLUSTERS, epoch, arrays, {"threshold": 0.85}))
    return neuron_specialisation.run(CrossEpochInputs({}, np.array(epochs),
                                                      {"neuron_freq_clusters": artifacts}, {}))


# --- graduation ---------------------------------------------------------------------------

EPOCHS = [0, 100, 250, 400, 1000]
SEQUENCES = {  # (a, b): correct at each checkpoint -> graduation epoch
    (0, 0): ([0, 0, 1, 1, 1], 250),
    (0, 1): ([1, 1, 1, 1, 1], 0),
    (0, 2): ([0, 1, 0, 1, 1], 400),  # learned, forgotten, learned again for good
    (1, 0): ([1, 1, 1, 1, 0], -1),  # forgotten at the end
    (1, 1): ([0, 0, 0, 0, 0], -1),
    (1, 2): ([0, 0, 0, 0, 1], 1000),
}


def test_graduation_of_hand_built_inputs() -> None:
    correct = np.zeros((5, 2, 3), np.uint8)
    expected = np.zeros((2, 3), np.int32)
    for (a, b), (sequence, epoch) in SEQUENCES.items():
        correct[:, a, b] = sequence
        expected[a, b] = epoch
    arrays, attrs = run_graduation(correct, EPOCHS)
    np.testing.assert_array_equal(arrays["graduation_epoch"], expected)
    np.testing.assert_allclose(arrays["graduated_fraction"], np.array([1, 1, 2, 3, 4]) / 6)
    np.testing.assert_array_equal(arrays["epochs"], EPOCHS)
    assert attrs["fraction_graduated"] == pytest.approx(4 / 6)


def test_graduation_matches_a_brute_force_reading_of_the_definition() -> None:
    rng = np.random.default_rng(0)
    epochs = sorted(rng.choice(5000, size=9, replace=False).tolist())
    correct = rng.random((9, 6, 7)) < np.linspace(0.3, 0.95, 9)[:, None, None]
    arrays, _ = run_graduation(correct, epochs)
    for a in range(6):
        for b in range(7):
            stays_from = [i for i in range(9) if correct[i:, a, b].all()]
            want = epochs[stays_from[0]] if stays_from else -1
            assert arrays["graduation_epoch"][a, b] == want
    for i, epoch in enumerate(epochs):
        share = np.mean([0 <= g <= epoch for g in arrays["graduation_epoch"].ravel()])
        assert arrays["graduated_fraction"][i] == pytest.approx(share)


# --- neuron_specialisation ----------------------------------------------------------------

COUNTS = np.array([  # (checkpoint, freq): frequencies 1..6
    # 1  2  3  4  5  6
    [0, 1, 0, 0, 0, 2],
    [1, 1, 2, 3, 0, 2],
    [0, 1, 5, 3, 0, 2],
    [3, 1, 1, 0, 0, 1],
    [4, 1, 6, 0, 0, 2],
    [4, 1, 6, 0, 1, 3],
])
SPEC_EPOCHS = [0, 500, 1000, 1500, 2000, 2500]


def test_neuron_specialisation_of_hand_built_counts() -> None:
    arrays, attrs = run_specialisation(COUNTS, SPEC_EPOCHS)
    # 1: a stray neuron at 500 is not emergence; >= 2 of its 4 from 1500.
    # 2: one neuron throughout. 3: >= 3 of 6 at 1000, dips at 1500, holds from 2000.
    # 4: gone by the end. 5: one neuron at the last checkpoint. 6: >= 2 of 3 except at 1500.
    np.testing.assert_array_equal(arrays["emergence_epoch"], [1500, 0, 2000, -1, 2500, 2000])
    assert attrs["key_frequencies"] == [1, 2, 3, 5, 6]
    np.testing.assert_array_equal(arrays["specialised_count"], COUNTS)
    np.testing.assert_array_equal(arrays["specialised_total"], [3, 9, 11, 6, 13, 15])
    np.testing.assert_array_equal(arrays["epochs"], SPEC_EPOCHS)
    assert arrays["emergence_epoch"].dtype == np.int32


def test_emergence_matches_a_brute_force_reading_of_the_rule() -> None:
    rng = np.random.default_rng(1)
    counts = rng.poisson(np.linspace(0.2, 4, 10)[:, None] * rng.random(12), size=(10, 12))
    epochs = list(range(0, 1000, 100))
    arrays, attrs = run_specialisation(counts, epochs)
    for f in range(12):
        final = counts[-1, f]
        need = max(1, math.ceil(final / 2))
        held = [i for i in range(10) if (counts[i:, f] >= need).all()]
        want = epochs[held[0]] if final > 0 else -1
        assert arrays["emergence_epoch"][f] == want
    assert attrs["key_frequencies"] == [f + 1 for f in range(12) if counts[-1, f] > 0]
