"""Views of an imported series. None reads training metrics: an imported series has none
(its loss curves were its authors'); the probe metric across steps takes their place."""

from __future__ import annotations

import numpy as np

from tdw.family import plot
from tdw.family.views import Trace, View, ViewContext

__all__ = ["VIEWS"]


# ------------------------------------------------------------- probe metric
def _metric_data(ctx: ViewContext) -> dict:
    arts = [ctx.load("answer_metric", e) for e in ctx.epochs]
    # "epoch" (the step) is the column the Explorer reads when a checkpoint marker is clicked
    return {"curves": {"epoch": list(ctx.epochs), "prompt": [a.attrs["mean"] for a in arts],
                       "source": [a.attrs["source_mean"] for a in arts]},
            "transition": plot.transition_columns(ctx)}


def _build_metric(sources, ctx: ViewContext):
    name = ctx.load("answer_metric", ctx.epoch).attrs["metric_name"]
    fig = plot.figure("Probe metric across training", x_label="step",
                      y_label=f"mean {name.replace('_', ' ')}", width=620)
    for column, color, label in (("prompt", plot.PALETTE[0], "prompts"),
                                 ("source", plot.PALETTE[2], "source prompts")):
        fig.line("epoch", column, source=sources["curves"], color=color, legend_label=label,
                 line_width=1.5)
        fig.scatter("epoch", column, source=sources["curves"], color=color, size=6,
                    legend_label=label, name="checkpoints" if column == "prompt" else column)
    return plot.finish(fig, sources)


ANSWER_METRIC = View(
    "answer_metric", "Probe metric across training", "Mean metric (correct minus wrong answer "
    "at the last token) of the prompts and of their source prompts at every imported step.",
    ("answer_metric",), "summary", build=_build_metric, data=_metric_data,
    epoch_data=plot.current_columns, group="Behaviour",
    trace=plot.column_trace("mean probe metric", _metric_data, "curves", "prompt"))


# --------------------------------------------------------------- grids
def _heatmap_view(name: str, title: str, description: str, analyzer: str, array: str,
                  cols_of, col_label: str, value_label: str) -> View:
    """A (layer x column) heatmap of ``analyzer[array]`` with one symmetric colour scale
    over every checkpoint, so colours compare across training."""

    def layers(ctx: ViewContext) -> list[str]:
        return [f"L{i}" for i in range(ctx.load(analyzer, ctx.epoch)[array].shape[0])]

    def columns(ctx: ViewContext) -> dict:
        art = ctx.load(analyzer, ctx.epoch)
        return {"cells": plot.cell_columns(art[array], layers(ctx), cols_of(art), x="col",
                                           y="row")}

    def build(sources, ctx: ViewContext):
        from bokeh.models import HoverTool

        art = ctx.load(analyzer, ctx.epoch)
        limit = max(float(np.nanmax(np.abs(ctx.load(analyzer, e)[array]), initial=0.0))
                    for e in ctx.epochs) or 1.0
        rows = layers(ctx)
        # RdBu11 runs from blue to red: negative values blue, positive red
        fig = plot.cells_figure(title, sources["cells"], rows, cols_of(art), x="col", y="row",
                                x_label=col_label, y_label="layer", palette="RdBu11",
                                low=-limit, high=limit, label=value_label,
                                nan_color="#dddddd", width=520,
                                height=max(240, 40 + 22 * len(rows)))
        fig.select_one(HoverTool).tooltips = [("layer", "@row"), (col_label, "@col"),
                                              (value_label, "@value{0.000}")]
        return fig

    return View(name, title, description, (analyzer,), "checkpoint", build=build,
                epoch_data=columns, group="Heads")


HEAD_ABLATION = _heatmap_view(
    "head_ablation", "Zero-ablating one head", "Change of the mean probe metric when one head's "
    "output is zeroed: blue heads help the correct answer, red heads hurt it.",
    "head_ablation", "effect", lambda art: [str(h) for h in range(art["effect"].shape[1])],
    "head", "metric change")

GROUP_PATCHING = _heatmap_view(
    "group_patching", "Patching head groups from the source", "Change of the mean probe metric "
    "when one group of heads in one layer takes its output from the source prompts (e.g. even "
    "vs odd heads): red groups move the answer toward the correct one.", "head_group_patching",
    "effect",
    lambda art: list(art.attrs["groups"]), "head group", "metric change")


# ------------------------------------------------------------ similarity
def _similarity_data(ctx: ViewContext) -> dict:
    art = ctx.load("head_weight_clustering", ctx.epoch)
    layer = ctx.selection.get("layer", 0)
    heads = [str(h) for h in range(art["similarity"].shape[1])]
    labels = art["kmeans_labels"][layer]
    return {"cells": plot.cell_columns(art["similarity"][layer], heads, heads, x="col",
                                       y="row"),
            "clusters": {"head": heads, "row": ["k-means"] * len(heads),
                         "color": [plot.PALETTE[int(c) % len(plot.PALETTE)] for c in labels],
                         "cluster": [int(c) for c in labels]},
            "score": {"text": [f"silhouette {art['kmeans_silhouette'][layer]:.2f}, "
                               f"ARI vs groups {art['kmeans_vs_groups'][layer]:.2f}"]}}


