"""Modulo Addition's variant_story: the first mover it adds to the library's story, on planted
neuron frequency shares whose every checkpoint the test chooses."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from tdw.families.modulo_addition_1l import FAMILY
from tdw.families.modulo_addition_1l.story import first_mover_attrs

from tdw.family.analyzer import CrossEpochInputs

N_NEURONS, N_FREQ = 40, 6
EPOCHS = np.array([0, 50, 100, 150])


def planted(holders: dict[int, list[int]], keys: list[int]) -> CrossEpochInputs:
    """``holders``: frequency -> neurons holding it, from checkpoint ``index`` on, written as
    ``{k: [count at each checkpoint]}``; every other neuron spreads its variance evenly."""
    fractions = np.full((len(EPOCHS), N_NEURONS, N_FREQ), 1 / N_FREQ, np.float32)
    start = 0
    for k, counts in holders.items():
        for c, count in enumerate(counts):
            rows = slice(start, start + count)
            fractions[c, rows] = 0.05
            fractions[c, rows, k - 1] = 0.75  # above the 50% a neuron needs to hold k
        start += max(counts)
    clusters = [{"fraction": f} for f in fractions]
    dominant = [SimpleNamespace(attrs={"key_frequencies": keys})] * len(EPOCHS)
    return CrossEpochInputs({}, EPOCHS, {"neuron_freq_clusters": clusters,
                                         "dominant_frequencies": dominant}, {})


def test_the_first_frequency_held_by_5_percent_of_the_neurons_moves_first():
    # frequency 4: 1 neuron (2.5%) at checkpoint 1, then 3 (7.5%) at 2; frequency 2: 2 (5%)
    # at checkpoint 1: 2 is first, though 4 leads later
    inputs = planted({4: [0, 1, 3, 3], 2: [0, 2, 2, 2]}, keys=[4])
    assert first_mover_attrs(inputs) == {"first_mover": 2, "first_mover_epoch": 50,
                                         "first_mover_is_key": False}
    inputs = planted({4: [0, 1, 3, 3], 2: [0, 1, 2, 2]}, keys=[4, 5])
    # both reach 5% at checkpoint 2: the larger count wins
    assert first_mover_attrs(inputs) == {"first_mover": 4, "first_mover_epoch": 100,
                                         "first_mover_is_key": True}
    assert first_mover_attrs(planted({3: [0, 1, 1, 1]}, keys=[3])) == {
        "first_mover": None, "first_mover_epoch": None, "first_mover_is_key": None}


def test_the_family_tells_its_story_from_analyzers_it_has():
    names = [a.name for a in FAMILY.cross_epoch]
    assert FAMILY.story == "variant_story"
    assert "variant_story" in names
    story = FAMILY.cross_epoch[names.index("variant_story")]
    analyzers = {a.name for a in FAMILY.analyzers}
    assert set(story.inputs) <= analyzers
