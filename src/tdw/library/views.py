"""Views of the generic analyzers: training curves, parameter trajectories, effective
dimensionality, flatness, the local learning coefficient and phase changes. Any family may
list them."""

from __future__ import annotations

import numpy as np

from tdw.family import plot
from tdw.family.views import Trace, View, ViewContext

__all__ = ["LOSS_CURVES", "ACCURACY_CURVES", "PARAMETER_TRAJECTORY", "PARAMETER_VELOCITY",
           "PARAMETER_NORMS", "EFFECTIVE_DIMENSIONALITY", "FLATNESS", "LLC", "phase_change_view",
           "GENERIC_VIEWS"]


LOSS_SETTINGS = plot.Curves(log=True)
"""The loss curves' controls: smoothing, and a log y axis to begin with."""
ACCURACY_SETTINGS = plot.Curves(log=False)
"""The accuracy curves' controls: smoothing, and a linear y axis to begin with."""


def _curves(ctx: ViewContext, train: str, test: str, settings: plot.Curves) -> dict:
    metrics = ctx.metrics()
    epochs = np.arange(len(metrics[test]))
    curves = {"epoch": epochs, "train": metrics[train], "test": metrics[test]}
    return {
        "curves": settings.columns(ctx, curves, ("train", "test")),
        "checkpoints": plot.checkpoint_columns(ctx, metrics[test]),
        "transition": plot.transition_columns(ctx),
    }


def _build_curves(title: str, y_label: str, settings: plot.Curves):
    def build(sources, ctx: ViewContext):
        fig = plot.figure(title, x_label="epoch", y_label=y_label, width=620)
        for key, color in (("train", plot.PALETTE[0]), ("test", plot.PALETTE[1])):
            plot.curve(fig, sources["curves"], "epoch", key, color=color, label=key)
        plot.checkpoint_markers(fig, sources["checkpoints"])
        plot.finish_curves(fig, log=settings.log_y(ctx))
        return plot.finish(fig, sources)
    return build


def _metric_trace(name: str) -> Trace:
    def values(ctx: ViewContext):
        series = ctx.metrics()[name]
        return np.arange(len(series)), series
    return Trace(name.replace("_", " "), values, log=name.endswith("loss"))


def _loss_curves(ctx: ViewContext) -> dict:
    return _curves(ctx, "train_loss", "test_loss", LOSS_SETTINGS)


def _accuracy_curves(ctx: ViewContext) -> dict:
    return _curves(ctx, "train_acc", "test_acc", ACCURACY_SETTINGS)


LOSS_CURVES = View(
    "loss_curves", "Loss", "Train and test loss per epoch (log scale) with the checkpoint "
    "markers, the family's detected transition (if it marks one) and the current "
    "checkpoint. Smoothing draws an EMA of each curve over its raw values (faint).",
    ("metrics",), "summary",
    build=_build_curves("Loss", "cross-entropy", LOSS_SETTINGS),
    data=_loss_curves, epoch_data=plot.current_columns,
    group="Training", trace=_metric_trace("test_loss"), controls=LOSS_SETTINGS.controls)

ACCURACY_CURVES = View(
    "accuracy_curves", "Accuracy", "Train and test accuracy per epoch, with the family's "
    "detected transition (if it marks one) and the current checkpoint. Smoothing draws an "
    "EMA of each curve over its raw values (faint).", ("metrics",),
    "summary",
    build=_build_curves("Accuracy", "accuracy", ACCURACY_SETTINGS),
    data=_accuracy_curves, epoch_data=plot.current_columns,
    group="Training", trace=_metric_trace("test_acc"), controls=ACCURACY_SETTINGS.controls)


def _trajectory_data(ctx: ViewContext) -> dict:
    art = ctx.load("parameter_trajectory", ctx.epoch)
    pcs = art["pcs"]  # (checkpoint, component)
    second = pcs[:, 1] if pcs.shape[1] > 1 else np.zeros(len(pcs), np.float32)
    return {"path": {"epoch": art["epochs"], "pc1": pcs[:, 0], "pc2": second}}


def _trajectory_marker(ctx: ViewContext) -> dict:
    path = _trajectory_data(ctx)["path"]
    i = plot.nearest_index(path["epoch"], ctx.epoch)
    return {"current": {"x": [float(path["pc1"][i])], "y": [float(path["pc2"][i])]}}


