"""The MLP neuron analyzer of Toy Operations: neurons selective for operation or answer.

The seed study's neurons that "respond to Max/Min", "detect large digits" and "activate
when the correct answer is large", measured at ``)`` in both blocks as correlation ratios
and correlations with the answer.
"""

from __future__ import annotations

import numpy as np

from tdw.family.analyzer import Analyzer, CheckpointInputs, Output
from tdw.family.artifacts import ArraySpec, AttrSpec

from . import data
from .hooks import MLP_POSTS, SEED, probe_arrays, to_numpy

__all__ = ["ANALYZERS", "SELECTIVE", "correlation_ratio"]

SELECTIVE = 0.5
"""Share of a neuron's variance one grouping must explain (or absolute correlation with
the answer's value) for the neuron to count as selective for it."""


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
    operation, _, labels = probe_arrays(inputs)
    n_ops = len(data.OPERATIONS)
    out: dict[str, list[np.ndarray]] = {k: [] for k in (
        "operation_share", "answer_share", "answer_correlation", "operation_means",
        "answer_means")}
    for name in MLP_POSTS:
        post = to_numpy(inputs.activations[name])  # (input, pos, neuron)
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


def _shares(name: str, what: str) -> ArraySpec:
    return ArraySpec(name, "float32", ("layer", "neuron"), what)


ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(
        name="neuron_selectivity", version=1,
        description=f"Per MLP neuron at ')', the correlation ratio (eta^2) of its activation "
                    f"with the operation and with the answer digit, and its correlation with "
                    f"the answer's value ({SEED}).",
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
