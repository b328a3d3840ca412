"""Analyzers of an imported series: the probe metric, per-head ablation, head-group
activation patching, head weight clustering, and when the clustering emerges.

The metric of a prompt is read at its last token (:mod:`.probe`): logit(correct) -
logit(wrong), or p(correct) - p(wrong). Interventions act on ``blocks.L.attn.hook_z``, the
bridge's per-head attention output before W_O, ``(batch, pos, head, d_head)``:

* ablation zeroes one head's ``hook_z`` (its whole contribution except W_O's bias), the
  zero-ablation of Olsson et al. 2022 and Wang et al. 2022 ("Interpretability in the wild");
* patching replaces a group of heads' ``hook_z`` in the prompt run with their values from
  the source run at the same positions (activation patching, Meng et al. 2022 "Locating and
  editing factual associations"; Heimersheim & Nanda 2024 on its use).

To keep one forward pass per layer, the prompt batch is repeated once per head (or group)
and each copy gets its own intervention; copies are chunked to bound memory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from tdw.family.analyzer import (
    LOGITS,
    Analyzer,
    CheckpointInputs,
    CrossEpochAnalyzer,
    CrossEpochInputs,
    Output,
)
from tdw.family.artifacts import ArraySpec, AttrSpec

from . import clustering
from .probe import definition

if TYPE_CHECKING:
    import torch

__all__ = ["ANALYZERS", "CROSS_EPOCH", "metric_at_last", "last_logits", "answer_metric",
           "head_ablation", "head_group_patching", "head_weight_clustering",
           "clustering_emergence", "EMERGENCE_MIN_RISE"]

_CHUNK_BYTES = 256 * 2 ** 20
"""Bytes one chunk of repeated prompts may hold in its largest activations."""
_FINAL = "ln_final.hook_out"
"""The final LayerNorm's output: the unembedding's input."""

Hook = Callable[..., "torch.Tensor"]


def metric_at_last(logits: torch.Tensor, probe: Mapping[str, torch.Tensor], kind: str
                   ) -> torch.Tensor:
    """``(prompt,)`` float64 metric from ``(prompt, d_vocab)`` last-token logits."""
    import torch
    logits = logits.double()
    if kind == "prob_diff":
        logits = logits.softmax(-1)
    rows = torch.arange(len(logits))
    return logits[rows, probe["correct"]] - logits[rows, probe["wrong"]]


class _Captured(Exception):
    """Raised by the hook that has what it needs: the rest of the forward pass is skipped."""


def last_logits(model, tokens: torch.Tensor, last: torch.Tensor,
                fwd_hooks: Sequence[tuple[str, Hook]] = ()) -> torch.Tensor:
    """``(batch, d_vocab)`` logits at each row's last real token (rows are right-padded).

    The unembedding, the largest product for a real vocabulary (50k tokens for Pythia), is
    applied to those positions only: the pass stops at the final LayerNorm's output, and
    ``model.unembed`` maps the last positions. ``run_with_hooks`` removes the hooks however
    the pass ends.
    """
    import torch
    rows = torch.arange(len(tokens))
    with torch.inference_mode():
        if _FINAL not in model.hook_dict:  # no final norm: take the full logits
            return model.run_with_hooks(tokens, fwd_hooks=list(fwd_hooks))[rows, last]
        captured = {}

        def capture(x: torch.Tensor, *, hook) -> None:  # (batch, pos, d_model)
            captured["last"] = x[rows, last]
            raise _Captured

        try:
            model.run_with_hooks(tokens, fwd_hooks=[*fwd_hooks, (_FINAL, capture)])
        except _Captured:
            pass
        return model.unembed(captured["last"])  # (batch, d_vocab)


def _chunk(model, probe: Mapping[str, torch.Tensor]) -> int:
    """Copies of the prompts per forward pass: the residual/MLP activations (about
    4 * d_model per token) and attention patterns of one copy, within :data:`_CHUNK_BYTES`."""
    n, width = probe["tokens"].shape
    per_copy = 4 * n * width * (4 * model.cfg.d_model + model.cfg.n_heads * width)
    return max(1, _CHUNK_BYTES // per_copy)


def _repeated_metric(model, probe, kind: str, layer: int, n_copies: int,
                     edit: Callable[[torch.Tensor, int], None]) -> np.ndarray:
    """``(copy,)`` mean metric of ``n_copies`` runs of the prompts, where copy ``c`` has
    ``edit(z, c)`` applied in place to its ``(prompt, pos, head, d_head)`` slice of layer
    ``layer``'s ``hook_z``."""
    n = len(probe["tokens"])
    out = np.zeros(n_copies)
    step = _chunk(model, probe)
    for start in range(0, n_copies, step):
        copies = range(start, min(n_copies, start + step))

        def hook(z: torch.Tensor, *, hook, copies=copies) -> torch.Tensor:
            z = z.clone()  # (copies * prompt, pos, head, d_head)
            for i, c in enumerate(copies):
                edit(z[i * n:(i + 1) * n], c)
            return z

        tokens = probe["tokens"].repeat(len(copies), 1)
        logits = last_logits(model, tokens, probe["last"].repeat(len(copies)),
                             [(f"blocks.{layer}.attn.hook_z", hook)])
        values = metric_at_last(logits, {k: probe[k].repeat(len(copies))
                                         for k in ("correct", "wrong")}, kind)
        out[start:start + len(copies)] = values.reshape(len(copies), n).mean(1).cpu().numpy()
    return out


