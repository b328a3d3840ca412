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

from pathlib import Path
from typing import Any

import param
from panel.custom import AnyWidgetComponent


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

    def caption_text(self) -> str:
        """The caption's text, as the page writes it."""
        position = (f" · checkpoint {self.epochs.index(self.value) + 1} of {len(self.epochs)}"
                    if self.value in self.epochs else "")
        turn = f" · detected transition at epoch {self.turn}" if self.turn is not None else ""
        return f"epoch {self.value}{position}{turn}"

    def __init__(self, **params: Any) -> None:
        # Layout defaults go through __init__ rather than re-declared class parameters: Panel's
        # ESM metaclass would move a re-declared `height`/`sizing_mode` into the synced data
        # model, which the front end must not see.
        params.setdefault("height", 92 if params.get("caption") else 70)
        if "width" not in params:
            params.setdefault("sizing_mode", "stretch_width")
        super().__init__(**params)
