"""The workbench: Train, Analyze, Explore, Compare, Variants and Sweeps as tabs of one app,
then one tab per page a family adds (``Family.pages``, e.g. Modulo Addition's Init gradients).

Everything on it is generated from the family registry and the store; no page of its own
knows any particular family. The Variants table opens a variant in Explore and sends the
variants ticked in it to Compare; a job that finishes refreshes the variant lists.
"""

from __future__ import annotations

from typing import Any

import panel as pn
import param

from tdw.errors import TdwError
from tdw.explore.jupyter import ensure_extension
from tdw.explore.variant import Variant
from tdw.store.jobs import JobRecord
from tdw.store.store import Store
from tdw.ui.apps import explorable_variants
from tdw.ui.compare_page import ComparePage
from tdw.ui.explorer import Explorer
from tdw.ui.family_pages import family_pages
from tdw.ui.jobs import JobList
from tdw.ui.links import Address, Link
from tdw.ui.page_parts import FollowsVariants, known, notices, open_store, problem
from tdw.ui.pages import AnalyzePage, TrainPage
from tdw.ui.sweeps import SweepList
from tdw.ui.variants import VariantTable

__all__ = ["Workbench", "ExplorePage", "ComparePage"]

TABS = ("Explore", "Compare", "Variants", "Train", "Analyze", "Sweeps")
"""The workbench's own tabs, in order; the families' pages follow (``Workbench.tab_names``)."""


class ExplorePage(FollowsVariants, pn.viewable.Viewer):
    """A variant picker above the :class:`~tdw.ui.explorer.Explorer` of the chosen one.

    ``initial`` is the variant shown first (an id or a unique prefix); default the latest.
    ``link`` (a page's URL, :class:`~tdw.ui.links.Link`) may name the variant and the epoch;
    what it names that the store lacks is said in a notice. With ``address``, the page's
    URL follows the variant and checkpoint shown.
    """

    variant = param.String(default="")
    epoch = param.Integer(default=None, allow_None=True, doc="The checkpoint shown.")

    def __init__(self, store: Store | str | None = None, initial: str = "", *,
                 link: Link | None = None, address: bool = True, **params: Any):
        ensure_extension()
        super().__init__(**params)
        link = link or Link()
        self.store = open_store(store)
        self.picker = pn.widgets.Select(label="variant", width=460)
        self.body = pn.Column(sizing_mode="stretch_width")
        self.explorer: Explorer | None = None
        self._shown: tuple = ()  # the catalog signature of the variant the explorer shows
        self._problems = list(link.problems)
        self._wanted_epoch: int | None = None  # the link's checkpoint, while it is opened
        self.picker.param.watch(lambda e: setattr(self, "variant", e.new or ""), "value")
        self.refresh()
        wanted = (known(self.store, link.variant, self._problems) if link.variant else None
                  ) or (self.store.variant(initial).id if initial else None)
        self._wanted_epoch = link.epoch
        if wanted and wanted != self.variant:
            self.variant = wanted
        elif link.epoch is not None and self.variant:
            self._open()
        self._wanted_epoch = None
        self.notices = notices(self._problems)
        self.address = Address(query=self.link().query()) if address else None
        if self.address is not None:
            self.param.watch(lambda e: setattr(self.address, "query", self.link().query()),
                             ["variant", "epoch"])
        self._follow_variants()

    def link(self) -> Link:
        """The link to what the page shows."""
        return Link(variant=self.variant or None, epoch=self.epoch)

    def poll_variants(self) -> None:
        """Also follow the shown variant: when a job adds checkpoints or artifacts to it,
        reopen it at the checkpoint the user is on."""
        super().poll_variants()
        if self.explorer is not None and self.store.signature(self.variant) != self._shown:
            self._open(epoch=self.explorer.epoch)

    def refresh(self) -> None:
        ids = explorable_variants(self.store)
        self.picker.options = ids
        if ids and self.picker.value not in ids:
            self.picker.value = ids[0]
        elif not ids:
            self.body.objects = [problem("No variant with checkpoints yet: start one on the "
                                          "Train page.")]

    @param.depends("variant", watch=True)
    def _open(self, epoch: int | None = None) -> None:
        if self.picker.value != self.variant:  # set from Python: show it in the picker too
            self.picker.value = self.variant  # (which sets the same variant: no second open)
        if not self.variant:
            return
        self._shown = self.store.signature(self.variant)
        if epoch is None and self._wanted_epoch is not None:
            epoch = self._wanted_epoch
        try:
            variant = Variant(self.variant, self.store)
            at = min(variant.epochs, key=lambda e: abs(e - epoch)) if epoch is not None else None
            if epoch == self._wanted_epoch and at is not None and at != epoch:
                self._problems.append(f"{variant.id} has no checkpoint at epoch {epoch}; "
                                      f"showing the nearest, epoch {at}")
            self.explorer = Explorer(variant, epoch=at)
        except (TdwError, ValueError) as exc:
            self.explorer = None
            self.epoch = None
            self.body.objects = [problem(str(exc))]
        else:
            self.epoch = self.explorer.epoch
            self.explorer.param.watch(self._moved, "index")
            self.body.objects = [self.explorer]

    def _moved(self, event: param.parameterized.Event) -> None:
        if self.explorer is not None:
            self.epoch = self.explorer.epoch

    def __panel__(self):
        return pn.Column(self.notices, self.picker, self.body,
                         *([self.address] if self.address is not None else []),
                         sizing_mode="stretch_width")


