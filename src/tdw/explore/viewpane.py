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

from tdw.explore.frames import fill, pack
from tdw.explore.ranges import hold_colour_bars, hold_ranges, on_overlay, ranges_fixed
from tdw.family.views import Columns, View, ViewContext

if TYPE_CHECKING:
    from tdw.explore.variant import Variant

__all__ = ["ViewPane", "frame_swap_code", "frame_swap_args", "MOVES_TAG",
           "LANE_TAG"]

MOVES_TAG = "tdw:moves"
"""Bokeh tag on the figure of every view that a checkpoint move updates (tests find them)."""

FRAMES_OF_TAG = "tdw:frames-of:"
"""Tag prefix on a frames source, followed by the id of the source its frames are swapped into."""

HELD_TAG = "tdw:held"
"""Bokeh tag on a figure whose every range is fixed (no axis follows the data)."""

FRAME_SWAP_JS = """
const HELD_TAG = "tdw:held";
const row = Math.round(index);
// A frames source holds every checkpoint in one row (tdw.explore.frames.Packed); its tags
// say which columns are stacked arrays, lists of arrays, or quantised uint16 codes
// (value = lo + code * step).
const NAN_CODE = 65535;
const TYPED = {float32: Float32Array, float64: Float64Array, uint8: Uint8Array,
  int8: Int8Array, uint16: Uint16Array, int16: Int16Array, uint32: Uint32Array,
  int32: Int32Array, bool: Uint8Array};
const ndarray = (() => {
  try { return Bokeh.require("core/util/ndarray").ndarray; } catch (_err) { return null; }
})();
const nd = (typed, dtype, shape) => (ndarray !== null ? ndarray(typed, {dtype, shape}) : typed);
const layoutOf = (frames) => {
  const out = {n: 1, stacked: new Set(), lists: new Set(), quantised: new Set()};
  for (const t of (frames.tags || []).map(String)) {
    if (t.startsWith("tdw:frames:")) out.n = Number(t.slice(11));
    else if (t.startsWith("tdw:stacked:")) out.stacked.add(t.slice(12));
    else if (t.startsWith("tdw:lists:")) out.lists.add(t.slice(10));
    else if (t.startsWith("tdw:quantised:")) out.quantised.add(t.slice(14));
  }
  return out;
};
// Frame i of a column: a slice of its stacked array (a plain typed-array view, then an
// ndarray of the frame's shape), or the i-th of its list.
const frameValue = (layout, frames, column, i) => {
  const payload = frames.data[column][0];
  if (!layout.stacked.has(column)) return payload[i];
  const rest = payload.shape.slice(1);
  if (rest.length === 0) return payload[i];  // one number a frame
  const Typed = TYPED[payload.dtype];
  const size = rest.reduce((a, b) => a * b, 1);
  const view = (offset, length) => new Typed(payload.buffer,
    payload.byteOffset + offset * Typed.BYTES_PER_ELEMENT, length);
  if (!layout.lists.has(column)) return nd(view(i * size, size), payload.dtype, rest);
  const inner = rest.slice(1), m = size / rest[0];
  return Array.from({length: rest[0]},
                    (_, j) => nd(view(i * size + j * m, m), payload.dtype, inner));
};
const decodeOne = (q, lo, step) => {
  const out = new Float32Array(q.length);
  for (let j = 0; j < q.length; j++) out[j] = q[j] === NAN_CODE ? NaN : lo + q[j] * step;
  return nd(out, "float32", q.shape || [q.length]);
};
const decode = (v, lo, step) => (Array.isArray(v) ? v.map((q) => decodeOne(q, lo, step))
                                                  : decodeOne(v, lo, step));
const frameData = (frames, i) => {
  const layout = layoutOf(frames);
  const data = {};
  for (const column of frames.columns()) {
    const base = column.replace(/:(lo|step)$/, "");
    if (base !== column && layout.quantised.has(base)) continue;
    const value = frameValue(layout, frames, column, i);
    data[column] = layout.quantised.has(column) ?
      decode(value, frameValue(layout, frames, column + ":lo", i),
             frameValue(layout, frames, column + ":step", i)) : value;
  }
  return data;
};
// Target k shows frame `row` of its frames, or, with an index table (Compare: one lane per
// variant), the frame its lane's column names for that row (lane -1: frame `row`).
const frameOf = (k) => {
  const n = layoutOf(frames_list[k]).n;
  const j = index_table == null || lanes[k] < 0 ? row :
    index_table.data["lane" + lanes[k]][row];
  return Math.max(0, Math.min(j, n - 1));
};
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
      // Until the observer first reports (after this move), judge from the element's box:
      // the first move then repaints only what is on screen, like every later one.
      const box = el.getBoundingClientRect();
      tdw.seen.set(fig.id, box.width > 0 && box.height > 0 && box.bottom > 0 &&
                   box.right > 0 && box.top < window.innerHeight &&
                   box.left < window.innerWidth);
      tdw.observer.observe(el);
    }
    tdw.elements.set(fig.id, el);
  }
  return el;
};
for (let k = 0; k < targets.length; k++) {
  const target = targets[k], frames = frames_list[k], fig = figures[k], i = frameOf(k);
  // sync: false -- Python derives the same frame itself; do not echo the data back.
  const show = () => {
    const data = frameData(frames, i);
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
    """JS that shows frame ``index_expr`` (an expression of the checkpoint index, or of the row
    of the index table) in every target source whose figure is on screen, and in the others
    once they come into view; expects the args of :func:`frame_swap_args`."""
    return f"const index = {index_expr};\n{FRAME_SWAP_JS}"


LANE_TAG = "tdw:lane:"
"""Tag prefix on a frames source: the lane (column of the index table) its checkpoints follow."""


def frame_swap_args(lanes: list[list[ViewPane]], index_table: Any = None,
                    rows: list[Any] = ()) -> dict[str, Any]:
    """The CustomJS args :func:`frame_swap_code` reads, for the client-side panes of each lane.

    One lane (the Explorer): the index is the checkpoint index. Several (Compare, a lane per
    variant): ``index_table`` is a ``ColumnDataSource`` whose column ``lane<k>`` gives, for
    each row (slider position), the checkpoint index lane ``k`` shows. ``rows``: panes with
    a frame per row (e.g. Compare's overlays, whose marker has one per position).
    """
    targets, frames, figures, lane_of = [], [], [], []
    for lane, panes in [(-1, list(rows)), *enumerate(lanes)]:
        for pane in panes:
            if not pane.client_side:
                continue
            for name, frame in pane.frames.items():
                frame.tags = [t for t in frame.tags if not str(t).startswith(LANE_TAG)]
                frame.tags.append(f"{LANE_TAG}{lane}")
                targets.append(pane.sources[name])
                frames.append(frame)
                figures.append(pane.figure)
                lane_of.append(lane)
    return {"targets": targets, "frames_list": frames, "figures": figures, "lanes": lane_of,
            "index_table": index_table}


class ViewPane:
    """A view of ``variant`` with its sources, figure, selectors, controls and frame cache.

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
        self.controls: dict[str, float] = {c.name: c.default for c in view.controls}
        """The view's decimal controls (thresholds) as chosen: see :meth:`set_controls`."""
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
        self.selector_labels = {name: view.selector_labels(ctx, name) for name in view.selectors}
        """Selector name -> the page's name of each of its values (``"neuron 312"``)."""
        self.frames: dict[str, Any] = {}
        self._held: list[Any] = []
        self.client_side = False
        self.quantised = False
        """Whether the frames travel quantised (tdw.explore.frames): as they are, they exceed
        the budget."""
        self.frame_bytes = 0
        """Bytes of every checkpoint's frames as they would travel (0: not sized, or no frames)."""
        if client_budget > 0:
            self._try_client_side(client_budget)

    # ---------------------------------------------------------------- state
    @property
    def name(self) -> str:
        return self.view.name

    def context(self, epoch: int) -> ViewContext:
        return self.variant.context(epoch, controls=self.controls, **self.selection)

    def epoch_columns(self, epoch: int) -> Columns:
        """The view's per-epoch columns at ``epoch`` for the selection and controls (cached)."""
        key = (epoch, tuple(sorted(self.selection.items())), tuple(sorted(self.controls.items())))
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
        """Change selectors (e.g. ``neuron=3``): redraw static and per-epoch data (all or
        nothing: if the view's code raises, the former selection and drawing stay)."""
        for name in selection:
            if name not in self.selection:
                raise KeyError(f"view {self.name} has no selector {name!r}")
        self._redraw_with(self.selection, {
            name: int(min(max(value, 0), self.selector_ranges[name] - 1))
            for name, value in selection.items()})

    def set_controls(self, **values: float) -> None:
        """Change decimal controls (e.g. ``min_share=0.35``), redrawn like :meth:`select`;
        an unknown name or a value out of range raises a TdwError and changes nothing."""
        checked = {name: self.view.control(name).check(value) for name, value in values.items()}
        self._redraw_with(self.controls, checked)

    def _redraw_with(self, state: dict, changes: dict) -> None:
        """``changes`` to the selection or the controls, redrawn; undone if that raises."""
        before = dict(state)
        state.update(changes)
        try:
            self._redraw()
        except Exception:
            state.clear()
            state.update(before)
            self._redraw()
            raise

    def _redraw(self) -> None:
        """Static and per-epoch data for the current selection and controls; with frames,
        every checkpoint's again (a move still swaps them in the browser)."""
        ctx = self.context(self.epoch)
        for name, cols in {**self.view.data(ctx), **self.epoch_columns(self.epoch)}.items():
            self.sources[name].data = dict(cols)
        if self.client_side:
            self._fill_frames()

    # ----------------------------------------------------------- client side
    def _try_client_side(self, budget: int) -> None:
        first = self.epoch_columns(self.variant.epochs[0])
        if not first:
            return
        n = len(self.variant.epochs)
        # Sized from the first checkpoint (the others cost as much): as they are, else
        # quantised (tdw.explore.frames), else the view answers from Python.
        sizes = [sum(pack([first[name]], quantise=q).nbytes for name in first) * n
                 for q in (False, True)]
        self.quantised = sizes[0] > budget
        self.frame_bytes = sizes[1] if self.quantised else sizes[0]
        if sizes[1] > budget:
            return
        from bokeh.models import ColumnDataSource

        # The browser swaps frames into the target sources; nothing it does to them (or to
        # the frames) is sent back to the kernel, which derives the same data itself.
        self.frames = {name: ColumnDataSource(name=f"frames:{self.view.name}:{name}",
                                              syncable=False,
                                              tags=[f"{FRAMES_OF_TAG}{self.sources[name].id}"])
                       for name in first}
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
            fill(frames, pack([cols[name] for cols in per_epoch], quantise=self.quantised))
        # Axes span every checkpoint, so a move never changes them (see tdw.explore.ranges);
        # a new selection (e.g. another neuron) spans its own data.
        for rng in self._held:
            rng.start = rng.end = float("nan")
        self._held = hold_ranges(self.figure, self.sources,
                                 {name: [cols[name] for cols in per_epoch] for name in self.frames})


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


GROUP_ORDER = ("Training", "Trajectory", "Fourier", "Grids", "Analyses")


def grouped(panes: list, group_of: Callable[[Any], str]) -> list[tuple[str, list]]:
    """``panes`` in groups, known groups first in :data:`GROUP_ORDER`, then the others."""
    groups: dict[str, list] = {}
    for pane in panes:
        groups.setdefault(group_of(pane), []).append(pane)
    order = [g for g in GROUP_ORDER if g in groups] + sorted(set(groups) - set(GROUP_ORDER))
    return [(g, groups[g]) for g in order]
