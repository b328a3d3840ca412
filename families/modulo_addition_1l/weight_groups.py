"""The weight-space frequency groups of Modulo Addition: the MLP neurons grouped by the
frequency their input weights end on, and how each group's weights arrange themselves over
training. Weight-only (no forward pass).

Nanda et al. (2023, §4.3, Fig. 5) find that after grokking the neurons cluster by key
frequency. Within a cluster the neurons differ by phase, so as points in function space
a cluster whose neurons are waves A cos(2 pi k x / p + phi) of one frequency with phases
spread round the circle lies on a ring in the plane of cos and sin of k. This analyzer
follows each cluster's points through training on one fixed frame: the final
checkpoint's principal components of the cluster.

**Points.** Neuron m's input is its token function u_m = W_E W_in[:, m] (``(token,)``,
the '=' row of W_E left out; the state dict's row ``mlp.in.weight[m]``), its output the
answer function v_m = W_U W_out[m] (``(answer,)``; the column ``mlp.out.weight[:, m]``
read by ``unembed.weight``), each with its mean over tokens (answers) removed. These are
the functions whose dominant frequency :mod:`.weight_fourier` reports, read as points in
R^p rather than as the raw d_model columns because (1) they are what the neuron reads from
and writes to the residual, invariant to any change of basis of the residual stream, while
a raw column also holds the directions W_E (W_U) never uses: d_model - p of them at least,
15 at p = 113 and 69 on the quick preset's p = 59, where nothing but weight decay holds
them still and their drift would count as spread round the ring; (2) their Euclidean
geometry is their Fourier geometry (the basis of :mod:`.fourier` is orthonormal), so a PC
of a clean group is a wave of its frequency, and the ring's angle the neuron's phase. The
mean is the constant function: the positional embedding and the bias add to it alike for
every token, so it is a bias, not a reading of the token. At '=' the tokens reach the MLP
through attention (W_E W_V W_O), so u_m is the direct reading weight_fourier uses, not
the neuron's whole input; v_m is exactly its direct effect on the logits (no LayerNorm).

**Groups** (defined once, at the final checkpoint): a neuron's frequency is the dominant
frequency of its final u_m (``weight_fourier``'s ``in_freq``: the largest share of its
non-constant power; neurons with a constant u_m have none and join no group). The groups
are the :data:`MAX_GROUPS` largest frequencies by neuron count (ties: the lower
frequency first), largest first; the output side is read for the same neurons, so a
neuron writing another frequency than it reads sits off its group's output ring. The
arrays are padded: fewer than eight frequencies (p = 11 has five) leave groups of size 0
(frequency 0, NaN measures), and the ``member`` axis is the largest group's size
(neuron -1, NaN projections past a group's size).

**Final basis**: per side and group, the top 3 principal components of the group's final
points about their mean (:func:`.centroid_trajectory.shared_pcs`: unit, signed so their
largest entry is positive; components of zero variance are 0). A checkpoint's points are
projected on it about the origin (the zero function), so every checkpoint shares the
frame and a drift of the whole group shows as a moving centroid.

**Per checkpoint**, per side and group, for the n_g points x_m of the group (variance:
mean over the group of the squared distance to the mean point, ``total``):

* ``pc_share``: the shares of ``total`` on the top 3 PCs of this checkpoint's own points;
* ``final_share``: the shares of ``total`` on the 3 final PCs; the first two sum to the
  *plane share*, how much of the group lies in the final plane;
* in the final plane (PCs 1-2): the ``centroid`` of the projections, the ``radius``
  sqrt(mean |y_m - centroid|^2), and ``snr`` = radius^2 / (total - radius^2), the
  in-plane over the off-plane variance (snr / (1 + snr) is the plane share);
* ``circularity`` as :mod:`.geometry` defines it for the class ring: a circle fitted to
  the projections by least squares (:func:`.geometry.fit_circle`), ``ring_fit`` =
  clip(1 - e / R) * clip(1 - |o - centroid| / R), times the plane share. A ring of equal
  amplitudes scores 1; neurons of unequal amplitudes fill a disc and score less;
* ``fisher``: Fisher's J (:func:`.geometry.fisher_matrix`) between the group's radial
  distances rho = |y - centroid| in its final plane and those of every other neuron
  projected on that plane: (mean rho_g - mean rho_rest)^2 / (var rho_g + var rho_rest),
  0 when the group is not further out than the rest. The centroids themselves would not
  do: the rings of the groups are concentric (each centred near the zero function), and
  they differ by plane, not by centre. A clean group is a ring about a crowd of other
  neurons near its centre: J >> 1.

The final checkpoint reads its own basis, fitted to its own points, and its groups were
picked for their power at k, so it scores above 0 even without structure: random weights
there give circularity 0.16 on the input side at p = 113 and 0.23 at p = 23 (20 and 50
neurons a group: a few points in many dimensions put much of their variance on two PCs),
against 0.01 and 0.04 for random weights projected on another checkpoint's basis. Read
the last checkpoint's values against that floor; a formed ring is near 1.

Ratios follow :mod:`.geometry`: below :data:`.geometry.NEGLIGIBLE` times the mean squared
norm of the side's functions a numerator counts as 0; 0 / 0 is 0, x / 0 is inf. A group of
fewer than 3 neurons has no circle (``circle``, ``ring_fit`` and ``circularity`` 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tdw.family.analyzer import Analyzer, CheckpointInputs, Output
from tdw.family.artifacts import ArraySpec, AttrSpec

from . import fourier
from .centroid_trajectory import shared_pcs
from .geometry import NEGLIGIBLE, fisher_matrix, fit_circle
from .grid import CITE, to_numpy
from .weight_fourier import waves

if TYPE_CHECKING:
    import torch

__all__ = ["ANALYZERS", "SIDES", "MAX_GROUPS", "N_PCS", "FinalGroups", "side_functions",
           "frequency_groups", "final_groups", "group_measures"]

SIDES = ("in", "out")
"""The ``side`` axis: 0 the input W_E W_in over tokens, 1 the output W_U W_out over answers."""
MAX_GROUPS = 8
"""Groups stored: Nanda et al.'s five key frequencies at p = 113 and the largest stragglers."""
N_PCS = 3
"""Final PCs each group's points are projected on: the ring's plane and one more."""


