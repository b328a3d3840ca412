"""The workbench: Train, Analyze, Explore, Compare, Variants and Sweeps as tabs of one app,
then one tab per page a family adds (``Family.pages``, e.g. Modulo Addition's Init gradients).

Everything on it is generated from the family registry and the store; no page of its own
knows any particular family. The Variants table opens a variant in Explore and sends the
variants ticked in it to Compare; a job that finishes refreshes the variant lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import panel as pn
import param

from tdw.errors import TdwError
from tdw.explore.jupyter import ensure_extension
from tdw.explore.variant import Variant
from tdw.store.jobs import JobRecord
from tdw.store.store import Store
from tdw.ui.apps import explorable_variants
from tdw.ui.compare import MAX_VARIANTS, Compare, alignment
from tdw.ui.explorer import Explorer
from tdw.ui.family_pages import family_pages
from tdw.ui.jobs import JobList
from tdw.ui.links import Address, Link
from tdw.ui.pages import AnalyzePage, TrainPage
from tdw.ui.sweeps import SweepList
from tdw.ui.variants import VariantTable

__all__ = ["Workbench", "ExplorePage", "ComparePage"]

TABS = ("Explore", "Compare", "Variants", "Train", "Analyze", "Sweeps")
"""The workbench's own tabs, in order; the families' pages follow (``Workbench.tab_names``)."""


def _open_store(store: Store | str | None) -> Store:
    return store if isinstance(store, Store) else Store(store or None)


def _problem(message: str):
    return pn.pane.Alert(message, alert_type="warning", sizing_mode="stretch_width")


def _notices(problems: Sequence[str]) -> pn.Column:
    """What a link asked for that the page could not open, one notice each."""
    return pn.Column(*[_problem(f"This page's link: {p}.") for p in problems],
                     sizing_mode="stretch_width", visible=bool(problems))


def _known(store: Store, wanted: str, problems: list[str],
           instead: str = "showing the most recent instead") -> str | None:
    """The id of variant ``wanted`` (an id or prefix); None, with a problem saying what the
    page does ``instead``, if the store has no such variant."""
    try:
        return store.variant(wanted).id
    except TdwError as exc:
        problems.append(f"{exc}; {instead}")
        return None


VARIANT_POLL_MS = 5000
"""How often a page's variant picker looks for new variants (one small catalog query)."""


class _FollowsVariants:
    """For a page with ``store``, ``picker`` and ``refresh()``: keep the picker's options in
    step with the store, so a variant trained from the command line or another page appears
    without a reload. This matters under Voila's preheated kernels too, where a page may have
    been built minutes before anyone opened it."""

    def poll_variants(self) -> None:
        """Refresh if the store's explorable variants differ from the picker's options."""
        if explorable_variants(self.store) != list(self.picker.options):
            self.refresh()

    def _follow_variants(self) -> None:
        pn.state.add_periodic_callback(self.poll_variants, period=VARIANT_POLL_MS, start=True)


