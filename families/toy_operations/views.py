"""Views of the Toy Operations analyzers: operations, attention, embeddings and neurons.

Small matrices (heads x positions, heads x operations, operations x operations) are drawn
as labelled categorical heatmaps with their values printed in the cells.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tdw.family import plot
from tdw.family.views import Trace, View, ViewContext
from tdw.library.block_views import BLOCK_VIEWS
from tdw.library.views import GENERIC_VIEWS

from . import data

__all__ = ["VIEWS"]

POSITIONS = [f"{i} {text}" for i, text in enumerate(("op", "(", "a", ",", "b", ",", "c", ")"))]
OPERATIONS = list(data.OPERATIONS)
KINDS = {"digit": plot.PALETTE[0], "operation": plot.PALETTE[1], "syntax": plot.PALETTE[7]}


def _kind(token: int) -> str:
    if token < data.N_DIGITS:
        return "digit"
    return "operation" if token < data.FIRST_OPERATION + len(data.OPERATIONS) else "syntax"


# --- categorical heatmaps -------------------------------------------------------------


def _heatmap_view(name: str, title: str, description: str, reads: tuple[str, ...],
                  matrix: Callable[[ViewContext], tuple[np.ndarray, list[str], list[str]]],
                  *, x_label: str, y_label: str, low: float, high: float, label: str,
                  palette: str = "Viridis256", group: str = "Attention",
                  selectors: dict[str, tuple[str, str, int]] | None = None) -> View:
    """A per-checkpoint view of ``matrix(ctx) -> (values, row names, column names)``, the
    value printed in each cell."""

    def columns(ctx: ViewContext) -> dict:
        values, rows, cols = matrix(ctx)
        return {"cells": plot.cell_columns(values, rows, cols, text=True)}

    def build(sources, ctx: ViewContext):
        _, rows, cols = matrix(ctx)
        fig = plot.cells_figure(title, sources["cells"], rows, cols, x_label=x_label,
                                y_label=y_label, palette=palette, low=low, high=high,
                                label=label, text=True, width=max(360, 60 * len(cols) + 160),
                                height=max(260, 32 * len(rows) + 110))
        fig.xaxis.major_label_orientation = 0.6
        return fig

    return View(name, title, description, reads, "checkpoint", build=build,
                epoch_data=columns, selectors=selectors or {}, group=group)


def _heads(ctx: ViewContext) -> list[str]:
    return list(ctx.load("attention_entropy", ctx.epoch).attrs["heads"])


def _entropy_matrix(ctx: ViewContext):
    art = ctx.load("attention_entropy", ctx.epoch)
    # Query 0 sees one key (always 0 bits of a 0-bit maximum): nothing to show.
    share = art["entropy"][:, 1:] / art["max_entropy"][1:]  # (head, query 1..7)
    return share, list(art.attrs["heads"]), POSITIONS[1:]


ATTENTION_ENTROPY = _heatmap_view(
    "attention_entropy", "Attention entropy (share of uniform)", "Mean entropy of each head's "
    "attention row per query position, divided by its maximum log2(q + 1) bits (query q sees "
    "q + 1 positions): 1 is uniform attention, 0 attention to one position; sharpening shows "
    "as a cell going dark.", ("attention_entropy",), _entropy_matrix,
    x_label="query position", y_label="head", low=0.0, high=1.0, label="H / max")


def _pattern_matrix(ctx: ViewContext):
    head = ctx.selection.get("head", 0)
    pattern = ctx.load("attention_entropy", ctx.epoch)["mean_pattern"][head]  # (query, key)
    return pattern, POSITIONS, POSITIONS


ATTENTION_PATTERN = _heatmap_view(
    "attention_pattern", "Mean attention pattern", "One head's attention averaged over all "
    "inputs: rows are query positions, columns the keys they attend to (causal).",
    ("attention_entropy",), _pattern_matrix, x_label="key position",
    y_label="query position", low=0.0, high=1.0, label="attention",
    selectors={"head": ("attention_entropy", "mean_pattern", 0)})


def _answer_matrix(ctx: ViewContext):
    return ctx.load("argument_attention", ctx.epoch)["to_answer"], _heads(ctx), OPERATIONS


ANSWER_ATTENTION = _heatmap_view(
    "answer_attention", "Attention from ')' to the answer", "Mean attention from the answer "
    "position to the digit(s) equal to the answer, per head and operation: an answer-"
    "selection head lights up for every operation.", ("argument_attention", "attention_entropy"),
    _answer_matrix, x_label="operation", y_label="head", low=0.0, high=1.0, label="attention")


def _argument_matrix(ctx: ViewContext):
    op = ctx.selection.get("operation", 0)
    art = ctx.load("argument_attention", ctx.epoch)
    values = np.column_stack([art["to_operation"][:, op], art["to_arguments"][:, op]])
    return values, _heads(ctx), [OPERATIONS[op], "a", "b", "c"]


ARGUMENT_ATTENTION = _heatmap_view(
    "argument_attention", "Attention from ')' to the operation and arguments", "For one "
    "operation (selector: 0 Max, 1 Min, 2 First, 3 Second, 4 Last), the mean attention from "
    "the answer position to the operation token and to each digit, per head.",
    ("argument_attention", "attention_entropy"), _argument_matrix, x_label="key",
    y_label="head", low=0.0, high=1.0, label="attention",
    selectors={"operation": ("argument_attention", "to_arguments", 1)})


def _similarity_matrix(ctx: ViewContext):
    return ctx.load("embedding_geometry", ctx.epoch)["operation_cosine"], OPERATIONS, OPERATIONS


OPERATION_SIMILARITY = _heatmap_view(
    "operation_similarity", "Operation embedding similarity", "Cosine similarity of the five "
    "operation embeddings (the seed study expects Max near Min, First/Second/Last together).",
    ("embedding_geometry",), _similarity_matrix, x_label="", y_label="", low=-1.0, high=1.0,
    label="cosine", palette="RdBu11", group="Embeddings")


# --- lines across checkpoints ---------------------------------------------------------


def _learning_data(ctx: ViewContext) -> dict:
    art = ctx.load("operation_learning", ctx.epoch)
    learned = art["learned_epoch"]
    reached = [i for i in range(len(OPERATIONS)) if learned[i] >= 0]
    return {"lines": plot.line_columns(art["epochs"], art["test_accuracy"].T, OPERATIONS),
            "learned": {"epoch": [int(learned[i]) for i in reached],
                        "accuracy": [float(art.attrs["threshold"])] * len(reached),
                        "color": [plot.colors(len(OPERATIONS))[i] for i in reached]}}


def _build_learning(sources, ctx: ViewContext):
    fig = plot.lines_figure("Held-out accuracy per operation", sources["lines"],
                            y_label="accuracy")
    fig.scatter("epoch", "accuracy", source=sources["learned"], color="color", size=10,
                marker="triangle", legend_label="learned (stays >= 0.9)")
    return plot.finish(fig, sources)


def _worst_operation(ctx: ViewContext):
    art = ctx.load("operation_learning", ctx.epoch)
    return art["epochs"], np.nanmin(art["test_accuracy"], axis=1)


OPERATION_LEARNING = View(
    "operation_learning", "Held-out accuracy per operation", "Accuracy on the held-out inputs "
    "of each operation across training; triangles mark the epoch from which it stays at or "
    "above 0.9 (which operation is learned first).", ("operation_learning",), "summary",
    build=_build_learning, data=_learning_data, epoch_data=plot.current_columns,
    group="Operations", trace=Trace("worst operation's held-out accuracy", _worst_operation))


def _answer_entropy_lines(ctx: ViewContext):
    entropy = np.stack([ctx.load("attention_entropy", e)["entropy"][:, data.ANSWER_POSITION]
                        for e in ctx.epochs])  # (checkpoint, head)
    return ctx.epochs, entropy.T, _heads(ctx)


ANSWER_ENTROPY = plot.lines_view(
    "answer_entropy", "Attention entropy at ')' across training", "Entropy in bits of each "
    "head's attention from the answer position (uniform over 8 positions: 3 bits); falling "
    "lines are heads that sharpen.", ("attention_entropy",), _answer_entropy_lines,
    heading="Attention entropy at ')'", y_label="bits", transition=False, group="Attention",
    trace=plot.attribute_trace("mean attention entropy at ')' (bits)", "attention_entropy",
                               "answer_entropy"))


def _digit_order_lines(ctx: ViewContext):
    rows = [ctx.load("embedding_geometry", e).attrs for e in ctx.epochs]
    series = [[r["digit_order"] for r in rows], [r["digit_order_all"] for r in rows]]
    return ctx.epochs, series, ["digit PC1", "PC1 of all tokens"]



DIGIT_ORDER = plot.lines_view(
    "digit_order", "Digit order along PC1", "Spearman correlation between digit value and the "
    "digits' position on the first principal component of their embeddings (1: in order "
    "0..9).", ("embedding_geometry",), _digit_order_lines, y_label="Spearman rho", transition=False,
    group="Embeddings", trace=plot.line_trace("digit order (Spearman rho)", _digit_order_lines))

_SELECTIVE = (("operation", "operation"), ("answer", "answer digit"),
              ("magnitude", "answer magnitude"))


def _selective_lines(ctx: ViewContext):
    counts = [ctx.load("neuron_selectivity", e).attrs["selective"] for e in ctx.epochs]
    series, names = [], []
    for key, label in _SELECTIVE:
        for layer in range(len(counts[0][key])):
            series.append([c[key][layer] for c in counts])
            names.append(f"L{layer} {label}")
    return ctx.epochs, series, names


def _operation_selective(ctx: ViewContext):
    return ctx.epochs, [sum(ctx.load("neuron_selectivity", e).attrs["selective"]["operation"])
                        for e in ctx.epochs]


SELECTIVE_NEURONS = plot.lines_view(
    "selective_neurons", "Selective neurons across training", "Neurons per layer, at ')', "
    "with at least half their variance explained by the operation or by the answer digit, "
    "or with |correlation| >= 0.5 with the answer's value.", ("neuron_selectivity",),
    _selective_lines, heading="Selective neurons", y_label="neurons", transition=False,
    group="Neurons", trace=Trace("operation-selective neurons", _operation_selective))


# --- per-checkpoint scatter and bars --------------------------------------------------


def _accuracy(ctx: ViewContext) -> dict:
    art = ctx.load("operation_accuracy", ctx.epoch)
    return {"operation": OPERATIONS, "train": art["train_accuracy"],
            "test": art["test_accuracy"]}


OPERATION_ACCURACY = plot.bars_view(
    "operation_accuracy", "Accuracy per operation", "Train and held-out accuracy of each "
    "operation at this checkpoint.", ("operation_accuracy",), _accuracy, "operation",
    ["train", "test"], labels=["train", "held out"], bar_width=0.32, y_label="accuracy",
    y_range=(0, 1.05), group="Operations")


def _pca_data(ctx: ViewContext) -> dict:
    pcs = ctx.load("embedding_geometry", ctx.epoch)["token_pcs"]  # (token, component)
    kinds = [_kind(t) for t in range(len(data.VOCAB))]
    return {"tokens": {"pc1": pcs[:, 0], "pc2": pcs[:, 1], "token": list(data.VOCAB),
                       "kind": kinds, "color": [KINDS[k] for k in kinds]}}


def _build_pca(sources, ctx: ViewContext):
    fig = plot.figure("Token embeddings (PCA)", x_label="PC1", y_label="PC2", width=480,
                      height=400)
    fig.scatter("pc1", "pc2", source=sources["tokens"], color="color", size=9,
                legend_field="kind")
    fig.text("pc1", "pc2", text="token", source=sources["tokens"], x_offset=6, y_offset=-4,
             text_font_size="9pt")
    plot.legend_outside(fig)
    return fig


EMBEDDING_PCA = View(
    "embedding_pca", "Token embeddings (PCA)", "Every token's embedding on the first two "
    "principal components of W_E (signed so 9 lies right of and above 0): digits, "
    "operations and brackets/commas.", ("embedding_geometry",), "checkpoint",
    build=_build_pca, epoch_data=_pca_data, group="Embeddings")


def _digit_line_data(ctx: ViewContext) -> dict:
    coordinate = ctx.load("embedding_geometry", ctx.epoch)["digit_pc1"]
    return {"digits": {"digit": np.arange(data.N_DIGITS), "pc1": coordinate}}


def _build_digit_line(sources, ctx: ViewContext):
    fig = plot.figure("Digits along their first component", x_label="digit",
                      y_label="coordinate on digit PC1")
    fig.line("digit", "pc1", source=sources["digits"], color="#999999")
    fig.scatter("digit", "pc1", source=sources["digits"], size=9, color=KINDS["digit"])
    return fig


DIGIT_LINE = View(
    "digit_line", "Digits along their first component", "Each digit's coordinate on the "
    "first principal component of the ten digit embeddings: a rising line means the "
    "embedding orders the digits by value.", ("embedding_geometry",), "checkpoint",
    build=_build_digit_line, epoch_data=_digit_line_data, group="Embeddings")


def _selectivity_data(ctx: ViewContext) -> dict:
    art = ctx.load("neuron_selectivity", ctx.epoch)
    n_layers, n_neurons = art["operation_share"].shape
    layer = np.repeat(np.arange(n_layers), n_neurons)
    return {"neurons": {"operation": art["operation_share"].ravel(),
                        "answer": art["answer_share"].ravel(),
                        "layer": [f"layer {i}" for i in layer],
                        "color": [plot.PALETTE[i] for i in layer]}}


def _build_selectivity(sources, ctx: ViewContext):
    fig = plot.figure("Neuron selectivity at ')'", x_label="share explained by the operation",
                      y_label="share explained by the answer digit", x_range=(-0.02, 1.02),
                      y_range=(-0.02, 1.02), width=480, height=400)
    fig.scatter("operation", "answer", source=sources["neurons"], color="color", alpha=0.6,
                size=6, legend_field="layer")
    plot.legend_outside(fig)
    return fig


NEURON_SELECTIVITY = View(
    "neuron_selectivity", "Neuron selectivity at ')'", "Each MLP neuron at the answer "
    "position: the share of its variance explained by the operation (x) and by the answer "
    "digit (y), correlation ratios eta^2.", ("neuron_selectivity",), "checkpoint",
    build=_build_selectivity, epoch_data=_selectivity_data, group="Neurons")

VIEWS = (*GENERIC_VIEWS, *BLOCK_VIEWS, OPERATION_LEARNING, OPERATION_ACCURACY, ANSWER_ENTROPY,
         ATTENTION_ENTROPY, ATTENTION_PATTERN, ANSWER_ATTENTION, ARGUMENT_ATTENTION,
         DIGIT_ORDER, EMBEDDING_PCA, DIGIT_LINE, OPERATION_SIMILARITY, SELECTIVE_NEURONS,
         NEURON_SELECTIVITY)
