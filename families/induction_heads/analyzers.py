"""Per-checkpoint analyzers of the Induction Heads family.

The measures of Olsson et al. 2022 ("In-context learning and induction heads",
transformer-circuits.pub) and Elhage et al. 2021 ("A mathematical framework for
transformer circuits"), on the probe of :mod:`.data`: a *repeated* half (random
half-sequences written twice) and a *random* half (plain random tokens).

The attention patterns and logits come from one forward pass per checkpoint of
:func:`.forward.forward` (proven equal to the bridge's) shared by the analyzers through a
one-entry cache, because the number of layers is a parameter and the engine's declared
hooks are fixed names. Heads are numbered layer-major (``L0H0, L0H1, ..., L1H0, ...``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from tdw.family.analyzer import Analyzer, CheckpointInputs, Output
from tdw.family.artifacts import ArraySpec, AttrSpec

from .circuits import circuits_analyzer
from .forward import forward

if TYPE_CHECKING:
    import torch

__all__ = ["ANALYZERS", "induction_scores", "previous_token_scores", "prefix_matching_scores",
           "loss_by_position", "in_context_score", "head_names"]

_LAST: list = []  # [(weights, tokens, patterns, logits)]: one checkpoint, held strongly


def head_names(n_layers: int, n_heads: int) -> list[str]:
    return [f"L{layer}H{head}" for layer in range(n_layers) for head in range(n_heads)]


def _run(inputs: CheckpointInputs) -> tuple[np.ndarray, np.ndarray]:
    """``(seq, head, query, key)`` float64 patterns (layers stacked head-major) and
    ``(seq, pos, vocab)`` float64 logits on the probe, computed once per checkpoint."""
    import torch
    tokens = inputs.probe["tokens"]
    if _LAST and _LAST[0][0] is inputs.weights and _LAST[0][1] is tokens:
        return _LAST[0][2], _LAST[0][3]
    patterns: list[torch.Tensor] = []
    with torch.inference_mode():
        logits = forward(inputs.weights, tokens, inputs.values["n_heads"], patterns)
    stacked = torch.cat(patterns, dim=1).double().numpy()  # (seq, layer * head, q, k)
    result = (stacked, logits.double().numpy())
    _LAST[:] = [(inputs.weights, tokens, *result)]
    return result


def _split(inputs: CheckpointInputs) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks of the repeated and the random probe sequences."""
    repeated = inputs.probe["repeated"].numpy().astype(bool)
    return repeated, ~repeated


# --- head scores ------------------------------------------------------------------------


def induction_scores(patterns: np.ndarray) -> np.ndarray:
    """``(seq, head, q, k)`` patterns on sequences ``[x, x]`` of two halves of ``h`` tokens
    -> ``(head,)``: the mean attention from each position ``q`` of the second half to
    ``q - h + 1``, the token after the previous occurrence of the current token
    (TransformerLens' and Olsson et al.'s induction score on repeated random tokens)."""
    half = patterns.shape[-1] // 2
    query = np.arange(half, 2 * half)
    return patterns[:, :, query, query - half + 1].mean(axis=(0, 2))


def previous_token_scores(patterns: np.ndarray) -> np.ndarray:
    """``(seq, head, q, k)`` -> ``(head,)``: mean attention from ``q`` to ``q - 1``, q >= 1."""
    query = np.arange(1, patterns.shape[-1])
    return patterns[:, :, query, query - 1].mean(axis=(0, 2))


