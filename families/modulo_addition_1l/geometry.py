"""The representation-geometry analyzer of Modulo Addition: how the answer classes sit in the
residual stream at '='.

The p x p probe rows are grouped by their answer class c = (a + b) mod p (p rows each) at
four sites of the block, read at '=' (``ANSWER``): the residual stream the block reads
(``resid_pre``: embedding plus position), the attention and MLP outputs it adds, and the
residual it writes (``resid_post = resid_pre + attn_out + mlp_out``). A grokked model
computes the answer from cos/sin(w_k (a + b)) (Nanda et al. 2023, §4), so its class
centroids should lie on rings, one per key frequency: Liu et al. (2022, arXiv:2205.10343)
and Zhong et al. (2023, "The Clock and the Pizza", arXiv:2306.17844) show such rings in
the embeddings. At '=' ``resid_pre`` is embed('=') + pos[2] for every pair, one vector, so
its geometry is 0 by construction: it is kept as the baseline the block starts from.

Per site, with mu_c the centroid of class c and mu their mean (all float64):

* radius r_c = sqrt(mean_{rows of c} |x - mu_c|^2), so r_c^2 is the class variance sigma_c^2;
* participation ratio (sum lambda)^2 / sum lambda^2 of the eigenvalues lambda of the
  centroids' covariance (Gao et al. 2017, bioRxiv 214262): 2 for one ring, about 2n for n
  equally strong rings in orthogonal planes;
* spread = sqrt(mean_c |mu_c - mu|^2), radius = sqrt(mean_c r_c^2), and
  snr = spread^2 / radius^2 (total variance = spread^2 + radius^2, the classes being equal);
* circularity: the centroids on their top two PCs, a circle fitted by algebraic least
  squares (Kasa 1976, IEEE Trans. Instrum. Meas. 25(1)), ``ring_fit`` =
  clip(1 - e / R) * clip(1 - |o| / R) with e the RMS radial residual, R the radius and
  |o| the centre's distance from mu, and circularity = ring_fit * the two PCs' share of
  the centroid variance. The second factor is ours: a circle fit explains a line or a
  short arc as part of a huge circle, whose centre lies far from the points' mean;
* Fourier alignment: the unit vectors u_c of the centroids' angles (about mu, in the
  top-2 plane) regressed on exp(i (2 pi j c / p + phi)) for j = 1 .. p - 1 (j and p - j
  are frequency k = min(j, p - j) in the two orientations). With the best phase the
  R^2 is |F_j|^2, F_j = mean_c u_c exp(-2 pi i j c / p), the squared mean resultant length
  of the residual angles (Mardia and Jupp 2000, "Directional Statistics"); the shares
  |F_j|^2 over j = 0 .. p - 1 sum to 1, so random angles score about 1/p each;
* the centroids themselves, in the residual stream's own basis, which every checkpoint
  shares (unlike the top PCs, which are each checkpoint's own): mu and the offsets
  mu_c - mu, for the cross-epoch centroid trajectory (:mod:`.centroid_trajectory`);
* Fisher discriminant J(r, s) = |mu_r - mu_s|^2 / (sigma_r^2 + sigma_s^2) (Fisher 1936,
  Ann. Eugenics 7(2), with the total variance of each class): its mean and minimum over
  the pairs r < s and the worst pair. With equal radii its mean is snr * p / (p - 1).

A quantity below ``NEGLIGIBLE`` times the rows' mean squared norm is rounding and counts
as 0; 0 / 0 is 0 and x / 0 is inf (classes that are distinct points).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tdw.family.analyzer import Analyzer, CheckpointInputs, Output
from tdw.family.artifacts import ArraySpec, AttrSpec

from .grid import ANSWER, CITE, grid_p, to_numpy

__all__ = ["ANALYZERS", "SITES", "HOOKS", "MATRIX_SITES", "Geometry", "class_members",
           "class_geometry", "fisher_matrix", "participation_ratio", "fit_circle",
           "fourier_alignment"]

SITES = ("resid_post", "attn_out", "mlp_out", "resid_pre")
"""The sites, in the order of the ``site`` axis: the block's output, then its terms. The
output comes first because a view's site selector starts at 0."""
HOOKS = {
    "resid_post": "blocks.0.hook_resid_post",  # (p*p, pos, d_model), as in grid.py
    "attn_out": "blocks.0.hook_attn_out",  # (p*p, pos, d_model)
    "mlp_out": "blocks.0.hook_mlp_out",  # (p*p, pos, d_model)
    "resid_pre": "blocks.0.hook_resid_pre",  # (p*p, pos, d_model)
}
MATRIX_SITES = 3
"""The class x class matrices and the centroids in the residual basis are stored for the
first 3 sites: ``resid_pre`` is one point for every class."""
N_PCS = 3
NEGLIGIBLE = 1e-12


