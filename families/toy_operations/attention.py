"""The attention analyzers of Toy Operations: how sharp each head is, and where ``)`` looks.

``attention_entropy`` follows the seed study's attention sharpening (entropy in bits
falling from uniform); ``argument_attention`` splits the attention of the answer position
between the operation, the three arguments and the argument that holds the answer. Heads
are numbered layer-major on one ``head`` axis: index ``layer * n_heads + h`` is labelled
``L{layer}H{h}``.
"""

from __future__ import annotations

import numpy as np

from tdw.family.analyzer import Analyzer, CheckpointInputs, Output
from tdw.family.artifacts import ArraySpec, AttrSpec

from . import data
from .hooks import N_HEADS, N_LAYERS, PATTERNS, SEED, probe_arrays, to_numpy

__all__ = ["ANALYZERS", "head_labels", "attention_entropy", "argument_attention"]


def head_labels(n_layers: int, n_heads: int) -> list[str]:
    """``["L0H0", "L0H1", ...]``: the labels of the layer-major ``head`` axis."""
    return [f"L{layer}H{h}" for layer in range(n_layers) for h in range(n_heads)]


def _stacked_patterns(inputs: CheckpointInputs) -> np.ndarray:
    """``(input, head, query, key)`` float64 attention of both layers, layer-major heads."""
    return np.concatenate([to_numpy(inputs.activations[name]) for name in PATTERNS], axis=1)


# --- attention_entropy ----------------------------------------------------------------


def attention_entropy(pattern: np.ndarray) -> np.ndarray:
    """``(input, head, query, key)`` attention -> ``(head, query)`` mean entropy in bits.

    ``H = -sum_k p_k log2 p_k`` of each query's attention row (0 log 0 = 0, so the keys a
    causal mask hides count for nothing), averaged over inputs. A query at position q
    that attends uniformly to its q + 1 visible keys has log2(q + 1) bits; one that
    attends to a single key has 0.
    """
    from scipy.special import entr
    return entr(pattern).sum(-1).mean(0) / np.log(2.0)


def _attention_entropy(inputs: CheckpointInputs) -> Output:
    """Mean attention entropy per head and query position, and the mean pattern.

    The seed study tracks attention sharpening as entropy in bits falling from the
    uniform maximum (3 bits over 8 positions there) towards ~0.7 bits. With a causal
    mask, query q sees q + 1 keys, so its maximum is ``max_entropy[q] = log2(q + 1)``.
    """
    pattern = _stacked_patterns(inputs)  # (input, head, query, key)
    entropy = attention_entropy(pattern)  # (head, query)
    answer = entropy[:, data.ANSWER_POSITION]  # (head,)
    by_layer = answer.reshape(N_LAYERS, N_HEADS).mean(-1)  # (layer,)
    return ({"entropy": entropy.astype(np.float32),
             "max_entropy": np.log2(np.arange(1, data.N_CTX + 1)).astype(np.float32),
             "mean_pattern": pattern.mean(0).astype(np.float32)},
            {"heads": head_labels(N_LAYERS, N_HEADS), "answer_entropy": float(answer.mean()),
             "answer_entropy_by_layer": [float(v) for v in by_layer]})


# --- argument_attention ---------------------------------------------------------------


