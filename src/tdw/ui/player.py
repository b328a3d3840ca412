"""The checkpoint player: Panel's Player whose page-side move code travels with its model.

A move is carried out in the browser first (frames swapped, the timeline moved; see
:mod:`tdw.explore.viewpane`), by a ``CustomJS`` on the player's ``value``. Panel's own
``jscallback`` links are applied when a root is rendered, and in Voila (``jupyter_bokeh``
comms) not when the kernel later puts a new player on a live page: after another pick of
variant on the workbench, or another alignment in Compare, such a player moved nothing in
the browser. :class:`CheckpointPlayer` attaches the code to each model it renders, so every
copy carries it however it reaches the page.

The timeline is a Panel component whose model only exists once rendered, so the code finds
it by its model's name (:attr:`~tdw.ui.timeline_pane.TimelinePane.model_name`), as ``timeline``.
"""

from __future__ import annotations

from typing import Any

import panel as pn

__all__ = ["CheckpointPlayer", "PLAY_MS"]

PLAY_MS = 80
"""Milliseconds between checkpoints when playing: 12.5 a second, so timer drift still leaves
more than 10."""

_FIND_TIMELINE = """
const timeline = timeline_name ? cb_obj.document.get_model_by_name(timeline_name) : null;
"""


class CheckpointPlayer(pn.widgets.Player):
    """A player over indices ``0 .. end`` with tdw's controls, running ``code`` in the page
    on every change of its value (``source`` is the player's model, ``args`` the other names
    the code reads, ``timeline`` the timeline named ``timeline_name``, or null)."""

    def __init__(self, *, code: str, args: dict[str, Any], timeline_name: str = "",
                 **params: Any):
        params = {"interval": PLAY_MS, "loop_policy": "once", "show_loop_controls": False,
                  "show_value": False, "sizing_mode": "stretch_width",
                  "visible_buttons": ["first", "previous", "pause", "play", "next", "last"],
                  **params}
        super().__init__(**params)
        self._code = _FIND_TIMELINE + code
        self._args = {**args, "timeline_name": timeline_name}

    def _get_model(self, doc, root=None, parent=None, comm=None):
        from bokeh.models import CustomJS

        model = super()._get_model(doc, root, parent, comm)
        model.js_on_change("value", CustomJS(args={**self._args, "source": model},
                                             code=self._code))
        return model
