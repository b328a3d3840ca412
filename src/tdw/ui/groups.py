"""Compare groups of variants: every curve as a mean and band per group, and the members'
per-checkpoint views as small multiples.

The user picks the parameters to pool over (by default the varying ones named like a
seed): variants that differ only in those form a group (:mod:`tdw.explore.groups`). Each
curve every member has (the training metrics, each view's trace) is drawn once, one mean
line and band per group, aligned by epoch or on each member's detected transition. Under
the curves, one per-checkpoint view is shown for every member, a row per group, at the
position a slider picks (each member at its checkpoint nearest that position).

Any number of variants can be grouped. The small multiples are redrawn in Python on a
move (a member's pane has no client-side frames), so a move costs one view's update per
member; the curves do not change with it.
"""

from __future__ import annotations

import html
from typing import Any

import panel as pn
import param

from tdw.errors import TdwError
from tdw.explore.align import (
    ALIGNMENTS,
    aligned_positions,
    alignment,
    epoch_at,
    offset,
    shared_views,
)
from tdw.explore.groups import (
    BANDS,
    Curve,
    Group,
    check_band,
    curves_of,
    default_pool,
    group_band,
    group_variants,
    varying,
)
from tdw.explore.jupyter import ensure_extension
from tdw.explore.variant import Variant
from tdw.explore.viewpane import ViewPane
from tdw.family import plot as _plot
from tdw.store.store import Store

__all__ = ["GroupCompare", "SMALL_WIDTH", "MAX_MULTIPLES"]

SMALL_WIDTH = 300
"""Width in CSS pixels of one member's view in the small multiples."""
MAX_MULTIPLES = 12
"""The most members of one group whose view the small multiples draw."""


def band_figure(curve: Curve, groups: list[Group], align: str, kind: str,
                cache: dict | None = None):
    """One figure of ``curve``: per group a band and its mean line, with a hover that names
    the group, the position, the mean, the band and how many members are there."""
    from bokeh.models import ColumnDataSource, HoverTool

    fig = _plot.figure(curve.title, x_label=ALIGNMENTS[align], y_label=curve.label,
                       width=460, height=320)
    fig.name = f"group-curve:{curve.name}"
    means = []
    for i, group in enumerate(groups):
        color = _plot.PALETTE[i % len(_plot.PALETTE)]
        columns = group_band(group, curve, align, kind, cache=cache).columns()
        src = ColumnDataSource({**columns, "group": [group.label] * len(columns["x"])},
                               name=f"group-band:{curve.name}:{i}")
        label = f"{group.label} ({len(group)})"
        fig.varea("x", "low", "high", source=src, fill_color=color, fill_alpha=0.2,
                  legend_label=label)
        means.append(fig.line("x", "mean", source=src, color=color, line_width=2,
                              legend_label=label))
    hover = fig.select_one(HoverTool)
    hover.renderers = means
    hover.tooltips = [("group", "@group"), (ALIGNMENTS[align], "@x{0,0}"),
                      ("mean", "@mean{%.4g}"), (BANDS[kind], "@low{%.4g} to @high{%.4g}"),
                      ("members", "@count")]
    hover.formatters = {"@mean": "printf", "@low": "printf", "@high": "printf"}
    _plot.finish_curves(fig, log=curve.log)
    _plot.legend_outside(fig, side="below")
    return fig


