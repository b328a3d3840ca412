"""The attention analyzer of Modulo Addition: where '=' attends, and at which frequencies.

Nanda et al. App. C.1: the attention from '=' to a and to b is periodic in a and b at a
key frequency.
"""

from __future__ import annotations

import numpy as np

from tdw.family.analyzer import Analyzer, CheckpointInputs, Output
from tdw.family.artifacts import ArraySpec

from . import fourier
from .grid import ANSWER, CITE, PATTERN, as_grids, dominant_frequency, grid_p, to_numpy

__all__ = ["ANALYZERS"]


def _attention_patterns(inputs: CheckpointInputs) -> Output:
    """Attention from '=' to a and to b per head over the grid, and its frequencies.

    Nanda et al. App. C.1.2 (Fig. 13, Table 2): the attention of '=' to a is about
    0.5 + alpha cos(w_k a) + ..., periodic in a and b at a key frequency. ``to_a`` and
    ``to_b`` are ``blocks.0.attn.hook_pattern[:, h, 2, 0]`` and ``[:, h, 2, 1]`` as
    float16 (the rest of the row goes to '=' itself); ``freq_fraction`` is
    :func:`.fourier.frequency_fractions_2d` of ``to_a``, ``dominant`` its largest (0
    for a head whose ``to_a`` is constant).
    """
    p = grid_p(inputs)
    from_answer = to_numpy(inputs.activations[PATTERN][:, :, ANSWER])  # (a*p+b, head, key)
    to_a = as_grids(from_answer[..., 0], p)  # (head, a, b)
    to_b = as_grids(from_answer[..., 1], p)  # (head, a, b)
    fraction = fourier.frequency_fractions_2d(to_a)  # (head, freq)
    return ({"to_a": to_a.astype(np.float16), "to_b": to_b.astype(np.float16),
             "freq_fraction": fraction.astype(np.float32),
             "dominant": dominant_frequency(fraction)},
            {})


ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(
        name="attention_patterns", version=1,
        description=f"Attention from '=' to a and to b per head over the (a, b) grid, and the "
                    f"frequencies of the attention to a; {CITE} App. C.1.",
        arrays=(ArraySpec("to_a", "float16", ("head", "a", "b"), "attention from '=' to a"),
                ArraySpec("to_b", "float16", ("head", "a", "b"), "attention from '=' to b"),
                ArraySpec("freq_fraction", "float32", ("head", "freq"),
                          "share of the variance of to_a per frequency"),
                ArraySpec("dominant", "int32", ("head",),
                          "frequency with the largest share (0: constant to_a)")),
        attrs=(),
        compute=_attention_patterns, hooks=(PATTERN,),
    ),
)
