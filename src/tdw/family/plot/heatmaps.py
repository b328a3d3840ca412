"""Heatmaps: of a numeric grid (an image) and of a matrix with named rows and columns (cells)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from tdw.family.controls import TAP_RENDERER, Control, Labels, TapLink
from tdw.family.plot.style import figure
from tdw.family.views import Columns, View, ViewContext


def image_columns(grid: np.ndarray) -> dict[str, list]:
    """Columns for :func:`image`: the ``(row, column)`` grid as float32, its width and
    height."""
    grid = np.asarray(grid, dtype=np.float32)
    return {"image": [grid], "dw": [grid.shape[1]], "dh": [grid.shape[0]]}


def image(fig, source, *, palette: str = "Viridis256", low: float | None = None,
          high: float | None = None, label: str = "") -> None:
    """A heatmap of ``source.data["image"][0]`` spanning (0, 0)-(dw, dh), one unit per
    cell, with a colour bar titled ``label``; ``low``/``high`` fix the colour scale (None:
    the grid's own range). NaN cells are drawn grey."""
    from bokeh.models import ColorBar, LinearColorMapper

    mapper = LinearColorMapper(palette=palette, low=low, high=high)
    fig.image(image="image", x=0, y=0, dw="dw", dh="dh", source=source, color_mapper=mapper)
    fig.add_layout(ColorBar(color_mapper=mapper, title=label, width=10), "right")


def heatmap_figure(title: str, source, *, x_label: str = "", y_label: str = "",
                   palette: str = "Viridis256", low: float | None = None,
                   high: float | None = None, label: str = "", **figure_kwargs: Any):
    """A figure holding one :func:`image` heatmap of ``source`` (:func:`image_columns`).

    Args:
        title: the figure's title.
        source: the grid's columns (:func:`image_columns`).
        x_label: the x axis' label (columns run along it).
        y_label: the y axis' label (rows run up it).
        palette: a Bokeh palette name.
        low: the value at the palette's first colour (None: the grid's minimum).
        high: the value at its last colour (None: the grid's maximum).
        label: the colour bar's title.
        **figure_kwargs: passed to :func:`figure`, e.g. ``width``, ``match_aspect``.
    """
    fig = figure(title, x_label=x_label, y_label=y_label, **figure_kwargs)
    image(fig, source, palette=palette, low=low, high=high, label=label)
    return fig


def tap_rows(fig, rows: int, width: float) -> Any:
    """Transparent bands over the rows of an :func:`image` ``width`` wide (row ``i`` spans
    ``i`` to ``i + 1``), one glyph a row in a renderer named
    :data:`~tdw.family.controls.TAP_RENDERER`: what a page's click on a row hits. Hover
    tools keep reporting what they reported before (the bands are not data)."""
    from bokeh.models import ColumnDataSource, HoverTool

    drawn = list(fig.renderers)
    source = ColumnDataSource({"y": np.arange(rows) + 0.5}, name=f"{TAP_RENDERER}:rows")
    renderer = fig.rect(x=width / 2, y="y", width=width, height=1, source=source,
                        fill_alpha=0.0, line_alpha=0.0, name=TAP_RENDERER)
    renderer.selection_glyph = renderer.nonselection_glyph = None  # a click leaves no mark
    for hover in fig.select({"type": HoverTool}):
        if hover.renderers == "auto":
            hover.renderers = drawn
    return renderer


def heatmap_view(name: str, title: str, description: str, reads: Sequence[str],
                 grid: Callable[[ViewContext], np.ndarray], *, x_label: str = "",
                 y_label: str = "", label: str = "", palette: str = "Viridis256",
                 low: float | None = None, high: float | None = None,
                 heading: str | None = None, scope: str = "checkpoint",
                 selectors: Mapping[str, tuple[str, str, int]] | None = None,
                 labels: Mapping[str, Labels] | None = None,
                 controls: Sequence[Control] = (), on_tap: TapLink | None = None,
                 group: str = "Analyses", **figure_kwargs: Any) -> View:
    """A view of one numeric grid as a heatmap (source ``grid``).

    Args:
        name: the view's registry key.
        title: the view's title, and the figure's unless ``heading`` is given.
        description: what the view shows and how to read it.
        reads: the analyzers whose artifacts it needs.
        grid: context -> ``(row, column)`` values; row 0 is drawn at the bottom.
        x_label: as :func:`heatmap_figure`.
        y_label: as :func:`heatmap_figure`.
        label: the colour bar's title.
        palette: as :func:`heatmap_figure`.
        low: as :func:`heatmap_figure`.
        high: as :func:`heatmap_figure`.
        heading: the figure's title, when it differs from ``title``.
        scope: ``"checkpoint"`` (the grid changes with the checkpoint: ``epoch_data``) or
            ``"summary"`` (one grid for the whole run, e.g. a cross-epoch artifact: ``data``).
        selectors: as :class:`View`, e.g. which neuron's grid to show.
        labels: as :class:`View`: how the page names each selector's values.
        controls: as :class:`View`: decimals ``grid`` reads (e.g. a threshold).
        on_tap: as :class:`View`: what a click on a row selects in another view; the
            rows are then clickable (:func:`tap_rows`).
        group: the heading dashboards place the view under.
        **figure_kwargs: passed to :func:`figure`.
    """

    def columns(ctx: ViewContext) -> Columns:
        return {"grid": image_columns(grid(ctx))}

    def build(sources, ctx: ViewContext):
        fig = heatmap_figure(heading or title, sources["grid"], x_label=x_label,
                             y_label=y_label, palette=palette, low=low, high=high,
                             label=label, **figure_kwargs)
        if on_tap is not None:
            data = sources["grid"].data
            tap_rows(fig, int(data["dh"][0]), float(data["dw"][0]))
        return fig

    moving = {"epoch_data": columns} if scope == "checkpoint" else {"data": columns}
    return View(name, title, description, tuple(reads), scope, build=build,
                selectors=selectors or {}, labels=labels or {}, controls=tuple(controls),
                on_tap=on_tap, group=group, **moving)


def cell_columns(matrix: np.ndarray, rows: Sequence[str], cols: Sequence[str], *,
                 x: str = "x", y: str = "y", text: bool = False) -> dict[str, Any]:
    """Columns for :func:`cells`: one entry per cell of the ``(row, col)`` matrix.

    Args:
        matrix: ``(len(rows), len(cols))`` values.
        rows: the row names (the y axis' factors).
        cols: the column names (the x axis' factors).
        x: the name of the column holding each cell's column name.
        y: the name of the column holding each cell's row name.
        text: also a ``text`` column, each value with two decimals.

    Returns:
        ``{x: [col name], y: [row name], "value": float64 array[, "text": [str]]}``.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    r, c = np.meshgrid(np.arange(len(rows)), np.arange(len(cols)), indexing="ij")
    columns: dict[str, Any] = {x: [cols[j] for j in c.ravel()], y: [rows[i] for i in r.ravel()],
                               "value": matrix.ravel()}
    if text:
        columns["text"] = [f"{v:.2f}" for v in columns["value"]]
    return columns


def cells(fig, source, *, x: str = "x", y: str = "y", palette: str = "Viridis256",
          low: float | None = None, high: float | None = None, label: str = "",
          nan_color: str = "gray", text: bool = False) -> None:
    """A categorical heatmap: a unit square per row of ``source`` (:func:`cell_columns`)
    at ``(source[x], source[y])``, coloured by its ``value``, with a colour bar titled
    ``label``; with ``text``, each square also shows its ``text`` column."""
    from bokeh.models import ColorBar, LinearColorMapper

    mapper = LinearColorMapper(palette=palette, low=low, high=high, nan_color=nan_color)
    fig.rect(x, y, width=1, height=1, source=source, line_color=None,
             fill_color={"field": "value", "transform": mapper})
    if text:
        fig.text(x, y, text="text", source=source, text_align="center",
                 text_baseline="middle", text_font_size="8pt", text_color="#777777")
    fig.add_layout(ColorBar(color_mapper=mapper, title=label, width=10), "right")


def cells_figure(title: str, source, rows: Sequence[str], cols: Sequence[str], *,
                 x: str = "x", y: str = "y", x_label: str = "", y_label: str = "",
                 palette: str = "Viridis256", low: float | None = None,
                 high: float | None = None, label: str = "", nan_color: str = "gray",
                 text: bool = False, **figure_kwargs: Any):
    """A figure holding one :func:`cells` heatmap, ``rows[0]`` at the top and ``cols`` in
    order from the left.

    Args:
        title: the figure's title.
        source: columns from :func:`cell_columns`.
        rows: the y axis' factors from the top: every row name ``source`` uses, and maybe
            more (e.g. a row of other glyphs drawn afterwards).
        cols: the x axis' factors from the left.
        x: the column of ``source`` holding each cell's column name.
        y: the column of ``source`` holding each cell's row name.
        x_label: the x axis' label.
        y_label: the y axis' label.
        palette: a Bokeh palette name.
        low: the value at the palette's first colour (None: the smallest value).
        high: the value at its last colour (None: the largest value).
        label: the colour bar's title.
        nan_color: the colour of NaN cells.
        text: print each cell's ``text`` in it.
        **figure_kwargs: passed to :func:`figure`, e.g. ``width`` and ``height``.
    """
    # a factor range runs upwards: reversed, the first row is the top one
    fig = figure(title, x_label=x_label, y_label=y_label, x_range=list(cols),
                 y_range=list(reversed(rows)), **figure_kwargs)
    cells(fig, source, x=x, y=y, palette=palette, low=low, high=high, label=label,
          nan_color=nan_color, text=text)
    return fig
