"""The workbench UI: Panel/Bokeh apps that run in Voila, JupyterLab and ``panel serve``.

>>> from tdw.ui import Explorer
>>> Explorer("p59")            # doctest: +SKIP   (every view of a variant, one slider)

Apps: :class:`Workbench` (all pages), :class:`Explorer`, :class:`Compare`; widgets:
:class:`Timeline`; exports in :mod:`tdw.explore.export` and :mod:`tdw.explore.standalone`.
"""

from tdw.ui.compare import Compare
from tdw.ui.explorer import Explorer
from tdw.ui.timeline import Timeline
from tdw.ui.visit import wait_for_visit
from tdw.ui.workbench import ComparePage, ExplorePage, Workbench

__all__ = ["Workbench", "ExplorePage", "ComparePage", "Explorer", "Compare", "Timeline",
           "wait_for_visit"]
