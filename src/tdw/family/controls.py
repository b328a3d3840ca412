"""What a page offers beside a view besides the checkpoint: decimals, named selectors, links.

A :class:`~tdw.family.views.View` may declare three things here. They are plain data: the
dashboards turn them into widgets (:mod:`tdw.ui.view_controls`), and notebooks and tests
use them without a page.

* :class:`Control`: a decimal the view's data depends on, such as a threshold, with its
  range and step. The view reads it from its context with :meth:`Control.value`, which
  falls back to the default and refuses a value outside the range, so a threshold is
  applied when the view is drawn, not baked into a stored artifact.
* :class:`Labels`: how a selector names its values. An analyzer that stores only some
  items (the 16 most variable MLP neurons, say) is indexed by position, but a researcher
  thinks of "neuron 312", not "stored neuron 4".
* :class:`TapLink`: a click on a row of this view picks an entry of another view's
  selector on the same page, such as a neuron's row of a cluster heatmap opening its
  activation map. :func:`resolve_tap` says which entry, or why there is none.

>>> share = Control("min_share", 0.5, 0.0, 1.0, 0.01, "share of variance that counts")
>>> share.check(0.25)
0.25
>>> share.check(1.5)
Traceback (most recent call last):
...
tdw.errors.ParameterError: min_share=1.5 is out of range: choose a decimal from 0 to 1 (step 0.01)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Real
from typing import TYPE_CHECKING, Any

import numpy as np

from tdw.errors import ParameterError

if TYPE_CHECKING:
    from tdw.family.views import View, ViewContext

__all__ = ["Control", "Labels", "TapLink", "TapResult", "resolve_tap", "TAP_RENDERER"]

TAP_RENDERER = "taps"
"""Name of the renderer a view with a :class:`TapLink` draws its clickable rows with (one
glyph per row, in row order): the page listens for clicks on it."""


@dataclass(frozen=True)
class Control:
    """A decimal a view's data depends on, chosen on the page (a float input).

    Attributes:
        name: the key in :attr:`ViewContext.controls <tdw.family.views.ViewContext>`; a
            Python identifier, shown with spaces for underscores.
        default: the value before anyone changes it.
        low: the smallest value allowed.
        high: the largest value allowed.
        step: the input's increment (the value itself may be any decimal in range).
        description: what the value decides, shown as the input's tooltip.
    """

    name: str
    default: float
    low: float
    high: float
    step: float
    description: str

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"control {self.name!r}: the name must be a Python identifier")
        if not (self.low < self.high and self.step > 0 and self.low <= self.default <= self.high):
            raise ValueError(f"control {self.name}: need low < high, step > 0 and the default "
                             f"in [low, high]; got {self.low}, {self.high}, {self.step}, "
                             f"{self.default}")

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")

    def check(self, value: Any) -> float:
        """``value`` as a float within range, or a :class:`~tdw.errors.ParameterError`
        naming the range. A value past an end by float rounding (0.1 + 0.2 style) is moved
        onto it."""
        slack = self.step * 1e-6
        if (isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value)
                or not self.low - slack <= value <= self.high + slack):
            raise ParameterError(f"{self.name}={value!r} is out of range: choose a decimal "
                                 f"from {self.low:g} to {self.high:g} (step {self.step:g})")
        return float(min(max(value, self.low), self.high))

    def value(self, ctx: ViewContext) -> float:
        """This control's value in ``ctx`` (the default when the context sets none), checked."""
        return self.check(ctx.controls.get(self.name, self.default))


@dataclass(frozen=True)
class Labels:
    """How a selector names its values: value ``i`` stands for entry ``i`` of ``array``.

    Attributes:
        array: an array (or a list attribute) of the artifact the selector indexes, along
            the selector's axis, e.g. ``"neurons"``: the MLP index of each stored neuron.
        format: the name shown for an entry, with ``{name}`` (the selector's name) and
            ``{value}`` (the entry), e.g. ``"neuron {value}"``.
    """

    array: str
    format: str = "{name} {value}"

    def name(self, selector: str, value: Any) -> str:
        return self.format.format(name=selector, value=_plain(value))


@dataclass(frozen=True)
class TapLink:
    """A click on a row of this view selects an entry of another view's selector.

    The view draws one clickable glyph per row in a renderer named :data:`TAP_RENDERER`
    (:func:`tdw.family.plot.heatmap_view` does, given ``on_tap``).

    Attributes:
        target: the name of the view whose selector a click sets (on the same page).
        selector: that selector; its :class:`Labels` values are what a click is matched
            against (without labels, its positions).
        pick: ``(context, row) -> value``: what the clicked row stands for at the context's
            checkpoint and controls, e.g. the MLP neuron drawn in that row.
        missing: what the page says when the target holds no entry for the value, with
            ``{label}`` (e.g. "neuron 312"), ``{target}`` (its title), ``{count}`` and
            ``{stored}`` (the values it holds, increasing).
    """

    target: str
    selector: str
    pick: Callable[[ViewContext, int], Any]
    missing: str = "{label} is not among the {count} entries {target} holds: {stored}"


@dataclass(frozen=True)
class TapResult:
    """What a click resolved to.

    Attributes:
        value: what the clicked row stands for (e.g. MLP neuron 312).
        index: the target selector's value that holds it; None when the target has none.
        message: one line for the page: where the entry went, or why there is none.
    """

    value: Any
    index: int | None
    message: str


def resolve_tap(link: TapLink, row: int, source_ctx: ViewContext, target: View,
                target_ctx: ViewContext) -> TapResult:
    """Which entry of ``target``'s selector a click on ``row`` of the source view picks.

    Args:
        link: the source view's :class:`TapLink`.
        row: the clicked row of the source view (index into its tap renderer).
        source_ctx: the source view's context (its checkpoint and controls decide the rows).
        target: the view whose selector is set.
        target_ctx: its context (the artifact its selector indexes).
    """
    value = _plain(link.pick(source_ctx, row))
    values = target.selector_values(target_ctx, link.selector)
    label = target.selector_label(link.selector, value)
    hits = np.flatnonzero(np.asarray(values) == value)
    if hits.size:
        index = int(hits[0])
        return TapResult(value, index, f"{label}: shown in {target.title} "
                                       f"(entry {index + 1} of {len(values)})")
    stored = ", ".join(str(v) for v in sorted(_plain(v) for v in values))
    return TapResult(value, None, link.missing.format(label=label, target=target.title,
                                                      count=len(values), stored=stored))


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python number it holds (so it prints as ``312``)."""
    return value.item() if isinstance(value, np.generic) else value

