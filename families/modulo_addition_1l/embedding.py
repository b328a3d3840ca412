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
"""A key frequency's squared embedding norm exceeds this multiple of the median (the floor)."""
DROP_FLOOR = 0.01
"""Squared norms below this share of the strongest one count as equal when looking for the
largest drop: a frequency that faint is never key, and the ratios among such frequencies
(which weight decay presses towards 0) would otherwise outgrow the real drop."""


def embedding_frequency_norms(weights: Mapping[str, torch.Tensor], p: int) -> np.ndarray:
    """``(freq,)`` Fourier norm of W_E (``embed.weight`` without the '=' row) per frequency
    k = 1 .. p // 2: the cos and sin components over the token axis, across d_model."""
    w_e = to_numpy(weights["embed.weight"])[:p]  # (token, d_model)
    power = fourier.power_by_frequency(w_e, axis=0)  # (freq incl. 0, d_model)
    return np.sqrt(power[1:].sum(-1))  # (freq,)


def key_frequencies(norms: np.ndarray) -> list[int]:
    """The frequencies above the largest drop of the sorted spectrum that also stand
    ``KEY_FACTOR`` (4) times above its floor, sorted.

    Sort the squared norms in decreasing order; among the strongest half, the *drop* after
    the n-th is the ratio of the n-th to the (n + 1)-th, each raised to at least
    ``DROP_FLOOR`` (1%) of the strongest. The candidates are the frequencies before the
    largest drop (the first, on a tie), and a candidate is key when its squared norm also
    exceeds 4 times the median squared norm of all p // 2 frequencies.

    The largest drop makes the rule hold at every scale. A median rule alone (the key
    frequencies are the ones above 4x the median) fails after clean-up, when weight decay
    has pressed every other frequency to almost nothing: on the canonical run (p = 113,
    25,000 epochs) frequencies 38, 21 and 47 hold 97.5% of the embedding's Fourier power
    and the next one 0.6%, yet nine frequencies stood above 4x the tiny median, k = 1 among
    them at 0.2%. On the quick preset's last checkpoint 21, 13 and 11 hold 80%, the next
    (26) 3.2%: the drop after them (7.8x) is the largest, and the neurons use the same
    three (``neuron_specialisation``), while the median rule added 9, 10, 22 and 26.
    Restricting the logits to the three gives the same restricted loss as to the seven (at
    most 0.07 nats apart before epoch 1,000 and below 0.002 after 1,200).

    The floor (4x the median) keeps a random embedding, whose spectrum is flat (its largest
    frequency within 1.3 times the median at init, p = 23 to 113), free of key frequencies
    however its drops fall. For p < 7 (one or two frequencies) the median cannot separate
    the key frequencies from the floor.
    """
    power = np.asarray(norms, dtype=np.float64) ** 2  # (freq,)
    if power.size == 0:
        return []
    order = np.argsort(-power, kind="stable")  # (freq,) strongest first
    ranked = power[order]
    n = 1
    if power.size > 1:
        half = max(1, power.size // 2)
        # below DROP_FLOOR of the strongest, drops are between faint frequencies (weight
        # decay presses them to nearly 0 and their ratios grow without meaning): clamp
        level = np.maximum(ranked[:half + 1], DROP_FLOOR * ranked[0])  # (n + 1,)
        with np.errstate(divide="ignore", invalid="ignore"):
            drops = level[:-1] / level[1:]  # (n,) drop after the n-th strongest
        n = int(np.argmax(np.where(np.isnan(drops), 1.0, drops))) + 1
    floor = KEY_FACTOR * np.median(power)
    return sorted(int(k) + 1 for k in order[:n] if power[k] > floor)


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
        name="dominant_frequencies", version=2,  # 2: key = above the largest drop
        description=f"Fourier norm of the token embedding W_E per frequency and its key "
                    f"frequencies (those above the largest drop of the sorted spectrum, "
                    f"and above 4x its median); {CITE} §4.1.",
        arrays=(ArraySpec("norms", "float32", ("freq",),
                          "Fourier norm of W_E at frequency i + 1 (cos and sin combined)"),),
        attrs=(AttrSpec("key_frequencies", "json",
                        "sorted frequencies above the largest drop of the sorted squared "
                        "norms and above 4x their median"),
               AttrSpec("key_share", "float",
                        "share of the non-constant squared norm in the key frequencies")),
        compute=_dominant_frequencies,
    ),
)
