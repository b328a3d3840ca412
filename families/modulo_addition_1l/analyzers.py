"""Per-checkpoint analyzers of the Modulo Addition 1-Layer family.

They measure the Fourier-multiplication circuit of Nanda, Chan, Lieberum, Smith and
Steinhardt, "Progress measures for grokking via mechanistic interpretability" (ICLR 2023,
arXiv:2301.05217): sparse frequencies in the embedding (§4.1), neurons clustered by
frequency (§4.3), periodic attention (App. C.1), and the restricted and excluded losses
(§5.1). Every analyzer reads the probe, which is the full p x p grid of pairs in
``a * p + b`` order (``data.grid_tokens``), at the answer position ``=`` (position 2), so
an activation ``(p*p, ...)`` reshapes to a grid ``(..., a, b)``. Frequencies are
k = 1 .. p // 2 of :mod:`.fourier`, stored on a ``freq`` axis whose index i is
frequency i + 1; 0 in a ``dominant`` array means "no variance, no frequency".
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch
from scipy.special import log_softmax

from tdw.family.analyzer import Analyzer, CheckpointInputs, Output
from tdw.family.artifacts import ArraySpec, AttrSpec

from . import data, fourier

__all__ = ["ANALYZERS", "embedding_frequency_norms", "key_frequencies", "answer_mlp_post",
           "top_variance_neurons", "key_frequency_logits", "low_cutoff"]

ANSWER = 2  # the position of '=', where the answer is read
MLP_POST = "blocks.0.mlp.hook_post"  # (p*p, 3, d_mlp)
PATTERN = "blocks.0.attn.hook_pattern"  # (p*p, head, query_pos, key_pos)
LOGITS = "logits"  # (p*p, 3, p)

KEY_FACTOR = 4.0
"""A frequency is key when its squared embedding norm exceeds this multiple of the median."""
N_STORED_NEURONS = 16
SPECIALISED = 0.85
"""Nanda et al. §4.3: 433 of 512 neurons are over 85% explained by one key frequency."""
COARSE = 0.5


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().to("cpu", torch.float64).numpy()


def _grid_p(inputs: CheckpointInputs) -> int:
    """p, after checking that the probe is the full grid in ``a * p + b`` order."""
    p = inputs.values["p"]
    expected, _ = data.grid_tokens(p)  # (p*p, 3)
    tokens = inputs.probe["tokens"].cpu()
    if tokens.shape != expected.shape or not torch.equal(tokens, expected):
        raise ValueError(f"the probe is not the {p} x {p} grid of pairs in a * p + b order")
    return p


def _as_grids(rows: np.ndarray, p: int) -> np.ndarray:
    """``(p*p, n)`` rows in ``a * p + b`` order -> ``(n, a, b)`` grids."""
    return np.moveaxis(rows.reshape(p, p, -1), -1, 0)


def _dominant(fraction: np.ndarray) -> np.ndarray:
    """``(..., freq)`` shares -> ``(...,)`` int32 frequency of the largest, 0 if all are 0."""
    best = fraction.argmax(-1) + 1  # (...,)
    return np.where(fraction.max(-1) > 0, best, 0).astype(np.int32)


# --- dominant_frequencies -------------------------------------------------------------


def embedding_frequency_norms(weights: Mapping[str, torch.Tensor], p: int) -> np.ndarray:
    """``(freq,)`` Fourier norm of W_E (``embed.weight`` without the '=' row) per frequency
    k = 1 .. p // 2: the cos and sin components over the token axis, across d_model."""
    w_e = _numpy(weights["embed.weight"])[:p]  # (token, d_model)
    power = fourier.power_by_frequency(w_e, axis=0)  # (freq incl. 0, d_model)
    return np.sqrt(power[1:].sum(-1))  # (freq,)


