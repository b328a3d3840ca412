"""Views of the weight-space frequency groups (:mod:`.weight_groups`), under "Weight groups":
one group's neurons on the final checkpoint's principal components of the group, seen from
above (the ring plane) and from the side, and every group's circularity across training.

The two per-checkpoint views build their figure once around ``points``, ``label`` and (the
ring) ``circle`` and ``centroid``, all from ``epoch_data``, so a checkpoint move or a change
of selector only replaces their data. Their ``group`` selector indexes the stored groups,
largest first (group 0 is the most populous frequency, not frequency 0), ``side`` the
side axis (0: input W_E W_in over tokens, 1: output W_U W_out over answers); the side view's
``plane`` selector picks one of :data:`SIDE_PLANES`.
"""

from __future__ import annotations

import numpy as np

from tdw.family import plot
from tdw.family.views import Columns, Labels, View, ViewContext

from .geometry_views import CYCLIC
from .weight_groups import MAX_GROUPS

__all__ = ["VIEWS", "SIDE_PLANES"]

ANALYZER = "weight_groups"
GROUP = "Weight groups"
SIDE_NAMES = ("input W_E W_in", "output W_U W_out")
SIDE_PLANES = ((0, 2), (1, 2), (0, 1))
"""The side view's planes, as pairs of final PCs: the two side views first, then the top."""
GROUP_SIDE = {"group": (ANALYZER, "frequency", 0), "side": (ANALYZER, "circularity", 0)}
NAMES = {"group": Labels("frequency", "k = {value}"), "side": Labels("sides", "{value}")}
_SELECTION = (f"Selectors: group (0 to {MAX_GROUPS - 1}, largest first) and side (0 input "
              "W_E W_in over tokens, 1 output W_U W_out over answers).")


def _chosen(ctx: ViewContext) -> tuple[int, int]:
    """The selected group and side."""
    return ctx.selection.get("group", 0), ctx.selection.get("side", 0)


def _members(art, group: int, side: int) -> tuple[np.ndarray, np.ndarray]:
    """The group's ``(member,)`` neurons and their ``(member, pc)`` float64 projections."""
    n = int(art["size"][group])
    return art["neurons"][group, :n], art["projections"][side, group, :n].astype(np.float64)


def _heading(art, group: int, side: int) -> str:
    """The caption's first line: which group and side, or that the group is empty."""
    if not art["size"][group]:
        return f"group {group}: empty (fewer than {group + 1} frequencies)"
    return (f"group {group}: k = {art['frequency'][group]}, {art['size'][group]} neurons, "
            f"{SIDE_NAMES[side]}")


# --- weight_group_ring ----------------------------------------------------------------


def _final_angles(ctx: ViewContext, group: int, side: int) -> np.ndarray:
    """``(member,)`` each member's angle in degrees [0, 360) about the circle fitted at the
    final checkpoint: a colour that stays with the neuron through training."""
    final = ctx.load(ANALYZER, ctx.epochs[-1])
    _, points = _members(final, group, side)
    centre = final["circle"][side, group, :2].astype(np.float64)  # (2,)
    turn = np.arctan2(points[:, 1] - centre[1], points[:, 0] - centre[0])  # (member,)
    return np.nan_to_num(np.degrees(turn) % 360.0)


def _ring_data(ctx: ViewContext) -> Columns:
    art = ctx.load(ANALYZER, ctx.epoch)
    group, side = _chosen(ctx)
    neurons, points = _members(art, group, side)
    columns: Columns = {
        "points": {"x": points[:, 0], "y": points[:, 1], "pc3": points[:, 2],
                   "neuron": neurons, "angle": _final_angles(ctx, group, side)},
        "circle": {"x": [], "y": [], "r": []}, "centroid": {"x": [], "y": []},
        "label": {"text": [_heading(art, group, side)]},
    }
    if not len(neurons):
        return columns
    x, y, radius = (float(v) for v in art["circle"][side, group])
    if radius > 0:
        columns["circle"] = {"x": [x], "y": [y], "r": [radius]}
    columns["centroid"] = {name: [float(v)] for name, v in
                           zip("xy", art["centroid"][side, group], strict=True)}
    shares = art["final_share"][side, group]
    columns["label"]["text"][0] += (
        f"\ncircularity {art['circularity'][side, group]:.2f} (ring fit "
        f"{art['ring_fit'][side, group]:.2f}, {100 * shares[:2].sum():.0f}% in the plane), "
        f"SNR {art['snr'][side, group]:.3g}, Fisher J {art['fisher'][side, group]:.3g}")
    return columns


