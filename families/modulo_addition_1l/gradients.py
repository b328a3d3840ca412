"""The gradient analyzer of Modulo Addition: which Fourier frequencies, over the input
token, the training-loss gradient carries at each weight matrix that reads tokens.

The gradient ``G_S = dL/dW_S`` of the full-batch training loss (the cross-entropy at '='
on the variant's training split, float64, exactly as training computes it) is a matrix
over the parameter's own axes, not a function of the token. Each site ``S`` is therefore
read through the token-indexed function ``f_S(t)`` (t = 0 .. p-1) that ``W_S`` computes,
and the gradient is mapped to the first-order change of that function under a plain
gradient step ``W_S -> W_S - eta G_S`` (the sign and ``eta`` dropped)::

    site  f_S(t), for token t                      D_S, the change (sign dropped)       shape
    W_E   embedding W_E[t]                         G_E[:p]                              (p, d_model)
    W_K   key W_K W_E[t]                           W_E[:p] G_K^T                        (p, 128)
    W_V   value W_V W_E[t]                         W_E[:p] G_V^T                        (p, 128)
    W_Q   score from '=' to a key holding t,       D[t, h] = (W_K^h W_E[t])             (p, head)
          (W_K^h W_E[t]) . (W_Q^h x_=) / sqrt(32)            . (G_Q^h x_=) / sqrt(32)
    W_in  neuron input through the OV circuits,    W_E[:p] (W_O W_V)^T G_in^T           (p, d_mlp)
          W_in W_O W_V W_E[t]

Here ``W^h`` is head h's block of 32 rows (d_head) of the q/k/v weights (128 = 4 heads
x 32; heads are contiguous row blocks), ``x_= = W_E['='] + W_pos[2]`` is the residual
stream at '=', and ``W_O W_V = sum_h W_O^h W_V^h`` sums the heads' OV circuits at
attention weight 1. The columns of D are summed over below, so heads are pooled.
Positional embeddings and biases add the same vector for every token, i.e. frequency 0,
which is left out below, so only W_E's token rows matter.

Why W_Q and W_in are not simply ``W_E[:p] G^T``: in this one-layer model the loss reads
only the answer position, whose query and MLP input never hold a token's embedding. The
query reads ``x_=`` alone, so ``G_Q^h = (sum over pairs of dL/dq^h) x_=^T`` has rank 1
and ``W_E[:p] G_Q^T`` would be ``(W_E[:p] x_=)`` times a vector: the embedding's overlap
with '=', whatever the gradient. A step on W_Q moves the query at '=' by ``G_Q^h x_=``
and so moves the score of every key token as in the table. The MLP at '=' reads the
tokens only through attention's OV circuits, hence the direct token-to-neuron path
``W_in W_O W_V W_E`` (the attention weight on the token's position, which varies with
(a, b), is left out: this keeps D a function of the token alone).

Each ``D_S`` is projected on the orthonormal Fourier basis of :mod:`.fourier` along the
token axis. ``P_S(k)`` is the squared norm of its cos-k and sin-k rows summed over the
m columns, so ``sum_k P_S(k)`` plus the constant row's is ``|D_S|_F^2`` (Parseval), and::

    rms[S, k - 1]  = sqrt(P_S(k) / (2 m))     root mean square of the site's 2 m
                                              Fourier coefficients at frequency k
    share          = P_S(k) / sum_k' P_S(k')  (from rms: rms^2 / sum rms^2)
    cosine[S, S']  = P_S . P_S' / (|P_S| |P_S'|)

The cosine compares the energy profiles over k = 1 .. p // 2, not their square roots, so a
flat noise floor counts for little against the frequencies that hold the energy; any two
non-negative profiles have a cosine in [0, 1], and two flat ones (e.g. at initialisation)
score near 1. Every site but W_E reads the tokens through W_E (``D_S = W_E[:p] M`` for
some matrix M), so a frequency absent from the embedding is absent from its profile: once
the embedding is sparse, the other sites can only carry its frequencies.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from tdw.family.analyzer import Analyzer, CheckpointInputs, Output
from tdw.family.artifacts import ArraySpec, AttrSpec
from tdw.family.family import Dataset
from tdw.family.model import live_tensors, loss_and_accuracy

from . import data, fourier
from .grid import CITE, dominant_frequency, to_numpy
from .readout import table_logits

if TYPE_CHECKING:
    import torch

__all__ = ["ANALYZERS", "SITES", "GRADIENT_OF", "site_functions", "frequency_rms",
           "energy_shares", "profile_cosine", "make_gradient_sites"]

SITES = ("W_E", "W_Q", "W_K", "W_V", "W_in")
"""The sites, in the order of every ``site`` axis."""

GRADIENT_OF = {"W_E": "embed.weight", "W_Q": "blocks.0.attn.q.weight",
               "W_K": "blocks.0.attn.k.weight", "W_V": "blocks.0.attn.v.weight",
               "W_in": "blocks.0.mlp.in.weight"}
"""The state-dict tensor whose loss gradient each site reads."""

_READ = ("embed.weight", "pos_embed.weight", "blocks.0.attn.k.weight",
         "blocks.0.attn.v.weight", "blocks.0.attn.o.weight")
"""The weights the token functions are mapped through."""


def site_functions(weights: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray],
                   p: int, n_heads: int) -> dict[str, np.ndarray]:
    """Each site's ``(token, column)`` change of its token function under a gradient step
    (the module's table), in float64.

    Args:
        weights: float64 ``embed.weight`` ``(p + 1, d_model)`` (token p is '='),
            ``pos_embed.weight`` ``(3, d_model)`` and the k, v, o weights, in torch
            ``Linear`` layout ``(out, in)``.
        grads: the loss gradient of each tensor of :data:`GRADIENT_OF`, same layouts.
        p: the modulus; token rows ``0 .. p - 1`` are the functions' domain.
        n_heads: attention heads (contiguous row blocks of the q/k/v weights).
    """
    w_e = weights["embed.weight"][:p]  # (token, d_model)
    x_eq = weights["embed.weight"][p] + weights["pos_embed.weight"][2]  # (d_model,)
    w_k = weights["blocks.0.attn.k.weight"]  # (head * d_head, d_model)
    d_head = w_k.shape[0] // n_heads
    keys = (w_e @ w_k.T).reshape(p, n_heads, d_head)  # (token, head, d_head)
    query_step = (grads["blocks.0.attn.q.weight"] @ x_eq).reshape(n_heads, d_head)
    ov = weights["blocks.0.attn.o.weight"] @ weights["blocks.0.attn.v.weight"]  # (out, in)
    return {
        "W_E": grads["embed.weight"][:p],  # (token, d_model)
        "W_Q": np.einsum("thd,hd->th", keys, query_step) / math.sqrt(d_head),  # (token, head)
        "W_K": w_e @ grads["blocks.0.attn.k.weight"].T,  # (token, head * d_head)
        "W_V": w_e @ grads["blocks.0.attn.v.weight"].T,  # (token, head * d_head)
        "W_in": w_e @ ov.T @ grads["blocks.0.mlp.in.weight"].T,  # (token, d_mlp)
    }


def frequency_rms(function: np.ndarray) -> np.ndarray:
    """``(p, m)`` token function -> ``(p // 2,)`` root mean square of its Fourier
    coefficients at each frequency k = 1 .. p // 2 (index k - 1): ``sqrt(P(k) / (2 m))``
    with ``P(k)`` the squared norm of its cos-k and sin-k components over the m columns.

    >>> t = np.arange(7)[:, None]
    >>> wave = np.cos(2 * np.pi * 3 * t / 7) * np.array([[1.0, -2.0]]) + 5.0
    >>> np.round(frequency_rms(wave) ** 2 * 2 * 2, 6).tolist()  # P(3) = 7/2 (1 + 4)
    [0.0, 0.0, 17.5]
    """
    power = fourier.power_by_frequency(function, axis=0)[1:]  # (freq, m)
    return np.sqrt(power.sum(-1) / (2 * function.shape[1]))  # (freq,)


def energy_shares(rms: np.ndarray) -> np.ndarray:
    """``(..., freq)`` rms -> each frequency's share of the non-constant energy
    ``rms^2 / sum rms^2``; 0 for an all-zero profile."""
    power = np.asarray(rms, np.float64) ** 2  # (..., freq)
    total = power.sum(-1, keepdims=True)  # (..., 1)
    return np.divide(power, total, out=np.zeros_like(power), where=total > 0)


def profile_cosine(rms: np.ndarray) -> np.ndarray:
    """``(site, freq)`` rms -> ``(site, site)`` cosine similarity of the energy profiles
    ``rms^2`` (equivalently of the shares); 0 against an all-zero profile."""
    power = np.asarray(rms, np.float64) ** 2  # (site, freq)
    norm = np.linalg.norm(power, axis=-1)  # (site,)
    outer = norm[:, None] * norm[None, :]  # (site, site)
    return np.divide(power @ power.T, outer, out=np.zeros_like(outer), where=outer > 0)


def _loss_gradients(model: Any, readout: Callable[[Any, torch.Tensor], torch.Tensor],
                    split: Dataset) -> tuple[float, dict[str, np.ndarray]]:
    """The full-batch training loss and its float64 gradients for :data:`GRADIENT_OF`,
    by ``torch.autograd.grad``: no ``.grad`` is written and no weight moves."""
    import torch
    live = live_tensors(model)
    names = list(GRADIENT_OF.values())
    with torch.enable_grad():
        loss = loss_and_accuracy(readout(model, split.train_tokens), split.train_labels)[0]
        grads = torch.autograd.grad(loss, [live[name] for name in names])
    return float(loss.detach()), {n: to_numpy(g) for n, g in zip(names, grads, strict=True)}


def make_gradient_sites(readout: Callable[[Any, torch.Tensor], torch.Tensor],
                        dataset: Callable[[Mapping[str, Any]], Dataset]) -> Analyzer:
    """The ``gradient_sites`` analyzer: per site, the training-loss gradient's energy per
    Fourier frequency of the token, and how alike the sites' profiles are.

    Args:
        readout: the family's ``(model, tokens) -> (batch, p)`` answer logits; the loss is
            :func:`tdw.family.model.loss_and_accuracy` on them, as in training.
        dataset: the family's dataset function; its training split is the batch.

    Costs one forward and backward pass over the training split plus a few small matrix
    products; the model's weights are read, never written.
    """

    def compute(inputs: CheckpointInputs) -> Output:
        p, model = inputs.values["p"], inputs.model
        device = next(model.parameters()).device
        loss, grads = _loss_gradients(model, readout, dataset(inputs.values).to(device))
        live = live_tensors(model)
        weights = {name: to_numpy(live[name]) for name in _READ}
        functions = site_functions(weights, grads, p, model.cfg.n_heads)
        rms = np.stack([frequency_rms(functions[s]) for s in SITES])  # (site, freq)
        top = dominant_frequency(energy_shares(rms))  # (site,)
        gradient_norm = [np.linalg.norm(grads[GRADIENT_OF[s]][:p] if s == "W_E"
                                        else grads[GRADIENT_OF[s]]) for s in SITES]
        return ({"rms": rms.astype(np.float32),
                 "cosine": profile_cosine(rms).astype(np.float32),
                 "gradient_norm": np.asarray(gradient_norm, np.float32)},
                {"sites": list(SITES),
                 "top_frequency": {s: int(k) for s, k in zip(SITES, top, strict=True)},
                 "train_loss": loss})

    return Analyzer(
        name="gradient_sites", version=1,
        description="Per site (W_E, W_Q, W_K, W_V, W_in), the RMS Fourier coefficient over "
                    "the input token, per frequency, of the change a full-batch training-loss "
                    "gradient step makes to the site's token function (W_E rows; keys and "
                    "values W_E G^T; the score from '=' to each key token for W_Q; the OV path "
                    f"W_E (W_O W_V)^T G^T for W_in), and the cosine between the sites' energy "
                    f"profiles; Fourier basis of {CITE} §4.1.",
        arrays=(ArraySpec("rms", "float32", ("site", "freq"),
                          "RMS of the site's cos/sin Fourier coefficients at frequency i + 1"),
                ArraySpec("cosine", "float32", ("site", "site"),
                          "cosine similarity of the sites' energy profiles rms^2"),
                ArraySpec("gradient_norm", "float32", ("site",),
                          "Frobenius norm of the raw loss gradient of the site's matrix "
                          "(W_E: token rows only)")),
        attrs=(AttrSpec("sites", "json", "site names, in the order of the site axes"),
               AttrSpec("top_frequency", "json",
                        "site -> frequency with the most gradient energy (0: no energy)"),
               AttrSpec("train_loss", "float", "the full-batch training loss differentiated")),
        compute=compute, needs_model=True,
    )


ANALYZERS: tuple[Analyzer, ...] = (make_gradient_sites(table_logits, data.dataset),)