def _build_trajectory(sources, ctx: ViewContext):
    ratio = ctx.load("parameter_trajectory", ctx.epoch)["explained_variance_ratio"]
    label = [f"PC{i + 1} ({100 * r:.0f}%)" for i, r in enumerate(ratio[:2])] + ["PC2"]
    fig = plot.figure("Parameter trajectory", x_label=label[0], y_label=label[1])
    draw_path(fig, sources)
    return fig


def draw_path(fig, sources) -> None:
    """A trajectory on two PCs: the ``path`` source's ``pc1``/``pc2`` as a grey line and
    points coloured by ``epoch``, and a ring at the ``current`` source's ``x``/``y``."""
    from bokeh.models import LinearColorMapper

    fig.line("pc1", "pc2", source=sources["path"], color="#999999")
    mapper = LinearColorMapper(palette="Viridis256")
    fig.scatter("pc1", "pc2", source=sources["path"], size=6,
                color={"field": "epoch", "transform": mapper})
    fig.scatter("x", "y", source=sources["current"], size=14, marker="circle",
                fill_alpha=0, line_color=plot.TURN, line_width=3)


PARAMETER_TRAJECTORY = View(
    "parameter_trajectory", "Parameter trajectory", "The weights' path through training "
    "projected on its first two principal components (of a distance-preserving sketch), "
    "coloured by epoch; the ring is the current checkpoint.", ("parameter_trajectory",),
    "summary", build=_build_trajectory, data=_trajectory_data, epoch_data=_trajectory_marker,
    group="Trajectory")


VELOCITY_SETTINGS = plot.Curves(log=True)


def _velocity_data(ctx: ViewContext) -> dict:
    art = ctx.load("parameter_trajectory", ctx.epoch)
    speed = {"epoch": art["epochs"], "velocity": art["velocity"]}
    return {"speed": VELOCITY_SETTINGS.columns(ctx, speed, ("velocity",)),
            "transition": plot.transition_columns(ctx)}


def _build_velocity(sources, ctx: ViewContext):
    fig = plot.figure("Parameter velocity", x_label="epoch", y_label="|Δθ| per epoch")
    plot.curve(fig, sources["speed"], "epoch", "velocity", color=plot.PALETTE[0])
    fig.scatter("epoch", "velocity", source=sources["speed"], size=4, color=plot.PALETTE[0],
                alpha=0.4)
    plot.finish_curves(fig, log=VELOCITY_SETTINGS.log_y(ctx))
    return plot.finish(fig, sources)


PARAMETER_VELOCITY = View(
    "parameter_velocity", "Parameter velocity", "Distance the weights move per epoch between "
    "consecutive checkpoints (sketch distance over the epoch gap).", ("parameter_trajectory",),
    "summary", build=_build_velocity, data=_velocity_data, epoch_data=plot.current_columns,
    group="Trajectory", controls=VELOCITY_SETTINGS.controls,
    trace=plot.column_trace("|Δθ| per epoch", _velocity_data, "speed", "velocity", log=True))


def _norms(ctx: ViewContext) -> dict:
    art = ctx.load("parameter_snapshot", ctx.epoch)
    return {"group": list(art.attrs["groups"]), "norm": art["group_norms"]}


PARAMETER_NORMS = plot.bars_view(
    "parameter_norms", "Parameter norms", "L2 norm of each parameter group at this checkpoint "
    "(weight decay pulls them towards zero).", ("parameter_snapshot",), _norms, "group",
    ["norm"], y_label="L2 norm", label_angle=0.8, group="Trajectory")


def _dimensionality_lines(ctx: ViewContext):
    names = list(ctx.load("effective_dimensionality", ctx.epoch).attrs["matrices"])
    ratios = np.stack([ctx.load("effective_dimensionality", e)["participation_ratio"]
                       for e in ctx.epochs])  # (checkpoint, matrix)
    return ctx.epochs, ratios.T, names


def _mean_dimensionality(ctx: ViewContext):
    epochs, ratios, _ = _dimensionality_lines(ctx)
    return list(epochs), np.mean(ratios, axis=0, dtype=np.float64)


EFFECTIVE_DIMENSIONALITY = plot.lines_view(
    "effective_dimensionality", "Effective dimensionality", "Participation ratio of each "
    "weight matrix's singular values over training: how many directions carry its energy.",
    ("effective_dimensionality",), _dimensionality_lines, y_label="participation ratio",
    transition=False, line_width=1, group="Trajectory",
    trace=Trace("mean participation ratio", _mean_dimensionality))


