"""The workbench UI: Panel/Bokeh apps that run in Voila, JupyterLab and ``panel serve``.

>>> from tdw.ui import Explorer
>>> Explorer("p59")            # doctest: +SKIP   (every view of a variant, one slider)

Apps: :class:`Workbench` (all pages), :class:`Explorer`, :class:`Compare`,
:class:`GroupCompare`; widgets:
:class:`Timeline` (an anywidget; :class:`TimelinePane` hosts it in Panel); exports in
:mod:`tdw.explore.export` and :mod:`tdw.explore.standalone`.

Names are imported when first used, so ``from tdw.ui import Timeline`` loads ipywidgets
and not Panel.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tdw.ui.compare import Compare
    from tdw.ui.compare_page import ComparePage
    from tdw.ui.explorer import Explorer
    from tdw.ui.groups import GroupCompare
    from tdw.ui.timeline import Timeline
    from tdw.ui.timeline_pane import TimelinePane
    from tdw.ui.visit import wait_for_visit
    from tdw.ui.workbench import ExplorePage, Workbench

_HOMES = {"Workbench": "workbench", "ExplorePage": "workbench", "ComparePage": "compare_page",
          "Explorer": "explorer", "Compare": "compare", "GroupCompare": "groups",
          "Timeline": "timeline", "TimelinePane": "timeline_pane", "wait_for_visit": "visit"}

__all__ = ["Workbench", "ExplorePage", "ComparePage", "Explorer", "Compare", "GroupCompare",
           "Timeline", "TimelinePane", "wait_for_visit"]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'tdw.ui' has no attribute {name!r}")
    return getattr(importlib.import_module(f"tdw.ui.{_HOMES[name]}"), name)