def side_functions(weights: Mapping[str, torch.Tensor], p: int) -> np.ndarray:
    """``(side, x, neuron)`` float64 token functions W_E W_in[:, m] (side 0) and answer
    functions W_U W_out[m] (side 1), not yet centred (the points are these minus their
    mean over x; the frequencies are read before, as :mod:`.weight_fourier` reads them)."""
    w_e, w_u = to_numpy(weights["embed.weight"]), to_numpy(weights["unembed.weight"])
    if w_e.shape[0] != p + 1 or w_u.shape[0] != p:
        raise ValueError(f"weight_groups needs p + 1 = {p + 1} tokens and p answers, got "
                         f"embed {w_e.shape} and unembed {w_u.shape}")
    w_in = to_numpy(weights["blocks.0.mlp.in.weight"])  # (neuron, d_model)
    w_out = to_numpy(weights["blocks.0.mlp.out.weight"])  # (d_model, neuron)
    functions = np.empty((len(SIDES), p, w_in.shape[0]))  # (side, x, neuron)
    np.matmul(w_e[:p], w_in.T, out=functions[0])
    np.matmul(w_u, w_out, out=functions[1])
    return functions


def _centred(functions: np.ndarray) -> np.ndarray:
    """``(..., x, neuron)`` functions minus their mean over x: the points."""
    return functions - functions.mean(-2, keepdims=True)


