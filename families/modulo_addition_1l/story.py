"""The story of a Modulo Addition run: :mod:`tdw.library.story`'s phase windows and label,
plus the frequency that moved first.

The **first mover** is :mod:`.dynamics`' first frequency held by at least 5% of the MLP
neurons, with the checkpoint epoch it got there and whether it is among the run's final key
frequencies (the last ``dominant_frequencies``): a first mover that is not a key frequency at
the end was a false start that the run later abandoned.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tdw.family.analyzer import CrossEpochInputs
from tdw.family.artifacts import AttrSpec
from tdw.library.story import make_story

from .dynamics import first_mover, frequency_counts, held_frequency

__all__ = ["CROSS_EPOCH", "first_mover_attrs"]


def first_mover_attrs(inputs: CrossEpochInputs) -> dict[str, Any]:
    """The first mover of ``neuron_freq_clusters``: frequency, epoch, and whether it is a
    final key frequency of ``dominant_frequencies`` (each None when no frequency moves)."""
    fraction = np.stack([a["fraction"] for a in inputs.artifacts["neuron_freq_clusters"]],
                        axis=1)  # (neuron, checkpoint, freq)
    n_neurons, _, n_freq = fraction.shape
    mover = first_mover(frequency_counts(held_frequency(fraction), n_freq), n_neurons)
    if mover is None:
        return {"first_mover": None, "first_mover_epoch": None, "first_mover_is_key": None}
    keys = inputs.artifacts["dominant_frequencies"][-1].attrs["key_frequencies"]
    return {"first_mover": mover[0], "first_mover_epoch": int(inputs.epochs[mover[1]]),
            "first_mover_is_key": mover[0] in keys}


variant_story = make_story(
    first_mover_attrs, inputs=("neuron_freq_clusters", "dominant_frequencies"),
    extra_attrs=(
        AttrSpec("first_mover", "json", "first frequency held by >= 5% of the MLP neurons, "
                 "or null"),
        AttrSpec("first_mover_epoch", "json", "the checkpoint epoch it got there, or null"),
        AttrSpec("first_mover_is_key", "json",
                 "whether it is a key frequency at the last checkpoint, or null"),
    ),
    description="The first mover: the first frequency held by >= 5% of the MLP neurons, and "
                "whether it ends among the key frequencies.")

CROSS_EPOCH = (variant_story,)
