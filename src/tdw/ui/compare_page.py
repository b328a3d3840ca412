"""The Compare tab: pick variants, then see them side by side (2 to 4, one player) or in
groups (any number: curves as mean and band, views as small multiples)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import panel as pn
import param

from tdw.errors import TdwError
from tdw.explore.groups import BANDS
from tdw.explore.jupyter import ensure_extension
from tdw.explore.variant import Variant
from tdw.store.store import Store
from tdw.ui.apps import explorable_variants
from tdw.ui.compare import MAX_VARIANTS, Compare, alignment
from tdw.ui.groups import GroupCompare
from tdw.ui.links import Address, Link
from tdw.ui.page_parts import FollowsVariants, known, notices, open_store, problem

__all__ = ["ComparePage"]


MODES = {"side by side": "side", "groups": "groups"}
"""The page's two ways to compare, by label."""


class ComparePage(FollowsVariants, pn.viewable.Viewer):
    """Choose variants; shows them side by side (:class:`~tdw.ui.compare.Compare`, 2 to
    :data:`~tdw.ui.compare.MAX_VARIANTS`) or in groups (:class:`~tdw.ui.groups.GroupCompare`,
    any number). :meth:`show` (the Variants table's **Compare selected**) picks the mode
    by how many variants it gets; picking more than four by hand while side by side says
    to switch.

    ``link`` (a page's URL, :class:`~tdw.ui.links.Link`) may name the variants, the
    alignment and, for groups, the pooling and band; what the store lacks is said in a
    notice. With ``address``, the page's URL follows what is shown.
    """

    variants = param.List(default=[], item_type=str, doc="The variants compared.")
    align = param.String(default="epoch", doc="The alignment shown.")
    mode = param.Selector(default="side", objects=list(MODES.values()),
                          doc="Side by side, or in groups.")
    pool = param.List(default=[], item_type=str, doc="The groups' pooled parameters.")
    band = param.String(default="minmax", doc="The groups' band.")

    def __init__(self, store: Store | str | None = None, initial: Sequence[str] = (),
                 align: str = "epoch", *, link: Link | None = None, address: bool = True,
                 **params: Any):
        ensure_extension()
        super().__init__(align=align, **params)
        link = link or Link()
        self.store = open_store(store)
        self.picker = pn.widgets.MultiChoice(
            label=f"variants (2 to {MAX_VARIANTS} side by side, any number in groups)",
            sizing_mode="stretch_width")
        self.mode_widget = pn.widgets.RadioButtonGroup(options=MODES, value=self.mode)
        self.body = pn.Column(sizing_mode="stretch_width")
        self.compare: Compare | GroupCompare | None = None
        self._fell_back: list = []  # notices of what the comparison shows instead of asked
        self._pooled = False  # whether ``pool`` was chosen (a link, or groups shown before)
        self._shown: tuple = ()  # the catalog signatures of the variants the compare shows
        problems = list(link.problems)
        if link.align:
            try:
                self.align = alignment(link.align)
            except TdwError as exc:
                problems.append(str(exc))
        self.picker.param.watch(lambda e: self._open(), "value")
        self.mode_widget.param.watch(lambda e: self._switch(e.new), "value")
        self.refresh()
        wanted = [vid for v in link.variants
                  if (vid := known(self.store, v, problems, "comparing the others"))]
        wanted = wanted or [self.store.variant(v).id for v in initial]
        if link.band and link.band not in BANDS:
            problems.append(f"unknown band {link.band!r}: use one of {', '.join(BANDS)}; "
                            "showing min–max")
        if link.pool is not None:
            self.pool, self._pooled = list(link.pool), True
            self.band = link.band if link.band in BANDS else self.band
            self._switch("groups", open_=False)
        if wanted:
            self.show(wanted, mode=self.mode if link.pool is not None else None)
        self.notices = notices(problems)
        self.address = Address(query=self.link().query()) if address else None
        if self.address is not None:
            self.param.watch(lambda e: setattr(self.address, "query", self.link().query()),
                             ["variants", "align", "mode", "pool", "band"])
        self._follow_variants()

    def link(self) -> Link:
        """The link to what the page shows."""
        groups = self.mode == "groups"
        return Link(variants=tuple(self.variants), align=self.align,
                    pool=tuple(self.pool) if groups else None,
                    band=self.band if groups else None)

    def poll_variants(self) -> None:
        """Also follow the compared variants: when a job adds checkpoints or artifacts to
        any of them, rebuild the comparison with the same views, alignment and position."""
        super().poll_variants()
        if self.compare is not None and self._signatures() != self._shown:
            self._open(keep=self.compare)

    def _signatures(self) -> tuple:
        return tuple(self.store.signature(v) for v in self.picker.value)

    def show(self, variants: Sequence[str], mode: str | None = None) -> None:
        """Compare ``variants`` (ids of variants with checkpoints), as if picked: in
        ``mode``, or by default side by side if there are few enough, else in groups."""
        self._switch(mode or ("groups" if len(variants) > MAX_VARIANTS else "side"),
                     open_=False)
        self.picker.options = explorable_variants(self.store)
        if self.picker.value == list(variants):
            self._open()  # the same variants, perhaps in the other mode
        else:
            self.picker.value = list(variants)

    def _switch(self, mode: str, *, open_: bool = True) -> None:
        if mode == self.mode:
            return
        self.mode = self.mode_widget.value = mode
        if open_:
            self._open()

    def refresh(self) -> None:
        self.picker.options = explorable_variants(self.store)
        if not self.picker.value and len(self.picker.options) >= 2:
            self.picker.value = self.picker.options[:2]
        elif self.compare is None:
            self._open()

    def _open(self, keep: Compare | GroupCompare | None = None) -> None:
        """Compare the picked variants; ``keep``: a comparison whose views, alignment and
        position (or pooling and band) the new one takes over (when the same variants
        gained checkpoints)."""
        chosen = list(self.picker.value)
        self.variants = chosen
        if len(chosen) < 2:
            self.compare = None
            available = len(self.picker.options)
            self.body.objects = [problem(
                "Pick at least two variants to compare." if available >= 2 else
                f"Compare needs two variants with checkpoints; the store has {available}. "
                "Train another on the workbench's Train page or with `tdw train`.")]
            return
        if len(chosen) > MAX_VARIANTS and self.mode == "side":
            self.compare = None
            self.body.objects = [problem(
                f"Side by side shows 2 to {MAX_VARIANTS} variants; {len(chosen)} are picked. "
                "Compare them in groups, or pick fewer.")]
            return
        self._shown = self._signatures()
        variants = [Variant(v, self.store) for v in chosen]
        try:
            self.compare = self._build(variants, keep)
        except TdwError as exc:
            self.compare = None
            self.body.objects = [problem(str(exc))]
            return
        self.compare.param.watch(self._realigned, "align")
        if isinstance(self.compare, GroupCompare):
            self.compare.param.watch(self._regrouped, ["pool", "band"])
            self.pool, self.band = list(self.compare.pool), self.compare.band
            self._pooled = True
        self.body.objects = [*self._fell_back, self.compare]

    def _build(self, variants: list[Variant], keep: Compare | GroupCompare | None
               ) -> Compare | GroupCompare:
        """The comparison of ``variants`` in the page's mode, taking over ``keep``'s state.
        Aligned by transition while some variant has none, it aligns by epoch and says so
        (the alignment control is the comparison's own, so a refusal would hide it)."""
        self._fell_back = []
        align = self.align
        if align == "transition":
            lacking = [v.id for v in variants if v.transition() is None]
            if lacking:
                align = "epoch"
                self._fell_back = [problem(
                    f"{', '.join(lacking)} {'has' if len(lacking) == 1 else 'have'} no "
                    "detected transition (analyse it), so these are aligned by epoch.")]
        if self.mode == "side":
            compare = Compare(variants, align=align)
            if isinstance(keep, Compare):
                compare.take_place_of(keep)
            return compare
        try:
            compare = GroupCompare(variants, align=align,
                                   pool=list(self.pool) if self._pooled else None,
                                   band=self.band)
        except TdwError as exc:  # the pooling kept no longer fits these variants
            if not self._pooled or "cannot pool over" not in str(exc):
                raise
            compare = GroupCompare(variants, align=align, band=self.band)
            self._fell_back.append(problem(f"{exc}; pooled over the seeds instead."))
        if isinstance(keep, GroupCompare):
            compare.take_place_of(keep)
        return compare

    def _regrouped(self, event: param.parameterized.Event) -> None:
        setattr(self, event.name, list(event.new) if event.name == "pool" else event.new)

    def _realigned(self, event: param.parameterized.Event) -> None:
        self.align = event.new

    def __panel__(self):
        return pn.Column(self.notices, pn.Row(self.mode_widget), self.picker, self.body,
                         *([self.address] if self.address is not None else []),
                         sizing_mode="stretch_width")
