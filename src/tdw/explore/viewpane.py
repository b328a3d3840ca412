"""One view of one variant, drawn once and then updated in place.

A :class:`ViewPane` builds its Bokeh figure a single time around named
``ColumnDataSource`` objects. Moving to another checkpoint only replaces the data of the
sources the view's ``epoch_data`` names, never the figure: for a per-checkpoint view that
is the plot, for a summary view just its current-epoch marker.

Where the per-checkpoint data of every checkpoint together is small (``client_budget``
bytes), the pane also packs all of it into one *frames* source per target source (one
row per checkpoint), so a browser-side callback can swap frames without asking Python
(:func:`frame_swap_code`). Larger views answer from Python, through a per-pane cache.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from tdw.explore.ranges import hold_colour_bars, hold_ranges, on_overlay, ranges_fixed
from tdw.family.views import Columns, View, ViewContext

if TYPE_CHECKING:
    from tdw.explore.variant import Variant

__all__ = ["ViewPane", "frame_swap_code", "frame_swap_args", "columns_nbytes", "MOVES_TAG"]

MOVES_TAG = "tdw:moves"
"""Bokeh tag on the figure of every view that a checkpoint move updates (tests find them)."""

HELD_TAG = "tdw:held"
"""Bokeh tag on a figure whose every range is fixed (no axis follows the data)."""

FRAME_SWAP_JS = """
const HELD_TAG = "tdw:held";
const i = Math.max(0, Math.min(Math.round(index), n_frames - 1));
// One state per page. A figure outside the window (scrolled away, or in a collapsed card)
// is not repainted on a move: it owes its latest frame, and an IntersectionObserver shows it
// when the figure comes into view. Figures not (yet) found on the page are always updated.
const tdw = window.__tdwFrames || (window.__tdwFrames = {
  seen: new Map(), owed: new Map(), elements: new Map(), views: new Map(), observer: null});