def argument_attention(from_answer: np.ndarray, operation: np.ndarray, args: np.ndarray,
                       labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where the answer position looks, per head and operation.

    ``from_answer`` is ``(input, head, key)``: the attention row of ``)``. Returns
    ``to_arguments`` ``(head, operation, argument)``, the mean attention to each of the
    three digit positions; ``to_answer`` ``(head, operation)``, the mean total attention
    to the digit positions that hold the answer (all of them when digits tie, e.g. both
    6s of Max(6, 6, 2)); ``to_operation`` ``(head, operation)``, to the operation token.
    """
    n_ops = len(data.OPERATIONS)
    to_args = from_answer[:, :, list(data.ARGUMENT_POSITIONS)]  # (input, head, argument)
    holds = (args == labels[:, None]).astype(np.float64)  # (input, argument)
    answer_mass = np.einsum("iha,ia->ih", to_args, holds)  # (input, head)
    to_op = from_answer[:, :, data.OPERATION_POSITION]  # (input, head)
    n_heads = from_answer.shape[1]
    to_arguments = np.zeros((n_heads, n_ops, len(data.ARGUMENT_POSITIONS)))
    to_answer = np.zeros((n_heads, n_ops))
    to_operation = np.zeros((n_heads, n_ops))
    for op in range(n_ops):
        rows = operation == op
        to_arguments[:, op] = to_args[rows].mean(0)
        to_answer[:, op] = answer_mass[rows].mean(0)
        to_operation[:, op] = to_op[rows].mean(0)
    return to_arguments, to_answer, to_operation


def _argument_attention(inputs: CheckpointInputs) -> Output:
    """Attention from ``)`` to the operation, each argument, and the answer's argument.

    The seed study's "argument gathering" head (equal attention to the three digits) and
    "answer selection" head (most attention on the argument that is the answer, e.g. the
    maximum for Max, the first digit for First). ``answer_head`` is the head with the
    largest ``to_answer`` averaged over operations; a head attending uniformly over the 8
    positions scores about 0.15 there (the answer sits in 1.2 of 3 positions on average).
    """
    operation, args, labels = probe_arrays(inputs)
    from_answer = _stacked_patterns(inputs)[:, :, data.ANSWER_POSITION]  # (input, head, key)
    to_arguments, to_answer, to_operation = argument_attention(from_answer, operation, args,
                                                               labels)
    mean_answer = to_answer.mean(-1)  # (head,)
    best = int(mean_answer.argmax())
    labels_ = head_labels(N_LAYERS, from_answer.shape[1] // N_LAYERS)
    return ({"to_arguments": to_arguments.astype(np.float32),
             "to_answer": to_answer.astype(np.float32),
             "to_operation": to_operation.astype(np.float32)},
            {"heads": labels_, "answer_head": labels_[best],
             "answer_head_share": float(mean_answer[best])})


ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(
        name="attention_entropy", version=1,
        description=f"Entropy in bits of each head's attention per query position, averaged "
                    f"over inputs, and the mean attention pattern ({SEED}).",
        arrays=(ArraySpec("entropy", "float32", ("head", "query"),
                          "mean -sum p log2 p of the attention row"),
                ArraySpec("max_entropy", "float32", ("query",),
                          "log2(q + 1): uniform attention over the visible keys"),
                ArraySpec("mean_pattern", "float32", ("head", "query", "key"),
                          "attention averaged over inputs")),
        attrs=(AttrSpec("heads", "json", "head labels L<layer>H<head>, in axis order"),
               AttrSpec("answer_entropy", "float", "mean entropy at ')' over all heads"),
               AttrSpec("answer_entropy_by_layer", "json", "mean entropy at ')' per layer")),
        compute=_attention_entropy, hooks=PATTERNS,
    ),
    Analyzer(
        name="argument_attention", version=1,
        description=f"Attention from ')' to the operation token, to each argument and to the "
                    f"argument(s) holding the answer, per head and operation ({SEED}).",
        arrays=(ArraySpec("to_arguments", "float32", ("head", "operation", "argument"),
                          "mean attention to the 1st, 2nd, 3rd digit"),
                ArraySpec("to_answer", "float32", ("head", "operation"),
                          "mean attention to the digit positions equal to the answer"),
                ArraySpec("to_operation", "float32", ("head", "operation"),
                          "mean attention to the operation token")),
        attrs=(AttrSpec("heads", "json", "head labels, in axis order"),
               AttrSpec("answer_head", "str", "head with the most attention on the answer"),
               AttrSpec("answer_head_share", "float", "its to_answer, averaged over operations")),
        compute=_argument_attention, hooks=PATTERNS,
    ),
)
