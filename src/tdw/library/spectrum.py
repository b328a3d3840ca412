"""The singular-value spectrum of every weight matrix, per checkpoint.

``effective_dimensionality`` (:mod:`tdw.library.weights`) keeps one number per matrix, the
participation ratio of its singular values. :data:`singular_values` keeps the spectrum that
number summarises, for the same matrices in the same order (:func:`weight_matrices`), and
three more summaries of how concentrated it is. With ``s_1 >= s_2 >= ... >= s_r`` the
singular values of a matrix W of rank bound ``r = min(shape)`` and ``E = sum s_i^2 =
||W||_F^2`` its energy:

* participation ratio ``E^2 / sum s_i^4`` (Gao et al. 2017; Recanatesi et al. 2019):
  ``n`` for ``n`` equal singular values and zeros, ``r`` for an orthogonal matrix;
* top share ``s_1^2 / E``: the energy of the largest direction;
* top-decile share: the energy of the ``ceil(r / 10)`` largest directions, which separates
  "a few directions" from "one direction" for wide matrices;
* stable rank ``||W||_F^2 / ||W||_2^2 = E / s_1^2`` (Rudelson & Vershynin 2007): a rank
  that does not count tiny singular values, between 1 and ``r``; the reciprocal of the top
  share.

Weight decay in a grokking run shrinks the directions the circuit does not use (Nanda et
al. 2023; Liu et al. 2023, "Omnigrok"), so the spectrum's tail falling away is one face of
the clean-up phase. A matrix of all zeros has no direction: its ratios are NaN.

A Modulo Addition checkpoint at p = 113 (9 matrices, rank at most 128) takes 5.9 KB
serialised and 11-24 ms (one thread, the two SVDs of W_in and W_out most of it).
"""

from __future__ import annotations

import math

import numpy as np

from tdw.family.analyzer import Analyzer, CheckpointInputs, Output
from tdw.family.artifacts import ArraySpec, AttrSpec
from tdw.library.weights import singular_values_of

__all__ = ["TOP_FRACTION", "top_count", "spectrum_measures", "singular_values"]

TOP_FRACTION = 0.1
"""The share of a matrix's directions whose energy ``top_decile_share`` measures."""


def top_count(rank: int, fraction: float = TOP_FRACTION) -> int:
    """How many directions are the top ``fraction`` of ``rank``: ``ceil(fraction * rank)``,
    at least 1.

    >>> top_count(128), top_count(114), top_count(3)
    (13, 12, 1)
    """
    return max(1, math.ceil(round(fraction * rank, 9)))  # round: 0.1 * 30 is 3.0000000000000004


def spectrum_measures(values: np.ndarray) -> dict[str, float]:
    """The summaries of one matrix's singular values ``values`` (``(rank,)``, descending).

    Returns ``participation_ratio``, ``top_share``, ``top_decile_share`` and
    ``stable_rank`` (module docstring); all NaN when every singular value is 0.

    >>> m = spectrum_measures(np.array([2.0, 1.0, 1.0, 0.0]))  # energies 4, 1, 1, 0
    >>> [round(m[k], 4) for k in ("participation_ratio", "top_share", "stable_rank")]
    [2.0, 0.6667, 1.5]
    """
    energy = np.asarray(values, dtype=np.float64) ** 2  # (rank,)
    total = float(energy.sum())
    if not total > 0:
        return dict.fromkeys(("participation_ratio", "top_share", "top_decile_share",
                              "stable_rank"), math.nan)
    top = float(energy[0])
    return {"participation_ratio": total ** 2 / float((energy ** 2).sum()),
            "top_share": top / total,
            "top_decile_share": float(energy[:top_count(energy.size)].sum()) / total,
            "stable_rank": total / top}


def _singular_values(inputs: CheckpointInputs) -> Output:
    """Every 2-D weight's singular values (float64 SVD), NaN-padded, and their summaries."""
    by_name = singular_values_of(inputs.weights)  # each (rank,), descending
    names, spectra = list(by_name), list(by_name.values())
    width = max((s.size for s in spectra), default=0)
    padded = np.full((len(names), width), np.nan, dtype=np.float32)  # (matrix, index)
    for row, s in zip(padded, spectra, strict=True):
        row[:s.size] = s
    measures = [spectrum_measures(s) for s in spectra]
    arrays = {"singular_values": padded,
              "rank": np.array([s.size for s in spectra], dtype=np.int32)}
    for key in ("participation_ratio", "top_share", "top_decile_share", "stable_rank"):
        arrays[key] = np.array([m[key] for m in measures], dtype=np.float32)
    return arrays, {"matrices": names, "top_fraction": TOP_FRACTION}


singular_values = Analyzer(
    name="singular_values",
    version=1,
    description=(
        "Singular values of every 2-D weight tensor (the matrices of effective_dimensionality, "
        "in its order), NaN-padded to the largest rank, with per matrix the participation "
        "ratio (sum s^2)^2 / sum s^4 (Gao et al. 2017), the share of the energy s^2 in the "
        "top direction and in the top 10% of directions, and the stable rank "
        "||W||_F^2 / ||W||_2^2 (Rudelson & Vershynin 2007)."
    ),
    arrays=(
        ArraySpec("singular_values", "float32", ("matrix", "index"),
                  "singular values, descending; NaN beyond the matrix's rank"),
        ArraySpec("rank", "int32", ("matrix",),
                  "min(shape): how many singular values the matrix has"),
        ArraySpec("participation_ratio", "float32", ("matrix",),
                  "(sum s^2)^2 / sum s^4, between 1 and rank (NaN: all zero)"),
        ArraySpec("top_share", "float32", ("matrix",), "s_1^2 / sum s^2"),
        ArraySpec("top_decile_share", "float32", ("matrix",),
                  "share of sum s^2 in the ceil(rank / 10) largest singular values"),
        ArraySpec("stable_rank", "float32", ("matrix",),
                  "||W||_F^2 / ||W||_2^2 = sum s^2 / s_1^2, between 1 and rank"),
    ),
    attrs=(AttrSpec("matrices", "json", "names of the 2-D tensors, sorted"),
           AttrSpec("top_fraction", "float", "share of directions top_decile_share counts")),
    compute=_singular_values,
)