def _build_ring(sources, ctx: ViewContext):
    from bokeh.models import ColorBar, HoverTool, LabelSet, LinearColorMapper

    fig = plot.figure("Frequency group, final PC plane", x_label="final PC 1",
                      y_label="final PC 2", width=480, height=440, match_aspect=True)
    mapper = LinearColorMapper(palette=list(CYCLIC), low=0, high=360)
    points = fig.scatter("x", "y", source=sources["points"], size=8, line_color="#333333",
                         line_width=0.5, fill_color={"field": "angle", "transform": mapper})
    fig.circle("x", "y", radius="r", source=sources["circle"], fill_alpha=0,
               line_color=plot.CURRENT, line_dash="dashed")
    fig.scatter("x", "y", source=sources["centroid"], marker="cross", size=14,
                line_color=plot.TURN, line_width=2)
    fig.add_layout(ColorBar(color_mapper=mapper, title="angle at the end (°)", width=10),
                   "right")
    fig.add_layout(LabelSet(x=4, y=4, x_units="screen", y_units="screen", text="text",
                            source=sources["label"], text_font_size="9pt",
                            background_fill_color="white", background_fill_alpha=0.85))
    hover = fig.select_one(HoverTool)
    hover.renderers = [points]
    hover.tooltips = [("neuron", "@neuron"), ("PC 3", "@pc3{0.000}"),
                      ("angle at the end", "@angle{0}°")]
    # the axes follow the neurons: a fitted circle can be huge (a line is a wide arc)
    fig.x_range.renderers = [points]
    fig.y_range.renderers = [points]
    return fig


WEIGHT_GROUP_RING = View(
    "weight_group_ring", "Weight group ring", "The MLP neurons whose input weights end on "
    "one frequency k (the group), each a point: its input weights read through the "
    "embedding, W_E W_in, as a function of the token (or, with side 1, its output weights "
    "read through the unembedding, W_U W_out, as a function of the answer), its mean over "
    "tokens removed, projected on the group's top two principal components at the final "
    "checkpoint: one frame for the whole run. Neurons that are waves of k with spread "
    "phases sit on a ring (the dashed circle is the least-squares fit, the cross the "
    "group's centroid); a neuron's angle on it is its phase, up to a turn (or mirroring) of "
    "the whole ring. Colours are the neurons' angles at the final checkpoint, so they "
    "follow each neuron through training and run round the ring once it has formed. Hover "
    "for the neuron. The caption gives the circularity (ring fit times the share of the "
    "group's variance in this plane), the SNR (in-plane over off-plane variance) and "
    "Fisher's J of the group against the other neurons in this plane. " + _SELECTION,
    (ANALYZER,), "checkpoint",
    build=_build_ring, epoch_data=_ring_data, selectors=GROUP_SIDE, labels=NAMES,
    group=GROUP)


# --- weight_group_depth -----------------------------------------------------------------


def _depth_data(ctx: ViewContext) -> Columns:
    art = ctx.load(ANALYZER, ctx.epoch)
    group, side = _chosen(ctx)
    i, j = SIDE_PLANES[ctx.selection.get("plane", 0)]
    k = 3 - i - j  # the PC along the line of sight
    neurons, points = _members(art, group, side)
    deepest = float(np.abs(points[:, k]).max()) if len(neurons) else 0.0
    depth = points[:, k] / deepest if deepest > 0 else np.zeros(len(neurons))
    shares = art["final_share"][side, group]
    # The caption names the axes: a change of plane replaces the data, not the figure.
    text = _heading(art, group, side) + (
        f"\nx PC {i + 1} ({100 * shares[i]:.0f}%), y PC {j + 1} ({100 * shares[j]:.0f}%), "
        f"colour PC {k + 1} ({100 * shares[k]:.0f}% of the group's variance)"
        if len(neurons) else "")
    return {"points": {"x": points[:, i], "y": points[:, j], "depth": depth,
                       "along": points[:, k], "neuron": neurons},
            "label": {"text": [text]}}


