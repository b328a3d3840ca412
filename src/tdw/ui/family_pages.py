"""The pages families add to the workbench (``Family.pages``): one tab each, after its own.

Every registered family's pages are offered, in registry order (built-ins first). A page
whose name is taken (by a workbench tab or an earlier family's page) is left out, and a
page whose ``build`` raises shows the error in its tab: one family's page never takes the
workbench down, and never replaces another's.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import panel as pn

from tdw.family.family import Family
from tdw.family.pages import Page
from tdw.family.registry import families
from tdw.store.store import Store

__all__ = ["FamilyPage", "family_pages"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FamilyPage:
    """A family's page as the workbench shows it: ``view`` is what ``page.build`` returned
    (None if it raised), ``panel`` the tab's content (the view under the page's
    description, or the error)."""

    family: Family
    page: Page
    view: Any
    panel: Any

    def refresh(self) -> None:
        """Let the page follow the store (its ``refresh()``, if it has one). A page whose
        refresh raises shows the error at its top; the workbench goes on."""
        refresh = getattr(self.view, "refresh", None)
        if not callable(refresh):
            return
        try:
            refresh()
        except Exception as exc:  # noqa: BLE001  (one family's page never stops the rest)
            log.exception("page %s of family %s failed to refresh", self.page.name,
                          self.family.name)
            self.panel.insert(0, pn.pane.Alert(
                f"This page could not follow the store: {type(exc).__name__}: {exc}",
                alert_type="danger"))


def family_pages(store: Store, taken: Collection[str], problems: list[str], *,
                 tab: str | None = None, variant: str = "") -> list[FamilyPage]:
    """Build every registered family's pages whose names are not ``taken``.

    Args:
        store: the workbench's store, which each page is built on.
        taken: the workbench's own tab names.
        problems: a sentence is appended for each page left out.
        tab: the tab the link opens; only that page is given ``variant``.
        variant: the variant the link names (an id or prefix; empty for none).
    """
    built: list[FamilyPage] = []
    owners = dict.fromkeys(taken, "the workbench")
    for family in families().values():
        for page in family.pages:
            if page.name in owners:
                problems.append(f"family {family.name}'s page {page.name!r} is not shown: "
                                f"{owners[page.name]} has a tab of that name")
                continue
            owners[page.name] = f"family {family.name}"
            built.append(_build(store, family, page, variant if tab == page.name else ""))
    return built


def _build(store: Store, family: Family, page: Page, variant: str) -> FamilyPage:
    about = pn.pane.Markdown(f"**{page.title}** · {family.title}"
                             + (f": {page.description}" if page.description else ""),
                             sizing_mode="stretch_width", margin=(5, 10))
    try:
        view = page.build(store, variant)
    except Exception as exc:  # noqa: BLE001  (a family's bug: shown in its tab, not raised)
        error = pn.pane.Alert(f"Family {family.name}'s page {page.name!r} could not be built: "
                              f"{type(exc).__name__}: {exc}", alert_type="danger",
                              sizing_mode="stretch_width")
        return FamilyPage(family, page, None, pn.Column(about, error,
                                                        sizing_mode="stretch_width"))
    return FamilyPage(family, page, view, pn.Column(about, view, sizing_mode="stretch_width"))
