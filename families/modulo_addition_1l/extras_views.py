"""Views of ``frequency_viability`` (:mod:`.viability`) and ``class_accuracy``
(:mod:`.classes`).

All three are summary views of cross-epoch artifacts, drawn once per variant:

* ``frequency_viability``: per frequency, how balanced the training answers' phases are
  (1 / condition number of the Gram matrix, and phase entropy), the learned key
  frequencies and the searched best set marked above the bars, and the set's viability
  numbers as text inside the figure;
* ``class_accuracy``: test accuracy per answer class (rows) across training (epochs),
  resampled like the neuron frequency map (:func:`.dynamics_views.frequency_image`);
* ``class_graduation``: per class, when its test pairs graduate: first to last, the
  middle half, the median.

The last two share the epoch axis of the other summary views, with the detected transition
and the current checkpoint.
"""

from __future__ import annotations

import numpy as np

from tdw.family import plot
from tdw.family.artifacts import Artifact
from tdw.family.views import Trace, View, ViewContext

from .dynamics_views import frequency_image

__all__ = ["VIEWS", "viability_lines", "epoch_image"]

VIABILITY = "frequency_viability"
CLASSES = "class_accuracy"
_TOP = 1.5  # y range of the viability figure: bars to 1, markers just above, then the text


def _set(frequencies) -> str:
    return "{" + ", ".join(str(k) for k in frequencies) + "}"


def viability_lines(art: Artifact) -> list[str]:
    """The viability numbers of a ``frequency_viability`` artifact as short lines of text."""
    a = art.attrs
    keys, n = a["key_frequencies"], len(a["key_frequencies"])
    if keys:
        lines = [f"learned {_set(keys)} (epoch {a['key_epoch']:,}): separation "
                 f"{a['min_separation']:.2f}, aliased class pairs {a['aliased_pairs']}"]
        if n > 1:
            drops = ", ".join(f"{s:.2f}" for s in art["key_drop"][1:])
            lines.append(f"after losing 1 .. {n - 1} of them (worst case): {drops}")
        lines.append(f"searched best {n}: {_set(a['best_set'])}: {a['best_separation']:.2f} "
                     f"(gap {a['gap']:+.2f}); no {n} beat {a['separation_bound']:.2f}")
    else:
        lines = [f"no key frequencies at epoch {a['key_epoch']:,}: nothing separates the "
                 f"classes ({a['aliased_pairs']:,} aliased pairs)"]
    inverse, entropy = 1 / art["condition"], art["phase_entropy"]  # (role, freq)
    roles = "; ".join(f"{role} {inverse[i].min():.3f}, {entropy[i].min():.3f}"
                      for i, role in enumerate(a["roles"]))
    lines.append(f"least 1/condition, phase entropy: {roles}")
    return lines


def _viability_data(ctx: ViewContext) -> dict:
    art = ctx.load(VIABILITY, ctx.epoch)
    freq = np.arange(1, art["condition"].shape[1] + 1)  # (freq,)
    lines = viability_lines(art)

    def marks(frequencies, height: float) -> np.ndarray:
        return np.where(np.isin(freq, frequencies), height, np.nan)

    bars = {"freq": freq, "inverse_condition": 1 / art["condition"][0],
            "phase_entropy": art["phase_entropy"][0],
            "key": marks(art.attrs["key_frequencies"], 1.04),
            "best": marks(art.attrs["best_set"], 1.09)}
    # left-aligned at the first bar's left edge, one line every 0.07 of the y axis from the top
    text = {"x": [0.5] * len(lines), "y": [_TOP - 0.07 * (i + 1) for i in range(len(lines))],
            "text": lines}
    return {"bars": bars, "text": text}


def _build_viability(sources, ctx: ViewContext):
    from bokeh.models import HoverTool, LabelSet

    fig = plot.bars_figure(
        "Frequency viability", sources["bars"], "freq", ["inverse_condition", "phase_entropy"],
        labels=["1 / condition number", "phase entropy"], fills=[plot.PALETTE[0],
                                                                 plot.PALETTE[2]],
        categorical=False, bar_width=0.42, gap=0.02, x_label="frequency k",
        y_label="training answers (1 = balanced)", y_range=(0.0, _TOP), width=760, height=420)
    fig.scatter("freq", "key", source=sources["bars"], marker="triangle", size=8,
                color=plot.TURN, legend_label="learned key frequency")
    fig.scatter("freq", "best", source=sources["bars"], marker="diamond", size=8,
                color=plot.PALETTE[3], legend_label="searched best set")
    fig.add_layout(LabelSet(x="x", y="y", text="text", source=sources["text"],
                            text_font_size="8pt", text_color=plot.CURRENT))
    fig.select_one(HoverTool).tooltips = [
        ("k", "@freq"), ("1 / condition", "@inverse_condition{0.000}"),
        ("phase entropy", "@phase_entropy{0.000}")]
    return fig


FREQUENCY_VIABILITY = View(
    "frequency_viability", "Frequency viability", "Before training, per frequency k: how "
    "evenly the training pairs' answers c cover the phases 2 pi k c / p. Blue: 1 / condition "
    "number of the 2x2 Gram matrix of cos/sin(2 pi k c / p) over the training pairs (1: "
    "balanced, 0: singular); green: their phase entropy in 8 arcs (1: even). Red triangles "
    "mark the key frequencies of the last checkpoint, purple diamonds the best set of as "
    "many frequencies a search finds. The text gives the learned set's separation (least "
    "distance between two classes embedded as [cos, sin](2 pi k c / p) over the set; its "
    "square is twice the ideal Fourier readout's worst logit margin), the worst case after "
    "losing frequencies, the aliased class pairs, the searched set's separation, an upper "
    "bound for any set of that size, and the least balance of the answers and operands.",
    (VIABILITY,), "summary", build=_build_viability, data=_viability_data, group="Fourier")