FLATNESS_SETTINGS = plot.Curves()


def _sharpness(ctx: ViewContext) -> dict[str, list]:
    return plot.trend(ctx, "flatness", lambda a: a.attrs["mean_delta"])


def _flatness_data(ctx: ViewContext) -> dict:
    return {"trend": FLATNESS_SETTINGS.columns(ctx, _sharpness(ctx), ("value",))}


def _flatness_marker(ctx: ViewContext) -> dict:
    return {"current": plot.marker_at(_sharpness(ctx), ctx.epoch)}


def _build_flatness(sources, ctx: ViewContext):
    radius = ctx.load("flatness", ctx.epoch).attrs["radius"]
    fig = plot.figure("Loss-landscape sharpness", x_label="epoch",
                      y_label=f"mean loss increase at radius {radius:g}")
    plot.curve(fig, sources["trend"], "epoch", "value", color=plot.PALETTE[3])
    fig.scatter("x", "y", source=sources["current"], size=10, color=plot.TURN)
    return plot.finish_curves(fig, log=FLATNESS_SETTINGS.log_y(ctx))


FLATNESS = View(
    "flatness", "Loss-landscape sharpness", "Mean increase of the probe loss along seeded "
    "random unit directions at a fixed radius: lower is flatter.", ("flatness",), "summary",
    build=_build_flatness, data=_flatness_data, epoch_data=_flatness_marker, group="Trajectory",
    controls=FLATNESS_SETTINGS.controls,
    trace=plot.column_trace("sharpness", _flatness_data, "trend", "value"))


def _llc_data(ctx: ViewContext) -> dict:
    arts = [ctx.load("llc", e) for e in ctx.epochs]
    mean = np.array([a.attrs["llc_mean"] for a in arts], dtype=np.float64)  # (checkpoint,)
    std = np.array([a.attrs["llc_std"] for a in arts], dtype=np.float64)
    columns = {"llc": {"epoch": list(ctx.epochs), "llc": mean, "low": mean - std,
                       "high": mean + std},
               "transition": plot.transition_columns(ctx)}
    metrics = ctx.metrics()
    if "test_loss" in metrics:  # an imported series has no training curves
        epochs = np.arange(len(metrics["test_loss"]))
        columns["losses"] = {"epoch": epochs, "train": metrics["train_loss"],
                             "test": metrics["test_loss"]}
    return columns


def _loss_range(losses) -> tuple[float, float]:
    """Log-axis bounds spanning the positive, finite losses (1e-8..10 if none are)."""
    values = np.concatenate([np.asarray(losses[k], dtype=np.float64) for k in ("train", "test")])
    positive = values[np.isfinite(values) & (values > 0)]
    if not positive.size:
        return 1e-8, 10.0
    return float(positive.min()) / 2, float(positive.max()) * 2


def _build_llc(sources, ctx: ViewContext):
    from bokeh.models import LogAxis, LogScale, Range1d

    sgld = ctx.load("llc", ctx.epoch).attrs["sgld"]
    fig = plot.figure("Local learning coefficient", x_label="epoch",
                      y_label=f"LLC (±std over {sgld['chains']} chains)", width=680)
    fig.varea("epoch", "low", "high", source=sources["llc"], color=plot.PALETTE[3],
              alpha=0.2, legend_label="LLC ± std")
    fig.line("epoch", "llc", source=sources["llc"], color=plot.PALETTE[3], line_width=2,
             legend_label="LLC")
    fig.scatter("epoch", "llc", source=sources["llc"], color=plot.PALETTE[3], size=4,
                legend_label="LLC")
    if "losses" in sources:
        fig.extra_y_ranges = {"loss": Range1d(*_loss_range(sources["losses"].data))}
        fig.extra_y_scales = {"loss": LogScale()}
        fig.add_layout(LogAxis(y_range_name="loss", axis_label="loss (log)"), "right")
        for key, color in (("train", plot.PALETTE[0]), ("test", plot.PALETTE[1])):
            fig.line("epoch", key, source=sources["losses"], y_range_name="loss", color=color,
                     alpha=0.6, line_dash="dotted", legend_label=f"{key} loss")
    return plot.finish(fig, sources)


