"""Per-checkpoint and cross-epoch analyzers of the Toy Operations family.

They measure what the user's seed study 002 ("Training dynamics over time") describes:
per-operation accuracy and which operation is learned first, attention sharpening (the
entropy of each head's attention, in bits, falling from uniform), where the answer
position attends (the operation, the three arguments, the argument that holds the
answer), the geometry of the token embeddings (digits ordered along a line, operations
grouped) and neurons that specialise by operation and by digit.

The probe is every input in ``op * 1000 + a * 100 + b * 10 + c`` order (:mod:`.data`),
so ``probe["operation"]``, ``probe["args"]`` and ``probe["labels"]`` index every
activation's first axis. Heads are numbered layer-major on one ``head`` axis: index
``layer * n_heads + h`` is labelled ``L{layer}H{h}``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy.special import entr, log_softmax
from scipy.stats import spearmanr

from tdw.family.analyzer import (
    Analyzer,
    CheckpointInputs,
    CrossEpochAnalyzer,
    CrossEpochInputs,
    Output,
)
from tdw.family.artifacts import ArraySpec, AttrSpec

from . import data

__all__ = ["ANALYZERS", "CROSS_EPOCH", "per_operation_accuracy", "attention_entropy",
           "argument_attention", "principal_components", "digit_order",
           "correlation_ratio", "learned_epochs", "head_labels", "LEARNED", "SELECTIVE"]

LOGITS = "logits"  # (input, pos, digit)
N_LAYERS = 2


def _pattern(layer: int) -> str:
    return f"blocks.{layer}.attn.hook_pattern"  # (input, head, query_pos, key_pos)


def _mlp_post(layer: int) -> str:
    return f"blocks.{layer}.mlp.hook_post"  # (input, pos, d_mlp)


PATTERNS = tuple(_pattern(layer) for layer in range(N_LAYERS))
MLP_POSTS = tuple(_mlp_post(layer) for layer in range(N_LAYERS))

LEARNED = 0.9
"""Held-out accuracy from which an operation counts as learned (and must stay)."""
SELECTIVE = 0.5
"""Share of a neuron's variance one grouping must explain (or absolute correlation with
the answer's value) for the neuron to count as selective for it."""


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().to("cpu", torch.float64).numpy()


