"""A sweep's map: an outcome of each variant plotted against the swept parameters.

One swept parameter gives a line over its values (or points over its categories), two give
a heatmap (one cell per variant, the outcome as colour, grey where a variant lacks it), more
give parallel coordinates (one line per variant over every parameter and the outcome,
each axis normalised to its range). The outcome is picked above the map
(:mod:`tdw.sweeps.outcomes`); below it, the map says how many variants lack the outcome and
why. Clicking a point, cell or line calls ``on_open`` with its variant (the workbench opens it
in Explore).

The figure is built once per sweep (its kind follows from the grid, which never changes);
a new outcome or a change of the sweep's variants only replaces its source's data.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import panel as pn

from tdw.errors import TdwError
from tdw.family.plot.style import PALETTE, figure
from tdw.family.registry import families
from tdw.store.store import Store
from tdw.sweeps import outcomes as outcome_mod
from tdw.sweeps.sweep import SweepMember, SweepRecord

__all__ = ["SweepMap", "map_kind", "map_columns", "map_figure", "map_title", "missing_text",
           "SOURCE"]

SOURCE = "sweep-map:{id}"
"""Name of a sweep map's clickable source (its browser tests read it)."""

Axes = Sequence[tuple[str, Sequence[Any]]]


def map_kind(axes: Axes) -> str:
    """``scatter`` for one swept parameter, ``heatmap`` for two, ``parallel`` for more."""
    return {1: "scatter", 2: "heatmap"}.get(len(axes), "parallel")


def _numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _shown(value: float, reason: str, percent: bool) -> str:
    if reason:
        return reason
    return f"{value:.1f}%" if percent else f"{value:.4g}"


def _spread(values: Sequence[float]) -> list[float]:
    """``values`` mapped onto 0-1 by their finite range (0.5 when they are all equal)."""
    finite = [v for v in values if math.isfinite(v)]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    return [math.nan if not math.isfinite(v) else 0.5 if hi == lo else (v - lo) / (hi - lo)
            for v in values]


def map_columns(axes: Axes, members: Sequence[SweepMember],
                measured: outcome_mod.Measured) -> dict[str, list]:
    """The clickable source's columns: one row per variant of ``members`` (in their order).

    Every kind has ``variant``, ``value`` (the outcome, NaN where missing; percent outcomes
    in %), ``text`` (the value as shown, or why it is missing) and ``param:<name>`` per swept
    parameter. ``scatter`` adds ``x`` (the value, or its text for a categorical parameter);
    ``heatmap`` adds ``x`` and ``y`` (the two parameters' values as text) and ``ink`` (the
    colour of a cell's text, legible on its fill); ``parallel`` adds
    ``xs``/``ys`` (each variant's line over the normalised axes, the outcome last) and
    ``x``/``y`` (where its line meets the outcome axis).
    """
    scale = 100.0 if measured.outcome.percent else 1.0
    values = [v * scale for v in measured.values]
    columns: dict[str, list] = {
        "variant": [m.variant for m in members], "value": values,
        "text": [_shown(v, r, measured.outcome.percent)
                 for v, r in zip(values, measured.reasons, strict=True)]}
    for name, _ in axes:
        columns[f"param:{name}"] = [str(m.params.get(name)) for m in members]
    kind = map_kind(axes)
    if kind == "scatter":
        name, grid = axes[0]
        columns["x"] = [m.params.get(name) if _numeric(grid) else str(m.params.get(name))
                        for m in members]
        if _numeric(grid):  # rows in order of x, so that the line through them is one
            order = sorted(range(len(members)), key=lambda i: columns["x"][i])
            columns = {k: [v[i] for i in order] for k, v in columns.items()}
    elif kind == "heatmap":
        columns["x"] = [str(m.params.get(axes[0][0])) for m in members]
        columns["y"] = [str(m.params.get(axes[1][0])) for m in members]
        # Viridis is dark at its low end: white text there, dark text elsewhere
        columns["ink"] = ["#ffffff" if s < 0.45 else "#333333" for s in _spread(values)]
    else:
        lines = [[_axis_position(grid, m.params.get(name)) for name, grid in axes]
                 for m in members]
        spread = _spread(values)
        columns["xs"] = [list(range(len(axes) + 1)) for _ in members]
        columns["ys"] = [[*line, s] for line, s in zip(lines, spread, strict=True)]
        columns["x"] = [len(axes)] * len(members)
        columns["y"] = spread
    return columns


