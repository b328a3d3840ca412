"""The path the parameters take through training, from the ``parameter_snapshot`` sketches.

Sketch distances estimate parameter distances (Johnson-Lindenstrauss, see
:mod:`tdw.library.weights`), so PCA of the sketches is, up to that error, PCA of the
parameter trajectory itself, the view of Li et al. 2018 ("Visualizing the loss landscape
of neural nets", trajectory plots) and of Nanda et al. 2023's phases of grokking.
"""

from __future__ import annotations

import numpy as np

from tdw.family.analyzer import CrossEpochAnalyzer, CrossEpochInputs, Output
from tdw.family.artifacts import ArraySpec

__all__ = ["MAX_COMPONENTS", "trajectory_pca", "rate_of_change", "parameter_trajectory"]

MAX_COMPONENTS = 10


def trajectory_pca(points: np.ndarray, n_components: int) -> tuple[np.ndarray, np.ndarray]:
    """PCA of ``(checkpoint, dim)`` points centred across checkpoints, by SVD.

    Returns the scores ``(checkpoint, n_components)`` and each component's share of the total
    variance ``(n_components,)`` (NaN when the points do not move). Each component's sign is
    chosen so that the trajectory ends at a higher score than it starts.
    """
    centred = points - points.mean(axis=0)  # (checkpoint, dim)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)  # u: (checkpoint, r), s: (r,)
    scores = u[:, :n_components] * s[:n_components]  # (checkpoint, component)
    flip = np.where(scores[-1] - scores[0] < 0, -1.0, 1.0)  # (component,)
    energy = s ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = energy[:n_components] / energy.sum()  # (component,)
    return scores * flip, ratio


def rate_of_change(values: np.ndarray, epochs: np.ndarray) -> np.ndarray:
    """``(values[i] - values[i-1]) / (epochs[i] - epochs[i-1])`` along axis 0; row 0 is NaN."""
    out = np.full(values.shape, np.nan)
    gaps = np.diff(epochs).astype(np.float64).reshape(-1, *([1] * (values.ndim - 1)))
    out[1:] = np.diff(values, axis=0) / gaps
    return out


def _trajectory(inputs: CrossEpochInputs) -> Output:
    epochs = np.asarray(inputs.epochs, dtype=np.int64)  # (checkpoint,)
    sketches = np.stack([a["sketch"] for a in inputs.artifacts["parameter_snapshot"]]
                        ).astype(np.float64)  # (checkpoint, sketch component)
    scores, ratio = trajectory_pca(sketches, min(MAX_COMPONENTS, len(epochs)))
    steps = rate_of_change(sketches, epochs)  # (checkpoint, sketch component)
    velocity = np.linalg.norm(steps, axis=1)  # (checkpoint,), NaN at 0
    arrays = {
        "epochs": epochs,
        "pcs": scores.astype(np.float32),
        "explained_variance_ratio": ratio.astype(np.float32),
        "velocity": velocity.astype(np.float32),
        "component_velocity": rate_of_change(scores, epochs).astype(np.float32),
    }
    return arrays, {}


parameter_trajectory = CrossEpochAnalyzer(
    name="parameter_trajectory",
    version=1,
    description=(
        "PCA of the parameter trajectory (the parameter_snapshot sketches, centred across "
        "checkpoints; Li et al. 2018) and its speed: the sketch distance between consecutive "
        "checkpoints per epoch, which estimates the parameter-space L2 distance per epoch."
    ),
    arrays=(
        ArraySpec("epochs", "int64", ("checkpoint",), "checkpoint epochs"),
        ArraySpec("pcs", "float32", ("checkpoint", "component"),
                  "scores on the top min(10, n_checkpoints) principal components, each signed "
                  "so that the last checkpoint scores above the first"),
        ArraySpec("explained_variance_ratio", "float32", ("component",),
                  "share of the trajectory's variance on each component (NaN if it never moves)"),
        ArraySpec("velocity", "float32", ("checkpoint",),
                  "||sketch[i] - sketch[i-1]|| / (epoch[i] - epoch[i-1]); NaN at the first"),
        ArraySpec("component_velocity", "float32", ("checkpoint", "component"),
                  "signed (pcs[i] - pcs[i-1]) / (epoch[i] - epoch[i-1]), NaN at the first; "
                  "its absolute value is the speed along the component, and over components "
                  "spanning the trajectory they add in quadrature to velocity"),
    ),
    attrs=(),
    compute=_trajectory,
    inputs=("parameter_snapshot",),
)