# --- class_accuracy and class_graduation ------------------------------------------------


def epoch_image(values: np.ndarray, epochs: np.ndarray) -> tuple[np.ndarray, int]:
    """``(row, checkpoint)`` -> ``(row, column)`` float32 image over epochs ``0 .. span``
    and the span: each column shows the checkpoint nearest to its centre, NaN before the
    first checkpoint (the columns of :func:`.dynamics_views.frequency_image`)."""
    # frequency_image resamples held frequencies; given 1 .. n it names each column's
    # checkpoint (+1), with NaN for the columns before the first one
    which, span = frequency_image(np.arange(1, len(epochs) + 1)[None, :], epochs)
    shown = ~np.isnan(which[0])  # (column,)
    image = np.full((values.shape[0], which.shape[1]), np.nan, dtype=np.float32)
    image[:, shown] = values[:, which[0, shown].astype(np.int64) - 1]
    return image, span


def _accuracy_data(ctx: ViewContext) -> dict:
    art = ctx.load(CLASSES, ctx.epoch)
    image, span = epoch_image(art["test_accuracy"].T, art["epochs"])  # (class, column)
    return {"grid": {"image": [image], "dw": [span], "dh": [image.shape[0]]},
            "transition": plot.transition_columns(ctx)}


def _build_accuracy(sources, ctx: ViewContext):
    from bokeh.models import HoverTool

    fig = plot.heatmap_figure(
        "Test accuracy per answer class", sources["grid"], x_label="epoch",
        y_label="answer class c = (a + b) mod p", palette="Magma256", low=0.0, high=1.0,
        label="test accuracy", width=680, height=380)
    fig.select_one(HoverTool).tooltips = [("epoch", "$x{0,0}"), ("accuracy", "@image{0.00}")]
    return plot.finish(fig, sources, legend="below")


def _weakest_class(ctx: ViewContext):
    art = ctx.load(CLASSES, ctx.epoch)
    # fmin skips the NaN of a class without test pairs, silently
    return art["epochs"].tolist(), np.fmin.reduce(art["test_accuracy"], axis=1)


CLASS_ACCURACY = View(
    "class_accuracy", "Test accuracy per class", "For every answer class c = (a + b) mod p "
    "(rows, class 0 at the bottom), the share of its held-out pairs predicted correctly at "
    "each checkpoint (columns show the nearest checkpoint). The circuit treats every class "
    "alike, so rows that lag are classes the split or the path to generalisation left "
    "behind; compare with their training pairs (n_train in the artifact).", (CLASSES,),
    "summary", build=_build_accuracy, data=_accuracy_data, epoch_data=plot.current_columns,
    group="Training", trace=Trace("weakest class test accuracy", _weakest_class))


def _graduation_data(ctx: ViewContext) -> dict:
    art = ctx.load(CLASSES, ctx.epoch)

    def epochs(values: np.ndarray) -> np.ndarray:  # -1 (never) -> NaN: not drawn
        return np.where(values >= 0, values, np.nan)

    quartiles = epochs(art["graduation_quartiles"])  # (class, quartile)
    spread = {"class": np.arange(quartiles.shape[0]), "first": epochs(art["first_graduation"]),
              "last": epochs(art["last_graduation"]), "q1": quartiles[:, 0],
              "median": quartiles[:, 1], "q3": quartiles[:, 2],
              "never": art["never_graduated"], "n_test": art["n_test"]}
    return {"spread": spread, "transition": plot.transition_columns(ctx)}


def _build_graduation(sources, ctx: ViewContext):
    from bokeh.models import HoverTool

    spread = sources["spread"]
    fig = plot.figure("Graduation per answer class", x_label="epoch",
                      y_label="answer class c = (a + b) mod p", width=680, height=420)
    fig.segment(x0="first", y0="class", x1="last", y1="class", source=spread,
                color=plot.CURRENT, legend_label="first to last graduation")
    fig.hbar(y="class", left="q1", right="q3", height=0.8, source=spread,
             color=plot.PALETTE[0], legend_label="1/4 to 3/4 of its test pairs")
    fig.scatter("median", "class", source=spread, size=4, color=plot.PALETTE[3],
                legend_label="half graduated")
    fig.select_one(HoverTool).tooltips = [
        ("class", "@class"), ("test pairs", "@n_test"), ("never graduate", "@never"),
        ("1/4, 1/2, 3/4 by", "@q1{0,0}, @median{0,0}, @q3{0,0}")]
    return plot.finish(fig, sources, legend="below")


CLASS_GRADUATION = View(
    "class_graduation", "Graduation per class", "For every answer class, when its held-out "
    "pairs graduate (are correct from then to the end): a grey line from the first to the "
    "last pair that graduates, a blue bar from the epoch a quarter of the class's test "
    "pairs have graduated to the epoch three quarters have, a dot where half have. A bar "
    "or dot is missing where that share never graduates (hover: how many never do).",
    (CLASSES,), "summary", build=_build_graduation, data=_graduation_data,
    epoch_data=plot.current_columns, group="Training")

VIEWS = (FREQUENCY_VIABILITY, CLASS_ACCURACY, CLASS_GRADUATION)
