"""The centroid trajectory: the answer classes' centroids followed across checkpoints in one
frame, and the linear dynamics of that path (dynamic mode decomposition).

Reads every checkpoint's ``repr_geometry`` artifact (:mod:`.geometry`, version 2):
``centroid_offsets``, float16 ``(matrix_site, class, d_model)``, the class centroids about
their mean, mu_c - mu, in the residual basis, which every checkpoint shares. (Its
``centroids`` lie on each checkpoint's own top PCs, which turn from one checkpoint to the
next, so they do not compare across checkpoints.) mu itself is left out: it moves every
class alike and says nothing about how they differ. Per site, with C_t the ``(class,
d_model)`` offsets at checkpoint t of T and Delta_t = epoch_{t+1} - epoch_t:

* **paths**: the T * p rows of every C_t, centred on their mean (0 up to rounding, each
  C_t being centred) and projected on their top 3 principal components: one basis for all
  checkpoints, so a class's coordinates at successive checkpoints are its path. Each
  component is signed so that its largest-magnitude loading is positive; ``share`` is its
  share of the rows' variance.
* **state**: z_t, the snapshot x_t = vec(C_t) (p * d_model numbers) on the top
  :data:`RANK` modes of the proper orthogonal decomposition of the T snapshots (method of
  snapshots, Sirovich 1987, Q. Appl. Math. 45(3); uncentred, as DMD takes its snapshots,
  Schmid 2010, J. Fluid Mech. 656). Not every class on r shared PCs, flattened (p * r =
  904 numbers at p = 113 for r = 8): a linear map of so many numbers fitted to 95
  checkpoints follows any path exactly and leaves nothing to measure. The state needs
  fewer dimensions than the steps that fit it; POD keeps the directions in which the whole
  arrangement moves.
* **dynamics**: dz/de = L z in epochs e, discretised by the trapezoidal rule
  (Crank-Nicolson): z_{t+1} - z_t = Delta_t L (z_t + z_{t+1}) / 2. L ``(mode, mode)`` is
  its least-squares fit over the steps (directions of the fit below :data:`RCOND` of the
  largest are dropped: a direction the states never took has no fitted dynamics). A step
  of Delta epochs is then the Cayley map A(Delta) = (I - Delta L / 2)^-1 (I + Delta L / 2):
  exp(Delta L) to second order, and an exact rotation for a rotation. Checkpoint gaps are
  uneven (100 and 500 epochs in the default schedule) and enter explicitly: counting
  checkpoints as even steps would make the change of gap a change of dynamics, and so a
  false change of regime exactly where the schedule thickens around the expected
  transition. With even gaps this is exact DMD (Tu et al. 2014, J. Comput. Dyn. 1(2)):
  for z_{t+1} = A z_t, L = (2 / Delta)(A - I)(A + I)^-1 and A(Delta) = A (for A without
  the eigenvalue -1).
* **DMD eigenvalues** lambda: of A(Delta_ref) with L fitted on every step and Delta_ref
  the median gap (``reference_gap``): |lambda| < 1 a decaying pattern, > 1 a growing one,
  arg lambda its turn per Delta_ref epochs. With z_t = sum_i b_i(t) w_i over the unit
  eigenvectors w_i, a mode's amplitude is sqrt(mean_t |b_i(t)|^2); modes are stored by
  decreasing amplitude, NaN beyond the fitted rank.
* **residual**: out-of-sample one-step prediction. For a step t -> t + 1 with at least
  :data:`WINDOW` steps before it, L_t is fitted on those WINDOW steps only, the prediction
  is z'_{t+1} = A_t(Delta_t) z_t, and

      residual_{t+1} = |z_{t+1} - z'_{t+1}| / |z_{t+1} - z_t|,

  the share of the step that the recent dynamics miss: 0 when they predict it, 1 when
  they do no better than standing still; capped at :data:`CEILING`. It is stored at
  checkpoint t + 1; NaN at the first WINDOW + 1 checkpoints and after a step shorter than
  :data:`STILL` of the states' RMS norm. Under one linear regime it stays near 0; when
  the dynamics change, the next steps are missed until the window holds only the new
  regime, so the residual jumps at the change and falls back about WINDOW steps later.
  It reads no loss.

>>> turn = np.array([[np.cos(0.3), -np.sin(0.3)], [np.sin(0.3), np.cos(0.3)]])
>>> A = 0.95 * turn  # a spiral: each step turns 0.3 rad and shrinks by 5%
>>> z = np.stack([np.linalg.matrix_power(A, t) @ [1.0, 0.0] for t in range(30)])
>>> epochs = 10 * np.arange(30)
>>> lam = dmd_eigenvalues(fit_generator(z, epochs), 10.0)
>>> np.allclose(np.sort_complex(lam), np.sort_complex(np.linalg.eigvals(A)))
True
>>> float(np.nanmax(one_step_residual(z, epochs, window=4))) < 1e-9
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tdw.family.analyzer import CrossEpochAnalyzer, CrossEpochInputs, Output
from tdw.family.artifacts import ArraySpec, Artifact, AttrSpec

from .geometry import MATRIX_SITES, SITES

__all__ = ["CROSS_EPOCH", "RANK", "WINDOW", "RCOND", "CEILING", "STILL", "RESIDUAL_JUMP",
           "shared_pcs", "snapshot_pod", "fit_generator", "cayley", "dmd_eigenvalues",
           "dmd_modes", "one_step_residual", "centroid_residual"]

N_PATH_PCS = 3
RANK = 8
"""Modes of the DMD state: the top 8 POD modes of the centroid snapshots. Fitting L takes
RANK^2 = 64 numbers from RANK numbers per step, so the :data:`WINDOW` of 16 steps fits
each one twice over; more modes would need a longer window, and so a later first
residual and a slower return after a change."""
WINDOW = 16
"""Steps whose dynamics predict the next one. The first residual is at the 18th
checkpoint: epoch 2,500 of the default schedule of a 25,000-epoch run (after
memorisation, about 1,400 epochs, and before the fall of the test loss), 250 on the
quick preset."""
RCOND = 1e-4
"""Directions of a least-squares fit whose singular value is below this share of the
largest are dropped: a direction the states barely took has no fitted dynamics. The
float16 rounding of the offsets (2.8e-4 of a value, RMS) is spread over p * d_model
numbers, so on one POD mode it is about 2.8e-4 / sqrt(p * d_model) of the state's norm
(2e-6 at p = 113), far below the cut."""
CEILING = 2.0
"""The residual is capped at 2, a prediction as far off as a step back: beyond it the
recent dynamics have failed either way, and the size of the miss says more about the fit
(a growth rate fitted to a short window, carried over a long gap) than about the path."""
STILL = 1e-9
"""A step shorter than this share of the states' RMS norm has no residual (0 / 0)."""
RESIDUAL_JUMP = 0.5
"""The rise of the residual a phase-change ``Signal`` should count (direction +1, on the
residual itself, not its log: within a regime the residual is near 0, where a log turns
rounding into decades). On the planted flows of the tests (three seeds, sampled on the
default schedule of a 25,000-epoch run, positions jittered by 0, 1e-4 or 1e-3 of their
norm), a change of dynamics at epoch 10,000 raises the smoothed residual by 0.81 to 1.38
from an onset at 9,900, and a steady flow by at most 0.02 without the jitter, 0.28 with
1e-3 of it."""