class ExplorePage(_FollowsVariants, pn.viewable.Viewer):
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
        self.store = _open_store(store)
        self.picker = pn.widgets.Select(label="variant", width=460)
        self.body = pn.Column(sizing_mode="stretch_width")
        self.explorer: Explorer | None = None
        self._shown: tuple = ()  # the catalog signature of the variant the explorer shows
        self._problems = list(link.problems)
        self._wanted_epoch: int | None = None  # the link's checkpoint, while it is opened
        self.picker.param.watch(lambda e: setattr(self, "variant", e.new or ""), "value")
        self.refresh()
        wanted = (_known(self.store, link.variant, self._problems) if link.variant else None
                  ) or (self.store.variant(initial).id if initial else None)
        self._wanted_epoch = link.epoch
        if wanted and wanted != self.variant:
            self.variant = wanted
        elif link.epoch is not None and self.variant:
            self._open()
        self._wanted_epoch = None
        self.notices = _notices(self._problems)
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
            self.body.objects = [_problem("No variant with checkpoints yet: start one on the "
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
            self.body.objects = [_problem(str(exc))]
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


class ComparePage(_FollowsVariants, pn.viewable.Viewer):
    """Choose 2-4 variants; shows their :class:`~tdw.ui.compare.Compare`.

    ``link`` (a page's URL, :class:`~tdw.ui.links.Link`) may name the variants and the
    alignment; what the store lacks is said in a notice. With ``address``, the page's URL
    follows the variants and alignment shown.
    """

    variants = param.List(default=[], item_type=str, doc="The variants compared.")
    align = param.String(default="epoch", doc="The alignment shown.")

    def __init__(self, store: Store | str | None = None, initial: Sequence[str] = (),
                 align: str = "epoch", *, link: Link | None = None, address: bool = True,
                 **params: Any):
        ensure_extension()
        super().__init__(align=align, **params)
        link = link or Link()
        self.store = _open_store(store)
        self.picker = pn.widgets.MultiChoice(label="variants (2 to 4)", max_items=MAX_VARIANTS,
                                             sizing_mode="stretch_width")
        self.body = pn.Column(sizing_mode="stretch_width")
        self.compare: Compare | None = None
        self._shown: tuple = ()  # the catalog signatures of the variants the compare shows
        problems = list(link.problems)
        if link.align:
            try:
                self.align = alignment(link.align)
            except TdwError as exc:
                problems.append(str(exc))
        self.picker.param.watch(lambda e: self._open(), "value")
        self.refresh()
        wanted = [known for v in link.variants
                  if (known := _known(self.store, v, problems, "comparing the others"))]
        if len(link.variants) > MAX_VARIANTS:
            problems.append(f"Compare shows at most {MAX_VARIANTS} variants; the link names "
                            f"{len(link.variants)}")
        wanted = wanted[:MAX_VARIANTS] or [self.store.variant(v).id for v in initial]
        if wanted:
            self.picker.value = wanted
        self.notices = _notices(problems)
        self.address = Address(query=self.link().query()) if address else None
        if self.address is not None:
            self.param.watch(lambda e: setattr(self.address, "query", self.link().query()),
                             ["variants", "align"])
        self._follow_variants()

    def link(self) -> Link:
        """The link to what the page shows."""
        return Link(variants=tuple(self.variants), align=self.align)

    def poll_variants(self) -> None:
        """Also follow the compared variants: when a job adds checkpoints or artifacts to
        any of them, rebuild the comparison with the same views, alignment and position."""
        super().poll_variants()
        if self.compare is not None and self._signatures() != self._shown:
            self._open(keep=self.compare)

    def _signatures(self) -> tuple:
        return tuple(self.store.signature(v) for v in self.picker.value)

    def show(self, variants: Sequence[str]) -> None:
        """Compare ``variants`` (2 to 4 ids of variants with checkpoints), as if picked."""
        self.picker.options = explorable_variants(self.store)
        self.picker.value = list(variants)

    def refresh(self) -> None:
        self.picker.options = explorable_variants(self.store)
        if not self.picker.value and len(self.picker.options) >= 2:
            self.picker.value = self.picker.options[:2]
        elif self.compare is None:
            self._open()

    def _open(self, keep: Compare | None = None) -> None:
        """Compare the picked variants; ``keep``: a comparison whose views, alignment and
        position the new one takes over (when the same variants gained checkpoints)."""
        chosen = list(self.picker.value)
        self.variants = chosen
        if len(chosen) < 2:
            self.compare = None
            available = len(self.picker.options)
            self.body.objects = [_problem(
                "Pick at least two variants to compare." if available >= 2 else
                f"Compare needs two variants with checkpoints; the store has {available}. "
                "Train another on the workbench's Train page or with `tdw train`.")]
            return
        self._shown = self._signatures()
        try:
            self.compare = Compare([Variant(v, self.store) for v in chosen], align=self.align)
            if keep is not None:
                self.compare.take_place_of(keep)
        except TdwError as exc:
            self.compare = None
            self.body.objects = [_problem(str(exc))]
        else:
            self.compare.param.watch(self._realigned, "align")
            self.body.objects = [self.compare]

    def _realigned(self, event: param.parameterized.Event) -> None:
        self.align = event.new

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
        self.store = _open_store(store)
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
        self.notices = _notices(problems)
        self.jobs = JobList(self.store, on_finished=self._job_finished)
        self.train = TrainPage(self.store, self.jobs)
        self.analyze = AnalyzePage(self.store, self.jobs)
        page_link = link.with_()  # the problems of the URL itself are shown once, above
        self.explore = ExplorePage(self.store, link=page_link, address=False)
        self.compare = ComparePage(self.store, link=page_link, address=False)
        self.variants = VariantTable(self.store, on_compare=self._compare_variants)
        self.variants.param.watch(self._open_variant, "selected")
        self.sweeps = SweepList(self.store)
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
        self.compare.param.watch(update, ["variants", "align"])

    def link(self) -> Link:
        """The link to what the workbench shows: its tab, and that tab's state."""
        tab = self.tab_names[self.tabs.active]
        page = {"Explore": self.explore, "Compare": self.compare}.get(tab)
        return (page.link() if page is not None else Link()).with_(tab=tab)

    def _open_variant(self, event: param.parameterized.Event) -> None:
        if event.new:
            self.explore.variant = event.new
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
