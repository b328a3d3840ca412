"""The embedding analyzer of Toy Operations: the geometry of the token embeddings.

The seed study's "embedding structure": digits ordered along a line, operations grouped
(Max close to Min, First/Second/Last together), read from W_E alone.
"""

from __future__ import annotations

import numpy as np

from tdw.family.analyzer import Analyzer, CheckpointInputs, Output
from tdw.family.artifacts import ArraySpec, AttrSpec

from . import data
from .hooks import SEED, to_numpy

__all__ = ["ANALYZERS", "principal_components", "digit_order"]


def principal_components(points: np.ndarray, n_components: int, low: int, high: int
                         ) -> tuple[np.ndarray, np.ndarray]:
    """PCA of ``(point, dim)`` rows centred on their mean, by SVD.

    Returns scores ``(point, n_components)`` and each component's share of the variance
    ``(n_components,)`` (zeros when the points coincide). Each component is signed so that
    point ``high`` scores at least as high as point ``low`` (for embeddings: digit 9 above
    digit 0), so the picture does not flip between checkpoints.
    """
    centred = points - points.mean(axis=0)  # (point, dim)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)  # u: (point, r), s: (r,)
    k = min(n_components, len(s))
    scores = np.zeros((len(points), n_components))
    scores[:, :k] = u[:, :k] * s[:k]
    scores *= np.where(scores[high] < scores[low], -1.0, 1.0)
    energy = s ** 2
    ratio = np.zeros(n_components)
    if energy.sum() > 0:
        ratio[:k] = energy[:k] / energy.sum()
    return scores, ratio


def digit_order(coordinates: np.ndarray) -> float:
    """Spearman rank correlation between digit value 0..9 and ``(digit,)`` coordinates:
    1 when the digits lie in order along the axis, -1 reversed, 0 for no order (and for
    coordinates that are all equal)."""
    from scipy.stats import spearmanr
    if np.ptp(coordinates) == 0:
        return 0.0
    return float(spearmanr(np.arange(len(coordinates)), coordinates).statistic)


def _cosine_matrix(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    unit = rows / np.where(norms == 0, 1.0, norms)
    return unit @ unit.T


def _embedding_geometry(inputs: CheckpointInputs) -> Output:
    """PCA of the token embeddings, operation similarity, and the order of the digits.

    The seed study's "embedding structure": digits "monotonically ordered" when projected
    on a first principal component, Max close to Min, First/Second/Last together. Reads
    ``embed.weight`` (W_E, one row per token). ``token_pcs`` are all 18 tokens on the top
    three components of W_E (centred over tokens); ``digit_pc1`` are the digits on the
    first component of the ten digit rows alone, where magnitude, if the model encodes it
    linearly, is the main axis. Both are signed so that 9 scores above 0. ``digit_order``
    and ``digit_order_all`` are the Spearman correlations of digit value with those two
    axes (digit PC1, and PC1 of all tokens). ``operation_cosine`` is the cosine similarity
    of the five raw operation embeddings (the seed's sim(Max, Min) = 0.87).
    """
    w_e = to_numpy(inputs.weights["embed.weight"])  # (token, d_model)
    nine = data.N_DIGITS - 1
    token_pcs, token_ratio = principal_components(w_e, 3, 0, nine)
    digit_pcs, digit_ratio = principal_components(w_e[:data.N_DIGITS], 1, 0, nine)
    ops = w_e[data.FIRST_OPERATION:data.FIRST_OPERATION + len(data.OPERATIONS)]
    return ({"token_pcs": token_pcs.astype(np.float32),
             "explained_variance_ratio": token_ratio.astype(np.float32),
             "digit_pc1": digit_pcs[:, 0].astype(np.float32),
             "operation_cosine": _cosine_matrix(ops).astype(np.float32)},
            {"tokens": list(data.VOCAB), "digit_order": digit_order(digit_pcs[:, 0]),
             "digit_order_all": digit_order(token_pcs[:data.N_DIGITS, 0]),
             "digit_pc1_share": float(digit_ratio[0])})


ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(
        name="embedding_geometry", version=1,
        description=f"PCA of the token embeddings, cosine similarity of the operations, and "
                    f"the Spearman order of the digits along their first component ({SEED}).",
        arrays=(ArraySpec("token_pcs", "float32", ("token", "component"),
                          "every token on the top 3 components of W_E, 9 above 0"),
                ArraySpec("explained_variance_ratio", "float32", ("component",),
                          "share of W_E's variance on each component"),
                ArraySpec("digit_pc1", "float32", ("digit",),
                          "digits on the first component of the digit rows, 9 above 0"),
                ArraySpec("operation_cosine", "float32", ("operation", "operation2"),
                          "cosine similarity of the operation embeddings")),
        attrs=(AttrSpec("tokens", "json", "token texts, in axis order"),
               AttrSpec("digit_order", "float", "Spearman rho of digit value vs digit_pc1"),
               AttrSpec("digit_order_all", "float",
                        "Spearman rho of digit value vs PC1 of all tokens"),
               AttrSpec("digit_pc1_share", "float", "share of the digit rows' variance on PC1")),
        compute=_embedding_geometry,
    ),
)
