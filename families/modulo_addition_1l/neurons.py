"""The MLP neuron analyzers of Modulo Addition: activation maps, frequency clusters, coarseness.

All read the ReLU activations at '=' over the (a, b) grid. ``neuron_activations`` stores
the maps of a fixed set of neurons (Nanda et al. Fig. 4), ``neuron_freq_clusters`` each
neuron's share of variance per frequency (§4.3), ``coarseness`` its share in low
frequencies (a tdw measure). :func:`answer_mlp_post` recomputes the activations from a
state dict, for the neurons chosen at the final checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from tdw.family.analyzer import Analyzer, CheckpointInputs, Output
from tdw.family.artifacts import ArraySpec, AttrSpec

from . import fourier
from .grid import ANSWER, CITE, MLP_POST, N_HEADS, as_grids, dominant_frequency, grid_p, to_numpy

if TYPE_CHECKING:
    import torch

__all__ = ["ANALYZERS", "answer_mlp_post", "top_variance_neurons", "low_cutoff"]

N_STORED_NEURONS = 16
SPECIALISED = 0.85
"""Nanda et al. §4.3: 433 of 512 neurons are over 85% explained by one key frequency."""
COARSE = 0.5


# --- neuron_activations ---------------------------------------------------------------


def answer_mlp_post(weights: Mapping[str, torch.Tensor], tokens: torch.Tensor,
                    n_heads: int) -> torch.Tensor:
    """``(batch, 3)`` tokens -> ``(batch, d_mlp)`` float64 ReLU activations of the MLP at '='.

    The family's forward from a state dict rather than a live model (``readout.py`` needs
    the model; this serves ``final_weights``): embeddings plus positions, no LayerNorm,
    attention from the last position to all three (the causal mask hides nothing from it)
    with scores scaled by 1 / sqrt(d_head), heads being contiguous blocks of the q/k/v
    output rows, then relu(W_in . resid_mid + b_in). Tested equal to the bridge's
    ``blocks.0.mlp.hook_post[:, 2]``.
    """
    import torch
    w = {name: t.detach().to("cpu", torch.float64) for name, t in weights.items()}
    tokens = tokens.cpu()
    batch, n_pos = tokens.shape
    x = w["embed.weight"][tokens] + w["pos_embed.weight"][:n_pos]  # (batch, pos, d_model)
    last = x[:, -1]  # (batch, d_model)
    d_head = w["blocks.0.attn.q.weight"].shape[0] // n_heads

    def heads(vectors: torch.Tensor, part: str) -> torch.Tensor:  # (..., head, d_head)
        out = vectors @ w[f"blocks.0.attn.{part}.weight"].T + w[f"blocks.0.attn.{part}.bias"]
        return out.view(*vectors.shape[:-1], n_heads, d_head)

    q, k, v = heads(last, "q"), heads(x, "k"), heads(x, "v")  # (batch, [pos,] head, d_head)
    pattern = (torch.einsum("bhd,bphd->bhp", q, k) / math.sqrt(d_head)).softmax(-1)
    z = torch.einsum("bhp,bphd->bhd", pattern, v).reshape(batch, n_heads * d_head)
    resid_mid = last + z @ w["blocks.0.attn.o.weight"].T + w["blocks.0.attn.o.bias"]
    return torch.relu(resid_mid @ w["blocks.0.mlp.in.weight"].T + w["blocks.0.mlp.in.bias"])


def top_variance_neurons(weights: Mapping[str, torch.Tensor], tokens: torch.Tensor,
                         n_heads: int, count: int) -> np.ndarray:
    """``(count,)`` int32 indices of the neurons whose activation at '=' varies most over
    ``tokens`` under ``weights``, most variable first (ties by lower index)."""
    post = to_numpy(answer_mlp_post(weights, tokens, n_heads))  # (pair, neuron)
    return np.argsort(-post.var(axis=0), kind="stable")[:count].astype(np.int32)


_LAST_FINAL: list = []  # [(final_weights, tokens, neurons)]: one entry, held strongly


def _final_neurons(final_weights: Mapping[str, torch.Tensor], tokens: torch.Tensor,
                   n_heads: int) -> np.ndarray:
    """:func:`top_variance_neurons` of the final checkpoint, computed once per worker: the
    engine hands every checkpoint of a run the same ``final_weights`` object."""
    if _LAST_FINAL and _LAST_FINAL[0][0] is final_weights and _LAST_FINAL[0][1] is tokens:
        return _LAST_FINAL[0][2]
    neurons = top_variance_neurons(final_weights, tokens, n_heads, N_STORED_NEURONS)
    _LAST_FINAL[:] = [(final_weights, tokens, neurons)]
    return neurons


def _neuron_activations(inputs: CheckpointInputs) -> Output:
    """MLP activations at '=' over the (a, b) grid for a fixed set of 16 neurons.

    The neurons are the 16 with the largest activation variance over the grid at the
    final checkpoint (computed from ``final_weights`` with :func:`answer_mlp_post`), so
    every checkpoint of a run stores the same neurons, most variable first; the maps are
    this checkpoint's ``blocks.0.mlp.hook_post[:, 2]`` for them, as float16 (Nanda et al.
    Fig. 4 shows such maps). At p = 113: 16 x 113 x 113 x 2 B of maps + 16 x 4 B of
    indices = 408,672 B (0.41 MB) per checkpoint, 38.8 MB for 95 checkpoints; all 512
    neurons would take 13.1 MB per checkpoint even as float16.
    """
    p = grid_p(inputs)
    neurons = _final_neurons(inputs.final_weights, inputs.probe["tokens"], N_HEADS)
    post = inputs.activations[MLP_POST][:, ANSWER]  # (a*p+b, d_mlp)
    maps = as_grids(to_numpy(post[:, neurons.tolist()]), p)  # (neuron, a, b)
    return ({"maps": maps.astype(np.float16), "neurons": neurons},
            {"n_neurons_total": int(post.shape[-1])})


# --- neuron_freq_clusters and coarseness ----------------------------------------------


def _neuron_grids(inputs: CheckpointInputs) -> np.ndarray:
    """``(neuron, a, b)`` float64 MLP activations at '='."""
    p = grid_p(inputs)
    return as_grids(to_numpy(inputs.activations[MLP_POST][:, ANSWER]), p)


_LAST_POWER: list[tuple[Any, np.ndarray]] = []
"""``[(weak reference to the activations, power)]``: the last checkpoint's neuron power
spectra, which both neuron_freq_clusters and coarseness read; the engine hands both the
same activation tensor, so the second finds them here. The key is the tensor's identity
alone (activations made under ``torch.inference_mode`` keep no in-place version): the
engine never changes them, and a tensor changed in place between the two analyzers would
be answered from here."""


def _neuron_power(inputs: CheckpointInputs, grids: np.ndarray | None = None) -> np.ndarray:
    """``(neuron, freq_a, freq_b)`` :func:`.fourier.power_by_frequency_2d` of every neuron
    (``grids``: :func:`_neuron_grids`, when the caller has them)."""
    import weakref
    post = inputs.activations[MLP_POST]
    if _LAST_POWER and _LAST_POWER[0][0]() is post:
        return _LAST_POWER[0][1]
    grids = _neuron_grids(inputs) if grids is None else grids
    power = fourier.power_by_frequency_2d(grids)
    power.flags.writeable = False  # shared by two analyzers
    _LAST_POWER[:] = [(weakref.ref(post), power)]
    return power


def _neuron_freq_clusters(inputs: CheckpointInputs) -> Output:
    """Each neuron's share of variance over the (a, b) grid per frequency, and the clusters.

    Nanda et al. §4.3, Fig. 5: after grokking most neurons are well explained by the
    constant plus the terms of a single key frequency k (a- and b-frequencies in {0, k}),
    and neurons cluster by that frequency. ``fraction[n, i]`` is
    :func:`.fourier.frequency_fractions_2d` of neuron n at frequency i + 1;
    ``dominant`` is the frequency with the largest share (0 for a neuron constant over the
    grid, e.g. a dead ReLU); ``specialised_count[i]`` counts neurons whose dominant share
    is >= 0.85, the paper's threshold; ``variance`` is the activation variance over the
    grid, to tell strong neurons from nearly dead ones.
    """
    grids = _neuron_grids(inputs)  # (neuron, a, b)
    fraction = fourier.frequency_fractions_of_power(_neuron_power(inputs, grids))  # (neuron, freq)
    dominant = dominant_frequency(fraction)  # (neuron,)
    specialised = dominant[fraction.max(-1) >= SPECIALISED]  # (n_specialised,)
    count = np.bincount(specialised, minlength=fraction.shape[-1] + 1)[1:]  # (freq,)
    return ({"fraction": fraction.astype(np.float32), "dominant": dominant,
             "specialised_count": count.astype(np.int32),
             "variance": grids.var(axis=(-2, -1)).astype(np.float32)},
            {"threshold": SPECIALISED})


def low_cutoff(p: int) -> int:
    """The highest "low" frequency: ``max(1, p // 10)``, i.e. waves with a period of at
    least 10 residues (each half-period spans 5 or more consecutive inputs); 11 at p = 113,
    where Nanda et al.'s key frequencies (14 to 52) are all above it."""
    return max(1, p // 10)


def _coarseness(inputs: CheckpointInputs) -> Output:
    """Per neuron, the share of its variance over the (a, b) grid in low frequencies.

    A tdw measure, not one of Nanda et al.'s: it separates neurons that vary smoothly
    across the grid from the fine, high-frequency ones the Fourier circuit uses. "Low" is
    the 2-D box of terms whose a- and b-frequencies are both <= :func:`low_cutoff` (the
    constant excluded), so a neuron cos(w_k (a + b)) scores 1 for k <= cutoff and 0 above;
    a random-init neuron with a flat spectrum scores about ((2L+1)^2 - 1) / (p^2 - 1)
    (0.04 at p = 113). A neuron constant over the grid scores 0. ``fraction_coarse`` is
    the share of neurons scoring >= 0.5 (mostly low-frequency).
    """
    p = inputs.values["p"]
    cutoff = low_cutoff(p)
    coarse = fourier.low_frequency_fraction_of_power(_neuron_power(inputs), cutoff)  # (neuron,)
    return ({"coarseness": coarse.astype(np.float32)},
            {"mean": float(coarse.mean()), "median": float(np.median(coarse)),
             "fraction_coarse": float((coarse >= COARSE).mean()), "low_cutoff": cutoff})


ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(
        name="neuron_activations", version=1,
        description=f"MLP activations at '=' over the (a, b) grid for the 16 neurons that vary "
                    f"most at the final checkpoint, float16; {CITE} Fig. 4.",
        arrays=(ArraySpec("maps", "float16", ("neuron", "a", "b"),
                          "activation of each stored neuron at '=' for input (a, b)"),
                ArraySpec("neurons", "int32", ("neuron",),
                          "indices of the stored neurons, by final-checkpoint variance")),
        attrs=(AttrSpec("n_neurons_total", "int", "number of MLP neurons (d_mlp)"),),
        compute=_neuron_activations, hooks=(MLP_POST,),
    ),
    Analyzer(
        name="neuron_freq_clusters", version=1,
        description=f"Share of each neuron's variance over (a, b) per frequency, its dominant "
                    f"frequency and the count of neurons >= 85% in one; {CITE} §4.3.",
        arrays=(ArraySpec("fraction", "float32", ("neuron", "freq"),
                          "share of variance in terms with a-, b-frequencies in {0, k}"),
                ArraySpec("dominant", "int32", ("neuron",),
                          "frequency with the largest share (0: constant neuron)"),
                ArraySpec("specialised_count", "int32", ("freq",),
                          "neurons whose dominant share is >= threshold, per frequency"),
                ArraySpec("variance", "float32", ("neuron",),
                          "activation variance over the (a, b) grid")),
        attrs=(AttrSpec("threshold", "float", "dominant share that makes a neuron specialised"),),
        compute=_neuron_freq_clusters, hooks=(MLP_POST,),
    ),
    Analyzer(
        name="coarseness", version=1,
        description="Per neuron, the share of its variance over (a, b) in 2-D Fourier terms "
                    "with both frequencies <= max(1, p // 10) (a tdw measure).",
        arrays=(ArraySpec("coarseness", "float32", ("neuron",),
                          "share of the neuron's variance in low frequencies"),),
        attrs=(AttrSpec("mean", "float", "mean coarseness over neurons"),
               AttrSpec("median", "float", "median coarseness over neurons"),
               AttrSpec("fraction_coarse", "float", "share of neurons with coarseness >= 0.5"),
               AttrSpec("low_cutoff", "int", "highest low frequency, max(1, p // 10)")),
        compute=_coarseness, hooks=(MLP_POST,),
    ),
)
