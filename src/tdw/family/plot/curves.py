"""Curves over training with a smoothing weight and a log/linear toggle, as TensorBoard and
W&B draw metrics.

A curve view declares :attr:`Curves.controls`: ``smoothing``, the weight of the debiased
EMA (:func:`~tdw.family.plot.smoothing.ema`; 0 is off), and ``log_y``, the y axis' scale.
Its ``data`` adds a smoothed twin of each curve column (:meth:`Curves.columns`, or
``line_columns(..., smoothing=...)``) and its ``build`` draws each curve faint and its
smoothed twin over it (:func:`curve`, or :func:`~tdw.family.plot.lines.lines_figure`), then
:func:`finish_curves` shows the chosen scale. So a notebook
(``variant.view("loss_curves", controls={"smoothing": 0.6, "log_y": True})``), an exported
image and ``tdw export --control smoothing=0.6`` draw what they are asked for, and a page
offers a slider and a checkbox that redraw in the browser (:mod:`tdw.ui.curve_controls`,
:mod:`tdw.family.plot.curve_scale`).

>>> curves = Curves(log=True)
>>> [c.name for c in curves.controls]
['smoothing', 'log_y']
>>> curves.controls[1].check(False), curves.controls[1].check(1)
(0.0, 1.0)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np

from tdw.errors import ParameterError
from tdw.family.controls import Control
from tdw.family.plot.curve_scale import SMOOTH_TAG, ScaleSwitch, record_fixed_range
from tdw.family.plot.smoothing import MAX_WEIGHT, smooth_column
from tdw.family.views import ViewContext

__all__ = ["Curves", "SmoothingControl", "LogControl", "SMOOTHING", "LOG_Y", "RAW_ALPHA",
           "smoothed_name", "mark_smoothed", "curve", "finish_curves", "is_curve_control"]

SMOOTHING = "smoothing"
"""The name of the smoothing weight among a view's controls."""
LOG_Y = "log_y"
"""The name of the log/linear switch among a view's controls (1: log)."""
RAW_ALPHA = 0.25
"""Opacity of a raw curve behind its smoothed twin."""


class SmoothingControl(Control):
    """The EMA weight of a curve view's curves (0 to 0.99; 0 draws them as they are)."""


class LogControl(Control):
    """A switch among a view's controls: 1 (or True) for a log y axis, 0 (False) for linear."""

    def check(self, value: Any) -> float:
        if isinstance(value, bool | np.bool_) or (isinstance(value, Real) and value in (0, 1)):
            return float(bool(value))
        raise ParameterError(f"{self.name}={value!r} is not a switch: pass True (or 1) for a "
                             "log y axis, False (or 0) for a linear one")


def is_curve_control(control: Control) -> bool:
    """Whether ``control`` is a curve setting (a page shows it as a slider or a checkbox)."""
    return isinstance(control, SmoothingControl | LogControl)


@dataclass(frozen=True)
class Curves:
    """The curve controls of a view and how its ``data`` and ``build`` read them.

    Attributes:
        log: whether the y axis starts on a log scale.
        smoothing: the EMA weight the curves start with (0: none).
    """

    log: bool = False
    smoothing: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.smoothing <= MAX_WEIGHT:
            raise ValueError(f"smoothing must be within [0, {MAX_WEIGHT}]; got {self.smoothing}")

    @property
    def controls(self) -> tuple[Control, Control]:
        """``smoothing`` and ``log_y``, for :attr:`View.controls <tdw.family.views.View>`."""
        return (SmoothingControl(SMOOTHING, self.smoothing, 0.0, MAX_WEIGHT, 0.01,
                                 "EMA weight of the smoothed curve (0: raw); the raw curve "
                                 "stays faint behind it"),
                LogControl(LOG_Y, float(self.log), 0.0, 1.0, 1.0,
                           "1 (True): a log y axis, on which points at or below 0 are not "
                           "drawn; 0 (False): a linear one"))

    def weight(self, ctx: ViewContext) -> float:
        """The smoothing weight chosen in ``ctx`` (checked; the default without one)."""
        return self.controls[0].value(ctx)

    def log_y(self, ctx: ViewContext) -> bool:
        """Whether ``ctx`` asks for a log y axis."""
        return bool(self.controls[1].value(ctx))

    def columns(self, ctx: ViewContext, columns: Mapping[str, Any],
                keys: Iterable[str]) -> dict[str, Any]:
        """``columns`` with the smoothed twin of each of ``keys`` (:func:`smoothed_name`)."""
        weight = self.weight(ctx)
        return {**columns, **{smoothed_name(k): smooth_column(columns[k], weight)
                              for k in keys}}


def smoothed_name(column: str) -> str:
    """The name of the smoothed twin of ``column``: ``<column>_smooth``."""
    return f"{column}_smooth"


def mark_smoothed(source: Any, *columns: str) -> None:
    """Tag ``source``: each of ``columns`` has a smoothed twin the page recomputes."""
    tags = [f"{SMOOTH_TAG}{c}:{smoothed_name(c)}" for c in columns]
    source.tags = [*source.tags, *(t for t in tags if t not in source.tags)]


def curve(fig: Any, source: Any, x: str, y: str, *, color: str, label: str | None = None,
          line_width: float = 1.5, **kwargs: Any) -> tuple[Any, Any]:
    """Column ``y`` of ``source`` over ``x``, faint, with its smoothed twin drawn over it in
    one legend entry; returns the (raw, smoothed) renderers. ``kwargs`` go to both lines."""
    legend = {} if label is None else {"legend_label": label}
    raw = fig.line(x, y, source=source, color=color, alpha=RAW_ALPHA, line_width=1,
                   **legend, **kwargs)
    smoothed = fig.line(x, smoothed_name(y), source=source, color=color,
                        line_width=line_width, **legend, **kwargs)
    mark_smoothed(source, y)
    return raw, smoothed


def finish_curves(fig: Any, *, log: bool) -> Any:
    """Show ``fig``'s curves on a log (or linear) y axis; returns ``fig``. Call it once the
    curves are drawn, on a figure drawn on a linear axis."""
    record_fixed_range(fig)
    if log:
        ScaleSwitch(fig).apply(True)
    return fig
