"""The embedding analyzer of Modulo Addition: W_E's Fourier spectrum and its key frequencies.

Nanda et al. §4.1: the token embedding becomes sparse in the Fourier basis over tokens.
:func:`key_frequencies` is also what ``progress_measures`` (:mod:`.logits`) restricts
the logits to, read from the final checkpoint's embedding.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from tdw.family.analyzer import Analyzer, CheckpointInputs, Output
from tdw.family.artifacts import ArraySpec, AttrSpec

from . import fourier
from .grid import CITE, to_numpy

if TYPE_CHECKING:
    import torch

__all__ = ["ANALYZERS", "embedding_frequency_norms", "key_frequencies"]

KEY_FACTOR = 4.0
"""A frequency is key when its squared embedding norm exceeds this multiple of the median."""


def embedding_frequency_norms(weights: Mapping[str, torch.Tensor], p: int) -> np.ndarray:
    """``(freq,)`` Fourier norm of W_E (``embed.weight`` without the '=' row) per frequency
    k = 1 .. p // 2: the cos and sin components over the token axis, across d_model."""
    w_e = to_numpy(weights["embed.weight"])[:p]  # (token, d_model)
    power = fourier.power_by_frequency(w_e, axis=0)  # (freq incl. 0, d_model)
    return np.sqrt(power[1:].sum(-1))  # (freq,)


def key_frequencies(norms: np.ndarray) -> list[int]:
    """The frequencies whose squared norm exceeds ``KEY_FACTOR`` (4) times the median
    squared norm over all p // 2 frequencies, sorted.

    The median is the noise floor: it ignores the few strong frequencies as long as fewer
    than half the frequencies are key (grokked models use 3 to 6 of p // 2, Nanda et al.
    App. C.2). A random embedding spreads its norm evenly: at init the largest frequency
    is within 1.3 times the median (four initialisations, p = 23 to 113), so nothing is
    key until the spectrum is sparse. The factor 4 (2 in norm) was set on the family's
    quick preset (p = 59, 6000 epochs, test accuracy 98.5%): the four frequencies that
    carry the circuit (7, 8, 10, 11: their (k, k) terms hold 82% of the variance of the
    logits over (a, b), and they are the dominant frequency of 509 of 512 neurons) sit at
    9 to 18 times the median, the next one at 2.3 times. Leaving out frequency 8 (9.3
    times) raises the restricted loss from 6e-7 to 2e-2, while adding the next one changes
    it by 8%, so the factor errs on the inclusive side. For p < 7 (one or two
    frequencies) the median cannot separate the key frequencies from the floor.
    """
    power = norms ** 2  # (freq,)
    return [int(k) + 1 for k in np.flatnonzero(power > KEY_FACTOR * np.median(power))]


def _dominant_frequencies(inputs: CheckpointInputs) -> Output:
    """Fourier norm of the token embedding per frequency and its key frequencies.

    Nanda et al. §4.1, Fig. 3: W_E is sparse in the Fourier basis over tokens, with a few
    key frequencies (14, 35, 41, 42, 52 for their p = 113 run). ``norms[i]`` is
    sqrt(|cos_k . W_E|^2 + |sin_k . W_E|^2) for k = i + 1 with the orthonormal basis of
    :mod:`.fourier`; ``key_frequencies`` follows :func:`key_frequencies`;
    ``key_share`` is their share of the non-constant squared norm.
    """
    norms = embedding_frequency_norms(inputs.weights, inputs.values["p"])  # (freq,)
    keys = key_frequencies(norms)
    power = norms ** 2  # (freq,)
    total = power.sum()
    share = float(power[np.asarray(keys, dtype=int) - 1].sum() / total) if total > 0 else 0.0
    return ({"norms": norms.astype(np.float32)},
            {"key_frequencies": keys, "key_share": share})


ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(
        name="dominant_frequencies", version=1,
        description=f"Fourier norm of the token embedding W_E per frequency and its key "
                    f"frequencies (squared norm > 4x the median); {CITE} §4.1.",
        arrays=(ArraySpec("norms", "float32", ("freq",),
                          "Fourier norm of W_E at frequency i + 1 (cos and sin combined)"),),
        attrs=(AttrSpec("key_frequencies", "json",
                        "sorted frequencies whose squared norm exceeds 4x the median"),
               AttrSpec("key_share", "float",
                        "share of the non-constant squared norm in the key frequencies")),
        compute=_dominant_frequencies,
    ),
)