def _axis_position(grid: Sequence[Any], value: Any) -> float:
    """Where ``value`` sits on a parallel axis of the grid's values, from 0 to 1."""
    if _numeric(grid):
        return _spread([float(v) for v in (*grid, value)])[-1]
    index = [str(v) for v in grid].index(str(value)) if str(value) in map(str, grid) else 0
    return 0.5 if len(grid) == 1 else index / (len(grid) - 1)


def map_title(sweep_id: int, axes: Axes, label: str) -> str:
    """The map's title, e.g. ``sweep 3: final LLC by p, model_seed``."""
    return f"sweep {sweep_id}: {label} by {', '.join(name for name, _ in axes)}"


def map_figure(sweep_id: int, axes: Axes, columns: Mapping[str, list], label: str):
    """The map's figure around a source of ``columns`` named :data:`SOURCE`; the outcome's
    ``label`` titles its value axis or colour bar. Returns ``(figure, source)``."""
    from bokeh.models import (
        ColorBar,
        ColumnDataSource,
        FixedTicker,
        HoverTool,
        LinearColorMapper,
        TapTool,
    )

    source = ColumnDataSource(dict(columns), name=SOURCE.format(id=sweep_id))
    kind = map_kind(axes)
    names = [name for name, _ in axes]
    common = {"width": 560, "height": 320, "name": f"sweep-map-figure:{sweep_id}"}
    tooltips = [("variant", "@variant"), *((n, f"@{{param:{n}}}") for n in names),
                ("outcome", "@text")]
    if kind == "scatter":
        name, grid = axes[0]
        numeric = _numeric(grid)
        extra = {} if numeric else {"x_range": [str(v) for v in grid]}
        fig = figure(map_title(sweep_id, axes, label), x_label=name, y_label=label, **extra,
                     **common)
        if numeric:
            fig.line("x", "value", source=source, color=PALETTE[0], alpha=0.5)
        tappable = fig.scatter("x", "value", source=source, size=11, color=PALETTE[0])
    elif kind == "heatmap":
        (xname, xgrid), (yname, ygrid) = axes
        fig = figure(map_title(sweep_id, axes, label), x_label=xname, y_label=yname,
                     x_range=[str(v) for v in xgrid], y_range=[str(v) for v in ygrid],
                     **common)
        mapper = LinearColorMapper(palette="Viridis256", nan_color="#d9d9d9")
        tappable = fig.rect("x", "y", width=0.95, height=0.95, source=source, line_color=None,
                            fill_color={"field": "value", "transform": mapper})
        fig.text("x", "y", text="text", source=source, text_align="center",
                 text_baseline="middle", text_font_size="9pt", text_color="ink")
        fig.add_layout(ColorBar(color_mapper=mapper, title=label, width=10), "right")
    else:
        fig = figure(map_title(sweep_id, axes, label), x_range=(-0.3, len(axes) + 0.3),
                     y_range=(-0.12, 1.12), **common)
        fig.xaxis.ticker = FixedTicker(ticks=list(range(len(axes) + 1)))
        fig.xaxis.major_label_overrides = {i: n for i, n in enumerate([*names, label])}
        fig.yaxis.visible = False
        for i, (_, grid) in enumerate(axes):
            ends = [grid[0], grid[-1]] if not _numeric(grid) else [min(grid), max(grid)]
            fig.text([i, i], [-0.08, 1.04], text=[str(e) for e in ends], text_align="center",
                     text_font_size="8pt", text_color="#555555")
        fig.segment(x0=list(range(len(axes) + 1)), y0=0, x1=list(range(len(axes) + 1)), y1=1,
                    color="#bbbbbb")
        fig.multi_line("xs", "ys", source=source, color=PALETTE[0], alpha=0.6, line_width=2)
        tappable = fig.scatter("x", "y", source=source, size=11, color=PALETTE[1])
    hover = fig.select_one(HoverTool)
    hover.renderers, hover.tooltips = [tappable], tooltips
    fig.add_tools(TapTool(renderers=[tappable]))
    return fig, source


def missing_text(measured: outcome_mod.Measured) -> str:
    """What the map says of the variants it cannot place, e.g. ``2 of 6 variants have no
    final LLC: not analysed (2).``; empty when every variant has the outcome."""
    missing = measured.missing()
    if not missing:
        return ""
    n, total = sum(missing.values()), len(measured.values)
    why = ", ".join(f"{reason} ({count})" for reason, count in missing.items())
    return f"{n} of {total} variants have no {measured.outcome.name}: {why}."