@dataclass(frozen=True)
class Geometry:
    """The class geometry of one site (see the module docstring for the definitions).

    Attributes:
        centroids: ``(class, 3)`` centroids on their top 3 PCs, about mu. The top-2 plane
            is turned (and mirrored if need be) so that the best Fourier fit puts class 0
            at angle 0 and runs counter-clockwise: PCs of a ring are defined only up to a
            rotation within the plane, so signs alone would not hold it still between
            checkpoints. PC 3's sign makes its largest-magnitude entry positive.
        radii: ``(class,)`` r_c.
        distances: ``(class, class)`` |mu_r - mu_s|.
        circle: ``(3,)`` centre x, centre y and radius of the fitted circle, in the
            coordinates of ``centroids``.
        pc_share: ``(3,)`` share of the centroid variance on each of the top 3 PCs.
        worst_pair: ``(2,)`` the classes r < s with the smallest J (0, 1 if none).
        mean: ``(d,)`` mu, the mean of the centroids.
        offsets: ``(class, d)`` mu_c - mu in the basis of the rows.
    """

    centroids: np.ndarray
    radii: np.ndarray
    distances: np.ndarray
    circle: np.ndarray
    pc_share: np.ndarray
    participation_ratio: float
    spread: float
    radius: float
    snr: float
    ring_fit: float
    circularity: float
    alignment: float
    best_k: int
    fisher_mean: float
    fisher_min: float
    worst_pair: np.ndarray
    mean: np.ndarray
    offsets: np.ndarray


def class_members(p: int) -> np.ndarray:
    """``(class, member)`` row indices ``a * p + b`` of the pairs with (a + b) mod p = class,
    member a."""
    c, a = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")  # (class, member)
    return a * p + (c - a) % p


def _ratio(num: np.ndarray, den: np.ndarray, floor: float) -> np.ndarray:
    """num / den, with 0 where num <= floor and inf where only den <= floor."""
    num, den = np.broadcast_arrays(np.asarray(num, np.float64), np.asarray(den, np.float64))
    out = np.where(num > floor, np.inf, 0.0)
    np.divide(num, den, out=out, where=(num > floor) & (den > floor))
    return out


def participation_ratio(eigenvalues: np.ndarray) -> float:
    """(sum lambda)^2 / sum lambda^2; 0 for no variance."""
    total = float(eigenvalues.sum())
    return total ** 2 / float((eigenvalues ** 2).sum()) if total > 0 else 0.0


def fisher_matrix(distances: np.ndarray, radii: np.ndarray, floor: float = 0.0) -> np.ndarray:
    """``(class, class)`` J(r, s) = d(r, s)^2 / (r_r^2 + r_s^2) from the centroid distances
    and the class radii (r_c^2 = sigma_c^2); 0 on the diagonal."""
    d = np.asarray(distances, np.float64)  # (class, class)
    var = np.asarray(radii, np.float64) ** 2  # (class,)
    return _ratio(d ** 2, var[:, None] + var[None, :], floor)


