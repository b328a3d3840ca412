"""Pages a family adds to the workbench.

Most families need no page of their own: Train, Analyze, Explore, Compare and the rest work
for every registered family. A family with a tool that fits no variant (Modulo Addition's
initialisation sweep ranks trained key frequencies among many untrained models) declares a
:class:`Page` in ``Family.pages``; the workbench adds one tab per page of every registered
family, after its own tabs, and a link opens it with ``?tab=NAME``::

    def build(store, variant: str):
        from .my_page import MyPage  # Panel loads with the workbench, not with the family
        return MyPage(store, variant)

    FAMILY = Family(..., pages=(Page("my-tool", "My tool", build),))

A family imports nothing of ``tdw.ui`` (its layer is below the dashboards): the page is
built from Panel and Bokeh directly, and shows its own errors on the page (a message
naming the problem and the fix, as the CLI's). Building must be cheap, since every
workbench builds every page: lay out the widgets, and compute behind a button.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Page"]

_NAME = re.compile(r"[a-z][a-z0-9-]*")


@dataclass(frozen=True)
class Page:
    """A workbench tab contributed by a family (listed in ``Family.pages``).

    Attributes:
        name: the page's key in a link (``workbench.ipynb?tab=NAME``): lower-case letters,
            digits and hyphens, starting with a letter; unique among every family's pages.
        title: the tab's label, a word or two (``Init gradients``).
        build: ``(store, variant) -> object Panel can show`` (a ``pn.viewable.Viewer``, a
            layout, anything with ``__panel__``): the page on the workbench's
            :class:`~tdw.store.store.Store`. ``variant`` is what the page's link names
            (an id or unique prefix; empty for none), for the page to resolve and to say
            on the page when the store lacks it. Called once per workbench. If the object
            has a ``refresh()`` method, the workbench calls it whenever a job finishes,
            so that the page's variant lists follow the store.
        description: one line saying what the page is for, shown above it; empty for none.
    """

    name: str
    title: str
    # The store is a tdw.store.store.Store; the SDK sits below the store in the layers, so
    # it cannot name the type here.
    build: Callable[[Any, str], Any]
    description: str = ""

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"page {self.name!r}: a page name is lower-case letters, digits "
                             "and hyphens, starting with a letter (e.g. init-gradients)")
        if not self.title.strip():
            raise ValueError(f"page {self.name!r}: give it a title, the tab's label")
