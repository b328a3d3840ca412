"""Explore one variant: one checkpoint slider drives every view of its family.

The page is generated from the family's views (grouped by ``View.group``); nothing in it
knows about any particular family. A slider move replaces only per-checkpoint data:

* views whose per-checkpoint data for *every* checkpoint fits ``client_budget`` ship it
  once as frames, and a browser-side callback swaps frames with no Python round trip;
* the others answer from Python through each pane's cache;
* summary views move only their current-checkpoint marker.

Clicking a checkpoint marker on a training curve (any renderer named ``checkpoints``)
jumps there, and so does clicking the checkpoint timeline. The Export card writes any view
(PNG, SVG, HTML, or a GIF across checkpoints) and the standalone explorer.
"""

from __future__ import annotations

import html
from typing import Any

import panel as pn
import param

from tdw.errors import TdwError
from tdw.explore.jupyter import ensure_extension
from tdw.explore.variant import Variant
from tdw.explore.viewpane import ViewPane, frame_swap_args, frame_swap_code, grouped
from tdw.family.views import View
from tdw.store.store import Store
from tdw.ui.export_bar import ExportBar
from tdw.ui.player import CheckpointPlayer
from tdw.ui.story import StoryBar
from tdw.ui.timeline import scale_for
from tdw.ui.timeline_pane import TimelinePane
from tdw.ui.view_controls import ViewControls, link_taps

__all__ = ["Explorer", "DEFAULT_CLIENT_BUDGET", "draw_view"]

DEFAULT_CLIENT_BUDGET = 8_000_000
"""Bytes of per-checkpoint data (all checkpoints together) a view may ship to the browser.

Measured on a 100-checkpoint quick-preset variant (p = 59) in headless Chromium: at 2 MB
the neuron frequency clusters (6 MB) answered from Python and every slider move waited
for that round trip through the kernel (about 1.2 s under load 9, against under 30 ms for
the views swapped in the browser); at 8 MB every view of that variant swaps in the
browser and what is left of a move is the browser repainting the figures."""


def draw_view(variant: Variant, view: View, epoch: int, *,
              client_budget: int) -> tuple[ViewPane | None, str]:
    """A pane of a notebook's ``view`` of ``variant`` at ``epoch``, or None and why it
    cannot be drawn: the analyzers it needs that the variant lacks, or what its code
    raised (a notebook's view may raise anything; the page shows it)."""
    if needs := variant.needs(view):
        return None, f"needs {'; '.join(needs)}"
    try:
        return ViewPane(variant, view, epoch, client_budget=client_budget), ""
    except Exception as exc:  # a notebook's view: show whatever it raised
        return None, f"raised {type(exc).__name__}: {exc}"