LLC = View(
    "llc", "Local learning coefficient", "The local learning coefficient of the training loss "
    "at each checkpoint, estimated by SGLD (Lau et al. 2023), with its spread over chains, "
    "beside the train and test loss (right axis, log): lower means a more degenerate, "
    "simpler solution (Lau et al.; Hoogland et al.).",
    ("llc", "metrics"), "summary", build=_build_llc, data=_llc_data,
    epoch_data=plot.current_columns, group="Landscape",
    trace=plot.column_trace("LLC", _llc_data, "llc", "llc"))


def _phase_columns(ctx: ViewContext) -> dict:
    art = ctx.load("phase_change", ctx.epoch)
    smoothed = art["smoothed"].astype(np.float64)  # (signal, checkpoint), oriented to rise
    low = smoothed.min(axis=1, keepdims=True)
    span = np.maximum(smoothed.max(axis=1, keepdims=True) - low, 1e-12)
    scaled = (smoothed - low) / span
    lines = plot.line_columns(art["epochs"], scaled, list(art.attrs["signals"]))
    steep = art["steepest_epoch"]
    found = np.flatnonzero(steep >= 0)
    marks = {"x": steep[found].tolist(),
             "y": [float(scaled[i, plot.nearest_index(art["epochs"], steep[i])])
                   for i in found],
             "color": [lines["color"][i] for i in found]}
    return {"lines": lines, "steepest": marks, "transition": plot.transition_columns(ctx)}


def _phase_title(attrs) -> str:
    if attrs["transition_epoch"] is None:
        return f"No phase change ({attrs['signals'][0]} has no jump)"
    return (f"Phase change from epoch {attrs['transition_epoch']} "
            f"({len(attrs['agreeing'])} of {len(attrs['signals'])} signals agree)")


def phase_relation(attrs, transition: tuple[int, float] | None) -> tuple[str, ...]:
    """How the red line (the family's transition) relates to this analyzer's phase change:
    the lines written under the plot.

    >>> phase_relation({"transition_epoch": 900, "signals": ["test loss"]}, (900, 0.4))
    ("Red line: the family's transition, epoch 900: the onset of the test loss's jump.",)
    """
    primary = attrs["signals"][0]
    onset = attrs["transition_epoch"]
    if transition is None:
        return ("The family has no detected transition to draw.",)
    if onset == transition[0]:
        return (f"Red line: the family's transition, epoch {transition[0]}: the onset of the "
                f"{primary}'s jump.",)
    dated = (f"This view finds no jump of the {primary}." if onset is None else
             f"This view dates the phase change by the {primary}'s jump, from epoch {onset}.")
    return (f"Red line: the family's transition, epoch {transition[0]}, from the family's "
            "transition marker.", dated)


def _build_phase(sources, ctx: ViewContext):
    from bokeh.models import Title

    attrs = ctx.load("phase_change", ctx.epoch).attrs
    fig = plot.lines_figure(_phase_title(attrs), sources["lines"],
                            y_label="smoothed, scaled to 0..1", width=680)
    fig.scatter("x", "y", source=sources["steepest"], color="color", size=9,
                marker="diamond", legend_label="steepest change")
    for line in phase_relation(attrs, ctx.transition):
        fig.add_layout(Title(text=line, text_font_size="11px", text_font_style="normal"),
                       "below")
    return plot.finish(fig, sources)


def phase_change_view(signals: str) -> View:
    """The view of a family's ``phase_change`` analyzer (:mod:`tdw.library.phase`):
    every signal smoothed, oriented to rise and scaled to 0..1, with its steepest change,
    the family's transition and the current checkpoint. ``signals`` names them for the
    description, e.g. ``"best induction score, in-context learning score falling"``."""
    return View(
        "phase_change", "Phase change", f"The signals the phase change is dated by ({signals}), "
        "each smoothed, oriented to rise and scaled to 0..1, with its steepest change; the "
        "red line is the family's detected transition, which may come from another "
        "analyzer than this one.",
        ("phase_change",), "summary",
        build=_build_phase, data=_phase_columns, epoch_data=plot.current_columns,
        group="Training")


GENERIC_VIEWS = (LOSS_CURVES, ACCURACY_CURVES, PARAMETER_TRAJECTORY, PARAMETER_VELOCITY,
                 PARAMETER_NORMS, EFFECTIVE_DIMENSIONALITY, FLATNESS)