def prefix_matching_scores(patterns: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """``(seq, head, q, k)`` patterns and ``(seq, pos)`` tokens -> ``(head,)``: Olsson et
    al.'s prefix matching, the attention mass on the earlier tokens that *follow* a copy
    of the current token (keys ``k <= q`` with ``tokens[k - 1] == tokens[q]``), averaged
    over the queries that have at least one; 0 if none has.

    On plain random tokens every such match is a chance recurrence of one token, so only
    a head that matches on the current token scores, not one keyed to position.
    """
    n_pos = tokens.shape[1]
    follows = np.zeros((tokens.shape[0], n_pos, n_pos), dtype=bool)  # (seq, q, k)
    follows[:, :, 1:] = tokens[:, :, None] == tokens[:, None, :-1]
    follows &= np.tril(np.ones((n_pos, n_pos), dtype=bool))[None]
    has = follows.any(-1)  # (seq, q)
    if not has.any():
        return np.zeros(patterns.shape[1])
    mass = (patterns * follows[:, None]).sum(-1)  # (seq, head, q)
    return mass.transpose(1, 0, 2)[:, has].mean(-1)


def _head_scores(inputs: CheckpointInputs) -> Output:
    """Induction, prefix-matching and previous-token score of every head."""
    patterns, _ = _run(inputs)
    repeated, plain = _split(inputs)
    tokens = inputs.probe["tokens"].numpy()
    scores = {"induction": induction_scores(patterns[repeated]),
              "prefix_matching": prefix_matching_scores(patterns[plain], tokens[plain]),
              "previous_token": previous_token_scores(patterns)}
    names = head_names(inputs.values["n_layers"], inputs.values["n_heads"])
    attrs = {"heads": names}
    for key, values in scores.items():
        best = int(np.argmax(values))
        attrs[f"max_{key}"] = float(values[best])
        attrs[f"best_{key}_head"] = names[best]
    return {k: v.astype(np.float32) for k, v in scores.items()}, attrs


# --- attention patterns -----------------------------------------------------------------


def _attention_patterns(inputs: CheckpointInputs) -> Output:
    """Each head's attention pattern averaged over the repeated probe sequences."""
    patterns, _ = _run(inputs)
    repeated, _ = _split(inputs)
    mean = patterns[repeated].mean(axis=0)  # (head, q, k)
    return ({"pattern": mean.astype(np.float16)},
            {"heads": head_names(inputs.values["n_layers"], inputs.values["n_heads"])})


# --- in-context learning ----------------------------------------------------------------


def loss_by_position(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``(seq, pos, vocab)`` logits and ``(seq, pos)`` next-token labels -> ``(pos,)``
    mean cross-entropy per position; NaN where no label is scored (the last position)."""
    from scipy.special import log_softmax
    scored = labels >= 0  # (seq, pos)
    log_probs = log_softmax(logits, axis=-1)
    picked = np.take_along_axis(log_probs, np.where(scored, labels, 0)[..., None], -1)[..., 0]
    total = np.where(scored, -picked, 0.0).sum(0)
    count = scored.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def in_context_score(position_loss: np.ndarray, half: int) -> float:
    """Loss on the late tokens minus loss on the early tokens of the repeated sequences
    (Olsson et al.'s in-context learning score, "loss on a late token minus loss on an
    early one", here averaged over each half): positions ``half .. 2*half - 2`` predict
    the second copy's tokens 2..h, positions ``0 .. half - 2`` the first copy's tokens 2..h
    (position ``half - 1`` predicts the second copy's first token, unpredictable either
    way, and is left out). Negative when the model uses the earlier copy."""
    late = position_loss[half:2 * half - 1]
    early = position_loss[:half - 1]
    return float(np.mean(late) - np.mean(early))


def _in_context_learning(inputs: CheckpointInputs) -> Output:
    _, logits = _run(inputs)
    repeated, plain = _split(inputs)
    labels = inputs.probe["labels"].numpy()
    on_repeated = loss_by_position(logits[repeated], labels[repeated])  # (pos,)
    on_random = loss_by_position(logits[plain], labels[plain])  # (pos,)
    half = inputs.values["n_ctx"] // 2
    return ({"repeated_loss": on_repeated.astype(np.float32),
             "random_loss": on_random.astype(np.float32)},
            {"icl_score": in_context_score(on_repeated, half),
             "repeated_mean_loss": float(np.nanmean(on_repeated)),
             "random_mean_loss": float(np.nanmean(on_random))})


# --- declarations -----------------------------------------------------------------------

_OLSSON = "Olsson et al. 2022"
_HEAD_ARRAY = ("head",)
_SCORES = ("induction", "prefix_matching", "previous_token")


ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(
        name="head_scores", version=1,
        description=f"Per head: induction score (attention from the second copy of a repeated "
                    f"random sequence to the token after the previous occurrence), prefix "
                    f"matching (attention to tokens that follow an earlier copy of the current "
                    f"token, on plain random sequences) and previous-token score; {_OLSSON}.",
        arrays=(ArraySpec("induction", "float32", _HEAD_ARRAY,
                          "mean attention from q to q - h + 1 in the second half"),
                ArraySpec("prefix_matching", "float32", _HEAD_ARRAY,
                          "mean attention mass on keys following a copy of the query token"),
                ArraySpec("previous_token", "float32", _HEAD_ARRAY,
                          "mean attention from q to q - 1")),
        attrs=(AttrSpec("heads", "json", "head names, layer-major (L0H0, L0H1, ...)"),
               *(spec for key in _SCORES for spec in (
                   AttrSpec(f"max_{key}", "float", f"largest {key} score over heads"),
                   AttrSpec(f"best_{key}_head", "str", f"the head with the largest {key} "
                                                       "score")))),
        compute=_head_scores,
    ),
    Analyzer(
        name="attention_patterns", version=1,
        description="Each head's attention pattern averaged over the repeated probe sequences "
                    "(float16): an induction head shows a stripe h - 1 below the diagonal in "
                    "the second half, a previous-token head the first sub-diagonal.",
        arrays=(ArraySpec("pattern", "float16", ("head", "query", "key"),
                          "mean attention from query to key position"),),
        attrs=(AttrSpec("heads", "json", "head names, layer-major"),),
        compute=_attention_patterns,
    ),
    Analyzer(
        name="in_context_learning", version=1,
        description=f"Next-token loss per position on the repeated and on the random probe "
                    f"sequences, and the in-context learning score: loss on the second copy "
                    f"minus loss on the first; {_OLSSON}.",
        arrays=(ArraySpec("repeated_loss", "float32", ("position",),
                          "mean cross-entropy of the next token, repeated sequences"),
                ArraySpec("random_loss", "float32", ("position",),
                          "mean cross-entropy of the next token, random sequences")),
        attrs=(AttrSpec("icl_score", "float",
                        "mean loss on the second copy minus on the first (negative: learns "
                        "in context)"),
               AttrSpec("repeated_mean_loss", "float", "mean loss on repeated sequences"),
               AttrSpec("random_mean_loss", "float", "mean loss on random sequences")),
        compute=_in_context_learning,
    ),
    circuits_analyzer,
)


def probe_loss(model, probe: Mapping[str, torch.Tensor],
               dtype: torch.dtype | None = None) -> torch.Tensor:
    """Mean next-token cross-entropy over the whole probe, computed in ``dtype`` (default
    float64: the small loss differences of ``flatness`` need it)."""
    import torch

    from tdw.family.model import live_tensors

    dtype = dtype or torch.float64
    weights = {name: t.to(dtype) for name, t in live_tensors(model).items()}
    logits = forward(weights, probe["tokens"], model.cfg.n_heads)  # (seq, pos, vocab)
    labels = probe["labels"]
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                             labels.reshape(-1))


def probe_loss_float32(model, probe: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """:func:`probe_loss` in float32, for the Hessian: its top eigenvalues agree with the
    float64 ones to 7 digits on the quick preset, at half the cost."""
    import torch
    return probe_loss(model, probe, torch.float32)
