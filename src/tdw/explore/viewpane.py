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

from tdw.family.views import Columns, View, ViewContext

if TYPE_CHECKING:
    from tdw.explore.variant import Variant

__all__ = ["ViewPane", "frame_swap_code", "columns_nbytes", "MOVES_TAG"]

MOVES_TAG = "tdw:moves"
"""Bokeh tag on the figure of every view that a checkpoint move updates (tests find them)."""

FRAME_SWAP_JS = """
const i = Math.max(0, Math.min(Math.round(index), n_frames - 1));
for (let k = 0; k < targets.length; k++) {
  const frames = frames_list[k];
  const data = {};
  for (const column of frames.columns()) data[column] = frames.data[column][i];
  // sync: false -- Python derives the same frame itself; do not echo the data back.
  targets[k].setv({data}, {sync: false});
}
"""


def frame_swap_code(index_expr: str) -> str:
    """JS that shows frame ``index_expr`` (an expression of the checkpoint index) in every
    target source; expects args ``targets``, ``frames_list`` and ``n_frames``."""
    return f"const index = {index_expr};\n{FRAME_SWAP_JS}"


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
        self.moves = bool(per_epoch)
        """Whether a checkpoint move changes this figure (false for e.g. a cross-epoch grid)."""
        if self.moves:
            self.figure.tags = [*self.figure.tags, MOVES_TAG]
        self.selector_ranges = {name: view.selector_range(ctx, name) for name in view.selectors}
        self.frames: dict[str, Any] = {}
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

        self.frames = {name: ColumnDataSource(name=f"frames:{self.view.name}:{name}")
                       for name in first}
        self.client_side = True
        self._fill_frames()

    def _fill_frames(self) -> None:
        per_epoch = [self.epoch_columns(e) for e in self.variant.epochs]
        for name, frames in self.frames.items():
            frames.data = {column: [_plain(cols[name][column]) for cols in per_epoch]
                           for column in per_epoch[0][name]}

    def frame_pairs(self) -> tuple[list, list]:
        """(target sources, frames sources) for :func:`frame_swap_code`."""
        names = list(self.frames)
        return [self.sources[n] for n in names], [self.frames[n] for n in names]


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
