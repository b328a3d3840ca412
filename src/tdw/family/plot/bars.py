"""Bars, side by side when grouped."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tdw.family.plot.style import colors, figure, legend_outside
from tdw.family.views import Columns, View, ViewContext


def bars_figure(title: str, source, x: str, tops: Sequence[str], *,
                labels: Sequence[str] | None = None, fills: Sequence[str] | None = None,
                categorical: bool = True, bar_width: float = 0.8, gap: float = 0.02,
                label_angle: float | None = None, x_label: str = "", y_label: str = "",
                **figure_kwargs: Any):
    """A figure of vertical bars: at each ``source[x]``, one bar per column in ``tops``.

    Several ``tops`` stand side by side, ``gap`` apart and centred on their ``x``, with a
    legend outside (one entry per top).

    Args:
        title: the figure's title.
        source: the bars' columns: ``x`` and every name in ``tops``.
        x: the column of the bars' positions.
        tops: the columns of the bars' heights.
        labels: legend label per top (several tops only); default: the column names.
        fills: colour per top, or the name of a column of colours (e.g. ``["color"]``);
            default: :data:`PALETTE` in order.
        categorical: ``source[x]`` holds names, which become the x axis' factors in order;
            else it holds numbers.
        bar_width: each bar's width in x units (one category is 1 wide).
        gap: space between neighbouring bars of one ``x``, in x units.
        label_angle: tilt of the x tick labels in radians (long category names).
        x_label: the x axis' label.
        y_label: the y axis' label.
        **figure_kwargs: passed to :func:`figure`, e.g. ``width``, ``y_range``.
    """
    from bokeh.transform import dodge

    if categorical:
        figure_kwargs["x_range"] = list(source.data[x])
    fig = figure(title, x_label=x_label, y_label=y_label, **figure_kwargs)
    fills = list(fills or colors(len(tops)))
    if len(tops) == 1:
        fig.vbar(x=x, top=tops[0], source=source, width=bar_width, color=fills[0])
    else:
        labels = list(labels or tops)
        for i, top in enumerate(tops):
            offset = (bar_width + gap) * (i - (len(tops) - 1) / 2)  # centred on x
            fig.vbar(x=dodge(x, offset, range=fig.x_range), top=top, width=bar_width,
                     source=source, color=fills[i], legend_label=labels[i])
        legend_outside(fig)
    if label_angle is not None:
        fig.xaxis.major_label_orientation = label_angle
    return fig


def bars_view(name: str, title: str, description: str, reads: Sequence[str],
              bars: Callable[[ViewContext], dict[str, Any]], x: str, tops: Sequence[str], *,
              heading: str | None = None, group: str = "Analyses",
              selectors: Mapping[str, tuple[str, str, int]] | None = None,
              **figure_kwargs: Any) -> View:
    """A per-checkpoint view of bars (source ``bars``).

    Args:
        name: the view's registry key.
        title: the view's title, and the figure's unless ``heading`` is given.
        description: what the view shows and how to read it.
        reads: the analyzers whose artifacts it needs.
        bars: context -> the bars' columns at its checkpoint (``x`` and ``tops``).
        x: the column of the bars' positions.
        tops: the columns of the bars' heights, side by side.
        heading: the figure's title, when it differs from ``title``.
        group: the heading dashboards place the view under.
        selectors: as :class:`View`.
        **figure_kwargs: passed to :func:`bars_figure` (``labels``, ``fills``,
            ``categorical``, ``bar_width``, ``gap``, ``label_angle``, ``x_label``,
            ``y_label``) and on to :func:`figure`.
    """

    def columns(ctx: ViewContext) -> Columns:
        return {"bars": bars(ctx)}

    def build(sources, ctx: ViewContext):
        return bars_figure(heading or title, sources["bars"], x, tops, **figure_kwargs)

    return View(name, title, description, tuple(reads), "checkpoint", build=build,
                epoch_data=columns, selectors=selectors or {}, group=group)