# ------------------------------------------------------------------ the metric
def _answer_metric(inputs: CheckpointInputs) -> Output:
    import torch
    probe, kind = inputs.probe, definition(inputs.probe)["metric"]
    logits = inputs.activations[LOGITS]  # (prompt, pos, vocab)
    metric = metric_at_last(logits[torch.arange(len(logits)), probe["last"]], probe, kind)
    source = metric_at_last(last_logits(inputs.model, probe["source_tokens"], probe["last"]),
                            probe, kind)
    return ({"metric": metric.cpu().numpy().astype(np.float32),
             "source_metric": source.cpu().numpy().astype(np.float32)},
            {"metric_name": kind, "mean": float(metric.mean()),
             "accuracy": float((metric > 0).double().mean()),
             "source_mean": float(source.mean()),
             "source_accuracy": float((source > 0).double().mean())})


answer_metric = Analyzer(
    name="answer_metric",
    version=1,
    description="The probe metric of every prompt and of its source prompt at the last token: "
                "logit (or probability) of the correct answer minus the wrong one.",
    arrays=(ArraySpec("metric", "float32", ("prompt",), "metric of each prompt"),
            ArraySpec("source_metric", "float32", ("prompt",), "metric of each source prompt")),
    attrs=(AttrSpec("metric_name", "str", "logit_diff or prob_diff"),
           AttrSpec("mean", "float", "mean metric over the prompts"),
           AttrSpec("accuracy", "float", "share of prompts where the correct answer wins"),
           AttrSpec("source_mean", "float", "mean metric over the source prompts"),
           AttrSpec("source_accuracy", "float", "share of sources where the correct answer wins")),
    compute=_answer_metric, hooks=(LOGITS,), needs_model=True)


# ------------------------------------------------------------------- ablation
def _zero_head(z: torch.Tensor, head: int) -> None:
    z[:, :, head] = 0.0


def _head_ablation(inputs: CheckpointInputs) -> Output:
    model, probe, kind = inputs.model, inputs.probe, definition(inputs.probe)["metric"]
    base = float(metric_at_last(last_logits(model, probe["tokens"], probe["last"]), probe,
                                kind).mean())
    effect = np.stack([_repeated_metric(model, probe, kind, layer, model.cfg.n_heads, _zero_head)
                       for layer in range(model.cfg.n_layers)]) - base  # (layer, head)
    return {"effect": effect.astype(np.float32)}, {"base": base, "metric_name": kind}


head_ablation = Analyzer(
    name="head_ablation",
    version=1,
    description="Change of the mean probe metric when one head's output (hook_z) is zeroed, "
                "for every head of every layer (zero-ablation).",
    arrays=(ArraySpec("effect", "float32", ("layer", "head"),
                      "mean metric with the head zeroed minus the clean mean metric"),),
    attrs=(AttrSpec("base", "float", "clean mean metric"),
           AttrSpec("metric_name", "str", "logit_diff or prob_diff")),
    compute=_head_ablation, needs_model=True)


# ------------------------------------------------------------------- patching
def _head_group_patching(inputs: CheckpointInputs) -> Output:
    import torch
    model, probe = inputs.model, inputs.probe
    spec = definition(probe)
    kind, groups = spec["metric"], spec["head_groups"]
    heads = list(groups.values())
    with torch.inference_mode():
        _, cache = model.run_with_cache(probe["source_tokens"],
                                        names_filter=lambda n: n.endswith("attn.hook_z"))
    base = float(metric_at_last(last_logits(model, probe["tokens"], probe["last"]), probe,
                                kind).mean())
    source = float(metric_at_last(last_logits(model, probe["source_tokens"], probe["last"]),
                                  probe, kind).mean())
    effect = np.zeros((model.cfg.n_layers, len(heads)))
    for layer in range(model.cfg.n_layers):
        clean = cache[f"blocks.{layer}.attn.hook_z"]  # (prompt, pos, head, d_head)

        def patch(z: torch.Tensor, g: int, clean=clean) -> None:
            z[:, :, heads[g]] = clean[:, :, heads[g]]

        effect[layer] = _repeated_metric(model, probe, kind, layer, len(heads), patch) - base
    gap = source - base
    recovered = effect / gap if abs(gap) > 1e-9 else np.full_like(effect, np.nan)
    return ({"effect": effect.astype(np.float32), "recovered": recovered.astype(np.float32)},
            {"groups": groups, "base": base, "source": source, "metric_name": kind})


