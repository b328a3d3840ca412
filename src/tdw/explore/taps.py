"""Clicks that link two views of a page: a tap on one view's row selects an entry in another.

A view declares the link (:class:`~tdw.family.controls.TapLink`) and draws its clickable
rows in a renderer named :data:`~tdw.family.controls.TAP_RENDERER`; :class:`TapWire` puts
it to work on two panes of one page:

1. the browser reports the clicked row through the rows' selection (a Bokeh ``TapTool``;
   the same round trip as clicking a checkpoint marker);
2. the kernel resolves it (:func:`~tdw.family.controls.resolve_tap`) at the checkpoint and
   controls the source pane shows, selects the entry in the target pane through the page's
   ``choose`` (which also moves the target's selector widget), and writes a one-line
   :attr:`TapWire.notice`: where the entry went, or why there is none;
3. when an entry was found, the notice's change scrolls the target figure into view in the
   browser (a ``CustomJS`` on the notice), after the target's new data has arrived.

Moving the checkpoint involves none of this: the rows are static, and the target's frames
are refilled only by the selection a click makes.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING

from tdw.family.controls import TAP_RENDERER, TapResult, resolve_tap

if TYPE_CHECKING:
    from tdw.explore.viewpane import ViewPane

__all__ = ["TapWire", "FOUND_CLASS", "MISSING_CLASS"]

FOUND_CLASS = "tdw-tap-found"
"""Class of the notice's text when a click selected an entry (the browser then scrolls)."""
MISSING_CLASS = "tdw-tap-missing"
"""Class of the notice's text when the target holds no entry for the clicked row."""

SCROLL_JS = f"""
// The kernel wrote the notice after selecting the entry: bring the linked view into sight.
if (!String(cb_obj.text).includes("{FOUND_CLASS}")) return;
const view = (window.Bokeh && Bokeh.index) ? Bokeh.index.find_one(figure) : null;
if (view != null && view.el != null) view.el.scrollIntoView({{block: "center",
                                                              behavior: "smooth"}});
"""


class TapWire:
    """A click on a row of ``source`` selects, through ``choose``, an entry of ``target``.

    Args:
        source: the pane whose view has an ``on_tap`` link and its tap renderer.
        target: the pane of the view the link names (same variant, same page).
        choose: ``(selector, index) -> None``: set the target's selector as the page does
            (moving its widget, which redraws the pane); default ``target.select``.
    """

    def __init__(self, source: ViewPane, target: ViewPane,
                 choose: Callable[[str, int], None] | None = None):
        from bokeh.models import CustomJS, Div, TapTool

        link = source.view.on_tap
        if link is None or link.target != target.name:
            raise ValueError(f"view {source.name} has no click link to {target.name}")
        if link.selector not in target.view.selectors:
            raise ValueError(f"view {source.name}'s click link names selector "
                             f"{link.selector!r}, which {target.name} does not have (it has "
                             f"{', '.join(target.view.selectors) or 'none'})")
        renderer = source.figure.select_one({"name": TAP_RENDERER})
        if renderer is None:
            raise ValueError(f"view {source.name} draws no {TAP_RENDERER!r} renderer to click")
        self.source, self.target, self.link = source, target, link
        self._choose = choose or (lambda name, index: target.select(**{name: index}))
        self._count = 0
        self.notice = Div(text="", name=f"tap-notice:{source.name}", width=source.figure.width,
                          styles={"font-size": "12px", "min-height": "1.2em"})
        """The page's line about the last click (a Bokeh ``Div``; empty before one)."""
        self.notice.js_on_change("text", CustomJS(args={"figure": target.figure},
                                                  code=SCROLL_JS))
        self._rows = renderer.data_source
        source.figure.add_tools(TapTool(renderers=[renderer]))
        self._rows.selected.on_change("indices", self._clicked)

    def _clicked(self, attr, old, new) -> None:
        if new:
            self._rows.selected.indices = []  # the next click on the same row counts too
            self.tap(int(new[0]))

    def tap(self, row: int) -> TapResult:
        """What a click on ``row`` does: select the entry the row stands for in the target
        (if it holds one) and say so in :attr:`notice`; returns the resolution."""
        source = self.source
        result = resolve_tap(self.link, row, source.context(source.epoch), self.target.view,
                             self.target.context(self.target.epoch))
        if result.index is not None:
            self._choose(self.link.selector, result.index)
        self._count += 1  # a repeated click on one row still changes the text (and scrolls)
        kind = MISSING_CLASS if result.index is None else FOUND_CLASS
        colour = "#a94400" if result.index is None else "#444444"
        self.notice.text = (f'<span class="{kind}" data-click="{self._count}" '
                            f'style="color: {colour}">{html.escape(result.message)}</span>')
        return result
