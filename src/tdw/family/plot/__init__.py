"""The plot kit: what a view's ``build`` draws with, in the workbench's style.

A :class:`~tdw.family.views.View` builds its Bokeh figure once around named
``ColumnDataSource`` objects and moves with the checkpoint by replacing the data of the
sources its ``epoch_data`` returns. The families and :mod:`tdw.library.views` draw those
figures from the pieces here, so every view looks alike and none repeats the others:

* style (:mod:`.style`): :data:`PALETTE`, :func:`colors`, :func:`figure`,
  :func:`legend_outside`;
* the marks of a view across training (:mod:`.marks`): :func:`transition_band` (the detected
  transition, from :func:`transition_columns`), :func:`current_epoch_band` (the current
  checkpoint, from :func:`current_columns`), :func:`checkpoint_markers` (from
  :func:`checkpoint_columns`), and :func:`finish`, which adds the first two where a view
  has their sources and then moves the legend outside;
* heatmaps (:mod:`.heatmaps`) of a numeric grid: :func:`image_columns`, :func:`image`,
  :func:`heatmap_figure`, :func:`heatmap_view`, :func:`tap_rows` (clickable rows); of a
  matrix with named rows and columns: :func:`cell_columns`, :func:`cells`,
  :func:`cells_figure`;
* lines across checkpoints (:mod:`.lines`): :func:`line_columns`, :func:`lines_figure`,
  :func:`lines_view`;
* curves with a smoothing weight and a log/linear toggle (:mod:`.curves`): :class:`Curves`
  (the two controls, and the smoothed columns), :func:`curve` (a raw line, faint, under its
  smoothed twin), :func:`finish_curves`; the smoothing itself is :func:`ema`
  (:mod:`.smoothing`), the scale switch :class:`ScaleSwitch` (:mod:`.curve_scale`);
* bars (:mod:`.bars`): :func:`bars_figure`, :func:`bars_view`;
* small helpers (:mod:`.helpers`): :func:`nearest_index`, :func:`trend`,
  :func:`marker_at`, and the curves Compare overlays, :func:`attribute_trace` and
  :func:`column_trace`.

Use it as ``from tdw.family import plot`` and ``plot.heatmap_view(...)``. Bokeh is imported
inside the functions that draw: importing a family's views stays cheap.
"""

from tdw.family.plot.bars import bars_figure, bars_view
from tdw.family.plot.curve_scale import ScaleSwitch
from tdw.family.plot.curves import (
    LOG_Y,
    SMOOTHING,
    Curves,
    curve,
    finish_curves,
    is_curve_control,
    smoothed_name,
)
from tdw.family.plot.heatmaps import (
    cell_columns,
    cells,
    cells_figure,
    heatmap_figure,
    heatmap_view,
    image,
    image_columns,
    tap_rows,
)
from tdw.family.plot.helpers import (
    attribute_trace,
    column_trace,
    line_trace,
    marker_at,
    nearest_index,
    trend,
)
from tdw.family.plot.lines import Lines, line_columns, lines_figure, lines_view
from tdw.family.plot.marks import (
    checkpoint_columns,
    checkpoint_markers,
    current_columns,
    current_epoch_band,
    finish,
    transition_band,
    transition_columns,
)
from tdw.family.plot.smoothing import ema, smooth_column
from tdw.family.plot.style import (
    CHECKPOINT_KINDS,
    CURRENT,
    PALETTE,
    TURN,
    colors,
    figure,
    legend_outside,
)

__all__ = [
    "PALETTE", "CURRENT", "TURN", "CHECKPOINT_KINDS", "Lines",
    "colors", "figure", "legend_outside", "finish",
    "transition_band", "transition_columns", "current_epoch_band", "current_columns",
    "checkpoint_columns", "checkpoint_markers",
    "image_columns", "image", "heatmap_figure", "heatmap_view", "tap_rows",
    "cell_columns", "cells", "cells_figure",
    "line_columns", "lines_figure", "lines_view",
    "bars_figure", "bars_view",
    "nearest_index", "trend", "marker_at", "attribute_trace", "column_trace",
    "line_trace",
    "Curves", "SMOOTHING", "LOG_Y", "curve", "finish_curves", "is_curve_control",
    "smoothed_name", "ScaleSwitch", "ema", "smooth_column",
]
