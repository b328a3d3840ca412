"""The weight-only Fourier analyzer of Modulo Addition: the circuit's frequencies read from
the weights alone, with no forward pass: 4.5 ms per checkpoint at p = 113 (one BLAS
thread; 2.6 ms at p = 59).

Every quantity is a function of a token (or of an answer) on Z_p, projected on the
orthonormal basis F of :mod:`.fourier` (row 0 the constant, rows 2k - 1 and 2k the cos and
sin of frequency k). W_E is ``embed.weight`` without the '=' row, ``(p, d_model)``; the
state dict stores the linear maps as ``(out, in)`` (``y = x W^T``), so head h's query map
is W_Q^h = ``q.weight[h * d_head : (h + 1) * d_head]^T`` (heads are contiguous blocks of
rows, as in :func:`.neurons.answer_mlp_post`), neuron m reads the row ``mlp.in.weight[m]``
and writes the column ``mlp.out.weight[:, m]``, and answer c's logit reads the row
``unembed.weight[c]``.

* QK: the token-token bilinear form M_h = (W_E W_Q^h)(W_E W_K^h)^T, ``(query, key)``,
  rotated to C_h = F M_h F^T. The energy of a (query-frequency k, key-frequency l) block
  is the squared Frobenius norm of its 2 x 2 block of C_h. The constant row and column are
  left out (a term constant in the query or in the key is a per-key bias or a per-query
  shift, not a token-token interaction), so the total is the squared norm of M_h with its
  row and column means removed. ``qk_share[h, k - 1]`` is the (k, k) block's share of it;
  the cross-frequency blocks (k != l) count in the total but belong to no frequency, so a
  head's shares sum to ``qk_diagonal[h]`` <= 1. A kernel cos(2 pi k (x - y) / p) lies in
  the (k, k) block alone.
* The '=' query: in this model the only query that is read is '=' at position 2, so the
  scores that shape the attention to a and b are s_h(y) = q_h . (W_E W_K^h)[y] with
  q_h = (W_E['='] + W_pos[2]) W_Q^h + b_Q^h (the key's position and bias add a constant).
  ``answer_qk_share`` is the share of s_h's non-constant power per frequency. No other
  query is read (the loss is at '=' alone), so M_h's query side is never trained: on the
  quick preset's last checkpoint ``qk_diagonal`` is 0.18 to 0.40, while each head's s_h
  has 56% to 83% of its power in one key frequency.
* OV: W_E W_V^h, ``(token, d_head)``, projected on F along tokens; ``ov_share`` is the
  power of the cos and sin rows of k (summed over d_head) as a share of the non-constant
  power. These shares sum to 1.
* Neurons: neuron m's input u_m = W_E W_in[:, m] (a function of the token) and its output
  v_m = W_U W_out[m] (a function of the answer, through the unembedding). For each: the
  shares s_k of the non-constant power per frequency, the dominant frequency (largest
  share; 0 for a constant function), its share, the amplitude A and phase phi of its wave
  A cos(2 pi k x / p + phi), and the inverse participation ratio IPR = sum_k s_k^2 (1 = one
  frequency, 1 / (p // 2) = a flat spectrum). Full spectra are not stored: 2 x 512 x 56
  float32 at p = 113 would be 229 KB per checkpoint.
* Norms: sqrt of the power per frequency of W_E over tokens and of W_U over answers,
  summed over d_model (``embed_norm`` equals ``dominant_frequencies``' ``norms``).
* The lock: six frequency profiles, each a distribution over k = 1 .. p // 2 (sum 1, or
  all 0): the embedding's power, the QK (k, k) energies and the OV power (both pooled over
  heads), the histograms of the neurons' input and output dominant frequencies, and the
  unembedding's power. ``overlap`` is their Pearson correlation (the cosine of the profiles
  minus their means: 1 for the same shape, about 0 for unrelated ones, 0 for a flat one)
  and ``lock`` the mean of the six correlations among the first four, the frequencies the
  embedding, the attention and the MLP input share. Correlation ignores how concentrated
  the profiles are, and every profile reads through the same W_E, so its random unevenness
  is shared: at initialisation ``lock`` is already about 0.55 (p = 59 and 113), and on the
  quick preset it is 0.86 by epoch 120 and 0.92 at the end. ``effective_frequencies``
  (1 / sum of squared shares; p // 2 for a flat profile, n for n equal frequencies) says
  how concentrated each profile is: on the quick preset the embedding's falls from 29 to
  5, the neuron-input histogram's from 26 to 3.

Nanda et al. 2023 (arXiv:2301.05217) §4.1 and App. C: after grokking W_E, the attention
and the neurons are sparse in the same few key frequencies.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations
from typing import TYPE_CHECKING

import numpy as np

from tdw.family.analyzer import Analyzer, CheckpointInputs, Output
from tdw.family.artifacts import ArraySpec, AttrSpec

from . import fourier
from .grid import ANSWER, CITE, N_HEADS, dominant_frequency, to_numpy

if TYPE_CHECKING:
    import torch

__all__ = ["ANALYZERS", "PROFILES", "LOCKED", "by_frequency", "qk_energy", "waves",
           "overlap"]

PROFILES = ("embedding", "qk", "ov", "neuron_in", "neuron_out", "unembedding")
"""The frequency profiles of the lock, in the order of the ``profiles`` array."""
LOCKED = PROFILES[:4]
"""The profiles whose mean pairwise correlation is ``lock``."""
CONSTANT = 1e-12
"""A function whose non-constant power is below this share of its squared norm is
constant up to rounding: it gets share 0 everywhere."""


def by_frequency(power: np.ndarray) -> np.ndarray:
    """``(row, ...)`` squared coefficients on :func:`.fourier.basis` -> ``(freq, ...)`` the
    non-constant power per frequency k = 1 .. p // 2 (its cos and sin rows summed)."""
    return power[1:].reshape(power.shape[0] // 2, 2, *power.shape[1:]).sum(1)


def qk_energy(query: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Block energies of M = query key^T in the Fourier basis.

    ``query``, ``key``: ``(..., row, d_head)`` Fourier coefficients along tokens of W_E W_Q
    and W_E W_K. Returns ``(..., freq, freq)``: entry (k - 1, l - 1) is the squared norm of
    the (cos_k, sin_k) x (cos_l, sin_l) block of F M F^T; the constant row and column are
    dropped.
    """
    rotated = query[..., 1:, :] @ np.swapaxes(key[..., 1:, :], -1, -2)  # (..., row, row)
    n = rotated.shape[-1] // 2
    blocks = rotated.reshape(*rotated.shape[:-2], n, 2, n, 2) ** 2
    return blocks.sum((-3, -1))  # (..., freq, freq)


def _shares(part: np.ndarray, total: np.ndarray) -> np.ndarray:
    """``part / total``, ``total`` broadcast over the trailing axes of ``part``; 0 where
    ``total`` is 0."""
    total = np.asarray(total)
    total = np.expand_dims(total, tuple(range(total.ndim, part.ndim)))
    return np.divide(part, total, out=np.zeros_like(part), where=total > 0)


def _nonconstant(power: np.ndarray) -> np.ndarray:
    """``(row, ...)`` squared coefficients -> ``(...,)`` non-constant power, 0 when it is
    rounding of a constant function (below :data:`CONSTANT` of the total)."""
    varying = power[1:].sum(0)
    return np.where(varying > CONSTANT * power.sum(0), varying, 0.0)


def _spectrum(power: np.ndarray) -> np.ndarray:
    """``(row, ...)`` squared coefficients -> ``(..., freq)`` shares of the non-constant
    power per frequency (all 0 for a constant function)."""
    return _shares(np.moveaxis(by_frequency(power), 0, -1), _nonconstant(power))


def waves(coefficients: np.ndarray) -> dict[str, np.ndarray]:
    """Each function's dominant wave, from its ``(row, n)`` coefficients on
    :func:`.fourier.basis` (n functions of x in Z_p).

    Returns float64 ``(n,)`` arrays ``freq`` (int32; 0 for a constant function), ``share``
    of the non-constant power, ``amplitude`` A and ``phase`` phi in [-pi, pi] of its
    component A cos(2 pi k x / p + phi), and ``ipr`` = sum of squared shares. With basis
    rows c_k = sqrt(2/p) cos and s_k = sqrt(2/p) sin, that component has coefficients
    A sqrt(p/2) (cos phi, -sin phi).

    >>> x = np.arange(7)
    >>> u = 1.0 + 2.0 * np.cos(2 * np.pi * 3 * x / 7 - 0.5)  # (x,) one function
    >>> found = waves((fourier.basis(7) @ u)[:, None])  # (row, 1)
    >>> {key: round(float(value[0]), 6) for key, value in found.items()}
    {'freq': 3.0, 'share': 1.0, 'amplitude': 2.0, 'phase': -0.5, 'ipr': 1.0}
    """
    p = coefficients.shape[0]
    power = coefficients ** 2  # (row, n)
    shares = _spectrum(power)  # (n, freq)
    freq = dominant_frequency(shares)  # (n,)
    row = np.maximum(2 * freq - 1, 0)  # (n,) the cos row (0 for a constant function)
    n = np.arange(coefficients.shape[1])
    cos, sin = coefficients[row, n], coefficients[row + 1, n]  # (n,)
    live = freq > 0
    return {"freq": freq,
            "share": np.where(live, shares.max(-1), 0.0),
            "amplitude": np.where(live, np.hypot(cos, sin) * np.sqrt(2 / p), 0.0),
            "phase": np.where(live, np.arctan2(-sin, cos), 0.0),
            "ipr": (shares ** 2).sum(-1)}


def overlap(profiles: np.ndarray) -> np.ndarray:
    """``(profile, freq)`` -> ``(profile, profile)`` Pearson correlations between the
    profiles; a profile with no variance (flat or empty) correlates 0 with all, itself too."""
    centred = profiles - profiles.mean(-1, keepdims=True)  # (profile, freq)
    norms = np.linalg.norm(centred, axis=-1)  # (profile,)
    live = norms > CONSTANT * np.maximum(np.abs(profiles).sum(-1), 1e-300)
    unit = np.where(live[:, None], centred / np.where(live, norms, 1.0)[:, None], 0.0)
    return np.clip(unit @ unit.T, -1.0, 1.0)


def _matrices(weights: Mapping[str, torch.Tensor], p: int) -> dict[str, np.ndarray]:
    """The float64 maps the analyzer reads: W_E ``(token, d_model)``, W_U ``(answer,
    d_model)``, q, k, v ``(head * d_head, d_model)`` (heads contiguous), ``w_in`` ``(neuron,
    d_model)``, ``w_out`` ``(d_model, neuron)``, and the query of '=' at its position,
    ``(head, d_head)``."""
    names = {"w_e": "embed.weight", "pos": "pos_embed.weight", "q": "blocks.0.attn.q.weight",
             "b_q": "blocks.0.attn.q.bias", "k": "blocks.0.attn.k.weight",
             "v": "blocks.0.attn.v.weight", "w_in": "blocks.0.mlp.in.weight",
             "w_out": "blocks.0.mlp.out.weight", "w_u": "unembed.weight"}
    m = {key: to_numpy(weights[name]) for key, name in names.items()}
    if m["w_e"].shape[0] != p + 1 or m["w_u"].shape[0] != p:
        raise ValueError(f"weight_fourier needs p + 1 = {p + 1} tokens and p answers, got "
                         f"embed {m['w_e'].shape} and unembed {m['w_u'].shape}")
    equals = m["w_e"][p] + m["pos"][ANSWER]  # (d_model,)
    m["answer_query"] = (m["q"] @ equals + m["b_q"]).reshape(N_HEADS, -1)  # (head, d_head)
    m["w_e"] = m["w_e"][:p]
    return m


def _histogram(freq: np.ndarray, n_freq: int) -> np.ndarray:
    """``(n,)`` dominant frequencies -> ``(freq,)`` share of the non-constant ones at each."""
    counts = np.bincount(freq, minlength=n_freq + 1)[1:].astype(np.float64)  # (freq,)
    return counts / max(counts.sum(), 1.0)


def _weight_fourier(inputs: CheckpointInputs) -> Output:
    """The frequency structure of W_E, the heads, the neurons and W_U (module docstring).

    An artifact takes 25,144 B at p = 113 (20,480 B of it the ten per-neuron arrays) and
    22,984 B at p = 59.
    """
    p = inputs.values["p"]
    n_freq = p // 2
    w = _matrices(inputs.weights, p)
    B = fourier.basis(p)  # (row, token)
    embed = B @ w["w_e"]  # (row, d_model): every token-side map is this times a matrix
    unembed = B @ w["w_u"]  # (row, d_model), along answers

    q, k, v = (np.moveaxis((embed @ w[part].T).reshape(p, N_HEADS, -1), 1, 0)
               for part in "qkv")  # (head, row, d_head): W_E W^h along tokens
    blocks = qk_energy(q, k)  # (head, freq, freq)
    qk = np.diagonal(blocks, axis1=-2, axis2=-1)  # (head, freq)
    qk_total = blocks.sum((-2, -1))  # (head,)
    bound = (q ** 2).sum((-2, -1)) * (k ** 2).sum((-2, -1))  # (head,) >= |M_h|^2
    qk_total = np.where(qk_total > CONSTANT * bound, qk_total, 0.0)  # rounding: no form
    qk = np.where(qk_total[:, None] > 0, qk, 0.0)
    scores = np.einsum("hrd,hd->rh", k, w["answer_query"])  # (row, head): s_h per key token
    ov_power = (v ** 2).sum(-1).T  # (row, head)

    neuron_in = waves(embed @ w["w_in"].T)  # (neuron,) each: u_m over tokens
    neuron_out = waves(unembed @ w["w_out"])  # (neuron,) each: v_m over answers
    embed_power = (embed ** 2).sum(-1)  # (row,)
    unembed_power = (unembed ** 2).sum(-1)  # (row,)

    profiles = np.stack([
        _spectrum(embed_power),
        _shares(qk.sum(0), qk.sum()),
        _spectrum(ov_power.sum(-1)),
        _histogram(neuron_in["freq"], n_freq),
        _histogram(neuron_out["freq"], n_freq),
        _spectrum(unembed_power),
    ])  # (profile, freq)
    concentration = (profiles ** 2).sum(-1)  # (profile,)
    effective = np.divide(1.0, concentration, out=np.zeros_like(concentration),
                          where=concentration > 0)  # (profile,)
    correlation = overlap(profiles)  # (profile, profile)
    lock = np.mean([correlation[i, j] for i, j in combinations(range(len(LOCKED)), 2)])

    def f32(x: np.ndarray) -> np.ndarray:
        return x.astype(np.float32)

    arrays = {
        "qk_share": f32(_shares(qk, qk_total)),
        "qk_diagonal": f32(_shares(qk.sum(-1), qk_total)),
        "answer_qk_share": f32(_spectrum(scores ** 2)),
        "ov_share": f32(_spectrum(ov_power)),
        "embed_norm": f32(np.sqrt(by_frequency(embed_power))),
        "unembed_norm": f32(np.sqrt(by_frequency(unembed_power))),
        "profiles": f32(profiles),
        "effective_frequencies": f32(effective),
        "overlap": f32(correlation),
    }
    for side, found in (("in", neuron_in), ("out", neuron_out)):
        arrays[f"{side}_freq"] = found["freq"]
        for key in ("share", "amplitude", "phase", "ipr"):
            arrays[f"{side}_{key}"] = f32(found[key])
    return arrays, {"lock": float(lock), "profile_names": list(PROFILES)}


def _neuron_specs(side: str, what: str) -> tuple[ArraySpec, ...]:
    return (
        ArraySpec(f"{side}_freq", "int32", ("neuron",),
                  f"dominant frequency of the neuron's {what} (0: constant)"),
        ArraySpec(f"{side}_share", "float32", ("neuron",),
                  "share of its non-constant power in the dominant frequency"),
        ArraySpec(f"{side}_amplitude", "float32", ("neuron",),
                  "amplitude A of its dominant wave A cos(2 pi k x / p + phi)"),
        ArraySpec(f"{side}_phase", "float32", ("neuron",),
                  "phase phi of its dominant wave, in [-pi, pi]"),
        ArraySpec(f"{side}_ipr", "float32", ("neuron",),
                  "inverse participation ratio of its frequency shares (1: one frequency)"),
    )


ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(
        name="weight_fourier", version=1,
        description=f"Fourier structure of the weights alone (no forward pass): QK and OV "
                    f"energy per head and frequency, each neuron's input and output wave, "
                    f"W_E and W_U norms, and how far they share frequencies; {CITE} §4.1, "
                    f"App. C.",
        arrays=(
            ArraySpec("qk_share", "float32", ("head", "freq"),
                      "share of the double-centred QK form's energy in the (k, k) block"),
            ArraySpec("qk_diagonal", "float32", ("head",),
                      "share of that energy in all (k, k) blocks (the rest is cross-frequency)"),
            ArraySpec("answer_qk_share", "float32", ("head", "freq"),
                      "share of the '=' query's score over key tokens per frequency"),
            ArraySpec("ov_share", "float32", ("head", "freq"),
                      "share of W_E W_V's non-constant power (over tokens) per frequency"),
            ArraySpec("embed_norm", "float32", ("freq",), "Fourier norm of W_E over tokens"),
            ArraySpec("unembed_norm", "float32", ("freq",),
                      "Fourier norm of W_U over answers"),
            ArraySpec("profiles", "float32", ("profile", "freq"),
                      "frequency distribution of each of PROFILES (sums to 1 or is 0)"),
            ArraySpec("effective_frequencies", "float32", ("profile",),
                      "1 / sum of a profile's squared shares: p // 2 flat, 1 one frequency"),
            ArraySpec("overlap", "float32", ("profile", "profile"),
                      "Pearson correlation between the profiles"),
            *_neuron_specs("in", "input W_E W_in over tokens"),
            *_neuron_specs("out", "output W_U W_out over answers"),
        ),
        attrs=(AttrSpec("lock", "float", "mean correlation among the embedding, QK, OV and "
                                         "neuron-input profiles"),
               AttrSpec("profile_names", "json", "the rows of profiles and overlap")),
        compute=_weight_fourier,
    ),
)