def _build_similarity(sources, ctx: ViewContext):
    from bokeh.models import LabelSet

    n = ctx.load("head_weight_clustering", ctx.epoch)["similarity"].shape[1]
    heads = [str(h) for h in range(n)]
    # the k-means row sits above the similarity matrix
    fig = plot.cells_figure("Head weight similarity", sources["cells"], ["k-means", *heads],
                            heads, x="col", y="row", x_label="head", y_label="head",
                            low=-1.0, high=1.0, label="cosine", width=460, height=460)
    fig.rect("head", "row", 0.9, 0.9, source=sources["clusters"], color="color")
    fig.add_layout(LabelSet(x=4, y=4, x_units="screen", y_units="screen", text="text",
                            source=sources["score"], text_font_size="9pt",
                            background_fill_color="white", background_fill_alpha=0.85))
    return fig


HEAD_SIMILARITY = View(
    "head_similarity", "Head weight similarity", "Cosine similarity of the heads' weights "
    "(W_Q, W_K, W_V, W_O slices) in one layer, with each head's k-means cluster in the bottom "
    "row, the partition's silhouette and its agreement (adjusted Rand index) with the head "
    "groups.", ("head_weight_clustering",), "checkpoint", build=_build_similarity,
    epoch_data=_similarity_data, selectors={"layer": ("head_weight_clustering", "similarity", 0)},
    group="Clustering")


# -------------------------------------------------------- across training
def _lines_view(name: str, title: str, description: str, array: str, y_label: str,
                trace_label: str) -> View:
    """A summary view of ``clustering_emergence[array]``, one line per layer across steps."""

    def lines(ctx: ViewContext):
        art = ctx.load("clustering_emergence", ctx.epoch)
        values = art[array]  # (checkpoint, layer)
        return art["steps"], values.T, [f"layer {i}" for i in range(values.shape[1])]

    def trace(ctx: ViewContext):
        art = ctx.load("clustering_emergence", ctx.epoch)
        return art["steps"], np.nanmean(art[array], axis=1)

    return plot.lines_view(name, title, description, ("clustering_emergence",), lines,
                           x_label="step", y_label=y_label, group="Clustering",
                           trace=Trace(trace_label, trace))


CLUSTERING_EMERGENCE = _lines_view(
    "clustering_emergence", "When head weights cluster", "k-means silhouette of each layer's "
    "heads across training; the red line marks where the layer that rises most clusters.",
    "silhouette", "silhouette", "mean silhouette")
WEIGHTS_VS_GROUPS = _lines_view(
    "weights_vs_groups", "Weight clusters vs head groups", "Adjusted Rand index of each layer's "
    "weight clusters with the probe's head groups (1: the same partition, 0: chance).",
    "weights_vs_groups", "adjusted Rand index", "mean agreement with head groups")
WEIGHTS_VS_BEHAVIOUR = _lines_view(
    "weights_vs_behaviour", "Weight clusters vs ablation behaviour", "Adjusted Rand index of "
    "each layer's weight clusters with its heads split by their ablation effect.",
    "weights_vs_behaviour", "adjusted Rand index", "mean agreement with behaviour")
GROUP_GAP = _lines_view(
    "group_gap", "Head-group specialisation", "Patching effect of the first head group minus "
    "the second (e.g. even minus odd) in each layer across training.", "group_gap",
    "metric change, first group - second", "mean group gap")

def _layer_story_data(ctx: ViewContext) -> dict:
    art = ctx.load("clustering_emergence", ctx.epoch)
    layer = ctx.selection.get("layer", 0)
    emerged = art.attrs["layer_steps"][layer]
    series = [art[a][:, layer] for a in ("silhouette", "weights_vs_groups",
                                         "weights_vs_behaviour")]
    names = [f"layer {layer}: {what}" for what in (
        "weight-cluster silhouette", "agreement with head groups",
        "agreement with ablation behaviour")]
    # the layer's own emergence step takes the place of the family's transition
    return {"lines": plot.line_columns(art["steps"], series, names),
            "transition": {"x": [] if emerged is None else [emerged]}}


def _build_layer_story(sources, ctx: ViewContext):
    fig = plot.lines_figure("Clustering vs behaviour (one layer)", sources["lines"],
                            x_label="step", y_label="silhouette, adjusted Rand index",
                            line_width=2, height=420, y_range=(-1.05, 1.05))
    return plot.finish(fig, sources, legend="below")


LAYER_STORY = View(
    "clustering_vs_behaviour", "Clustering vs behaviour, one layer", "The seed's question in "
    "one plot, per layer: the silhouette of the heads' weight clusters across training (when "
    "does clustering emerge? the red line is the layer's emergence step), and the adjusted "
    "Rand index of those clusters with the probe's head groups and with the heads split by "
    "their ablation effect (does weight clustering match behavioural grouping?).",
    ("clustering_emergence",), "summary", build=_build_layer_story, data=_layer_story_data,
    epoch_data=plot.current_columns,
    selectors={"layer": ("clustering_emergence", "silhouette", 1)}, group="Clustering")

VIEWS = (ANSWER_METRIC, HEAD_ABLATION, GROUP_PATCHING, HEAD_SIMILARITY, LAYER_STORY,
         CLUSTERING_EMERGENCE, WEIGHTS_VS_GROUPS, WEIGHTS_VS_BEHAVIOUR, GROUP_GAP)
