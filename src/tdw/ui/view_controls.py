"""The widgets above a view's figure: named selectors, decimal controls, click links.

:class:`ViewControls` is what a view's card shows besides its figure:

* a dropdown per selector, its entries named as the view names them (``neuron 312``, the
  MLP neuron, not ``3``, the stored slot that holds it: :class:`~tdw.family.controls.Labels`);
* a decimal input per :class:`~tdw.family.controls.Control` (a threshold), with the
  control's range and step, and its description as the tooltip;
* for a view with curve controls (:class:`~tdw.family.plot.curves.Curves`), a smoothing
  slider and a log-y checkbox that redraw the figure in the browser first
  (:class:`~tdw.ui.curve_controls.CurveWidgets`);
* for a view whose rows link to another view (:class:`~tdw.family.controls.TapLink`), the
  line saying what the last click did (:class:`~tdw.explore.taps.TapWire`).

:func:`link_taps` wires the click links between the cards of one page. Changing a selector
or a control redraws that one view (re-sending its frames if the browser swaps them);
moving the checkpoint touches none of this.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import panel as pn

from tdw.errors import TdwError
from tdw.explore.taps import TapWire
from tdw.explore.viewpane import ViewPane
from tdw.family.plot.curves import LOG_Y, SMOOTHING, is_curve_control
from tdw.ui.curve_controls import CurveWidgets

__all__ = ["ViewControls", "link_taps"]

CONTROL_CLASS = "tdw-view-control"
"""CSS class of every decimal input; each also has ``<CONTROL_CLASS>-<view name>``."""


class ViewControls(pn.viewable.Viewer):
    """The selectors, decimal controls and click notice of one pane's card.

    Args:
        pane: the view pane the widgets drive.
    """

    def __init__(self, pane: ViewPane, **params: Any):
        super().__init__(**params)
        self.pane = pane
        self._reverting = False
        self.selectors: dict[str, pn.widgets.Select] = {}
        for name, labels in pane.selector_labels.items():
            if labels:
                widget = pn.widgets.Select(label=name, options=dict(zip(labels, range(len(labels)),
                                                                      strict=True)),
                                           value=pane.selection[name], width=200)
                widget.param.watch(lambda e, n=name: self._select(n, e), "value")
                self.selectors[name] = widget
        self.curves: CurveWidgets | None = None
        """The smoothing slider and log-y checkbox, for a view with curve controls."""
        curve = {c.name for c in pane.view.controls if is_curve_control(c)}
        if {SMOOTHING, LOG_Y} <= curve:
            self.curves = CurveWidgets(
                pane.figure, smoothing=pane.controls[SMOOTHING], log=bool(pane.controls[LOG_Y]),
                on_smoothing=self._smooth,
                on_log=self._set_log, on_error=self._say, owner=pane.name)
        self.inputs: dict[str, pn.widgets.FloatInput] = {}
        for control in pane.view.controls:
            if self.curves is not None and control.name in curve:
                continue
            widget = pn.widgets.FloatInput(
                label=control.label, value=pane.controls[control.name], start=control.low,
                end=control.high, step=control.step, description=control.description,
                width=130, css_classes=[CONTROL_CLASS, f"{CONTROL_CLASS}-{pane.name}"])
            widget.param.watch(lambda e, n=control.name: self._set_control(n, e), "value")
            self.inputs[control.name] = widget
        self.problem = pn.pane.Markdown("", visible=False, margin=(0, 10),
                                        styles={"color": "#a94400"})
        widgets = [*self.selectors.values(), *self.inputs.values(),
                   *([self.curves] if self.curves is not None else [])]
        self._layout = pn.Column(pn.Row(*widgets, margin=0), self.problem, margin=0,
                                 visible=bool(widgets))

    def choose(self, selector: str, index: int) -> None:
        """Select entry ``index`` of ``selector`` as the reader would: through its dropdown
        (which redraws the pane)."""
        widget = self.selectors.get(selector)
        if widget is None:
            self.pane.select(**{selector: index})
        else:
            widget.value = index

    def add_notice(self, notice: Any) -> None:
        """Show ``notice`` (a Bokeh model, e.g. a click link's line) under the widgets."""
        self._layout.append(pn.pane.Bokeh(notice, margin=(0, 10)))
        self._layout.visible = True

    def _select(self, name: str, event: Any) -> None:
        self._apply(self.selectors[name], event, lambda: self.pane.select(**{name: event.new}))

    def _set_control(self, name: str, event: Any) -> None:
        def apply() -> None:
            if event.new is None:  # the box was emptied: keep what is drawn
                raise TdwError(f"{name} needs a value; it stays {event.old}")
            self.pane.set_controls(**{name: event.new})
        self._apply(self.inputs[name], event, apply)

    def _smooth(self, weight: float) -> None:
        """Redraw the view's data at the smoothing weight the page already shows."""
        self.pane.set_controls(**{SMOOTHING: weight})
        self.problem.object, self.problem.visible = "", False

    def _set_log(self, log: bool) -> None:
        """Record the scale the page switched to (exports and later redraws use it)."""
        self.pane.controls[LOG_Y] = self.pane.view.control(LOG_Y).check(log)

    def _say(self, exc: Exception) -> None:
        text = str(exc) if isinstance(exc, TdwError) else (
            f"{self.pane.name} could not be redrawn: {type(exc).__name__}: {exc}")
        self.problem.object, self.problem.visible = text, True

    def _apply(self, widget: Any, event: Any, apply: Any) -> None:
        """Run ``apply`` for a widget's new value; if it raises (a refused value, or the
        view's own code failing), say why under the widgets and show the former value again
        (the pane has kept its drawing)."""
        if self._reverting:
            return
        try:
            apply()
        except Exception as exc:  # noqa: BLE001  (a view's code may raise anything)
            self._say(exc)
            self._reverting = True  # the widget shows what is drawn again, redrawing nothing
            try:
                widget.value = event.old
            finally:
                self._reverting = False
            return
        self.problem.object, self.problem.visible = "", False
        if self.curves is not None:  # a log range spans the curves as now drawn
            self.curves.switch.refresh()

    def __panel__(self):
        return self._layout


def link_taps(controls: Mapping[str, ViewControls],
              names: Collection[str] | None = None) -> list[TapWire]:
    """Wire every click link between the cards ``controls`` (view name -> its controls) of
    one page: a view whose ``on_tap`` names another view on the page gets its notice, and
    a click on its rows selects through the target's dropdown. With ``names``, only the
    links from or to those views (e.g. a view just added)."""
    wires = []
    for source in controls.values():
        link = source.pane.view.on_tap
        if link is None or link.target not in controls:
            continue
        if names is not None and source.pane.name not in names and link.target not in names:
            continue
        target = controls[link.target]
        try:
            wire = TapWire(source.pane, target.pane, target.choose)
        except ValueError as exc:  # a view's own link is broken: say so on its card
            source.problem.object, source.problem.visible = f"Clicks do nothing: {exc}", True
            source._layout.visible = True
            continue
        source.add_notice(wire.notice)
        wires.append(wire)
    return wires
