"""Style: the palette, colours, a figure in the workbench's look, the outside legend."""

from __future__ import annotations

from typing import Any

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
"""Line and bar colours, in order (matplotlib's tab10, red moved up to second)."""
CURRENT = "#444444"
"""Colour of the current-checkpoint line and of scheduled checkpoint markers."""
TURN = "#d62728"
"""Colour of the detected transition (and of highlights such as key frequencies)."""
CHECKPOINT_KINDS = ("checkpoints", "adaptive checkpoints")
"""Legend labels of scheduled and adaptive checkpoint markers."""


def colors(n: int) -> list[str]:
    """``n`` colours from :data:`PALETTE`, cycling when ``n`` exceeds it."""
    return [PALETTE[i % len(PALETTE)] for i in range(n)]


def figure(title: str, *, x_label: str = "", y_label: str = "", width: int = 460,
           height: int = 300, **kwargs: Any):
    """A Bokeh figure in the workbench's style: the standard tools above it, axis labels.

    Args:
        title: the figure's title.
        x_label: the x axis' label.
        y_label: the y axis' label.
        width: the figure's width in CSS pixels (legend and colour bar included).
        height: its height in CSS pixels.
        **kwargs: passed to ``bokeh.plotting.figure``, e.g. ``x_range``, ``y_axis_type``.
    """
    from bokeh.plotting import figure as bokeh_figure

    fig = bokeh_figure(title=title, width=width, height=height,
                       tools="pan,wheel_zoom,box_zoom,reset,hover,save",
                       toolbar_location="above", **kwargs)
    fig.xaxis.axis_label = x_label
    fig.yaxis.axis_label = y_label
    fig.title.text_font_size = "12pt"
    return fig


def legend_outside(fig, side: str = "right") -> None:
    """Move the legend beside the frame (``right`` or ``below``), so it never hides a curve.

    The figure keeps its total size; the frame gives up the legend's room. Long labels (e.g.
    variant ids) go ``below``. Clicking an entry hides its glyphs. A figure without a legend
    is left as it is.
    """
    if not fig.legend:
        return
    legend = fig.legend[0]
    fig.center = [r for r in fig.center if r is not legend]
    legend.click_policy = "hide"
    legend.label_text_font_size = "8pt"
    legend.glyph_width = 14
    legend.spacing = 0
    legend.padding = 4
    legend.margin = 4
    legend.border_line_alpha = 0
    legend.location = "top_left"
    fig.add_layout(legend, side)
