"""The checkpoint timeline: pick a checkpoint by clicking, dragging or arrow keys.

The strip shows every checkpoint epoch as a tick, the detected transition as a red line, and
the current checkpoint as a blue handle. It exists so that a dashboard can scrub through
checkpoints while *seeing* where they sit relative to the transition, which a plain slider
over the epoch list hides.

:class:`Timeline` is an ``anywidget.AnyWidget``: it needs nothing but ipywidgets, so it works
in any Jupyter front end (JupyterLab, Notebook, VS Code, Voila) without Panel::

    from tdw.ui import Timeline

    timeline = Timeline(epochs=[0, 10, 100, 1000], value=0, transition=100, scale="log")
    timeline.observe(lambda change: print(change["new"]), names="value")
    timeline                       # displays it; a click on the strip prints the epoch

Its front end is the plain ES module ``timeline.js`` next to this file (no imports, nothing
fetched). The dashboards' timeline, :class:`~tdw.ui.timeline_pane.TimelinePane`, is the same
module and the same traits hosted by Panel's implementation of the anywidget protocol, where
the page's player can move it without a round trip to the kernel; ``TimelinePane.of`` puts
a :class:`Timeline` on a Panel page, kept in step both ways.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

import anywidget
import traitlets

__all__ = ["ESM", "TRAITS", "Timeline", "caption_text", "scale_for"]

ESM = Path(__file__).with_name("timeline.js")
"""The timeline's front end, shared by :class:`Timeline` and the dashboards' pane."""

TRAITS = ("epochs", "value", "transition", "scale", "caption", "unit", "notes")
"""The state the front end reads, identical in both hosts."""


def scale_for(epochs: Sequence[int]) -> str:
    """The timeline scale that suits ``epochs``: "log" when the positive ones span two
    decades or more (log-spaced checkpoints), else "linear"."""
    positive = [e for e in epochs if e > 0]
    return "log" if positive and max(positive) / min(positive) >= 100 else "linear"


def caption_text(epochs: Sequence[int], value: int, transition: int | None, unit: str,
                 notes: Sequence[str]) -> str:
    """The caption a timeline writes above its strip.

    >>> caption_text([0, 10, 20], 10, 20, "epoch", [])
    'epoch 10 · checkpoint 2 of 3 · detected transition at epoch 20'
    """
    at = list(epochs).index(value) if value in epochs else None
    if notes:
        position = f" · {notes[at]}" if at is not None and notes[at] else ""
    else:
        position = f" · checkpoint {at + 1} of {len(epochs)}" if at is not None else ""
    marked = f" · detected transition at epoch {transition}" if transition is not None else ""
    return f"{unit} {value}{position}{marked}"


class Timeline(anywidget.AnyWidget):
    """A horizontal strip of checkpoint epochs with a draggable current-checkpoint handle.

    The page sets ``value`` only to a member of ``epochs`` (a click snaps to the nearest
    checkpoint on screen; Left/Right step, Home/End jump to the ends), and so must Python:
    any other value is refused with the nearest checkpoint named. Observe it with
    ``timeline.observe(handler, names="value")``.

    Traits:
        epochs: checkpoint epochs, strictly increasing.
        value: the current checkpoint's epoch.
        transition: the detected transition's epoch (a red line), or None for none.
        scale: "linear" in epochs, or "log" in log10(1 + epoch), which suits log-spaced
            checkpoints (see :func:`scale_for`).
        caption: show a line above the strip naming the current checkpoint.
        unit: what a value is called in the caption and tooltip.
        notes: one string per epoch that the caption gives in place of "checkpoint i of n";
            empty for none.
    """

    _esm = ESM

    epochs = traitlets.List(traitlets.Int(), default_value=[]).tag(sync=True)
    value = traitlets.Int(0).tag(sync=True)
    transition = traitlets.Int(None, allow_none=True).tag(sync=True)
    scale = traitlets.Enum(["linear", "log"], default_value="linear").tag(sync=True)
    caption = traitlets.Bool(False).tag(sync=True)
    unit = traitlets.Unicode("epoch").tag(sync=True)
    notes = traitlets.List(traitlets.Unicode(), default_value=[]).tag(sync=True)

    def __init__(self, **traits: Any) -> None:
        if "value" not in traits and traits.get("epochs"):
            traits["value"] = traits["epochs"][0]
        super().__init__(**traits)

    @traitlets.validate("epochs")
    def _valid_epochs(self, proposal: dict[str, Any]) -> list[int]:
        epochs = list(proposal["value"])
        if any(b <= a for a, b in pairwise(epochs)):
            raise traitlets.TraitError(
                f"a timeline's epochs must be strictly increasing, got {epochs[:8]}"
                f"{' ...' if len(epochs) > 8 else ''}; pass sorted(set(epochs))")
        return epochs

    @traitlets.validate("value")
    def _valid_value(self, proposal: dict[str, Any]) -> int:
        value = proposal["value"]
        if self.epochs and value not in self.epochs:
            nearest = min(self.epochs, key=lambda e: (abs(e - value), e))
            raise traitlets.TraitError(
                f"epoch {value} is not one of this timeline's checkpoints; the nearest is "
                f"{nearest} (its epochs run {self.epochs[0]}..{self.epochs[-1]})")
        return value

    @traitlets.validate("notes")
    def _valid_notes(self, proposal: dict[str, Any]) -> list[str]:
        notes = list(proposal["value"])
        if notes and len(notes) != len(self.epochs):
            raise traitlets.TraitError(
                f"a timeline takes one note per epoch: {len(notes)} notes for "
                f"{len(self.epochs)} epochs; pass notes=[] for none")
        return notes

    def caption_text(self) -> str:
        """The caption's text, as the page writes it."""
        return caption_text(self.epochs, self.value, self.transition, self.unit, self.notes)
