"""A curve figure's smoothing slider and log-y checkbox, redrawn in the browser.

:class:`CurveWidgets` is what a card shows for a view with curve controls
(:class:`~tdw.family.plot.curves.Curves`) and what Compare shows above each overlaid
summary. Both widgets carry their page code in their model
(:data:`~tdw.family.plot.curve_scale.SMOOTHING_CODE`,
:data:`~tdw.family.plot.curve_scale.LOG_CODE`), like the checkpoint player
(:mod:`tdw.ui.player`), so however a widget reaches the page it redraws its figure at once,
without a kernel round trip:

* dragging the slider recomputes every smoothed curve from its raw values in the page
  (the EMA of :mod:`tdw.family.plot.smoothing`), and its value is shown beside its label;
* ticking the checkbox swaps the figure's y scale, ticks and range
  (:class:`~tdw.family.plot.curve_scale.ScaleSwitch`).

The kernel then catches up, so that what Python holds draws the same: when the slider is
let go (``value_throttled``) the owner redraws its data at the new weight (a pane's
``set_controls``), and a tick applies the same scale switch to the Python models.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import panel as pn
import param

from tdw.family.plot.curve_scale import LOG_CODE, SMOOTHING_CODE, ScaleSwitch
from tdw.family.plot.smoothing import MAX_WEIGHT

__all__ = ["CurveWidgets", "SmoothingSlider", "LogCheckbox", "CURVE_CLASS"]

CURVE_CLASS = "tdw-curve-control"
"""CSS class of both widgets; each also has ``<CURVE_CLASS>-<figure's owner>`` and
``tdw-smoothing`` or ``tdw-log-y``."""


class _RunsInPage:
    """A Panel widget that runs ``code`` (with ``args``) in the page whenever its
    ``_page_property`` changes there, with no round trip to the kernel."""

    _page_property = "value"

    def __init__(self, *, code: str, args: dict[str, Any], **params: Any):
        super().__init__(**params)
        self._code, self._args = code, args

    def _get_model(self, doc, root=None, parent=None, comm=None):
        from bokeh.models import CustomJS

        model = super()._get_model(doc, root, parent, comm)
        model.js_on_change(self._page_property, CustomJS(args=self._args, code=self._code))
        return model


class SmoothingSlider(_RunsInPage, pn.widgets.FloatSlider):
    """A float slider that runs ``code`` (with ``args``) in the page on every move."""


class LogCheckbox(_RunsInPage, pn.widgets.Checkbox):
    """A checkbox that runs ``code`` (with ``args``) in the page when it is (un)ticked."""

    _page_property = "active"


class CurveWidgets(pn.viewable.Viewer):
    """The smoothing slider and the log-y checkbox of one curve figure.

    Args:
        figure: a figure drawn with the curve kit (:mod:`tdw.family.plot.curves`).
        smoothing: the weight its curves are drawn with.
        log: whether it shows a log y axis.
        on_smoothing: called with a new weight once the slider is let go; it redraws the
            figure's data (it may raise: the slider then goes back).
        on_log: called with the new scale after the switch (e.g. to record it).
        on_error: shown what ``on_smoothing`` raised; without it the error propagates.
        owner: a name for the widgets' CSS classes (e.g. the view's).
    """

    def __init__(self, figure: Any, *, smoothing: float, log: bool,
                 on_smoothing: Callable[[float], None],
                 on_log: Callable[[bool], None] | None = None,
                 on_error: Callable[[Exception], None] | None = None, owner: str = "",
                 **params: Any):
        super().__init__(**params)
        self.switch = ScaleSwitch(figure)
        args = self.switch.js_args()
        self._on_smoothing, self._on_log, self._on_error = on_smoothing, on_log, on_error
        self.applied = float(smoothing)
        """The weight the owner's data was last drawn with."""
        self._reverting = False
        classes = [CURVE_CLASS, f"{CURVE_CLASS}-{owner}"]
        self.slider = SmoothingSlider(
            code=SMOOTHING_CODE, args=args, label="smoothing (EMA)", start=0.0,
            end=MAX_WEIGHT, step=0.01, value=self.applied, format="0.00", width=190,
            css_classes=[*classes, "tdw-smoothing"])
        self.log = LogCheckbox(code=LOG_CODE, args=args, label="log y", value=bool(log),
                               width=70, align="end", css_classes=[*classes, "tdw-log-y"])
        self.slider.param.watch(self._smoothed, "value_throttled")
        self.log.param.watch(self._scaled, "value")
        self._layout = pn.Row(self.slider, self.log, margin=0)

    def set(self, *, smoothing: float | None = None, log: bool | None = None) -> None:
        """Change the settings as a reader would: the page redraws, then the kernel."""
        if smoothing is not None:
            self.slider.value = smoothing
            with param.edit_constant(self.slider):
                self.slider.value_throttled = smoothing
        if log is not None:
            self.log.value = bool(log)

    def _smoothed(self, event: param.parameterized.Event) -> None:
        if self._reverting or event.new is None or float(event.new) == self.applied:
            return
        try:
            self._on_smoothing(float(event.new))
        except Exception as exc:
            self._reverting = True  # the page shows the weight that is drawn again
            try:
                self.slider.value = self.applied
                with param.edit_constant(self.slider):
                    self.slider.value_throttled = self.applied
            finally:
                self._reverting = False
            if self._on_error is None:
                raise
            self._on_error(exc)
            return
        self.applied = float(event.new)
        self.switch.refresh()  # a log range spans the new smoothed values too

    def _scaled(self, event: param.parameterized.Event) -> None:
        self.switch.apply(bool(event.new))
        if self._on_log is not None:
            self._on_log(bool(event.new))

    def __panel__(self):
        return self._layout