def key_frequencies(norms: np.ndarray) -> list[int]:
    """The frequencies whose squared norm exceeds ``KEY_FACTOR`` (4) times the median
    squared norm over all p // 2 frequencies, sorted.

    The median is the noise floor: it ignores the few strong frequencies as long as fewer
    than half the frequencies are key (grokked models use 3 to 6 of p // 2, Nanda et al.
    App. C.2). A random embedding spreads its norm evenly: at init the largest frequency
    is within 1.3 times the median (four initialisations, p = 23 to 113), so nothing is
    key until the spectrum is sparse. The factor 4 (2 in norm) was set on the family's
    quick preset (p = 59, 6000 epochs, test accuracy 98.5%): the four frequencies that
    carry the circuit (7, 8, 10, 11: their (k, k) terms hold 82% of the variance of the
    logits over (a, b), and they are the dominant frequency of 509 of 512 neurons) sit at
    9 to 18 times the median, the next one at 2.3 times. Leaving out frequency 8 (9.3
    times) raises the restricted loss from 6e-7 to 2e-2, while adding the next one changes
    it by 8%, so the factor errs on the inclusive side. For p < 7 (one or two
    frequencies) the median cannot separate the key frequencies from the floor.
    """
    power = norms ** 2  # (freq,)
    return [int(k) + 1 for k in np.flatnonzero(power > KEY_FACTOR * np.median(power))]


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
    post = _numpy(answer_mlp_post(weights, tokens, n_heads))  # (pair, neuron)
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
    from . import N_HEADS  # here, so that the family's __init__ can import this module

    p = _grid_p(inputs)
    neurons = _final_neurons(inputs.final_weights, inputs.probe["tokens"], N_HEADS)
    post = inputs.activations[MLP_POST][:, ANSWER]  # (a*p+b, d_mlp)
    maps = _as_grids(_numpy(post[:, neurons.tolist()]), p)  # (neuron, a, b)
    return ({"maps": maps.astype(np.float16), "neurons": neurons},
            {"n_neurons_total": int(post.shape[-1])})


# --- neuron_freq_clusters and coarseness ----------------------------------------------


def _neuron_grids(inputs: CheckpointInputs) -> np.ndarray:
    """``(neuron, a, b)`` float64 MLP activations at '='."""
    p = _grid_p(inputs)
    return _as_grids(_numpy(inputs.activations[MLP_POST][:, ANSWER]), p)


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
    fraction = fourier.frequency_fractions_2d(grids)  # (neuron, freq)
    dominant = _dominant(fraction)  # (neuron,)
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
    coarse = fourier.low_frequency_fraction_2d(_neuron_grids(inputs), cutoff)  # (neuron,)
    return ({"coarseness": coarse.astype(np.float32)},
            {"mean": float(coarse.mean()), "median": float(np.median(coarse)),
             "fraction_coarse": float((coarse >= COARSE).mean()), "low_cutoff": cutoff})


# --- attention_patterns ---------------------------------------------------------------


def _attention_patterns(inputs: CheckpointInputs) -> Output:
    """Attention from '=' to a and to b per head over the grid, and its frequencies.

    Nanda et al. App. C.1.2 (Fig. 13, Table 2): the attention of '=' to a is about
    0.5 + alpha cos(w_k a) + ..., periodic in a and b at a key frequency. ``to_a`` and
    ``to_b`` are ``blocks.0.attn.hook_pattern[:, h, 2, 0]`` and ``[:, h, 2, 1]`` as
    float16 (the rest of the row goes to '=' itself); ``freq_fraction`` is
    :func:`.fourier.frequency_fractions_2d` of ``to_a``, ``dominant`` its largest (0
    for a head whose ``to_a`` is constant).
    """
    p = _grid_p(inputs)
    from_answer = _numpy(inputs.activations[PATTERN][:, :, ANSWER])  # (a*p+b, head, key)
    to_a = _as_grids(from_answer[..., 0], p)  # (head, a, b)
    to_b = _as_grids(from_answer[..., 1], p)  # (head, a, b)
    fraction = fourier.frequency_fractions_2d(to_a)  # (head, freq)
    return ({"to_a": to_a.astype(np.float16), "to_b": to_b.astype(np.float16),
             "freq_fraction": fraction.astype(np.float32), "dominant": _dominant(fraction)},
            {})


# --- prediction_trace and progress_measures -------------------------------------------


def _answer_logits(inputs: CheckpointInputs) -> np.ndarray:
    """``(a*p+b, c)`` float64 logits at '='."""
    return _numpy(inputs.activations[LOGITS][:, ANSWER])