if (tdw.observer === null && typeof IntersectionObserver !== "undefined") {
  tdw.observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const id = entry.target.dataset.tdwFigure;
      tdw.seen.set(id, entry.isIntersecting);
      const owed = tdw.owed.get(id);
      if (entry.isIntersecting && owed !== undefined) {
        tdw.owed.delete(id);
        for (const show of owed.values()) show();
      }
    }
  });
}
const elementOf = (fig) => {
  let el = tdw.elements.get(fig.id);
  if (el == null || !el.isConnected) {
    const view = (tdw.observer !== null && window.Bokeh && Bokeh.index) ?
      Bokeh.index.find_one(fig) : null;
    el = view == null ? null : view.el;
    if (view != null && (fig.tags || []).includes(HELD_TAG) && !view.__tdwHeld) {
      // Every range of this figure is fixed (tdw.explore.ranges): new data cannot move an
      // axis, so skip BokehJS's data-range update and its measuring of every axis label,
      // which forces a style recalculation of the page on each move.
      // Likewise, a repaint that follows a swap need not measure the axes again to see
      // whether the figure must be laid out anew (any other repaint still does).
      view.__tdwHeld = true;
      Object.defineProperty(view, "invalidate_dataranges", {
        configurable: true, get() { return false; }, set(_value) {}});
      const check = view._invalidate_layout_if_needed;
      if (typeof check === "function") {
        view._invalidate_layout_if_needed = function () {
          if (this.__tdwSwapped && !this._needs_layout) { this.__tdwSwapped = false; return; }
          this.__tdwSwapped = false;
          return check.call(this);
        };
      }
    }
    if (view != null) tdw.views.set(fig.id, view);
    if (el !== null) {
      el.dataset.tdwFigure = fig.id;
      tdw.seen.delete(fig.id);
      tdw.observer.observe(el);
    }
    tdw.elements.set(fig.id, el);
  }
  return el;
};
for (let k = 0; k < targets.length; k++) {
  const target = targets[k], frames = frames_list[k], fig = figures[k];
  // sync: false -- Python derives the same frame itself; do not echo the data back.
  const show = () => {
    const data = {};
    for (const column of frames.columns()) data[column] = frames.data[column][i];
    const view = tdw.views.get(fig.id);
    if (view != null && view.__tdwHeld) view.__tdwSwapped = true;
    target.setv({data}, {sync: false});
  };
  const el = elementOf(fig);
  if (el === null || tdw.seen.get(fig.id) !== false) {
    show();
    const owed = tdw.owed.get(fig.id);
    if (owed !== undefined) owed.delete(target.id);
  } else {
    if (!tdw.owed.has(fig.id)) tdw.owed.set(fig.id, new Map());
    tdw.owed.get(fig.id).set(target.id, show);
  }
}
"""


def frame_swap_code(index_expr: str) -> str:
    """JS that shows frame ``index_expr`` (an expression of the checkpoint index) in every
    target source whose figure is on screen, and in the others once they come into view;
    expects the args of :func:`frame_swap_args`."""
    return f"const index = {index_expr};\n{FRAME_SWAP_JS}"


def frame_swap_args(panes: list[ViewPane], n_frames: int) -> dict[str, Any]:
    """The CustomJS args :func:`frame_swap_code` reads, for the client-side ``panes``."""
    targets, frames, figures = [], [], []
    for pane in panes:
        if pane.client_side:
            for name, frame in pane.frames.items():
                targets.append(pane.sources[name])
                frames.append(frame)
                figures.append(pane.figure)
    return {"targets": targets, "frames_list": frames, "figures": figures,
            "n_frames": n_frames}


def columns_nbytes(columns: Columns) -> int:
    """Approximate serialised size of view columns (numbers as 4 or 8 bytes each)."""
    total = 0
    for cols in columns.values():
        for values in cols.values():
            if isinstance(values, np.ndarray):
                total += values.nbytes
            else:
                total += sum(np.asarray(v).nbytes if isinstance(v, np.ndarray | list)
                             else 8 for v in values)
    return total


class ViewPane:
    """A view of ``variant`` with its sources, figure, selectors and frame cache.

    Args:
        variant: the variant to draw.
        view: the view to draw.
        epoch: the checkpoint shown first.
        client_budget: largest total size (bytes) of every checkpoint's per-epoch data
            for which the frames are shipped to the browser; 0 disables it.
        cache_size: how many checkpoints' per-epoch columns the pane keeps.
    """

    def __init__(self, variant: Variant, view: View, epoch: int, *, client_budget: int = 0,
                 cache_size: int = 256):
        self.variant, self.view = variant, view
        self.epoch = epoch
        self.selection: dict[str, int] = {name: 0 for name in view.selectors}
        self._cache: OrderedDict[tuple, Columns] = OrderedDict()
        self._cache_size = cache_size
        ctx = self.context(epoch)
        per_epoch = self.epoch_columns(epoch)
        self.sources = view.sources(ctx, per_epoch)
        self.figure = view.build(self.sources, ctx)
        self.figure.name = f"view:{view.name}"
        _hide_empty_legend_items(self.figure, set(per_epoch), self.sources)
        self.moves = bool(per_epoch)
        """Whether a checkpoint move changes this figure (false for e.g. a cross-epoch grid)."""
        if self.moves:
            self.figure.tags = [*self.figure.tags, MOVES_TAG]
        self.selector_ranges = {name: view.selector_range(ctx, name) for name in view.selectors}
        self.frames: dict[str, Any] = {}
        self._held: list[Any] = []
        self.client_side = False
        if client_budget > 0:
            self._try_client_side(client_budget)

    # ---------------------------------------------------------------- state
    @property
    def name(self) -> str:
        return self.view.name

    def context(self, epoch: int) -> ViewContext:
        return self.variant.context(epoch, **self.selection)

    def epoch_columns(self, epoch: int) -> Columns:
        """The view's per-epoch columns at ``epoch`` for the current selection (cached)."""
        key = (epoch, tuple(sorted(self.selection.items())))
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        columns = self.view.epoch_data(self.context(epoch))
        self._cache[key] = columns
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return columns

    # --------------------------------------------------------------- update
    def show(self, epoch: int) -> None:
        """Move to ``epoch`` from Python: replace the per-epoch sources' data."""
        self.epoch = epoch
        for name, cols in self.epoch_columns(epoch).items():
            self.sources[name].data = dict(cols)

    def select(self, **selection: int) -> None:
        """Change selectors (e.g. ``neuron=3``): redraw static and per-epoch data."""
        for name, value in selection.items():
            if name not in self.selection:
                raise KeyError(f"view {self.name} has no selector {name!r}")
            top = self.selector_ranges[name] - 1
            self.selection[name] = int(min(max(value, 0), top))
        ctx = self.context(self.epoch)
        for name, cols in {**self.view.data(ctx), **self.view.epoch_data(ctx)}.items():
            self.sources[name].data = dict(cols)
        if self.client_side:
            self._fill_frames()

    # ----------------------------------------------------------- client side
    def _try_client_side(self, budget: int) -> None:
        first = self.epoch_columns(self.variant.epochs[0])
        if not first or columns_nbytes(first) * len(self.variant.epochs) > budget:
            return
        from bokeh.models import ColumnDataSource

        # The browser swaps frames into the target sources; nothing it does to them (or to
        # the frames) is sent back to the kernel, which derives the same data itself.
        self.frames = {name: ColumnDataSource(name=f"frames:{self.view.name}:{name}",
                                              syncable=False) for name in first}
        for name in first:
            self.sources[name].syncable = False
            self.sources[name].name = self.sources[name].name or f"source:{self.view.name}:{name}"
        self.client_side = True
        self._fill_frames()
        hold_colour_bars(self.figure)
        if ranges_fixed(self.figure):  # axes that hold still: a move repaints the glyphs only
            on_overlay(self.figure, [self.sources[name] for name in first])
            self.figure.tags = [*self.figure.tags, HELD_TAG]

    def _fill_frames(self) -> None:
        per_epoch = [self.epoch_columns(e) for e in self.variant.epochs]
        for name, frames in self.frames.items():
            frames.data = {column: [_plain(cols[name][column]) for cols in per_epoch]
                           for column in per_epoch[0][name]}
        # Axes span every checkpoint, so a move never changes them (see tdw.explore.ranges);
        # a new selection (e.g. another neuron) spans its own data.
        for rng in self._held:
            rng.start = rng.end = float("nan")
        self._held = hold_ranges(self.figure, self.sources, self.frames)


