"""Views of the block-by-block trajectory (:mod:`tdw.library.blocks`), under "Trajectory"
beside the whole model's: which block moves when.

* ``block_trajectory``: one block's path on its own first two principal components, the
  current checkpoint ringed; its ``block`` selector indexes the blocks the artifact lists
  (for a grokking model 0 embedding, 1 attention, 2 MLP, 3 unembedding). The figure is
  built once around ``path`` (from ``data``), ``current`` and ``label`` (from
  ``epoch_data``), so a checkpoint move replaces only the ring and the caption.
* ``block_speed``: every block's speed on one log time axis, the whole model's
  (``parameter_trajectory``'s velocity) dashed beside them, with the current checkpoint
  and the family's transition.
* ``block_norms``: every block's L2 norm across training.

Any family that registers ``block_snapshot``, ``block_trajectory`` and
``parameter_trajectory`` may list :data:`BLOCK_VIEWS`.
"""

from __future__ import annotations

import numpy as np

from tdw.family import plot
from tdw.family.views import Columns, Labels, View, ViewContext
from tdw.library.views import draw_path

__all__ = ["BLOCK_TRAJECTORY", "BLOCK_SPEED", "BLOCK_NORMS", "BLOCK_VIEWS"]

GROUP = "Trajectory"
TRAJECTORY = "block_trajectory"
SNAPSHOT = "block_snapshot"


def _chosen(ctx: ViewContext):
    """The block trajectory artifact and the selected block's index."""
    return ctx.load(TRAJECTORY, ctx.epoch), ctx.selection.get("block", 0)


# --- block_trajectory -------------------------------------------------------------------


def _path_data(ctx: ViewContext) -> Columns:
    art, block = _chosen(ctx)
    pcs = art["pcs"][block]  # (checkpoint, component)
    second = pcs[:, 1] if pcs.shape[1] > 1 else np.zeros(len(pcs), np.float32)
    return {"path": {"epoch": art["epochs"], "pc1": pcs[:, 0], "pc2": second}}


def _path_now(ctx: ViewContext) -> Columns:
    art, block = _chosen(ctx)
    path = _path_data(ctx)["path"]
    i = plot.nearest_index(path["epoch"], ctx.epoch)
    ratio = art["explained_variance_ratio"][block]
    shares = ", ".join(f"PC{k + 1} {'-' if np.isnan(r) else f'{100 * r:.0f}%'}"
                       for k, r in enumerate(ratio[:2]))
    speed = float(art["speed"][block, i])
    # The caption names the block: a change of selector replaces the sources' data, not
    # the figure, so the title and axis labels cannot.
    text = (f"{art.attrs['blocks'][block]} ({art.attrs['n_params'][block]:,} parameters): "
            f"{shares} of its variance\nepoch {int(path['epoch'][i])}: speed "
            + ("-" if np.isnan(speed) else f"{speed:.3g} per epoch"))
    return {"current": {"x": [float(path["pc1"][i])], "y": [float(path["pc2"][i])]},
            "label": {"text": [text]}}


def _build_path(sources, ctx: ViewContext):
    from bokeh.models import LabelSet

    fig = plot.figure("Trajectory by block", x_label="the block's PC1",
                      y_label="the block's PC2", width=480, height=380)
    draw_path(fig, sources)
    fig.add_layout(LabelSet(x=4, y=4, x_units="screen", y_units="screen", text="text",
                            source=sources["label"], text_font_size="9pt",
                            background_fill_color="white", background_fill_alpha=0.85))
    return fig


BLOCK_TRAJECTORY = View(
    "block_trajectory", "Trajectory by block", "One block's weights (embedding, attention, "
    "MLP, unembedding, other) through training, projected on the first two principal "
    "components of that block's own path (of a distance-preserving sketch), coloured by "
    "epoch; the ring is the current checkpoint, the caption names the block, its PCs' "
    "shares of its variance and its speed. A block that has settled sits still while the "
    "others move on. Selector: block (the artifact's blocks in order, e.g. 0 embedding, "
    "1 attention, 2 MLP, 3 unembedding).", (TRAJECTORY,), "summary", build=_build_path,
    data=_path_data, epoch_data=_path_now, selectors={"block": (TRAJECTORY, "pcs", 0)},
    labels={"block": Labels("blocks", "{value}")}, group=GROUP)


# --- block_speed ------------------------------------------------------------------------


def _positive(values) -> list[float]:
    """Values for a log axis: NaN (a gap) where a value is not positive, e.g. a block
    that did not move between two checkpoints."""
    out = np.asarray(values, dtype=np.float64)
    return np.where(out > 0, out, np.nan).tolist()


def _speed_data(ctx: ViewContext) -> Columns:
    art = ctx.load(TRAJECTORY, ctx.epoch)
    lines = plot.line_columns(art["epochs"], [_positive(s) for s in art["speed"]],
                              list(art.attrs["blocks"]))
    whole = ctx.load("parameter_trajectory", ctx.epoch)
    return {"lines": lines,
            "whole": {"epoch": whole["epochs"], "speed": _positive(whole["velocity"])},
            "transition": plot.transition_columns(ctx)}


def _build_speed(sources, ctx: ViewContext):
    fig = plot.lines_figure("Speed by block", sources["lines"], y_label="|Δθ| per epoch",
                            log=True, width=680)
    fig.line("epoch", "speed", source=sources["whole"], color=plot.CURRENT, line_width=2,
             line_dash="dashed", legend_label="whole model")
    return plot.finish(fig, sources)


BLOCK_SPEED = View(
    "block_speed", "Speed by block", "How far each block's weights move per epoch between "
    "consecutive checkpoints (sketch distance over the epoch gap, log scale), beside the "
    "whole model's (dashed; its square is the sum of the blocks' squares, up to the sketch's "
    "few per cent): the block whose speed falls first settles first. A block that stands "
    "still between two checkpoints leaves a gap.", (TRAJECTORY, "parameter_trajectory"),
    "summary", build=_build_speed, data=_speed_data, epoch_data=plot.current_columns,
    group=GROUP)


# --- block_norms ------------------------------------------------------------------------


def _norm_lines(ctx: ViewContext):
    blocks = list(ctx.load(SNAPSHOT, ctx.epochs[-1]).attrs["blocks"])
    norms = np.stack([ctx.load(SNAPSHOT, e)["norms"] for e in ctx.epochs])  # (checkpoint, block)
    return ctx.epochs, norms.T, blocks


BLOCK_NORMS = plot.lines_view(
    "block_norms", "Norm by block", "L2 norm of each block's weights (embedding, attention, "
    "MLP, unembedding, other) across training: weight decay pulls them down once the loss "
    "stops pushing back.", (SNAPSHOT,), _norm_lines, y_label="L2 norm", group=GROUP)

BLOCK_VIEWS = (BLOCK_TRAJECTORY, BLOCK_SPEED, BLOCK_NORMS)
