"""The family's analyzer: how much each head attends to the token it must copy.

To predict ``x[L-1-j]`` at position ``L + j`` a head must attend to position ``L-1-j``, the
*mirror* of the query about the separator: an anti-diagonal in the attention pattern. The
analyzer reads the probe's attention patterns and logits from the engine's one forward pass
per checkpoint (it declares the hooks), and stores each head's mean pattern, each head's
attention to the mirror position and the accuracy at each reversed position.
"""

from __future__ import annotations

import numpy as np

from tdw import LOGITS, Analyzer, ArraySpec, AttrSpec, CheckpointInputs
from tdw.family.model import IGNORE_LABEL

__all__ = ["PATTERN", "mirror_attention", "mirror_scores", "ANALYZERS"]

PATTERN = "blocks.0.attn.hook_pattern"
"""The one layer's attention pattern, ``(sequence, head, query, key)``."""


def mirror_scores(pattern: np.ndarray) -> np.ndarray:
    """``(sequence, head, 2L, 2L)`` patterns -> ``(head,)`` mean attention from each scored
    query ``q = L .. 2L-1`` to its mirror key ``2L-1-q``."""
    n_pos = pattern.shape[-1]
    query = np.arange(n_pos // 2, n_pos)
    return pattern[:, :, query, n_pos - 1 - query].mean(axis=(0, 2))


def _compute(inputs: CheckpointInputs):
    pattern = inputs.activations[PATTERN].double().numpy()
    logits = inputs.activations[LOGITS]  # (sequence, position, d_vocab)
    labels = inputs.probe["labels"]
    scored = labels[0] != IGNORE_LABEL  # the same positions in every sequence
    hits = (logits.argmax(-1) == labels)[:, scored].double().mean(0).numpy()
    mirror = mirror_scores(pattern)
    best = int(np.argmax(mirror))
    arrays = {"pattern": pattern.mean(axis=0).astype(np.float32),
              "mirror": mirror.astype(np.float32),
              "accuracy": hits.astype(np.float32)}
    attrs = {"best_head": best, "max_mirror": float(mirror[best]),
             "accuracy": float(hits.mean())}
    return arrays, attrs


mirror_attention = Analyzer(
    name="mirror_attention",
    version=1,
    description="Each head's attention pattern averaged over the held-out sequences, its mean "
                "attention from every reversed position to the token it must copy (the "
                "mirror about the separator), and the accuracy at each reversed position.",
    arrays=(ArraySpec("pattern", "float32", ("head", "query", "key"),
                      "mean attention pattern of each head"),
            ArraySpec("mirror", "float32", ("head",),
                      "mean attention from each reversed position to its mirror"),
            ArraySpec("accuracy", "float32", ("answer",),
                      "held-out accuracy at each reversed position, first to last")),
    attrs=(AttrSpec("best_head", "int", "the head attending most to the mirror"),
           AttrSpec("max_mirror", "float", "its mirror attention"),
           AttrSpec("accuracy", "float", "held-out accuracy over all reversed positions")),
    compute=_compute,
    hooks=(PATTERN, LOGITS),
)

ANALYZERS = (mirror_attention,)