def _hide_empty_legend_items(figure: Any, moving: set[str], sources: Mapping[str, Any]
                             ) -> None:
    """Hide the legend entries of glyphs that draw nothing for the whole run (e.g. "detected
    transition" where none was detected): a swatch for a mark that is nowhere misleads."""
    from bokeh.models import Legend

    moving_ids = {id(sources[name]) for name in moving if name in sources}
    for legend in figure.select({"type": Legend}):
        for item in legend.items:
            sources_of = [getattr(r, "data_source", None) for r in item.renderers]
            if sources_of and all(
                    src is not None and id(src) not in moving_ids
                    and not any(len(v) for v in src.data.values()) for src in sources_of):
                item.visible = False


def _plain(values: Any) -> Any:
    """A column as Bokeh serialises it efficiently: 1-D numbers as arrays."""
    if isinstance(values, np.ndarray):
        return values
    if isinstance(values, list) and values and all(isinstance(v, np.ndarray) for v in values):
        return values
    return list(values) if not isinstance(values, Mapping) else values


GROUP_ORDER = ("Training", "Trajectory", "Fourier", "Grids", "Analyses")


def grouped(panes: list, group_of: Callable[[Any], str]) -> list[tuple[str, list]]:
    """``panes`` in groups, known groups first in :data:`GROUP_ORDER`, then the others."""
    groups: dict[str, list] = {}
    for pane in panes:
        groups.setdefault(group_of(pane), []).append(pane)
    order = [g for g in GROUP_ORDER if g in groups] + sorted(set(groups) - set(GROUP_ORDER))
    return [(g, groups[g]) for g in order]
