"""The logit analyzers of Modulo Addition: per-pair predictions and the progress measures.

Both read the logits at '=' over the (a, b) grid: ``prediction_trace`` which pairs are
right and how confidently, ``progress_measures`` Nanda et al.'s restricted and excluded
losses (§5.1), which split the logits into the key-frequency terms and the rest.
"""

from __future__ import annotations

import numpy as np

from tdw.family.analyzer import Analyzer, CheckpointInputs, Output
from tdw.family.artifacts import ArraySpec, AttrSpec

from . import fourier
from .embedding import embedding_frequency_norms, key_frequencies
from .grid import ANSWER, CITE, LOGITS, grid_p, to_numpy

__all__ = ["ANALYZERS", "key_frequency_logits"]


def _answer_logits(inputs: CheckpointInputs) -> np.ndarray:
    """``(a*p+b, c)`` float64 logits at '='."""
    return to_numpy(inputs.activations[LOGITS][:, ANSWER])


def _cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean cross-entropy in float64 of ``(n, c)`` logits against ``(n,)`` labels."""
    from scipy.special import log_softmax
    log_probs = log_softmax(logits, axis=-1)  # (n, c)
    return float(-log_probs[np.arange(len(labels)), labels].mean())


# --- prediction_trace -----------------------------------------------------------------


def _prediction_trace(inputs: CheckpointInputs) -> Output:
    """Per pair (a, b): is the argmax at '=' the answer, and the probability given to it.

    The per-example view behind the train/test accuracy curves of Nanda et al. Fig. 2
    (which pairs are memorised first, which test pairs flip at grokking). ``correct`` is
    1 where argmax_c logits == (a + b) mod p; ``confidence`` is the softmax probability
    of (a + b) mod p (float16); the accuracies use the probe's ``is_train`` mask.
    """
    from scipy.special import log_softmax
    p = grid_p(inputs)
    logits = _answer_logits(inputs)  # (a*p+b, c)
    labels = inputs.probe["labels"].cpu().numpy()  # (a*p+b,)
    is_train = inputs.probe["is_train"].cpu().numpy().astype(bool)  # (a*p+b,)
    correct = logits.argmax(-1) == labels  # (a*p+b,)
    confidence = np.exp(log_softmax(logits, axis=-1)[np.arange(p * p), labels])
    return ({"correct": correct.reshape(p, p).astype(np.uint8),
             "confidence": confidence.reshape(p, p).astype(np.float16)},
            {"accuracy": float(correct.mean()), "train_accuracy": float(correct[is_train].mean()),
             "test_accuracy": float(correct[~is_train].mean())})


# --- progress_measures ----------------------------------------------------------------


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
    p = grid_p(inputs)
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


ANALYZERS: tuple[Analyzer, ...] = (
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
        name="progress_measures", version=2,  # 2: key frequencies above the largest drop
        description=f"Restricted loss (logits kept to the final checkpoint's key-frequency "
                    f"(k, k) terms over (a, b)) and excluded loss (those terms removed, train "
                    f"pairs), with full, train and test loss; {CITE} §5.1.",
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