head_group_patching = Analyzer(
    name="head_group_patching",
    version=1,
    description="Activation patching of head groups: the change of the mean probe metric when "
                "one group's hook_z in one layer is replaced by its value on the source "
                "prompts (e.g. even vs odd heads); also as a share of the source-minus-prompt gap.",
    arrays=(ArraySpec("effect", "float32", ("layer", "group"),
                      "patched mean metric minus the prompts' mean metric"),
            ArraySpec("recovered", "float32", ("layer", "group"),
                      "effect / (source mean - prompt mean); NaN when the two are equal")),
    attrs=(AttrSpec("groups", "json", "group name -> head indices, in array order"),
           AttrSpec("base", "float", "mean metric of the prompts"),
           AttrSpec("source", "float", "mean metric of the source prompts"),
           AttrSpec("metric_name", "str", "logit_diff or prob_diff")),
    compute=_head_group_patching, needs_model=True)


# ----------------------------------------------------------------- clustering
def _head_weight_clustering(inputs: CheckpointInputs) -> Output:
    n_layers, n_heads = inputs.model.cfg.n_layers, inputs.model.cfg.n_heads
    groups = definition(inputs.probe)["head_groups"]
    k = min(max(2, len(groups)), n_heads)
    reference = clustering.group_labels(groups, n_heads)
    out: dict[str, list] = {name: [] for name in (
        "similarity", "kmeans_labels", "hierarchical_labels", "kmeans_silhouette",
        "hierarchical_silhouette", "kmeans_vs_groups", "hierarchical_vs_groups")}
    for layer in range(n_layers):
        vectors = clustering.span_coordinates(  # (head, head): same geometry, few numbers
            clustering.head_vectors(inputs.weights, layer, n_heads))
        out["similarity"].append(vectors @ vectors.T)
        for method, labels in (("kmeans", clustering.kmeans(vectors, k)),
                               ("hierarchical", clustering.hierarchical(vectors, k))):
            out[f"{method}_labels"].append(labels)
            out[f"{method}_silhouette"].append(clustering.silhouette(vectors, labels))
            out[f"{method}_vs_groups"].append(clustering.adjusted_rand(labels, reference))
    arrays = {name: np.asarray(values, dtype=np.int64 if name.endswith("labels") else np.float32)
              for name, values in out.items()}
    return arrays, {"k": k, "groups": groups}


head_weight_clustering = Analyzer(
    name="head_weight_clustering",
    version=1,
    description="Per layer, the heads' weights (W_Q, W_K, W_V rows and W_O columns, unit "
                "length) clustered into k groups (k = number of head groups, at least 2) by "
                "k-means and by average-linkage hierarchical clustering on cosine distance; the "
                "silhouette of each partition and its adjusted Rand index with the probe's "
                "head groups.",
    arrays=(ArraySpec("similarity", "float32", ("layer", "head", "head_b"),
                      "cosine similarity of the heads' weight vectors"),
            ArraySpec("kmeans_labels", "int64", ("layer", "head"), "k-means cluster of each head"),
            ArraySpec("hierarchical_labels", "int64", ("layer", "head"),
                      "hierarchical cluster of each head"),
            ArraySpec("kmeans_silhouette", "float32", ("layer",), "silhouette of k-means"),
            ArraySpec("hierarchical_silhouette", "float32", ("layer",),
                      "silhouette of the hierarchical partition"),
            ArraySpec("kmeans_vs_groups", "float32", ("layer",),
                      "adjusted Rand index of k-means with the head groups"),
            ArraySpec("hierarchical_vs_groups", "float32", ("layer",),
                      "adjusted Rand index of the hierarchical partition with the head groups")),
    attrs=(AttrSpec("k", "int", "number of clusters"),
           AttrSpec("groups", "json", "the probe's head groups")),
    compute=_head_weight_clustering, needs_model=True)


# ------------------------------------------------------------------ emergence
EMERGENCE_MIN_RISE = 0.2
"""Silhouette rise (after minus before) below which a layer's clustering has not emerged."""


