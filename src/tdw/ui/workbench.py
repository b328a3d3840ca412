"""The workbench: Train, Analyze, Explore, Compare, Variants and Sweeps as tabs of one app.

Everything on it is generated from the family registry and the store; no page knows any
particular family. Selecting a row of the variant table opens it in Explore; a job that
finishes refreshes the variant lists.
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
from tdw.ui.compare import MAX_VARIANTS, Compare
from tdw.ui.explorer import Explorer
from tdw.ui.jobs import JobList
from tdw.ui.pages import AnalyzePage, TrainPage
from tdw.ui.sweeps import SweepList
from tdw.ui.variants import VariantTable

__all__ = ["Workbench", "ExplorePage", "ComparePage"]

TABS = ("Explore", "Compare", "Variants", "Train", "Analyze", "Sweeps")


def _open_store(store: Store | str | None) -> Store:
    return store if isinstance(store, Store) else Store(store or None)


def _problem(message: str):
    return pn.pane.Alert(message, alert_type="warning", sizing_mode="stretch_width")


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
    """

    variant = param.String(default="")

    def __init__(self, store: Store | str | None = None, initial: str = "", **params: Any):
        ensure_extension()
        super().__init__(**params)
        self.store = _open_store(store)
        self.picker = pn.widgets.Select(label="variant", width=460)
        self.body = pn.Column(sizing_mode="stretch_width")
        self.explorer: Explorer | None = None
        self._shown: tuple = ()  # the catalog signature of the variant the explorer shows
        self.picker.param.watch(lambda e: setattr(self, "variant", e.new or ""), "value")
        self.refresh()
        if initial:
            self.variant = self.store.variant(initial).id
        self._follow_variants()

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
        if self.picker.value != self.variant:
            self.picker.value = self.variant
            return
        if not self.variant:
            return
        self._shown = self.store.signature(self.variant)
        try:
            variant = Variant(self.variant, self.store)
            at = min(variant.epochs, key=lambda e: abs(e - epoch)) if epoch is not None else None
            self.explorer = Explorer(variant, epoch=at)
        except (TdwError, ValueError) as exc:
            self.explorer = None
            self.body.objects = [_problem(str(exc))]
        else:
            self.body.objects = [self.explorer]

    def __panel__(self):
        return pn.Column(self.picker, self.body, sizing_mode="stretch_width")


class ComparePage(_FollowsVariants, pn.viewable.Viewer):
    """Choose 2-4 variants; shows their :class:`~tdw.ui.compare.Compare`."""

    def __init__(self, store: Store | str | None = None, initial: Sequence[str] = (),
                 align: str = "epoch", **params: Any):
        ensure_extension()
        super().__init__(**params)
        self.store = _open_store(store)
        self.align = align
        self.picker = pn.widgets.MultiChoice(label="variants (2 to 4)", max_items=MAX_VARIANTS,
                                             sizing_mode="stretch_width")
        self.body = pn.Column(sizing_mode="stretch_width")
        self.compare: Compare | None = None
        self._shown: tuple = ()  # the catalog signatures of the variants the compare shows
        self.picker.param.watch(lambda e: self._open(), "value")
        self.refresh()
        if initial:
            self.picker.value = [self.store.variant(v).id for v in initial]
        self._follow_variants()

    def poll_variants(self) -> None:
        """Also follow the compared variants: when a job adds checkpoints or artifacts to
        any of them, rebuild the comparison with the same views, alignment and position."""
        super().poll_variants()
        if self.compare is not None and self._signatures() != self._shown:
            self._open(keep=self.compare)

    def _signatures(self) -> tuple:
        return tuple(self.store.signature(v) for v in self.picker.value)

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
            self.body.objects = [self.compare]

    def __panel__(self):
        return pn.Column(self.picker, self.body, sizing_mode="stretch_width")


class Workbench(pn.viewable.Viewer):
    """The whole workbench on one store (default: ``$TDW_HOME``).

    >>> Workbench()                    # doctest: +SKIP   (in a notebook cell)
    """

    def __init__(self, store: Store | str | None = None, *, tab: str = "Explore",
                 variant: str | None = None, **params: Any):
        ensure_extension()
        super().__init__(**params)
        self.store = _open_store(store)
        self.jobs = JobList(self.store, on_finished=self._job_finished)
        self.train = TrainPage(self.store, self.jobs)
        self.analyze = AnalyzePage(self.store, self.jobs)
        self.explore = ExplorePage(self.store)
        self.compare = ComparePage(self.store)
        self.variants = VariantTable(self.store)
        self.variants.param.watch(self._open_variant, "selected")
        self.sweeps = SweepList(self.store)
        pages = {"Explore": self.explore, "Compare": self.compare, "Variants": self.variants,
                 "Train": self.train, "Analyze": self.analyze, "Sweeps": self.sweeps}
        self.tabs = pn.Tabs(*[(name, pages[name]) for name in TABS], dynamic=True,
                            sizing_mode="stretch_width")
        if tab not in TABS:
            raise TdwError(f"unknown tab {tab!r}; choose one of: {', '.join(TABS)}")
        self.tabs.active = TABS.index(tab)
        if variant:
            self.explore.variant = self.store.variant(variant).id

    def _open_variant(self, event: param.parameterized.Event) -> None:
        if event.new:
            self.explore.variant = event.new
            self.tabs.active = TABS.index("Explore")

    def _job_finished(self, record: JobRecord) -> None:
        self.variants.refresh()
        self.analyze.refresh_variants()
        self.explore.refresh()
        self.compare.refresh()

    def __panel__(self):
        title = pn.pane.Markdown("## tdw · Training Dynamics Workbench", margin=(5, 10))
        return pn.Column(title, self.tabs, sizing_mode="stretch_width")
