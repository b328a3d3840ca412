"""A checkpoint timeline widget: pick a checkpoint by clicking, dragging or arrow keys.

The strip shows every checkpoint epoch as a tick, the detected turn (the grokking transition)
as a red line, and the current checkpoint as a blue handle. It exists so that a dashboard can
scrub through checkpoints while *seeing* where they sit relative to the turn, which a plain
slider over the epoch list hides.

The front end is the plain ES module ``timeline.js`` next to this file: it has no imports, so
nothing is fetched from a CDN, and it uses only the anywidget model API, so the same file
could back an ``anywidget.AnyWidget`` too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import param
from panel.custom import AnyWidgetComponent

__all__ = ["Timeline", "scale_for"]


def scale_for(epochs: Sequence[int]) -> str:
    """The timeline scale that suits ``epochs``: "log" when the positive ones span two
    decades or more (log-spaced checkpoints), else "linear"."""
    positive = [e for e in epochs if e > 0]
    return "log" if positive and max(positive) / min(positive) >= 100 else "linear"


class Timeline(AnyWidgetComponent):
    """A horizontal strip of checkpoint epochs with a draggable current-checkpoint handle.

    ``value`` always lands on a member of ``epochs`` when changed from the page (click snaps to
    the nearest checkpoint on screen; Left/Right step, Home/End jump to the ends). Setting any
    parameter from Python redraws the strip.

    Example::

        tl = Timeline(epochs=[0, 10, 100, 1000], value=0, turn=100, scale="log")
        tl.param.watch(lambda e: print(e.new), "value")
    """

    # Panel reads a Path-valued _esm file as text when rendering (no bundle is shipped), and
    # with --autoreload it also watches the file and hot-swaps the module.
    _esm = Path(__file__).with_name("timeline.js")

    epochs = param.List(default=[], item_type=int, doc="""
        Checkpoint epochs, increasing.""")

    value = param.Integer(default=0, doc="""
        The current checkpoint's epoch; the page only ever sets it to a member of epochs.""")

    turn = param.Integer(default=None, allow_None=True, doc="""
        The detected turn epoch (drawn as a red line), or None to draw none.""")

    scale = param.Selector(default="linear", objects=["linear", "log"], doc="""
        Horizontal scale: 'linear' in epochs, or 'log' in log10(1 + epoch), which suits
        log-spaced checkpoints.""")

    caption = param.Boolean(default=False, doc="""
        Show a line above the strip naming the current checkpoint (see caption_text); the
        page rewrites it in place on every move, which lays nothing else out again.""")

    unit = param.String(default="epoch", doc="""
        What a value is called in the caption and tooltip (e.g. "epochs since transition").""")

    notes = param.List(default=[], item_type=str, doc="""
        One string per epoch that the caption gives in place of "checkpoint i of n" (e.g.
        which checkpoint of each compared variant a position shows); empty for none.""")

    def caption_text(self) -> str:
        """The caption's text, as the page writes it."""
        at = self.epochs.index(self.value) if self.value in self.epochs else None
        if self.notes:
            position = f" · {self.notes[at]}" if at is not None and self.notes[at] else ""
        else:
            position = f" · checkpoint {at + 1} of {len(self.epochs)}" if at is not None else ""
        turn = f" · detected transition at epoch {self.turn}" if self.turn is not None else ""
        return f"{self.unit} {self.value}{position}{turn}"

    @property
    def model_name(self) -> str:
        """The name of every Bokeh model of this timeline, unique to it, by which page-side
        code finds it (e.g. :class:`~tdw.ui.player.CheckpointPlayer`'s)."""
        return f"tdw-timeline:{self.name}"

    def _get_properties(self, doc):
        # Named as the model is made: renaming it afterwards would come back to Python as a
        # change of the component's name when the page talks to the kernel over a comm.
        return {**super()._get_properties(doc), "name": self.model_name}

    def __init__(self, **params: Any) -> None:
        # Layout defaults go through __init__ rather than re-declared class parameters: Panel's
        # ESM metaclass would move a re-declared `height`/`sizing_mode` into the synced data
        # model, which the front end must not see.
        params.setdefault("height", 92 if params.get("caption") else 70)
        if "width" not in params:
            params.setdefault("sizing_mode", "stretch_width")
        super().__init__(**params)