def _probe_arrays(inputs: CheckpointInputs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(input,)`` operation, ``(input, 3)`` digits and ``(input,)`` answers as int64."""
    probe = inputs.probe
    return tuple(probe[k].cpu().numpy().astype(np.int64) for k in ("operation", "args", "labels"))


def head_labels(n_layers: int, n_heads: int) -> list[str]:
    """``["L0H0", "L0H1", ...]``: the labels of the layer-major ``head`` axis."""
    return [f"L{layer}H{h}" for layer in range(n_layers) for h in range(n_heads)]


def _stacked_patterns(inputs: CheckpointInputs) -> np.ndarray:
    """``(input, head, query, key)`` float64 attention of both layers, layer-major heads."""
    return np.concatenate([_numpy(inputs.activations[name]) for name in PATTERNS], axis=1)


# --- operation_accuracy ----------------------------------------------------------------


def per_operation_accuracy(logits: np.ndarray, labels: np.ndarray, operation: np.ndarray,
                           selected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy and mean cross-entropy per operation over the ``selected`` inputs.

    ``logits`` is ``(input, digit)``, ``labels`` and ``operation`` ``(input,)``,
    ``selected`` a boolean ``(input,)`` mask. Returns two ``(operation,)`` arrays; an
    operation with no selected input gets NaN.
    """
    correct = logits.argmax(-1) == labels  # (input,)
    loss = -log_softmax(logits, axis=-1)[np.arange(len(labels)), labels]  # (input,)
    accuracy = np.full(len(data.OPERATIONS), np.nan)
    mean_loss = np.full(len(data.OPERATIONS), np.nan)
    for op in range(len(data.OPERATIONS)):
        rows = selected & (operation == op)
        if rows.any():
            accuracy[op] = correct[rows].mean()
            mean_loss[op] = loss[rows].mean()
    return accuracy, mean_loss


def _operation_accuracy(inputs: CheckpointInputs) -> Output:
    """Train and held-out accuracy and held-out loss per operation, at ``)``.

    The seed study's "per-operation accuracy" table (Max 96.3%, ..., Last 91.1%): here on
    every input of the probe, split by the training mask, from the logits at ``)``.
    """
    operation, _, labels = _probe_arrays(inputs)
    logits = _numpy(inputs.activations[LOGITS][:, data.ANSWER_POSITION])  # (input, digit)
    is_train = inputs.probe["is_train"].cpu().numpy().astype(bool)
    train_acc, _ = per_operation_accuracy(logits, labels, operation, is_train)
    test_acc, test_loss = per_operation_accuracy(logits, labels, operation, ~is_train)
    correct = logits.argmax(-1) == labels
    return ({"train_accuracy": train_acc.astype(np.float32),
             "test_accuracy": test_acc.astype(np.float32),
             "test_loss": test_loss.astype(np.float32)},
            {"accuracy": float(correct.mean()),
             "test_accuracy": float(correct[~is_train].mean()),
             "operations": list(data.OPERATIONS)})


# --- attention_entropy ----------------------------------------------------------------


def attention_entropy(pattern: np.ndarray) -> np.ndarray:
    """``(input, head, query, key)`` attention -> ``(head, query)`` mean entropy in bits.

    ``H = -sum_k p_k log2 p_k`` of each query's attention row (0 log 0 = 0, so the keys a
    causal mask hides count for nothing), averaged over inputs. A query at position q
    that attends uniformly to its q + 1 visible keys has log2(q + 1) bits; one that
    attends to a single key has 0.
    """
    return entr(pattern).sum(-1).mean(0) / np.log(2.0)


def _attention_entropy(inputs: CheckpointInputs) -> Output:
    """Mean attention entropy per head and query position, and the mean pattern.

    The seed study tracks attention sharpening as entropy in bits falling from the
    uniform maximum (3 bits over 8 positions there) towards ~0.7 bits. With a causal
    mask, query q sees q + 1 keys, so its maximum is ``max_entropy[q] = log2(q + 1)``.
    """
    from . import N_HEADS

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
    operation, args, labels = _probe_arrays(inputs)
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


# --- embedding_geometry ---------------------------------------------------------------


def principal_components(points: np.ndarray, n_components: int, low: int, high: int
                         ) -> tuple[np.ndarray, np.ndarray]:
    """PCA of ``(point, dim)`` rows centred on their mean, by SVD.

    Returns scores ``(point, n_components)`` and each component's share of the variance
    ``(n_components,)`` (zeros when the points coincide). Each component is signed so that
    point ``high`` scores at least as high as point ``low`` (for embeddings: digit 9 above
    digit 0), so the picture does not flip between checkpoints.
    """
    centred = points - points.mean(axis=0)  # (point, dim)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)  # u: (point, r), s: (r,)
    k = min(n_components, len(s))
    scores = np.zeros((len(points), n_components))
    scores[:, :k] = u[:, :k] * s[:k]
    scores *= np.where(scores[high] < scores[low], -1.0, 1.0)
    energy = s ** 2
    ratio = np.zeros(n_components)
    if energy.sum() > 0:
        ratio[:k] = energy[:k] / energy.sum()
    return scores, ratio


def digit_order(coordinates: np.ndarray) -> float:
    """Spearman rank correlation between digit value 0..9 and ``(digit,)`` coordinates:
    1 when the digits lie in order along the axis, -1 reversed, 0 for no order (and for
    coordinates that are all equal)."""
    if np.ptp(coordinates) == 0:
        return 0.0
    return float(spearmanr(np.arange(len(coordinates)), coordinates).statistic)


def _cosine_matrix(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    unit = rows / np.where(norms == 0, 1.0, norms)
    return unit @ unit.T


def _embedding_geometry(inputs: CheckpointInputs) -> Output:
    """PCA of the token embeddings, operation similarity, and the order of the digits.

    The seed study's "embedding structure": digits "monotonically ordered" when projected
    on a first principal component, Max close to Min, First/Second/Last together. Reads
    ``embed.weight`` (W_E, one row per token). ``token_pcs`` are all 18 tokens on the top
    three components of W_E (centred over tokens); ``digit_pc1`` are the digits on the
    first component of the ten digit rows alone, where magnitude, if the model encodes it
    linearly, is the main axis. Both are signed so that 9 scores above 0. ``digit_order``
    and ``digit_order_all`` are the Spearman correlations of digit value with those two
    axes (digit PC1, and PC1 of all tokens). ``operation_cosine`` is the cosine similarity
    of the five raw operation embeddings (the seed's sim(Max, Min) = 0.87).
    """
    w_e = _numpy(inputs.weights["embed.weight"])  # (token, d_model)
    nine = data.N_DIGITS - 1
    token_pcs, token_ratio = principal_components(w_e, 3, 0, nine)
    digit_pcs, digit_ratio = principal_components(w_e[:data.N_DIGITS], 1, 0, nine)
    ops = w_e[data.FIRST_OPERATION:data.FIRST_OPERATION + len(data.OPERATIONS)]
    return ({"token_pcs": token_pcs.astype(np.float32),
             "explained_variance_ratio": token_ratio.astype(np.float32),
             "digit_pc1": digit_pcs[:, 0].astype(np.float32),
             "operation_cosine": _cosine_matrix(ops).astype(np.float32)},
            {"tokens": list(data.VOCAB), "digit_order": digit_order(digit_pcs[:, 0]),
             "digit_order_all": digit_order(token_pcs[:data.N_DIGITS, 0]),
             "digit_pc1_share": float(digit_ratio[0])})


# --- neuron_selectivity ---------------------------------------------------------------


def correlation_ratio(activations: np.ndarray, groups: np.ndarray, n_groups: int
                      ) -> np.ndarray:
    """``(sample, neuron)`` activations, ``(sample,)`` group ids -> ``(neuron,)`` eta^2.

    The correlation ratio (Pearson 1905; eta squared of a one-way ANOVA): the share of a
    neuron's variance over samples explained by its group means,
    ``sum_g n_g (mean_g - mean)^2 / sum (x - mean)^2``. 1 when the neuron is constant
    within each group and differs between groups, about ``(n_groups - 1) / n_samples``
    for noise; 0 for a neuron that never varies (e.g. a dead ReLU).
    """
    mean = activations.mean(0)  # (neuron,)
    counts = np.bincount(groups, minlength=n_groups).astype(np.float64)  # (group,)
    sums = np.zeros((n_groups, activations.shape[1]))
    np.add.at(sums, groups, activations)
    group_means = sums / np.maximum(counts, 1)[:, None]  # (group, neuron)
    between = (counts[:, None] * (group_means - mean) ** 2).sum(0)  # (neuron,)
    total = ((activations - mean) ** 2).sum(0)  # (neuron,)
    return np.divide(between, total, out=np.zeros_like(total), where=total > 1e-12 * len(groups))


def _group_means(activations: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """``(neuron, group)`` mean activation per group."""
    return np.stack([activations[groups == g].mean(0) for g in range(n_groups)], axis=-1)


def _neuron_selectivity(inputs: CheckpointInputs) -> Output:
    """How much of each MLP neuron's variance at ``)`` the operation or the answer explains.

    The seed study's neurons that "respond to Max/Min", "detect large digits" and
    "activate when the correct answer is large". Per layer and neuron, the ReLU activation
    at ``)`` over all inputs gives correlation ratios (:func:`correlation_ratio`)
    ``operation_share`` (5 groups) and ``answer_share`` (grouped by the answer digit, 10
    groups); ``answer_correlation`` is its Pearson correlation with the answer's value
    (magnitude tuning: + for large answers, - for small); and the mean activation per
    operation and per answer digit. ``selective`` counts, per layer, the neurons with
    ``operation_share`` >= 0.5, ``answer_share`` >= 0.5 and |``answer_correlation``| >= 0.5
    (``magnitude``). At initialisation ``)`` knows neither the answer nor (much) the
    operation, so all three start near 0. (The activation at a digit's own position is not
    used: it is a function of that token from initialisation on, so grouping it by digit
    measures nothing learned.)
    """
    operation, _, labels = _probe_arrays(inputs)
    n_ops = len(data.OPERATIONS)
    out: dict[str, list[np.ndarray]] = {k: [] for k in (
        "operation_share", "answer_share", "answer_correlation", "operation_means",
        "answer_means")}
    for name in MLP_POSTS:
        post = _numpy(inputs.activations[name])  # (input, pos, neuron)
        at_answer = post[:, data.ANSWER_POSITION]  # (input, neuron)
        out["operation_share"].append(correlation_ratio(at_answer, operation, n_ops))
        out["answer_share"].append(correlation_ratio(at_answer, labels, data.N_DIGITS))
        out["answer_correlation"].append(_pearson(at_answer, labels.astype(np.float64)))
        out["operation_means"].append(_group_means(at_answer, operation, n_ops))
        out["answer_means"].append(_group_means(at_answer, labels, data.N_DIGITS))
    arrays = {k: np.stack(v).astype(np.float32) for k, v in out.items()}
    tuned = {"operation": arrays["operation_share"], "answer": arrays["answer_share"],
             "magnitude": np.abs(arrays["answer_correlation"])}
    selective = {k: [int(n) for n in (v >= SELECTIVE).sum(-1)] for k, v in tuned.items()}
    return arrays, {"threshold": SELECTIVE, "selective": selective}


def _pearson(activations: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``(sample, neuron)``, ``(sample,)`` -> ``(neuron,)`` Pearson r (0 for a constant neuron)."""
    x = activations - activations.mean(0)
    y = values - values.mean()
    scale = np.sqrt((x ** 2).sum(0) * (y ** 2).sum())
    return np.divide(x.T @ y, scale, out=np.zeros(x.shape[1]), where=scale > 1e-12)


# --- operation_learning (cross-epoch) -------------------------------------------------


def learned_epochs(epochs: np.ndarray, accuracy: np.ndarray, threshold: float = LEARNED
                   ) -> np.ndarray:
    """``(checkpoint,)`` epochs, ``(checkpoint, operation)`` accuracy -> ``(operation,)``
    the first checkpoint epoch from which the accuracy stays >= ``threshold`` through the
    last checkpoint; -1 where it does not end there."""
    below = ~(accuracy >= threshold)  # (checkpoint, operation); NaN counts as below
    out = np.full(accuracy.shape[1], -1, dtype=np.int64)
    for op in range(accuracy.shape[1]):
        failing = np.flatnonzero(below[:, op])
        start = 0 if not len(failing) else failing[-1] + 1
        if start < len(epochs):
            out[op] = int(epochs[start])
    return out


def _learning_order(names: Sequence[str], learned: np.ndarray) -> tuple[list[str], str]:
    """Operation names in the order they were learned (never-learned ones left out), and
    the first, ties joined by " = " ("none" when none was learned)."""
    order = [names[i] for i in np.argsort(learned, kind="stable") if learned[i] >= 0]
    if not order:
        return order, "none"
    earliest = learned[learned >= 0].min()
    return order, " = ".join(n for n, e in zip(names, learned, strict=True) if e == earliest)


def _operation_learning(inputs: CrossEpochInputs) -> Output:
    """When each operation is learned: the held-out accuracy per operation across
    checkpoints and the epoch from which it stays >= 0.9 (the seed study's "which
    operation is learned first"; Last and Second were its hardest)."""
    epochs = np.asarray(inputs.epochs, dtype=np.int64)
    accuracy = np.stack([a["test_accuracy"] for a in inputs.artifacts["operation_accuracy"]]
                        ).astype(np.float64)  # (checkpoint, operation)
    learned = learned_epochs(epochs, accuracy)
    order, first = _learning_order(data.OPERATIONS, learned)
    return ({"epochs": epochs, "test_accuracy": accuracy.astype(np.float32),
             "learned_epoch": learned},
            {"threshold": LEARNED, "order": order, "first": first,
             "operations": list(data.OPERATIONS)})


# --- declarations ---------------------------------------------------------------------

_SEED = "seed study 002"


def _per_operation(name: str, what: str) -> ArraySpec:
    return ArraySpec(name, "float32", ("operation",), what)


def _shares(name: str, what: str) -> ArraySpec:
    return ArraySpec(name, "float32", ("layer", "neuron"), what)


ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(
        name="operation_accuracy", version=1,
        description=f"Train and held-out accuracy and held-out loss per operation from the "
                    f"logits at ')' ({_SEED}).",
        arrays=(_per_operation("train_accuracy", "accuracy on training inputs"),
                _per_operation("test_accuracy", "accuracy on held-out inputs"),
                _per_operation("test_loss", "cross-entropy on held-out inputs")),
        attrs=(AttrSpec("accuracy", "float", "accuracy on all 5000 inputs"),
               AttrSpec("test_accuracy", "float", "accuracy on the held-out inputs"),
               AttrSpec("operations", "json", "operation names, in axis order")),
        compute=_operation_accuracy, hooks=(LOGITS,),
    ),
    Analyzer(
        name="attention_entropy", version=1,
        description=f"Entropy in bits of each head's attention per query position, averaged "
                    f"over inputs, and the mean attention pattern ({_SEED}).",
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
                    f"argument(s) holding the answer, per head and operation ({_SEED}).",
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
    Analyzer(
        name="embedding_geometry", version=1,
        description=f"PCA of the token embeddings, cosine similarity of the operations, and "
                    f"the Spearman order of the digits along their first component ({_SEED}).",
        arrays=(ArraySpec("token_pcs", "float32", ("token", "component"),
                          "every token on the top 3 components of W_E, 9 above 0"),
                ArraySpec("explained_variance_ratio", "float32", ("component",),
                          "share of W_E's variance on each component"),
                ArraySpec("digit_pc1", "float32", ("digit",),
                          "digits on the first component of the digit rows, 9 above 0"),
                ArraySpec("operation_cosine", "float32", ("operation", "operation2"),
                          "cosine similarity of the operation embeddings")),
        attrs=(AttrSpec("tokens", "json", "token texts, in axis order"),
               AttrSpec("digit_order", "float", "Spearman rho of digit value vs digit_pc1"),
               AttrSpec("digit_order_all", "float",
                        "Spearman rho of digit value vs PC1 of all tokens"),
               AttrSpec("digit_pc1_share", "float", "share of the digit rows' variance on PC1")),
        compute=_embedding_geometry,
    ),
    Analyzer(
        name="neuron_selectivity", version=1,
        description=f"Per MLP neuron at ')', the correlation ratio (eta^2) of its activation "
                    f"with the operation and with the answer digit, and its correlation with "
                    f"the answer's value ({_SEED}).",
        arrays=(_shares("operation_share", "eta^2 by operation at ')'"),
                _shares("answer_share", "eta^2 by answer digit at ')'"),
                _shares("answer_correlation", "Pearson r with the answer's value at ')'"),
                ArraySpec("operation_means", "float32", ("layer", "neuron", "operation"),
                          "mean activation at ')' per operation"),
                ArraySpec("answer_means", "float32", ("layer", "neuron", "digit"),
                          "mean activation at ')' per answer digit")),
        attrs=(AttrSpec("threshold", "float", "share that makes a neuron selective"),
               AttrSpec("selective", "json", "neurons per layer at or above threshold, for "
                        "'operation', 'answer' (shares) and 'magnitude' (|correlation|)")),
        compute=_neuron_selectivity, hooks=MLP_POSTS,
    ),
)

CROSS_EPOCH: tuple[CrossEpochAnalyzer, ...] = (
    CrossEpochAnalyzer(
        name="operation_learning", version=1,
        description="Held-out accuracy per operation across checkpoints and the epoch from "
                    "which each stays >= 0.9: which operation is learned first.",
        arrays=(ArraySpec("epochs", "int64", ("checkpoint",), "checkpoint epochs"),
                ArraySpec("test_accuracy", "float32", ("checkpoint", "operation"),
                          "held-out accuracy per operation"),
                ArraySpec("learned_epoch", "int64", ("operation",),
                          "first epoch from which accuracy stays >= threshold; -1 never")),
        attrs=(AttrSpec("threshold", "float", "accuracy that counts as learned"),
               AttrSpec("order", "json", "operations in the order they were learned"),
               AttrSpec("first", "str", "the operation(s) learned first, ties joined by "
                        "' = ' ('none' if none was)"),
               AttrSpec("operations", "json", "operation names, in axis order")),
        compute=_operation_learning, inputs=("operation_accuracy",),
    ),
)
