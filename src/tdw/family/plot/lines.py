"""Lines across checkpoints."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from tdw.family.controls import Control
from tdw.family.plot.curves import RAW_ALPHA, Curves, finish_curves, mark_smoothed, smoothed_name
from tdw.family.plot.marks import current_columns, finish, transition_columns
from tdw.family.plot.smoothing import smooth_column
from tdw.family.plot.style import colors, figure
from tdw.family.views import Columns, Labels, Trace, View, ViewContext

Lines = Callable[[ViewContext], tuple[Sequence[Any], Sequence[Sequence[float]], Sequence[str]]]
"""context -> ``(xs, series, names)``: the x values every line shares, ``(line, x)``
values and one name per line (see :func:`line_columns`)."""


def line_columns(xs: Sequence[Any], series: Sequence[Sequence[float]],
                 names: Sequence[str], *, smoothing: float | None = None) -> dict[str, list]:
    """Columns for :func:`lines_figure`: one line per name over the shared ``xs``.

    Args:
        xs: the x values of every line (e.g. the checkpoint epochs).
        series: ``(line, x)`` values; None or NaN leaves a gap.
        names: one legend label per line; colours follow :data:`PALETTE` in this order.
        smoothing: with a weight (e.g. :meth:`Curves.weight`), also ``ys_smooth``, each
            line's EMA (:func:`~tdw.family.plot.smoothing.ema`), which the figure draws over
            the faint raw lines.
    """
    shared = np.asarray(xs).tolist()
    columns = {"xs": [shared] * len(names),
               "ys": [np.asarray(s, dtype=np.float64).tolist() for s in series],
               "name": list(names), "color": colors(len(names))}
    if smoothing is not None:
        columns[smoothed_name("ys")] = smooth_column(columns["ys"], smoothing)
    return columns


def lines_figure(title: str, source, *, x_label: str = "epoch", y_label: str = "",
                 log: bool = False, line_width: float = 1.5, width: int = 620,
                 **figure_kwargs: Any):
    """A figure with the lines of ``source`` (:func:`line_columns`), each in the legend.

    With a smoothed column (``line_columns(..., smoothing=...)``) each line is drawn faint
    and its smoothed twin over it, and a page can change the smoothing and the scale
    (:mod:`tdw.family.plot.curves`). Draw anything else on it, then :func:`finish` it
    (bands and legend).

    Args:
        title: the figure's title.
        source: the lines' columns (:func:`line_columns`).
        x_label: the x axis' label.
        y_label: the y axis' label.
        log: a log y axis.
        line_width: the lines' width in pixels.
        width: the figure's width in CSS pixels.
        **figure_kwargs: passed to :func:`figure`, e.g. ``height``, ``y_range``.
    """
    smoothed = smoothed_name("ys") in source.data
    fig = figure(title, x_label=x_label, y_label=y_label, width=width,
                 y_axis_type="log" if log and not smoothed else "linear", **figure_kwargs)
    if not smoothed:
        fig.multi_line("xs", "ys", source=source, color="color", legend_field="name",
                       line_width=line_width)
        return fig
    fig.multi_line("xs", "ys", source=source, color="color", legend_field="name",
                   line_width=1, alpha=RAW_ALPHA)
    fig.multi_line("xs", smoothed_name("ys"), source=source, color="color",
                   legend_field="name", line_width=line_width)
    mark_smoothed(source, "ys")
    return finish_curves(fig, log=log)


def lines_view(name: str, title: str, description: str, reads: Sequence[str], lines: Lines,
               *, y_label: str, x_label: str = "epoch", heading: str | None = None,
               transition: bool = True, log: bool = False, line_width: float = 1.5,
               legend: str = "right", group: str = "Analyses", trace: Trace | None = None,
               selectors: Mapping[str, tuple[str, str, int]] | None = None,
               controls: Sequence[Control] = (), labels: Mapping[str, Labels] | None = None,
               curves: bool = True, **figure_kwargs: Any) -> View:
    """A summary view of lines across training (source ``lines``), the detected
    transition (source ``transition``, with ``transition``) and the current checkpoint
    (source ``current``).

    Args:
        name: the view's registry key.
        title: the view's title, and the figure's unless ``heading`` is given.
        description: what the view shows and how to read it.
        reads: the analyzers whose artifacts it needs.
        lines: context -> ``(xs, series, names)`` (:data:`Lines`).
        y_label: the y axis' label.
        x_label: the x axis' label.
        heading: the figure's title, when it differs from ``title``.
        transition: draw the family's detected transition.
        log: a log y axis (to begin with, when ``curves``).
        line_width: the lines' width in pixels.
        legend: where the legend goes, as :func:`legend_outside`.
        group: the heading dashboards place the view under.
        trace: the curve Compare overlays across variants, if any.
        selectors: as :class:`View`, e.g. which layer's lines to show.
        controls: as :class:`View`: decimals ``lines`` reads (e.g. a threshold).
        labels: as :class:`View`: how the page names each selector's values.
        curves: offer the curve controls (:class:`~tdw.family.plot.curves.Curves`): a
            smoothing weight, the raw lines faint behind the smoothed ones, and a
            log/linear toggle.
        **figure_kwargs: passed to :func:`figure`, e.g. ``height``, ``y_range``.
    """
    settings = Curves(log=log) if curves else None

    def data(ctx: ViewContext) -> Columns:
        weight = None if settings is None else settings.weight(ctx)
        columns: Columns = {"lines": line_columns(*lines(ctx), smoothing=weight)}
        if transition:
            columns["transition"] = transition_columns(ctx)
        return columns

    def build(sources, ctx: ViewContext):
        log_y = log if settings is None else settings.log_y(ctx)
        fig = lines_figure(heading or title, sources["lines"], x_label=x_label,
                           y_label=y_label, log=log_y, line_width=line_width, **figure_kwargs)
        return finish(fig, sources, legend=legend)

    extra = () if settings is None else settings.controls
    return View(name, title, description, tuple(reads), "summary", build=build, data=data,
                epoch_data=current_columns, selectors=selectors or {}, group=group,
                trace=trace, controls=(*controls, *extra), labels=labels or {})