class SweepMap(pn.viewable.Viewer):
    """A sweep's map with its outcome picker; :meth:`update` follows the sweep's variants.

    Args:
        store: the store the sweep's variants are in.
        record: the sweep.
        members: its variants now.
        on_open: called with a variant's id when its point is clicked, or None.
        stamps: the variants' catalog stamps now (:func:`tdw.store.listing.variant_stamps`),
            so that the first :meth:`update` with the same ones measures nothing again.
    """

    def __init__(self, store: Store, record: SweepRecord, members: Sequence[SweepMember], *,
                 on_open: Callable[[str], None] | None = None,
                 stamps: Mapping[str, tuple] | None = None, **params: Any):
        super().__init__(**params)
        self.store, self.id, self.on_open = store, record.id, on_open
        self.axes = tuple(record.spec.grid.axes)
        self.choices = outcome_mod.outcomes_for(families().get(record.family))
        self.outcome = pn.widgets.Select(label="outcome", options=[o.name for o in self.choices],
                                         value=self.choices[0].name, width=240)
        self.note = pn.pane.HTML("", margin=(0, 10), css_classes=["tdw-sweep-map-note"])
        self.members = list(members)
        self._stamps: Mapping[str, tuple] = stamps or {}
        self._seen: tuple = tuple((m.variant, m.state, self._stamps.get(m.variant))
                                  for m in self.members)
        self._cache: dict[tuple[str, str], tuple] = {}  # (variant, outcome) -> (seen, value, why)
        measured = self._measure()
        self.figure, self.source = map_figure(self.id, self.axes,
                                              map_columns(self.axes, self.members, measured),
                                              self._label())
        self.note.object = html.escape(missing_text(measured))
        self.source.selected.on_change("indices", self._clicked)
        self.outcome.param.watch(lambda e: self._redraw(), "value")

    def _chosen(self) -> outcome_mod.Outcome:
        return next(o for o in self.choices if o.name == self.outcome.value)

    def _label(self) -> str:
        chosen = self._chosen()
        return f"{chosen.name} (%)" if chosen.percent else chosen.name

    def _measure(self) -> outcome_mod.Measured:
        """The chosen outcome of every member, measured again only for the members whose
        state or catalog rows changed since it was last measured (a running sweep changes
        one or two members between polls; a measure may read an artifact)."""
        chosen = self._chosen()
        seen = {m.variant: (m.state, self._stamps.get(m.variant)) for m in self.members}
        stale = [v for v, s in seen.items() if self._cache.get((v, chosen.name), (None,))[0] != s]
        if stale:
            fresh = outcome_mod.measure(self.store, stale, chosen)
            for vid, value, why in zip(stale, fresh.values, fresh.reasons, strict=True):
                self._cache[(vid, chosen.name)] = (seen[vid], value, why)
        rows = [self._cache[(m.variant, chosen.name)] for m in self.members]
        return outcome_mod.Measured(chosen, tuple(r[1] for r in rows), tuple(r[2] for r in rows))

    def update(self, members: Sequence[SweepMember], stamps: Mapping[str, tuple]) -> None:
        """Redraw if the variants' states or catalog rows changed (``stamps``:
        :func:`tdw.store.listing.variant_stamps`), else nothing."""
        seen = tuple((m.variant, m.state, stamps.get(m.variant)) for m in members)
        if seen != self._seen:
            self._seen, self.members, self._stamps = seen, list(members), stamps
            self._redraw()

    def _redraw(self) -> None:
        measured = self._measure()
        self.source.data = map_columns(self.axes, self.members, measured)
        label = self._label()
        self.figure.title.text = map_title(self.id, self.axes, label)
        if map_kind(self.axes) == "scatter":
            self.figure.yaxis.axis_label = label
        elif map_kind(self.axes) == "heatmap":
            from bokeh.models import ColorBar

            self.figure.select_one(ColorBar).title = label
        else:
            names = [name for name, _ in self.axes]
            self.figure.xaxis.major_label_overrides = dict(enumerate([*names, label]))
        self.note.object = html.escape(missing_text(measured))

    def _clicked(self, attr: str, old: list[int], new: list[int]) -> None:
        if not new:
            return
        variant = self.source.data["variant"][new[0]]
        self.source.selected.indices = []
        try:
            opened = bool(self.store.checkpoints(self.store.variant(variant).id))
        except TdwError:
            opened = False
        if not opened:  # a grey cell: nothing to explore yet
            self.note.object = html.escape(f"{variant} has no checkpoints yet: nothing to open.")
        elif self.on_open is not None:
            self.on_open(variant)

    def __panel__(self):
        return pn.Column(self.outcome, pn.pane.Bokeh(self.figure), self.note,
                         sizing_mode="stretch_width", css_classes=["tdw-sweep-map"])