class Workbench(pn.viewable.Viewer):
    """The whole workbench on one store (default: ``$TDW_HOME``).

    ``tab`` is the tab shown first: one of :data:`TABS` or a family page's name (e.g.
    ``init-gradients``); ``link`` (a page's URL) may name it instead.

    >>> Workbench()                    # doctest: +SKIP   (in a notebook cell)
    """

    def __init__(self, store: Store | str | None = None, *, tab: str = "Explore",
                 variant: str | None = None, link: Link | None = None, **params: Any):
        ensure_extension()
        super().__init__(**params)
        link = link or Link()
        problems = list(link.problems)
        if variant and not link.variant:
            link = link.with_(variant=variant)
        self.store = open_store(store)
        self.family_pages = family_pages(self.store, TABS, problems, variant=link.variant or "",
                                         tab=link.tab if link.tab is not None else tab)
        # every tab's name in a link (?tab=NAME), in order
        self.tab_names = (*TABS, *(p.page.name for p in self.family_pages))
        names = ", ".join(self.tab_names)
        if link.tab is not None and link.tab not in self.tab_names:
            problems.append(f"unknown tab {link.tab!r}; choose one of: {names}")
        elif link.tab is not None:
            tab = link.tab
        if tab not in self.tab_names:
            raise TdwError(f"unknown tab {tab!r}; choose one of: {names}")
        self.notices = notices(problems)
        self.jobs = JobList(self.store, on_finished=self._job_finished)
        self.train = TrainPage(self.store, self.jobs)
        self.analyze = AnalyzePage(self.store, self.jobs)
        page_link = link.with_()  # the problems of the URL itself are shown once, above
        self.explore = ExplorePage(self.store, link=page_link, address=False)
        self.compare = ComparePage(self.store, link=page_link, address=False)
        self.variants = VariantTable(self.store, on_compare=self._compare_variants)
        self.variants.param.watch(self._open_variant, "selected")
        self.sweeps = SweepList(self.store, on_open=self._show_in_explore)
        pages = {"Explore": self.explore, "Compare": self.compare, "Variants": self.variants,
                 "Train": self.train, "Analyze": self.analyze, "Sweeps": self.sweeps}
        self.tabs = pn.Tabs(*[(name, pages[name]) for name in TABS],
                            *[(p.page.title, p.panel) for p in self.family_pages],
                            dynamic=True, sizing_mode="stretch_width")
        self.tabs.active = self.tab_names.index(tab)
        self.address = Address(query=self.link().query())
        update = lambda *_: setattr(self.address, "query", self.link().query())  # noqa: E731
        self.tabs.param.watch(update, "active")
        self.explore.param.watch(update, ["variant", "epoch"])
        self.compare.param.watch(update, ["variants", "align", "mode", "pool", "band"])

    def link(self) -> Link:
        """The link to what the workbench shows: its tab, and that tab's state."""
        tab = self.tab_names[self.tabs.active]
        page = {"Explore": self.explore, "Compare": self.compare}.get(tab)
        return (page.link() if page is not None else Link()).with_(tab=tab)

    def _open_variant(self, event: param.parameterized.Event) -> None:
        if event.new:
            self._show_in_explore(event.new)

    def _show_in_explore(self, variant: str) -> None:
        self.explore.variant = variant
        self.tabs.active = TABS.index("Explore")

    def _compare_variants(self, variants: list[str]) -> None:
        self.compare.show(variants)
        self.tabs.active = TABS.index("Compare")

    def _job_finished(self, record: JobRecord) -> None:
        self.variants.refresh()
        self.analyze.refresh_variants()
        self.explore.refresh()
        self.compare.refresh()
        for page in self.family_pages:
            page.refresh()

    def __panel__(self):
        title = pn.pane.Markdown("## tdw · Training Dynamics Workbench", margin=(5, 10))
        return pn.Column(title, self.notices, self.tabs, self.address,
                         sizing_mode="stretch_width")