def frequency_groups(freq: np.ndarray, n_freq: int, max_groups: int = MAX_GROUPS
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Groups of the neurons by their ``(neuron,)`` dominant frequency (0: none), of
    1 .. ``n_freq``: ``(group,)`` int32 frequencies and ``(group, member)`` int32 neurons
    (ascending, -1 past a group's size), the ``max_groups`` most populous frequencies
    first (ties: the lower one), padded with frequency 0.

    >>> frequency, neurons = frequency_groups(np.array([3, 0, 1, 3, 2, 1, 3]), 3, 4)
    >>> frequency.tolist(), neurons.tolist()
    ([3, 1, 2, 0], [[0, 3, 6], [2, 5, -1], [4, -1, -1], [-1, -1, -1]])
    """
    counts = np.bincount(freq, minlength=n_freq + 1)[1:]  # (freq,)
    order = np.argsort(-counts, kind="stable")[:max_groups]
    order = order[counts[order] > 0]
    frequency = np.zeros(max_groups, np.int32)
    frequency[:len(order)] = order + 1
    width = int(counts[order].max()) if len(order) else 0
    neurons = np.full((max_groups, width), -1, np.int32)
    for g, k in enumerate(frequency[:len(order)]):
        members = np.flatnonzero(freq == k)
        neurons[g, :len(members)] = members
    return frequency, neurons


@dataclass(frozen=True)
class FinalGroups:
    """What the final checkpoint defines for every checkpoint of a run.

    Attributes:
        frequency: ``(group,)`` int32 dominant input frequency (0: an empty group).
        neurons: ``(group, member)`` int32 member neurons, -1 past a group's size.
        basis: ``(side, group, pc, x)`` float64 final PCs, unit functions of x (or 0).
        n_live: neurons with a non-constant final input function.
    """

    frequency: np.ndarray
    neurons: np.ndarray
    basis: np.ndarray
    n_live: int


def final_groups(final_weights: Mapping[str, torch.Tensor], p: int) -> FinalGroups:
    """The :class:`FinalGroups` of ``final_weights`` (module docstring)."""
    functions = side_functions(final_weights, p)  # (side, x, neuron)
    freq = waves(fourier.basis(p) @ functions[0])["freq"]  # (neuron,) 0: constant
    frequency, neurons = frequency_groups(freq, p // 2)
    basis = np.zeros((len(SIDES), MAX_GROUPS, N_PCS, p))  # (side, group, pc, x)
    for s, side in enumerate(_centred(functions)):
        for g, row in enumerate(neurons):
            members = row[row >= 0]
            if len(members):
                pcs, share = shared_pcs(side[:, members].T, N_PCS)  # (pc, x), (pc,)
                basis[s, g] = np.where((share > NEGLIGIBLE)[:, None], pcs, 0.0)
    return FinalGroups(frequency, neurons, basis, int((freq > 0).sum()))


_LAST_FINAL: list = []  # [(final_weights, FinalGroups)]: one entry, held strongly


def _cached_final(final_weights: Mapping[str, torch.Tensor], p: int) -> FinalGroups:
    """:func:`final_groups`, computed once per worker: the engine hands every checkpoint of
    a run the same ``final_weights`` object."""
    if _LAST_FINAL and _LAST_FINAL[0][0] is final_weights:
        return _LAST_FINAL[0][1]
    found = final_groups(final_weights, p)
    _LAST_FINAL[:] = [(final_weights, found)]
    return found


def _share(part: np.ndarray, total: np.ndarray, floor: float) -> np.ndarray:
    """``(group, ...)`` ``part / total`` per group; 0 for a group that does not vary."""
    live = np.expand_dims(total > floor, tuple(range(1, part.ndim)))
    return np.divide(part, np.expand_dims(total, tuple(range(1, part.ndim))),
                     out=np.zeros_like(part), where=live)


def group_measures(functions: np.ndarray, neurons: np.ndarray, basis: np.ndarray,
                   floor: float) -> dict[str, np.ndarray]:
    """Every stored measure of the groups on one side (module docstring).

    Args:
        functions: ``(x, neuron)`` every neuron's function at this checkpoint, centred over x.
        neurons: ``(group, member)`` each group's neurons, -1 past its size.
        basis: ``(group, pc, x)`` each group's final PCs.
        floor: the squared norm below which a variance counts as 0.

    Returns float64 arrays named as the artifact's, without its ``side`` axis:
    ``projections`` ``(group, member, pc)``, the others ``(group, ...)``; NaN past a
    group's size and for an empty group.
    """
    used = (neurons >= 0).any(-1)  # (group,) only these are computed: no padded work
    found = _measures(functions, neurons[used], basis[used], floor)
    out = {}
    for name, value in found.items():
        out[name] = np.full((len(neurons), *value.shape[1:]), np.nan)
        out[name][used] = value
    return out


def _measures(functions: np.ndarray, neurons: np.ndarray, basis: np.ndarray,
              floor: float) -> dict[str, np.ndarray]:
    """:func:`group_measures` of groups that all have members."""
    member = neurons >= 0  # (group, member)
    size = member.sum(-1)  # (group,)
    weight = member / size[:, None]  # (group, member): a mean over members
    points = functions.T[np.where(member, neurons, 0)] * member[..., None]  # (group, member, x)
    centred = (points - np.einsum("gm,gmx->gx", weight, points)[:, None]) * member[..., None]
    total = np.einsum("gm,gmx->g", weight, centred ** 2)  # (group,)
    own = np.zeros((len(neurons), N_PCS))  # (group, pc)
    for g in range(len(neurons)):  # the PCs' variances from the smaller Gram matrix
        c = centred[g, :size[g]]  # (member, x): the members come first
        values = np.linalg.eigvalsh(c @ c.T if len(c) <= c.shape[1] else c.T @ c)[::-1]
        own[g, :min(N_PCS, len(values))] = np.clip(values[:N_PCS], 0, None) / size[g]
    y = points @ basis.swapaxes(1, 2)  # (group, member, pc) about the origin
    mean = np.einsum("gm,gmc->gc", weight, y)  # (group, pc)
    variance = np.einsum("gm,gmc->gc", weight, (y - mean[:, None]) ** 2)  # (group, pc)
    centroid, radius_sq = mean[:, :2], variance[:, :2].sum(-1)  # (group, 2), (group,)
    final = _share(variance, total, floor)  # (group, pc)
    off = np.maximum(total - radius_sq, 0.0)  # (group,)
    snr = np.where(radius_sq > floor, np.inf, 0.0)
    np.divide(radius_sq, off, out=snr, where=(radius_sq > floor) & (off > floor))
    circle, ring_fit = np.zeros((len(neurons), 3)), np.zeros(len(neurons))
    for g in np.flatnonzero((size >= 3) & (radius_sq > floor)):
        centre, radius, residual = fit_circle(y[g, :size[g], :2])
        circle[g] = [*centre, radius]
        if radius > 0:
            ring_fit[g] = (np.clip(1 - residual / radius, 0, 1)
                           * np.clip(1 - np.linalg.norm(centre - centroid[g]) / radius, 0, 1))
    # Fisher: the radial distances rho about the centroid, the group's against the rest's
    rest = np.ones((len(neurons), functions.shape[1]), bool)  # (group, neuron)
    rest[np.nonzero(member)[0], neurons[member]] = False
    rest_weight = rest / np.maximum(rest.sum(-1), 1)[:, None]
    rho = np.linalg.norm(y[..., :2] - centroid[:, None], axis=-1)  # (group, member)
    rho_all = np.linalg.norm(basis[:, :2] @ functions - centroid[..., None], axis=1)
    moments = []  # (mean, variance) of rho for the group, then for the rest: (group,) each
    for w, r in ((weight, rho), (rest_weight, rho_all)):
        m = (w * r).sum(-1)
        moments += [m, (w * (r - m[:, None]) ** 2).sum(-1)]
    gap = np.where(rest.any(-1), np.maximum(moments[0] - moments[2], 0.0), 0.0)  # (group,)
    # classes 2g (group g) and 2g + 1 (the rest of the neurons), in one Fisher matrix
    pair = 2 * np.arange(len(neurons))
    distances = np.zeros((2 * len(neurons),) * 2)
    distances[pair, pair + 1] = distances[pair + 1, pair] = gap
    radii = np.sqrt(np.stack([moments[1], moments[3]], -1)).reshape(-1)
    fisher = fisher_matrix(distances, radii, floor)[pair, pair + 1]
    return {"projections": np.where(member[..., None], y, np.nan),
            "pc_share": _share(own, total, floor), "final_share": final,
            "centroid": centroid, "radius": np.sqrt(radius_sq), "snr": snr, "circle": circle,
            "ring_fit": ring_fit, "circularity": ring_fit * final[:, :2].sum(-1),
            "fisher": fisher}


_SCALARS = {  # the float32 measures, dims ("side", "group"): name -> description
    "radius": "RMS distance of the projections to their centroid in the final plane",
    "snr": "in-plane over off-plane variance of the group: radius^2 / (total - radius^2)",
    "ring_fit": "circle fit in the final plane: (1 - e / R) * (1 - |centre - centroid| / R)",
    "circularity": "ring_fit * share of the group's variance in the final plane",
    "fisher": "Fisher J of the group's radial distances in its plane against the others'",
}
_VECTORS = {  # the other float32 arrays: name -> (last dim, its size, description)
    "pc_share": ("pc", N_PCS, "share of the group's variance on the top 3 PCs of this checkpoint"),
    "final_share": ("pc", N_PCS, "share of the group's variance on each final PC"),
    "centroid": ("coord", 2, "mean of the projections on the final PCs 1 and 2"),
    "circle": ("fit", 3, "fitted circle in the final plane: centre x, centre y, radius"),
}


def _weight_groups(inputs: CheckpointInputs) -> Output:
    """The frequency groups' points on their final PCs, and their measures.

    The member axis is the largest group's size, so the size follows the final groups. At
    p = 113 an artifact holds 3,648 B of arrays (4,656 B as a file) for the groups of
    random weights (20 neurons or fewer), 13,888 B (14,904 B) for five groups of 100
    neurons, about what a grokked model's five key frequencies hold, and at most 66,624 B
    (67,640 B), when one frequency holds all 512 neurons: the projections 2 x 8 x 512 x 3
    float16 and the neurons 8 x 512 int32, the padded groups computed with no work. On a
    busy CPU with one BLAS thread a checkpoint costs 3.5 ms at p = 113 for the small groups,
    7.5 ms for five groups of 100 (3 ms of it the eigenvalues of the groups' own PCs), 4 ms
    at p = 59; the final groups cost 11 ms once per run.
    """
    p = inputs.values["p"]
    final = _cached_final(inputs.final_weights, p)
    functions = _centred(side_functions(inputs.weights, p))  # (side, x, neuron)
    found = [group_measures(side, final.neurons, final.basis[s],
                            NEGLIGIBLE * float((side ** 2).sum(0).mean()))
             for s, side in enumerate(functions)]
    arrays = {name: np.stack([f[name] for f in found]).astype(np.float32)
              for name in (*_SCALARS, *_VECTORS)}
    sizes = (final.neurons >= 0).sum(-1).astype(np.int32)  # (group,)
    arrays.update(frequency=final.frequency, size=sizes, neurons=final.neurons,
                  projections=np.stack([f["projections"] for f in found]).astype(np.float16))
    return arrays, {"sides": list(SIDES), "n_live": final.n_live,
                    "n_grouped": int(sizes.sum())}


ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(
        name="weight_groups", version=1,
        description=f"MLP neurons grouped by the final dominant frequency of their input "
                    f"weights W_E W_in (the {MAX_GROUPS} largest groups): each group's input "
                    f"and output weights as functions of the token and answer, projected on "
                    f"the final checkpoint's top 3 PCs of the group, with the PC shares, "
                    f"centroid, radius, SNR, Fisher J and circularity (does the group close "
                    f"into a ring?); clusters as in {CITE} §4.3. Weight-only.",
        arrays=(
            ArraySpec("frequency", "int32", ("group",),
                      "the group's final dominant input frequency (0: an empty group)"),
            ArraySpec("size", "int32", ("group",), "number of neurons in the group"),
            ArraySpec("neurons", "int32", ("group", "member"),
                      "the group's neurons, ascending; -1 past its size"),
            ArraySpec("projections", "float16", ("side", "group", "member", "pc"),
                      "each member's function on the group's final PCs, about the origin; "
                      "NaN past the group's size"),
            *(ArraySpec(name, "float32", ("side", "group", dim), text)
              for name, (dim, _, text) in _VECTORS.items()),
            *(ArraySpec(name, "float32", ("side", "group"), text)
              for name, text in _SCALARS.items()),
        ),
        attrs=(AttrSpec("sides", "json", "the side of each index of the side axis"),
               AttrSpec("n_live", "int", "neurons whose final input function is not constant"),
               AttrSpec("n_grouped", "int", "neurons in the stored groups")),
        compute=_weight_groups,
    ),
)