class GroupCompare(pn.viewable.Viewer):
    """Variants in groups: curves as mean and band, views as small multiples.

    Args:
        variants: two or more variants or ids, each with checkpoints.
        store: the store, for ids.
        pool: the parameters to pool over (default :func:`~tdw.explore.groups.default_pool`).
        band: ``"minmax"`` or ``"iqr"``.
        align: ``"epoch"`` or ``"transition"``.
        view: the per-checkpoint view of the small multiples (default the first shared).
    """

    pool = param.List(default=[], item_type=str, doc="The parameters pooled over.")
    band = param.Selector(default="minmax", objects=list(BANDS))
    align = param.Selector(default="epoch", objects=list(ALIGNMENTS))
    position = param.Integer(default=0, doc="The small multiples' position.")

    def __init__(self, variants: list[Variant | str], store: Store | str | None = None, *,
                 pool: list[str] | None = None, band: str = "minmax", align: str = "epoch",
                 view: str | None = None, **params: Any):
        ensure_extension()
        if len(variants) < 2:
            raise TdwError(f"a group comparison needs two variants or more, not {len(variants)}")
        self.variants = [v if isinstance(v, Variant) else Variant(v, store) for v in variants]
        if bare := [v.id for v in self.variants if not v.epochs]:
            raise TdwError(f"{', '.join(bare)} {'has' if len(bare) == 1 else 'have'} no "
                           "checkpoints yet: train them first, or leave them out")
        align = alignment(align)
        for v in self.variants:
            offset(v, align)  # refuse now a transition some variant lacks
        pool = default_pool(self.variants) if pool is None else list(pool)
        self.groups = group_variants(self.variants, pool)
        super().__init__(pool=pool, band=check_band(band), align=align, **params)
        self.curves = curves_of(self.variants)
        self._values: dict = {}  # each member's (x, y) per curve: see group_band
        self.view_names = shared_views(self.variants, "checkpoint")
        if view is not None and view not in self.view_names:
            raise TdwError(f"cannot show {view!r} for every member; views they all have: "
                           f"{', '.join(self.view_names) or 'none yet (analyse them)'}")
        self.pool_widget = pn.widgets.MultiChoice(
            label="pool over (members differing only in these form a group)",
            options=varying(self.variants), value=pool, sizing_mode="stretch_width")
        self.band_widget = pn.widgets.RadioButtonGroup(
            options={label: key for key, label in BANDS.items()}, value=band)
        self.align_widget = pn.widgets.RadioButtonGroup(
            options={f"align by {a}": a for a in ALIGNMENTS}, value=align)
        self.view_widget = pn.widgets.Select(label="view per member", options=self.view_names,
                                             value=view or (self.view_names or [None])[0],
                                             width=300)
        self.slider = pn.widgets.DiscreteSlider(label=ALIGNMENTS[align], options=[0], value=0,
                                                width=460)
        self.message = pn.pane.Alert("", alert_type="warning", visible=False,
                                     sizing_mode="stretch_width")
        self.summary = pn.pane.Markdown("", css_classes=["tdw-group-summary"], margin=(0, 10))
        self.figures = pn.FlexBox(sizing_mode="stretch_width", css_classes=["tdw-group-curves"])
        self.multiples = pn.Column(sizing_mode="stretch_width",
                                   css_classes=["tdw-group-multiples"])
        self.panes: list[list[ViewPane]] = []
        self._draw_curves()
        self._place(aligned_positions(self.variants, align)[-1])
        self._draw_multiples()
        self.pool_widget.param.watch(lambda e: self._set(pool=list(e.new)), "value")
        self.band_widget.param.watch(lambda e: self._set(band=e.new), "value")
        self.align_widget.param.watch(lambda e: self._set(align=e.new), "value")
        self.view_widget.param.watch(lambda e: self._draw_multiples(), "value")
        self.slider.param.watch(lambda e: setattr(self, "position", e.new), "value")
        self.param.watch(lambda e: self._move(), "position")

    def take_place_of(self, old: GroupCompare) -> None:
        """Show what ``old`` showed (the same variants, with more checkpoints or artifacts):
        its pooling, band and view, at the position nearest its own."""
        changes = {k: getattr(old, k) for k in ("pool", "band")
                   if getattr(old, k) != getattr(self, k)}
        if changes:
            self._set(**changes)
        self.pool_widget.value, self.band_widget.value = self.pool, self.band
        if old.view_widget.value in self.view_names:
            self.view_widget.value = old.view_widget.value
        self._place(old.position)
        self._move()

    # -------------------------------------------------------------- logic
    def epochs_at(self, position: int) -> list[list[int]]:
        """Per group, each member's checkpoint nearest ``position``."""
        return [[epoch_at(v, position, self.align) for v in g.members] for g in self.groups]

    def _set(self, **changes: Any) -> None:
        """Apply a control's change, or keep the former state and say why it was refused."""
        before = {k: getattr(self, k) for k in changes}
        if before == changes:  # a widget put back after a refusal: nothing to do
            return
        try:
            if "align" in changes:
                for v in self.variants:
                    offset(v, changes["align"])
            groups = group_variants(self.variants, changes.get("pool", self.pool))
        except TdwError as exc:
            self.message.object, self.message.visible = html.escape(str(exc)), True
            self.pool_widget.value, self.align_widget.value = self.pool, self.align
            return
        self.message.visible = False
        position = self.position
        if "align" in changes:  # the first variant keeps its checkpoint, as in Compare
            first = self.variants[0]
            position = epoch_at(first, position, self.align) - offset(first, changes["align"])
        regrouped = groups != self.groups
        self.groups = groups
        self.param.update(**changes)
        self._draw_curves()
        self._place(position)
        if regrouped:
            self._draw_multiples()
        else:
            self._move()

    def _place(self, position: int) -> None:
        """Put the slider (and ``position``) at the position nearest ``position``."""
        positions = aligned_positions(self.variants, self.align)
        nearest = positions[_plot.nearest_index(positions, position)]
        with param.parameterized.discard_events(self):
            self.position = nearest
        self.slider.param.update(label=ALIGNMENTS[self.align], options=positions,
                                 value=nearest)

    def _draw_curves(self) -> None:
        sizes = ", ".join(f"{g.label} ({len(g)})" for g in self.groups)
        pooled = ", ".join(self.pool) or "nothing"
        self.summary.object = (f"**{len(self.variants)} variants in {len(self.groups)} "
                               f"group{'s' if len(self.groups) != 1 else ''}**, pooled over "
                               f"{pooled}: {html.escape(sizes)}. Bands: {BANDS[self.band]}; "
                               f"a position is drawn where half a group's members reach.")
        cards = []
        for curve in self.curves:
            try:
                cards.append(pn.pane.Bokeh(band_figure(curve, self.groups, self.align,
                                                       self.band, self._values)))
            except TdwError as exc:  # one member lacks what this curve reads
                cards.append(pn.pane.Alert(f"**{html.escape(curve.title)}**: "
                                           f"{html.escape(str(exc))}", alert_type="warning",
                                           width=460))
        self.figures.objects = cards

    def _draw_multiples(self) -> None:
        name = self.view_widget.value
        if name is None:
            self.panes = []
            self.multiples.objects = [pn.pane.Markdown(
                "No per-checkpoint view is analysed for every member yet.")]
            return
        view = self.variants[0]._view(name)
        rows, self.panes, left_out = [], [], 0
        for group, epochs in zip(self.groups, self.epochs_at(self.position), strict=True):
            shown = list(zip(group.members, epochs, strict=True))[:MAX_MULTIPLES]
            left_out += len(group) - len(shown)
            panes = [ViewPane(v, view, e) for v, e in shown]
            for pane in panes:
                _shrink(pane.figure)
            self.panes.append(panes)
            rows.append(pn.Column(
                pn.pane.Markdown(f"**{html.escape(group.label)}**", margin=(0, 10)),
                pn.FlexBox(*[pn.Column(pn.pane.Markdown(_caption(p), margin=(0, 5)),
                                       pn.pane.Bokeh(p.figure)) for p in panes]),
                sizing_mode="stretch_width"))
        if left_out:
            rows.append(pn.pane.Markdown(
                f"{left_out} more member{'s' if left_out != 1 else ''} not shown: at most "
                f"{MAX_MULTIPLES} per group (their curves are in the bands above)."))
        self.multiples.objects = rows

    def _move(self) -> None:
        if not self.panes:
            return
        for panes, epochs in zip(self.panes, self.epochs_at(self.position), strict=True):
            for pane, epoch in zip(panes, epochs, strict=False):
                if pane.epoch != epoch:
                    pane.show(epoch)
        for row, panes in zip(self.multiples.objects, self.panes, strict=False):
            for cell, pane in zip(row.objects[1].objects, panes, strict=True):
                cell.objects[0].object = _caption(pane)

    def __panel__(self):
        return pn.Column(
            self.summary, self.pool_widget, pn.Row(self.band_widget, self.align_widget),
            self.message, self.figures,
            pn.pane.Markdown("#### Each member at one position", margin=(10, 10, 0, 10)),
            pn.Row(self.view_widget, self.slider), self.multiples,
            sizing_mode="stretch_width", css_classes=["tdw-groups"])


def _caption(pane: ViewPane) -> str:
    return f"`{pane.variant.id.split('/')[-1]}` at epoch {pane.epoch:,}"


def _shrink(figure: Any) -> None:
    """Scale a view's figure down to :data:`SMALL_WIDTH`, keeping its aspect."""
    width, height = getattr(figure, "width", None), getattr(figure, "height", None)
    if width and height and width > SMALL_WIDTH:
        figure.width, figure.height = SMALL_WIDTH, max(160, round(height * SMALL_WIDTH / width))