def emergence(values: np.ndarray) -> tuple[int | None, float]:
    """Where a curve over checkpoints rises for good, and by how much.

    The emergence index is the checkpoint after which the curve stays at or above the
    midpoint of its range; the rise is the mean after it minus the mean before it. None
    when the curve never rises by :data:`EMERGENCE_MIN_RISE`.
    """
    finite = np.nan_to_num(values, nan=0.0)
    if len(finite) < 2:
        return None, 0.0
    midpoint = (finite.min() + finite.max()) / 2
    below = np.flatnonzero(finite < midpoint)
    index = int(below[-1]) + 1 if len(below) else 0
    if index == 0 or index >= len(finite):
        return None, 0.0
    rise = float(finite[index:].mean() - finite[:index].mean())
    return (index, rise) if rise >= EMERGENCE_MIN_RISE else (None, rise)


def _behaviour_labels(effects: np.ndarray, k: int) -> np.ndarray:
    """``(head,)`` heads partitioned by their ablation effect (1-D k-means)."""
    column = effects.astype(np.float64).reshape(-1, 1)
    if np.ptp(column) < 1e-12:
        return np.zeros(len(effects), dtype=np.int64)
    return clustering.kmeans(column, min(k, len(np.unique(column))))


def _clustering_emergence(inputs: CrossEpochInputs) -> Output:
    steps = np.asarray(inputs.epochs, dtype=np.int64)
    weights = inputs.artifacts["head_weight_clustering"]
    ablations = inputs.artifacts["head_ablation"]
    patches = inputs.artifacts["head_group_patching"]
    k = int(weights[0].attrs["k"])
    silhouette = np.stack([a["kmeans_silhouette"] for a in weights])  # (checkpoint, layer)
    vs_groups = np.stack([a["kmeans_vs_groups"] for a in weights])  # (checkpoint, layer)
    vs_behaviour = np.array([[clustering.adjusted_rand(w["kmeans_labels"][layer],
                                                       _behaviour_labels(a["effect"][layer], k))
                              for layer in range(silhouette.shape[1])]
                             for w, a in zip(weights, ablations, strict=True)])
    effects = np.stack([p["effect"] for p in patches])  # (checkpoint, layer, group)
    gap = effects[:, :, 0] - effects[:, :, 1] if effects.shape[2] > 1 else effects[:, :, 0]
    per_layer = [emergence(silhouette[:, layer]) for layer in range(silhouette.shape[1])]
    rises = [rise if index is not None else -np.inf for index, rise in per_layer]
    best = int(np.argmax(rises))
    index, rise = per_layer[best]
    return ({"steps": steps, "silhouette": silhouette.astype(np.float32),
             "weights_vs_groups": vs_groups.astype(np.float32),
             "weights_vs_behaviour": vs_behaviour.astype(np.float32),
             "group_gap": gap.astype(np.float32)},
            {"transition_epoch": None if index is None else int(steps[index]),
             "confidence": float(np.clip(rise, 0.0, 1.0)) if index is not None else 0.0,
             "layer": best if index is not None else None,
             "layer_steps": [None if i is None else int(steps[i]) for i, _ in per_layer]})


clustering_emergence = CrossEpochAnalyzer(
    name="clustering_emergence",
    version=2,  # 2: the transition's attribute is transition_epoch (was turn_epoch)
    description="When each layer's head weight clustering emerges (the step after which its "
                "k-means silhouette stays above the midpoint of its range, if it rises by at "
                f"least {EMERGENCE_MIN_RISE}), and whether it matches behaviour: the adjusted "
                "Rand index of the weight clusters with the probe's head groups and with the "
                "heads split by their ablation effect; the patching gap between the first two "
                "groups (e.g. even minus odd).",
    arrays=(ArraySpec("steps", "int64", ("checkpoint",), "training step of each checkpoint"),
            ArraySpec("silhouette", "float32", ("checkpoint", "layer"), "k-means silhouette"),
            ArraySpec("weights_vs_groups", "float32", ("checkpoint", "layer"),
                      "adjusted Rand index of weight clusters with the head groups"),
            ArraySpec("weights_vs_behaviour", "float32", ("checkpoint", "layer"),
                      "adjusted Rand index of weight clusters with the ablation-effect split"),
            ArraySpec("group_gap", "float32", ("checkpoint", "layer"),
                      "patching effect of the first group minus the second")),
    attrs=(AttrSpec("transition_epoch", "json",
                    "emergence step of the layer that rises most, or null"),
           AttrSpec("confidence", "float", "that layer's silhouette rise, clipped to 0..1"),
           AttrSpec("layer", "json", "the layer that rises most, or null"),
           AttrSpec("layer_steps", "json", "emergence step of every layer (null: none)")),
    compute=_clustering_emergence,
    inputs=("head_weight_clustering", "head_ablation", "head_group_patching"))

ANALYZERS = (answer_metric, head_ablation, head_group_patching, head_weight_clustering)
CROSS_EPOCH = (clustering_emergence,)