class Explorer(pn.viewable.Viewer):
    """Every view of one variant on one page, driven by a checkpoint player.

    >>> Explorer("p59")                # doctest: +SKIP   (in a notebook cell)

    Args:
        variant: a :class:`~tdw.explore.variant.Variant` or a variant id (prefix).
        store: the store, when ``variant`` is an id.
        epoch: the checkpoint to open at (default: the last one).
        client_budget: see :data:`DEFAULT_CLIENT_BUDGET`; 0 keeps every update in Python.
    """

    index = param.Integer(default=0, bounds=(0, None), doc="Index of the current checkpoint.")

    def __init__(self, variant: Variant | str, store: Store | str | None = None, *,
                 epoch: int | None = None, client_budget: int = DEFAULT_CLIENT_BUDGET,
                 **params: Any):
        ensure_extension()
        self.variant = variant if isinstance(variant, Variant) else Variant(variant, store)
        epochs = self.variant.epochs
        if not epochs:
            raise ValueError(f"{self.variant.id} has no checkpoints yet; train it first")
        start = epochs.index(epoch) if epoch is not None else len(epochs) - 1
        super().__init__(index=start, **params)
        self.panes: list[ViewPane] = []
        self.waiting: dict[str, list[str]] = self.variant.waiting()
        for view in self.variant.family.views:
            if view.name not in self.waiting:
                self.panes.append(ViewPane(self.variant, view, epochs[start],
                                           client_budget=client_budget))
        turn = self.variant.transition()
        self.timeline = TimelinePane(epochs=list(epochs), value=epochs[start],
                                     transition=turn[0] if turn else None, caption=True,
                                     scale=scale_for(epochs))
        self._client_budget = client_budget
        self.player = self._make_player()
        self.timeline.param.watch(self._on_timeline, "value")
        self.param.watch(self._on_index, "index")
        for pane in self.panes:
            self._link_marker_clicks(pane)
        self.export = ExportBar(self)
        self.story_bar = StoryBar(self.variant)
        self._sections: dict[str, pn.FlexBox] = {}
        self.controls: dict[str, ViewControls] = {}  # each card's selectors and controls
        self._layout = self._build_layout()
        self.taps = link_taps(self.controls)  # clicks on one view that select in another

    def _make_player(self) -> CheckpointPlayer:
        # On a move the browser swaps the frames of the client-side views and moves the
        # timeline (and its caption) itself, before the kernel hears of it: the kernel's own
        # update then finds nothing to change.
        epochs = self.variant.epochs
        player = CheckpointPlayer(
            label="checkpoint", start=0, end=len(epochs) - 1, value=self.index,
            code=frame_swap_code("source.value") + _TIMELINE_JS,
            args={**frame_swap_args([self.panes]), "epochs": list(epochs)},
            timeline_name=self.timeline.model_name)
        player.param.watch(lambda e: setattr(self, "index", e.new), "value")
        return player

    def add_view(self, view: View) -> ViewPane | None:
        """Show ``view`` too, under its group, moving with the player like the built-in
        views: a view written in a notebook with the public view API
        (:class:`~tdw.family.views.View` and the plot kit, :mod:`tdw.family.plot`).

        A view that cannot be drawn (it reads artifacts the variant lacks, or its code
        raises) is shown as that error in its own card; the rest of the page is untouched.
        Returns its pane, or None when it could not be drawn.
        """
        if any(p.name == view.name for p in self.panes):
            raise TdwError(f"{self.variant.id} already shows a view named {view.name!r}; "
                           "give yours another name")
        pane, problem = draw_view(self.variant, view, self.epoch,
                                  client_budget=self._client_budget)
        if pane is None:
            card = pn.Column(pn.pane.Alert(f"**{view.name}** {html.escape(problem)}",
                                           alert_type="danger", width=460),
                             name=view.name, css_classes=["tdw-view", "tdw-view-error"])
        else:
            self.panes.append(pane)
            self._link_marker_clicks(pane)
            card = self._pane_card(pane)
            self.taps += link_taps(self.controls, names={pane.name})
            if pane.client_side:  # the page's move code must swap its frames too
                old, self.player = self.player, self._make_player()
                self._header.objects = [self.player if o is old else o
                                        for o in self._header.objects]
        self._section(view.group).append(card)
        return pane

    # ------------------------------------------------------------- reading
    @property
    def epoch(self) -> int:
        return self.variant.epochs[self.index]

    def pane(self, name: str) -> ViewPane:
        for pane in self.panes:
            if pane.name == name:
                return pane
        raise KeyError(f"{self.variant.id} shows no view {name!r}"
                       + (f" ({'; '.join(self.waiting[name])})" if name in self.waiting else ""))

    def goto(self, epoch: int) -> None:
        """Move every view to the checkpoint nearest ``epoch``."""
        epochs = self.variant.epochs
        self.index = min(range(len(epochs)), key=lambda i: abs(epochs[i] - epoch))

    # ------------------------------------------------------------- wiring
    def _on_index(self, event: param.parameterized.Event) -> None:
        epoch = self.epoch
        if self.player.value != self.index:
            self.player.value = self.index
        if self.timeline.value != epoch:
            # The page moves its timeline itself whenever the player moves (_TIMELINE_JS),
            # also after a move made here: keep Python's copy without sending it again.
            with param.discard_events(self.timeline):
                self.timeline.value = epoch
        for pane in self.panes:
            if pane.client_side:
                pane.epoch = epoch  # the browser already swapped its frame
            else:
                pane.show(epoch)

    def _on_timeline(self, event: param.parameterized.Event) -> None:
        if event.new in self.variant.epochs and event.new != self.epoch:
            self.index = self.variant.epochs.index(event.new)

    def _link_marker_clicks(self, pane: ViewPane) -> None:
        from bokeh.models import TapTool

        renderer = pane.figure.select_one({"name": "checkpoints"})
        if renderer is None:
            return
        pane.figure.add_tools(TapTool(renderers=[renderer]))
        epochs_column = renderer.data_source.data["epoch"]

        def clicked(attr, old, new):
            if new:
                self.goto(int(epochs_column[new[0]]))
                renderer.data_source.selected.indices = []

        renderer.data_source.selected.on_change("indices", clicked)

    # -------------------------------------------------------------- layout
    @property
    def caption(self) -> str:
        """What the page says of the current checkpoint (the timeline's caption)."""
        return self.timeline.caption_text()

    def _pane_card(self, pane: ViewPane):
        controls = self.controls[pane.name] = ViewControls(pane)
        figure = pn.pane.Bokeh(pane.figure)
        return pn.Column(controls, figure, name=pane.name,
                         css_classes=["tdw-view", "tdw-client" if pane.client_side else
                                      "tdw-server"])

    def _section(self, group: str) -> pn.FlexBox:
        """The cards of views under ``group`` (a new section, at the end, if none yet)."""
        if group not in self._sections:
            self._sections[group] = pn.FlexBox()
            self._layout.append(pn.Card(self._sections[group], title=group,
                                        sizing_mode="stretch_width"))
        return self._sections[group]

    def _build_layout(self):
        sections = []
        for group, panes in grouped(self.panes, lambda p: p.view.group):
            self._sections[group] = pn.FlexBox(*[self._pane_card(p) for p in panes])
            sections.append(pn.Card(self._sections[group], title=group,
                                    sizing_mode="stretch_width"))
        if self.waiting:
            lines = "\n".join(f"- **{name}**: needs {'; '.join(needs)}"
                              for name, needs in self.waiting.items())
            sections.append(pn.Card(pn.pane.Markdown(
                f"These views wait for analysis (Analyze page, or `tdw analyze "
                f"{self.variant.id}`):\n\n{lines}"), title="Not analysed yet",
                collapsed=True, sizing_mode="stretch_width"))
        header = self._header = pn.Column(
            pn.pane.Markdown(f"### {self.variant.id}", margin=(0, 10)),
            self.story_bar,
            self.player,
            self.timeline, sizing_mode="stretch_width", css_classes=["tdw-explorer-header"])
        export = pn.Card(self.export, title="Export", collapsed=True,
                         sizing_mode="stretch_width", css_classes=["tdw-export-card"])
        return pn.Column(header, export, *sections, sizing_mode="stretch_width")

    def __panel__(self):
        # Browser-side frame swaps are not echoed to Python: bring the client-side sources
        # up to the current checkpoint before (re)displaying them.
        for pane in self.panes:
            if pane.client_side:
                pane.show(self.epoch)
        return self._layout


_TIMELINE_JS = """
// Not sent back: the kernel moves its timeline when it hears of the player (an echo would race
// the next move and could pull the page back to an older checkpoint).
const epoch = epochs[Math.max(0, Math.min(row, epochs.length - 1))];
if (timeline != null && timeline.data != null && timeline.data.value !== epoch) {
  timeline.data.setv({value: epoch}, {sync: false});
}
"""