def _cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean cross-entropy in float64 of ``(n, c)`` logits against ``(n,)`` labels."""
    log_probs = log_softmax(logits, axis=-1)  # (n, c)
    return float(-log_probs[np.arange(len(labels)), labels].mean())


def _prediction_trace(inputs: CheckpointInputs) -> Output:
    """Per pair (a, b): is the argmax at '=' the answer, and the probability given to it.

    The per-example view behind the train/test accuracy curves of Nanda et al. Fig. 2
    (which pairs are memorised first, which test pairs flip at grokking). ``correct`` is
    1 where argmax_c logits == (a + b) mod p; ``confidence`` is the softmax probability
    of (a + b) mod p (float16); the accuracies use the probe's ``is_train`` mask.
    """
    p = _grid_p(inputs)
    logits = _answer_logits(inputs)  # (a*p+b, c)
    labels = inputs.probe["labels"].cpu().numpy()  # (a*p+b,)
    is_train = inputs.probe["is_train"].cpu().numpy().astype(bool)  # (a*p+b,)
    correct = logits.argmax(-1) == labels  # (a*p+b,)
    confidence = np.exp(log_softmax(logits, axis=-1)[np.arange(p * p), labels])
    return ({"correct": correct.reshape(p, p).astype(np.uint8),
             "confidence": confidence.reshape(p, p).astype(np.float16)},
            {"accuracy": float(correct.mean()), "train_accuracy": float(correct[is_train].mean()),
             "test_accuracy": float(correct[~is_train].mean())})


def key_frequency_logits(logits: np.ndarray, keys: list[int]) -> np.ndarray:
    """``(a, b, c)`` -> ``(a, b, c)``: for each output c, the part of the logits in the 2-D
    Fourier terms (k, k) of the key frequencies k over (a, b), i.e. the four products
    cos/sin(w_k a) x cos/sin(w_k b), which span cos/sin(w_k (a + b)) (and (a - b))."""
    p = logits.shape[0]
    freq = fourier.frequencies(p)  # (row,)
    block = (freq[:, None] == freq[None, :]) & np.isin(freq, keys)[:, None]  # (row_a, row_b)
    B = fourier.basis(p)  # (row, x)
    coefficients = fourier.project_2d(np.moveaxis(logits, -1, 0))  # (c, row_a, row_b)
    return np.moveaxis(B.T @ (coefficients * block) @ B, 0, -1)  # (a, b, c)


def _progress_measures(inputs: CheckpointInputs) -> Output:
    """Nanda et al.'s restricted and excluded losses (§5.1, Fig. 7), with the losses.

    Key frequencies: :func:`key_frequencies` of the final checkpoint's embedding (the
    paper fixes them from the final model). Following §5.1, the logits at '=' are written,
    for each output c, in the 2-D Fourier basis over (a, b) ("a linear combination of
    waves in a and b"):

    - restricted logits: keep only the constant term and, per key frequency k, the four
      terms cos/sin(w_k a) x cos/sin(w_k b) "corresponding to cos(w_k(a+b)) and
      sin(w_k(a+b))" (20 terms for 5 key frequencies); ``restricted_loss`` is their
      cross-entropy on all p^2 pairs (the paper does not name the subset; the public
      notebook code uses the test pairs);
    - excluded logits: remove only those key-frequency terms, keep everything else;
      ``excluded_loss`` is their cross-entropy on the training pairs, as in the paper.

    The paper's public notebook code ablates the MLP activations instead (it keeps their
    projection on the two directions cos/sin(w_k(a+b)) per key frequency and maps it to
    logits by W_out W_U); this works on the logits themselves, as the text describes.
    ``full_loss``, ``train_loss`` and ``test_loss`` are the unablated cross-entropies
    (float64) on all, train and test pairs.
    """
    p = _grid_p(inputs)
    keys = key_frequencies(embedding_frequency_norms(inputs.final_weights, p))
    logits = _answer_logits(inputs)  # (a*p+b, c)
    labels = inputs.probe["labels"].cpu().numpy()  # (a*p+b,)
    is_train = inputs.probe["is_train"].cpu().numpy().astype(bool)  # (a*p+b,)
    grid = logits.reshape(p, p, p)  # (a, b, c)
    key_part = key_frequency_logits(grid, keys).reshape(p * p, p)  # (a*p+b, c)
    restricted = grid.mean((0, 1)) + key_part  # (a*p+b, c)
    excluded = logits - key_part  # (a*p+b, c)
    return ({"key_frequencies": np.asarray(keys, dtype=np.int32)},
            {"full_loss": _cross_entropy(logits, labels),
             "train_loss": _cross_entropy(logits[is_train], labels[is_train]),
             "test_loss": _cross_entropy(logits[~is_train], labels[~is_train]),
             "restricted_loss": _cross_entropy(restricted, labels),
             "excluded_loss": _cross_entropy(excluded[is_train], labels[is_train])})


# --- declarations ---------------------------------------------------------------------

_CITE = "Nanda et al. 2023, arXiv:2301.05217"

ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(
        name="dominant_frequencies", version=1,
        description=f"Fourier norm of the token embedding W_E per frequency and its key "
                    f"frequencies (squared norm > 4x the median); {_CITE} §4.1.",
        arrays=(ArraySpec("norms", "float32", ("freq",),
                          "Fourier norm of W_E at frequency i + 1 (cos and sin combined)"),),
        attrs=(AttrSpec("key_frequencies", "json",
                        "sorted frequencies whose squared norm exceeds 4x the median"),
               AttrSpec("key_share", "float",
                        "share of the non-constant squared norm in the key frequencies")),
        compute=_dominant_frequencies,
    ),
    Analyzer(
        name="neuron_activations", version=1,
        description=f"MLP activations at '=' over the (a, b) grid for the 16 neurons that vary "
                    f"most at the final checkpoint, float16; {_CITE} Fig. 4.",
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
                    f"frequency and the count of neurons >= 85% in one; {_CITE} §4.3.",
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
    Analyzer(
        name="attention_patterns", version=1,
        description=f"Attention from '=' to a and to b per head over the (a, b) grid, and the "
                    f"frequencies of the attention to a; {_CITE} App. C.1.",
        arrays=(ArraySpec("to_a", "float16", ("head", "a", "b"), "attention from '=' to a"),
                ArraySpec("to_b", "float16", ("head", "a", "b"), "attention from '=' to b"),
                ArraySpec("freq_fraction", "float32", ("head", "freq"),
                          "share of the variance of to_a per frequency"),
                ArraySpec("dominant", "int32", ("head",),
                          "frequency with the largest share (0: constant to_a)")),
        attrs=(),
        compute=_attention_patterns, hooks=(PATTERN,),
    ),
    Analyzer(
        name="prediction_trace", version=1,
        description="Per pair (a, b): whether the prediction at '=' is right and the "
                    "probability of the right answer; accuracy on all, train, test pairs.",
        arrays=(ArraySpec("correct", "uint8", ("a", "b"), "1 where argmax is (a + b) mod p"),
                ArraySpec("confidence", "float16", ("a", "b"),
                          "softmax probability of (a + b) mod p")),
        attrs=(AttrSpec("accuracy", "float", "accuracy on all pairs"),
               AttrSpec("train_accuracy", "float", "accuracy on the training pairs"),
               AttrSpec("test_accuracy", "float", "accuracy on the held-out pairs")),
        compute=_prediction_trace, hooks=(LOGITS,),
    ),
    Analyzer(
        name="progress_measures", version=1,
        description=f"Restricted loss (logits kept to the final checkpoint's key-frequency "
                    f"(k, k) terms over (a, b)) and excluded loss (those terms removed, train "
                    f"pairs), with full, train and test loss; {_CITE} §5.1.",
        arrays=(ArraySpec("key_frequencies", "int32", ("key",),
                          "the final checkpoint's key frequencies"),),
        attrs=(AttrSpec("full_loss", "float", "cross-entropy on all pairs"),
               AttrSpec("train_loss", "float", "cross-entropy on the training pairs"),
               AttrSpec("test_loss", "float", "cross-entropy on the held-out pairs"),
               AttrSpec("restricted_loss", "float",
                        "cross-entropy on all pairs of the key-frequency logits"),
               AttrSpec("excluded_loss", "float",
                        "training cross-entropy with the key-frequency terms removed")),
        compute=_progress_measures, hooks=(LOGITS,),
    ),
)