def fit_circle(points: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Algebraic least-squares circle (Kasa 1976) through ``(n, 2)`` points: solves
    x^2 + y^2 = 2 o_x x + 2 o_y y + c, radius^2 = c + |o|^2. Returns the centre ``(2,)``,
    the radius and the RMS radial residual sqrt(mean (|x - o| - R)^2)."""
    design = np.column_stack([2 * points, np.ones(len(points))])  # (n, 3)
    solution = np.linalg.lstsq(design, (points ** 2).sum(-1), rcond=None)[0]
    centre = solution[:2]
    radius = float(np.sqrt(max(solution[2] + centre @ centre, 0.0)))
    residual = np.linalg.norm(points - centre, axis=-1) - radius  # (n,)
    return centre, radius, float(np.sqrt((residual ** 2).mean()))


def fourier_alignment(plane: np.ndarray) -> tuple[float, int, complex]:
    """R^2 of the angles of ``(class, 2)`` points about the origin against 2 pi j c / p.

    Returns the best share |F_j|^2 over j = 1 .. p - 1, that j, and F_j (whose phase is the
    best phase offset). Points at the origin have no angle and count as 0 vectors.
    """
    z = plane[:, 0] + 1j * plane[:, 1]  # (class,)
    size = np.abs(z)
    unit = np.divide(z, size, out=np.zeros_like(z), where=size > 0)  # (class,)
    spectrum = np.fft.fft(unit) / len(z)  # (j,): F_j = mean_c u_c exp(-2 pi i j c / p)
    j = int(np.argmax(np.abs(spectrum[1:]))) + 1
    return float(abs(spectrum[j]) ** 2), j, complex(spectrum[j])


def _canonical_plane(plane: np.ndarray, j: int, f_j: complex, p: int) -> np.ndarray:
    """``(n, 2)`` points turned by -arg F_j (class 0's fitted angle goes to 0) and mirrored
    when j > p / 2, so the fitted wave runs counter-clockwise at k = min(j, p - j)."""
    z = (plane[:, 0] + 1j * plane[:, 1]) * (np.conj(f_j) / abs(f_j) if f_j else 1.0)
    if 2 * j > p:
        z = np.conj(z)
    return np.column_stack([z.real, z.imag])


def _fisher_summary(d_sq: np.ndarray, sigma_sq: np.ndarray, floor: float) -> dict:
    """Mean and minimum of J over the pairs r < s and the worst pair, from ``(class,
    class)`` squared centroid distances and ``(class,)`` class variances."""
    fisher = _ratio(d_sq, sigma_sq[:, None] + sigma_sq[None, :], floor)  # (class, class)
    r, s = np.triu_indices(len(sigma_sq), 1)  # (pair,) each
    worst = int(np.argmin(fisher[r, s]))
    return {"fisher_mean": float(fisher[r, s].mean()), "fisher_min": float(fisher[r, s][worst]),
            "worst_pair": np.array([r[worst], s[worst]])}


def _ring(scores: np.ndarray, eigenvalues: np.ndarray, p: int) -> dict:
    """The ring measures and the stored coordinates from the ``(class, 3)`` centroid scores
    on the top 3 PCs and the centroid covariance's ``(component,)`` eigenvalues."""
    alignment, j, f_j = fourier_alignment(scores[:, :2])
    centre, radius, residual = fit_circle(scores[:, :2])
    ring_fit = 0.0 if radius <= 0 else float(np.clip(1 - residual / radius, 0, 1)
                                             * np.clip(1 - np.linalg.norm(centre) / radius, 0, 1))
    share = eigenvalues[:N_PCS] / eigenvalues.sum()  # (pc,)
    turned = _canonical_plane(np.vstack([scores[:, :2], centre]), j, f_j, p)  # (class + 1, 2)
    third = scores[:, 2]  # (class,): its largest-magnitude entry made positive
    third = -third if third[np.argmax(np.abs(third))] < 0 else third
    return {"centroids": np.column_stack([turned[:-1], third]),
            "circle": np.array([*turned[-1], radius]), "pc_share": share,
            "participation_ratio": participation_ratio(eigenvalues), "ring_fit": ring_fit,
            "circularity": ring_fit * float(share[:2].sum()), "alignment": alignment,
            "best_k": min(j, p - j)}


def class_geometry(rows: np.ndarray, p: int) -> Geometry:
    """The :class:`Geometry` of ``(p*p, d)`` rows in ``a * p + b`` order."""
    rows = np.asarray(rows, np.float64)
    floor = NEGLIGIBLE * float((rows ** 2).sum(-1).mean())
    grouped = rows[class_members(p)]  # (class, member, d)
    centroids = grouped.mean(1)  # (class, d)
    sigma_sq = ((grouped - centroids[:, None]) ** 2).sum(-1).mean(1)  # (class,)
    centred = centroids - centroids.mean(0)  # (class, d)
    gram = centred @ centred.T  # (class, class)
    d_sq = np.maximum(np.diag(gram)[:, None] + np.diag(gram)[None, :] - 2 * gram, 0.0)
    np.fill_diagonal(d_sq, 0.0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    eigenvalues = np.zeros(max(len(s), N_PCS))  # (component,)
    eigenvalues[: len(s)] = s ** 2 / p
    spread_sq, radius_sq = float(eigenvalues.sum()), float(sigma_sq.mean())
    if spread_sq > floor:
        scores = np.zeros((p, N_PCS))  # (class, pc)
        width = min(N_PCS, len(s))
        scores[:, :width] = u[:, :width] * s[:width]
        ring = _ring(scores, eigenvalues, p)
    else:  # one point: no plane, no ring
        ring = {"centroids": np.zeros((p, N_PCS)), "circle": np.zeros(3),
                "pc_share": np.zeros(N_PCS), "participation_ratio": 0.0, "ring_fit": 0.0,
                "circularity": 0.0, "alignment": 0.0, "best_k": 0}
    return Geometry(radii=np.sqrt(sigma_sq), distances=np.sqrt(d_sq), mean=centroids.mean(0),
                    offsets=centred, spread=float(np.sqrt(spread_sq)),
                    radius=float(np.sqrt(radius_sq)),
                    snr=float(_ratio(spread_sq, radius_sq, floor)),
                    **_fisher_summary(d_sq, sigma_sq, floor), **ring)


_SCALARS = {  # the per-site float32 scalars, dims ("site",): name -> description
    "participation_ratio": "(sum lambda)^2 / sum lambda^2 of the centroid covariance",
    "spread": "RMS distance of the class centroids to their mean",
    "radius": "RMS over classes of the class radius r_c",
    "snr": "spread^2 / radius^2",
    "ring_fit": "circle fit in the top-2 PC plane: (1 - e / R) * (1 - |centre - mean| / R)",
    "circularity": "ring_fit * share of the centroid variance on the top two PCs",
    "alignment": "R^2 of the centroid angles against 2 pi k c / p at the best k",
    "fisher_mean": "mean over pairs r < s of J(r, s)",
    "fisher_min": "smallest J(r, s) over pairs r < s",
}


def _repr_geometry(inputs: CheckpointInputs) -> Output:
    """Class geometry of the answer classes at '=' at four sites of the block.

    The definitions are in the module docstring. At p = 113 the arrays take 172,454 B per
    checkpoint (about 174 kB as a file; 71,798 B at p = 59): 76,614 B are the 3 x 113 x
    113 float16 centroid distances of the sites that vary (``resid_pre`` is one point) and
    88,320 B their centroids in the residual basis (version 2: 3 x 113 x 128 float16
    offsets and 3 x 128 float32 means), which the centroid trajectory reads across
    checkpoints. The Fisher matrix is not stored: J(r, s) = d(r, s)^2 / (r_r^2 + r_s^2)
    follows from the distances and the radii, so the views draw both from one matrix.
    Float16 keeps 11 significant bits (0.05%), finer than a colour map shows; the offsets
    are stored about mu so that those bits go to how the classes differ, not to the
    position they share. Every stored number is computed in float64 before rounding. It
    costs about 70 ms per checkpoint at p = 113 (20 ms at p = 59) on one busy CPU thread,
    4 x 113^2 x 128 float32 of activations.
    """
    p = grid_p(inputs)
    geometries = [class_geometry(to_numpy(inputs.activations[HOOKS[site]][:, ANSWER]), p)
                  for site in SITES]

    def stack(name: str, dtype: str) -> np.ndarray:
        return np.stack([np.asarray(getattr(g, name)) for g in geometries]).astype(dtype)

    arrays = {name: stack(name, "float32") for name in _SCALARS}
    arrays.update(centroids=stack("centroids", "float32"), radii=stack("radii", "float32"),
                  circle=stack("circle", "float32"), pc_share=stack("pc_share", "float32"),
                  best_k=stack("best_k", "int32"), worst_pair=stack("worst_pair", "int32"),
                  distances=stack("distances", "float16")[:MATRIX_SITES],
                  centroid_offsets=stack("offsets", "float16")[:MATRIX_SITES],
                  centroid_mean=stack("mean", "float32")[:MATRIX_SITES])
    return arrays, {"sites": list(SITES)}


ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(
        name="repr_geometry", version=2,  # 2: the centroids in the residual basis
        description=f"Geometry of the answer classes (a + b) mod p at '=' in resid_post, "
                    f"attn_out, mlp_out and resid_pre: centroids on their top PCs and "
                    f"in the residual basis, "
                    f"circularity, Fourier alignment, SNR, Fisher separation; rings as in "
                    f"{CITE} §4 and Liu et al. 2022, arXiv:2205.10343.",
        arrays=(*(ArraySpec(name, "float32", ("site",), text)
                  for name, text in _SCALARS.items()),
                ArraySpec("best_k", "int32", ("site",),
                          "frequency k of the best alignment (0: the centroids coincide)"),
                ArraySpec("worst_pair", "int32", ("site", "end"),
                          "the classes r < s of the smallest J"),
                ArraySpec("centroids", "float32", ("site", "class", "pc"),
                          "centroids on their top 3 PCs, the ring turned to a fixed frame"),
                ArraySpec("radii", "float32", ("site", "class"),
                          "RMS distance of a class's rows to its centroid"),
                ArraySpec("circle", "float32", ("site", "fit"),
                          "fitted circle: centre x, centre y, radius (centroids' frame)"),
                ArraySpec("pc_share", "float32", ("site", "pc"),
                          "share of the centroid variance on each of the top 3 PCs"),
                ArraySpec("distances", "float16", ("matrix_site", "class", "class"),
                          "centroid distances |mu_r - mu_s| for the first 3 sites"),
                ArraySpec("centroid_offsets", "float16", ("matrix_site", "class", "d_model"),
                          "centroids about their mean, mu_c - mu, in the residual basis "
                          "(shared by every checkpoint), for the first 3 sites"),
                ArraySpec("centroid_mean", "float32", ("matrix_site", "d_model"),
                          "mean mu of the class centroids, for the first 3 sites")),
        attrs=(AttrSpec("sites", "json", "the site of each index of the site axis"),),
        compute=_repr_geometry, hooks=tuple(HOOKS[site] for site in SITES),
    ),
)
