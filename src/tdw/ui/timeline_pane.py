"""The dashboards' checkpoint timeline: :class:`~tdw.ui.timeline.Timeline`'s front end and
traits, hosted by Panel.

Panel implements the anywidget protocol itself (``AnyWidgetComponent``), so the dashboards
run the very module (``timeline.js``) that :class:`~tdw.ui.timeline.Timeline` runs in plain
Jupyter, with the same traits. Hosting it in Panel makes it a Bokeh model of the page: the
page's player moves it in the browser, without a round trip to the kernel (see
:mod:`tdw.ui.player`), which an ipywidget on a Panel page cannot offer.
:meth:`TimelinePane.of` puts a researcher's own :class:`~tdw.ui.timeline.Timeline` on a
Panel page, the two kept in step both ways.
"""

from __future__ import annotations

from typing import Any

import param
from panel.custom import AnyWidgetComponent

from tdw.ui.timeline import ESM, TRAITS, Timeline, caption_text

__all__ = ["TimelinePane"]


class TimelinePane(AnyWidgetComponent):
    """The checkpoint timeline as a Panel component: :class:`~tdw.ui.timeline.Timeline`'s
    traits as parameters (watch them with ``pane.param.watch``), its front end as ``_esm``.

    Example::

        pane = TimelinePane(epochs=[0, 10, 100, 1000], value=0, transition=100, scale="log")
        pane.param.watch(lambda event: print(event.new), "value")
    """

    # Panel reads a Path-valued _esm file as text when rendering (no bundle is shipped), and
    # with --autoreload it also watches the file and hot-swaps the module.
    _esm = ESM

    epochs = param.List(default=[], item_type=int, doc="""
        Checkpoint epochs, increasing.""")

    value = param.Integer(default=0, doc="""
        The current checkpoint's epoch; the page only ever sets it to a member of epochs.""")

    transition = param.Integer(default=None, allow_None=True, doc="""
        The detected transition's epoch (drawn as a red line), or None to draw none.""")

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
        return caption_text(self.epochs, self.value, self.transition, self.unit, self.notes)

    @classmethod
    def of(cls, widget: Timeline, **params: Any) -> TimelinePane:
        """A pane showing ``widget`` on a Panel page: a change on either side (from Python or
        from the page) reaches the other. ``params`` are layout (width, margin, ...)."""
        pane = cls(**{name: getattr(widget, name) for name in TRAITS}, **params)

        def to_pane(change: dict[str, Any]) -> None:
            pane.param.update({change["name"]: change["new"]})

        def to_widget(*events: param.parameterized.Event) -> None:
            with widget.hold_trait_notifications():
                for event in events:
                    setattr(widget, event.name, event.new)

        widget.observe(to_pane, names=list(TRAITS))
        pane.param.watch(to_widget, list(TRAITS))
        return pane

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