def _build_depth(sources, ctx: ViewContext):
    from bokeh.models import ColorBar, HoverTool, LabelSet, LinearColorMapper

    fig = plot.figure("Frequency group, side view", x_label="the plane's first final PC",
                      y_label="the plane's second final PC", width=480, height=440,
                      match_aspect=True)
    mapper = LinearColorMapper(palette="RdBu11", low=-1, high=1)
    points = fig.scatter("x", "y", source=sources["points"], size=8, line_color="#333333",
                         line_width=0.5, fill_color={"field": "depth", "transform": mapper})
    fig.add_layout(ColorBar(color_mapper=mapper, title="PC not drawn / its largest |value|",
                            width=10), "right")
    fig.add_layout(LabelSet(x=4, y=4, x_units="screen", y_units="screen", text="text",
                            source=sources["label"], text_font_size="9pt",
                            background_fill_color="white", background_fill_alpha=0.85))
    hover = fig.select_one(HoverTool)
    hover.renderers = [points]
    hover.tooltips = [("neuron", "@neuron"), ("PC not drawn", "@along{0.000}")]
    return fig


WEIGHT_GROUP_DEPTH = View(
    "weight_group_depth", "Weight group, side view", "The same points as the weight group "
    "ring, on the group's top three final principal components, seen from the side: a "
    "plane of two PCs drawn, the third as colour (scaled to the checkpoint's largest value; "
    "the caption names the three). A ring that has closed is flat: seen from the side "
    "(planes 0 and 1) it is a horizontal line at PC 3 = 0, its colours running along it; "
    "a group still spread over many directions is a cloud. " +
    _SELECTION + " Plane: 0 PC 1-PC 3, 1 PC 2-PC 3, 2 PC 1-PC 2 (the ring's own plane).",
    (ANALYZER,), "checkpoint", build=_build_depth, epoch_data=_depth_data,
    selectors={**GROUP_SIDE, "plane": (ANALYZER, "pc_share", 2)}, labels=NAMES, group=GROUP)


# --- weight_group_circularity -----------------------------------------------------------


def _circularity_lines(ctx: ViewContext):
    side = ctx.selection.get("side", 0)
    arts = [ctx.load(ANALYZER, e) for e in ctx.epochs]
    last = arts[-1]
    groups = np.flatnonzero(last["size"] > 0)
    series = [[float(a["circularity"][side, g]) for a in arts] for g in groups]
    names = [f"k = {last['frequency'][g]} ({last['size'][g]} neurons)" for g in groups]
    return list(ctx.epochs), series, names


WEIGHT_GROUP_CIRCULARITY = plot.lines_view(
    "weight_group_circularity", "Weight group circularity", "Per frequency group (the "
    "neurons whose input weights end on frequency k, largest group first), whether its "
    "weights close into a ring: the circularity of the group's points on its final "
    "top-2 principal-component plane, the least-squares circle's fit times the share of "
    "the group's variance in that plane. About 0 while the neurons are unrelated, 1 for "
    "waves of one amplitude with spread phases; unequal amplitudes fill a disc and score "
    "less. Selector side: 0 input W_E W_in over tokens, 1 output W_U W_out over answers.",
    (ANALYZER,), _circularity_lines, heading="Frequency groups closing into rings",
    y_label="circularity", selectors={"side": GROUP_SIDE["side"]},
    labels={"side": NAMES["side"]}, group=GROUP,
    y_range=(-0.02, 1.02),
    trace=plot.line_trace("circularity of the largest weight group", _circularity_lines))

VIEWS = (WEIGHT_GROUP_RING, WEIGHT_GROUP_DEPTH, WEIGHT_GROUP_CIRCULARITY)
