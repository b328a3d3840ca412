"""The family's view: one head's attention pattern at the current checkpoint.

A view never runs the model: ``data`` and ``epoch_data`` turn stored artifacts into
columns, and ``build`` draws a Bokeh figure around them once. Moving the checkpoint slider
replaces only the ``epoch_data`` columns, so the figure must not depend on the epoch. The
figure and the Compare trace come from tdw's plot kit (``tdw.family.plot``), so the view
looks like the built-in families' views.
"""

from __future__ import annotations

import numpy as np

from tdw import View, ViewContext
from tdw.family.plot import attribute_trace, heatmap_figure, image_columns
from tdw.library.views import LOSS_CURVES

__all__ = ["REVERSAL_ATTENTION", "VIEWS"]


def _mirror_cells(ctx: ViewContext) -> dict:
    """Cell centres of the mirror positions (query ``q`` -> key ``2L-1-q``): fixed."""
    n_pos = 2 * ctx.values["length"]
    query = np.arange(n_pos // 2, n_pos)
    return {"mirror": {"x": (n_pos - 1 - query + 0.5).tolist(),
                       "y": (query + 0.5).tolist()}}


def _pattern(ctx: ViewContext) -> dict:
    """The selected head's mean pattern at this checkpoint, as a Bokeh image."""
    art = ctx.load("mirror_attention", ctx.epoch)
    grid = art["pattern"][ctx.selection.get("head", 0)]  # (query, key)
    return {"pattern": image_columns(grid)}


def _build(sources, ctx: ViewContext):
    n_pos = 2 * ctx.values["length"]
    fig = heatmap_figure("Attention pattern (circles: the token to copy)", sources["pattern"],
                         x_label="key position", y_label="query position", low=0.0, high=1.0,
                         label="attention", height=420, x_range=(0, n_pos),
                         y_range=(n_pos, 0))  # query 0 on top, like a matrix
    fig.scatter("x", "y", source=sources["mirror"], size=9, fill_alpha=0.0,
                line_color="white", line_width=1.5)
    return fig


REVERSAL_ATTENTION = View(
    name="reversal_attention",
    title="Attention pattern",
    description="One head's attention pattern (selector: head), averaged over the held-out "
                "sequences. Circles mark the token each reversed position must copy; a head "
                "that reverses lights up along them, an anti-diagonal below the separator.",
    reads=("mirror_attention",),
    scope="checkpoint",
    build=_build,
    data=_mirror_cells,
    epoch_data=_pattern,
    selectors={"head": ("mirror_attention", "pattern", 0)},
    group="Attention",
    # The strongest head's mirror attention at every checkpoint, for Compare.
    trace=attribute_trace("best head's mirror attention", "mirror_attention", "max_mirror"),
)

VIEWS = (LOSS_CURVES, REVERSAL_ATTENTION)
"""The library's loss curves (they read only the training metrics), then the family's own."""