def _signed(vectors: np.ndarray) -> np.ndarray:
    """``(n, dim)`` rows, each signed so that its largest-magnitude entry is positive."""
    top = vectors[np.arange(len(vectors)), np.argmax(np.abs(vectors), axis=1)]  # (n,)
    return vectors * np.where(top < 0, -1.0, 1.0)[:, None]


def shared_pcs(rows: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The top ``n`` principal components of ``(row, dim)`` rows centred on their mean, from
    the eigenvectors of the ``(dim, dim)`` scatter matrix.

    Returns the ``(n, dim)`` unit components (signed by :func:`_signed`) and their
    ``(n,)`` shares of the total variance (0 where the rows do not vary). With fewer than
    ``n`` dimensions the missing components are 0.
    """
    centred = rows - rows.mean(0)  # (row, dim)
    values, vectors = np.linalg.eigh(centred.T @ centred)  # increasing
    order = np.argsort(values)[::-1][:n]
    basis, share = np.zeros((n, rows.shape[1])), np.zeros(n)
    basis[:len(order)] = _signed(vectors[:, order].T)
    total = float(np.clip(values, 0, None).sum())
    if total > 0:
        share[:len(order)] = np.clip(values[order], 0, None) / total
    return basis, share


def snapshot_pod(snapshots: np.ndarray, rank: int) -> tuple[np.ndarray, float]:
    """Proper orthogonal decomposition of ``(T, dim)`` snapshots by the method of
    snapshots: the eigenvectors v_i of the ``(T, T)`` Gram matrix, eigenvalues e_i, give
    the coordinates z_t,i = sqrt(e_i) v_i,t of snapshot t on mode i (uncentred).

    Returns ``(T, k)`` coordinates on the top k modes, k = ``rank`` or fewer where a mode's
    singular value sqrt(e_i) is below :data:`RCOND` of the first (the fit would drop it),
    and the share of the snapshots' energy sum |x_t|^2 that they keep (0 if none).
    """
    values, vectors = np.linalg.eigh(snapshots @ snapshots.T)  # (T,), (T, T) increasing
    values, vectors = np.clip(values[::-1], 0, None), vectors[:, ::-1]
    total = float(values.sum())
    if not total > 0:
        return np.zeros((len(snapshots), 0)), 0.0
    k = int(min(rank, (values > RCOND ** 2 * values[0]).sum()))
    return vectors[:, :k] * np.sqrt(values[:k]), float(values[:k].sum() / total)


def fit_generator(z: np.ndarray, epochs: np.ndarray) -> np.ndarray:
    """The ``(k, k)`` generator L per epoch of the trapezoidal fit (module docstring): the
    least-squares solution of z_{t+1} - z_t = Delta_t L (z_t + z_{t+1}) / 2 over the steps
    of ``(T, k)`` states at increasing ``(T,)`` ``epochs``. The misfit is a distance in the
    state space for every step, the quantity the residual measures; as rates, the steps
    of a short gap would weigh more and carry more of the states' rounding per epoch."""
    gaps = np.diff(np.asarray(epochs, np.float64))[:, None]  # (step, 1)
    middle = gaps * (z[1:] + z[:-1]) / 2  # (step, k)
    return np.linalg.lstsq(middle, np.diff(z, axis=0), rcond=RCOND)[0].T


def cayley(generator: np.ndarray, gap: float) -> np.ndarray:
    """``(k, k)`` A(gap) = (I - gap L / 2)^-1 (I + gap L / 2), the trapezoidal step."""
    eye = np.eye(len(generator))
    half = gap * generator / 2
    return np.linalg.lstsq(eye - half, eye + half, rcond=None)[0]


def _cayley_eigenvalues(mu: np.ndarray, gap: float) -> np.ndarray:
    """(1 + gap mu / 2) / (1 - gap mu / 2) for ``(k,)`` eigenvalues mu of L (inf where
    the denominator is 0): A(gap)'s eigenvalues, with L's eigenvectors."""
    half = np.asarray(mu, complex) * gap / 2
    pole = half == 1
    return np.where(pole, np.inf, (1 + half) / np.where(pole, 2, 1 - half))


def dmd_eigenvalues(generator: np.ndarray, gap: float) -> np.ndarray:
    """``(k,)`` complex eigenvalues of A(gap) for the generator L."""
    return _cayley_eigenvalues(np.linalg.eigvals(generator), gap)


def dmd_modes(generator: np.ndarray, z: np.ndarray, gap: float
              ) -> tuple[np.ndarray, np.ndarray]:
    """``(k,)`` DMD eigenvalues of A(gap) and the ``(k,)`` amplitudes of their modes
    (module docstring) over the ``(T, k)`` states, by decreasing amplitude."""
    mu, vectors = np.linalg.eig(generator)  # (k,), (k, k) unit columns
    coefficients = np.linalg.lstsq(vectors, z.T.astype(complex), rcond=None)[0]  # (k, T)
    amplitude = np.sqrt((np.abs(coefficients) ** 2).mean(axis=1))  # (k,)
    order = np.argsort(-amplitude, kind="stable")
    return _cayley_eigenvalues(mu, gap)[order], amplitude[order]


def one_step_residual(z: np.ndarray, epochs: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """``(T,)`` residual of each checkpoint's out-of-sample prediction from the ``window``
    steps before (module docstring); NaN where there is none."""
    epochs = np.asarray(epochs, np.float64)
    out = np.full(len(z), np.nan)
    scale = np.sqrt((z ** 2).sum(axis=1).mean()) if len(z) else 0.0
    for t in range(window, len(z) - 1):  # predicts checkpoint t + 1
        step = z[t + 1] - z[t]
        if np.linalg.norm(step) <= STILL * scale:
            continue
        generator = fit_generator(z[t - window:t + 1], epochs[t - window:t + 1])
        predicted = cayley(generator, epochs[t + 1] - epochs[t]) @ z[t]
        out[t + 1] = np.linalg.norm(z[t + 1] - predicted) / np.linalg.norm(step)
    return np.minimum(out, CEILING)


def _offsets(artifacts: Sequence[Artifact], site: int) -> np.ndarray:
    """``(T, class, d_model)`` float64 centroid offsets of one site at every checkpoint."""
    return np.stack([a["centroid_offsets"][site] for a in artifacts]).astype(np.float64)


def centroid_residual(artifacts: Sequence[Artifact], epochs: np.ndarray,
                      site: int = 0) -> np.ndarray:
    """``(T,)`` residual of one site (0: resid_post) straight from ``repr_geometry``
    artifacts, one per epoch: what a phase-change signal reads."""
    offsets = _offsets(artifacts, site)
    z, _ = snapshot_pod(offsets.reshape(len(offsets), -1), RANK)
    return one_step_residual(z, epochs)


def _site(offsets: np.ndarray, epochs: np.ndarray, gap: float) -> dict[str, np.ndarray]:
    """Every stored quantity of one site from its ``(T, class, d_model)`` offsets."""
    n_checkpoints, p, d = offsets.shape
    basis, share = shared_pcs(offsets.reshape(-1, d), N_PATH_PCS)  # (pc, d), (pc,)
    rows = offsets - offsets.reshape(-1, d).mean(0)  # (T, class, d)
    z, kept = snapshot_pod(offsets.reshape(n_checkpoints, -1), RANK)  # (T, k)
    lam = np.full(RANK, complex(np.nan, np.nan))
    amplitude = np.full(RANK, np.nan)
    if n_checkpoints > 1 and z.shape[1]:
        found = dmd_modes(fit_generator(z, epochs), z, gap)
        lam[:z.shape[1]], amplitude[:z.shape[1]] = found
    return {"paths": rows @ basis.T, "basis": basis, "share": share, "pod_share": kept,
            "eigenvalues": np.stack([lam.real, lam.imag], axis=-1), "amplitudes": amplitude,
            "residual": one_step_residual(z, epochs)}


def _centroid_trajectory(inputs: CrossEpochInputs) -> Output:
    epochs = np.asarray(inputs.epochs, dtype=np.int64)  # (checkpoint,)
    artifacts = inputs.artifacts["repr_geometry"]
    gap = float(np.median(np.diff(epochs))) if len(epochs) > 1 else 1.0
    sites = [_site(_offsets(artifacts, s), epochs, gap) for s in range(MATRIX_SITES)]

    def stack(name: str, dtype: str) -> np.ndarray:
        return np.stack([np.asarray(s[name]) for s in sites]).astype(dtype)

    arrays = {"epochs": epochs, "paths": stack("paths", "float16"),
              **{name: stack(name, "float32") for name in ("basis", "share", "pod_share",
                                                           "eigenvalues", "amplitudes",
                                                           "residual")}}
    return arrays, {"sites": list(SITES[:MATRIX_SITES]), "rank": RANK, "window": WINDOW,
                    "reference_gap": gap}


centroid_trajectory = CrossEpochAnalyzer(
    name="centroid_trajectory",
    version=1,
    description=(
        "The answer classes' centroids at '=' (resid_post, attn_out, mlp_out) across "
        "checkpoints on one shared set of top-3 principal components, and dynamic mode "
        "decomposition (Schmid 2010; Tu et al. 2014) of the whole arrangement on its top "
        f"{RANK} POD modes, with the checkpoint gaps in epochs (trapezoidal rule): the DMD "
        "eigenvalues per median gap, and each checkpoint's one-step residual, the share of "
        f"its step that dynamics fitted on the {WINDOW} steps before it fail to predict "
        "(a jump marks a change of regime)."
    ),
    arrays=(
        ArraySpec("epochs", "int64", ("checkpoint",), "checkpoint epochs"),
        ArraySpec("paths", "float16", ("site", "checkpoint", "class", "pc"),
                  "each class's centroid offset on the shared top 3 PCs of all checkpoints"),
        ArraySpec("basis", "float32", ("site", "pc", "d_model"),
                  "the shared PCs, unit vectors in the residual basis"),
        ArraySpec("share", "float32", ("site", "pc"),
                  "share of the variance of every checkpoint's offsets on each shared PC"),
        ArraySpec("pod_share", "float32", ("site",),
                  "share of the snapshots' energy on the POD modes of the DMD state"),
        ArraySpec("eigenvalues", "float32", ("site", "mode", "part"),
                  "real and imaginary part of the DMD eigenvalues per reference_gap epochs, "
                  "by decreasing mode amplitude; NaN beyond the fitted modes"),
        ArraySpec("amplitudes", "float32", ("site", "mode"),
                  "RMS over checkpoints of each mode's coefficient in the state"),
        ArraySpec("residual", "float32", ("site", "checkpoint"),
                  "|z - predicted| / |z - previous z| of the prediction from the window of "
                  "steps before, capped at 2; NaN where there is none"),
    ),
    attrs=(
        AttrSpec("sites", "json", "the site of each index of the site axis"),
        AttrSpec("rank", "int", "POD modes of the DMD state"),
        AttrSpec("window", "int", "steps each one-step prediction is fitted on"),
        AttrSpec("reference_gap", "float", "epochs per step of the DMD eigenvalues (median gap)"),
    ),
    compute=_centroid_trajectory,
    inputs=("repr_geometry",),
)

CROSS_EPOCH: tuple[CrossEpochAnalyzer, ...] = (centroid_trajectory,)
