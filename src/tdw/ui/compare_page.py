"""The Compare tab: pick variants, then see them side by side (2 to 4, one player) or in
groups (any number: curves as mean and band, views as small multiples)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import panel as pn
import param

from tdw.errors import TdwError
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
    any number). Picking more than side by side shows switches to groups.

    ``link`` (a page's URL, :class:`~tdw.ui.links.Link`) may name the variants and the
    alignment; what the store lacks is said in a notice. With ``address``, the page's URL
    follows the variants and alignment shown.
    """

    variants = param.List(default=[], item_type=str, doc="The variants compared.")
    align = param.String(default="epoch", doc="The alignment shown.")
    mode = param.Selector(default="side", objects=list(MODES.values()),
                          doc="Side by side, or in groups.")

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
        if wanted:
            self.show(wanted)
        self.notices = notices(problems)
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
        """Compare ``variants`` (ids of variants with checkpoints), as if picked: side by
        side if there are few enough, else in groups."""
        if len(variants) > MAX_VARIANTS:
            self._switch("groups", open_=False)
        self.picker.options = explorable_variants(self.store)
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
            if self.mode == "groups":
                kept = ({"pool": keep.pool, "band": keep.band, "view": keep.view_widget.value}
                        if isinstance(keep, GroupCompare) else {})
                try:
                    self.compare = GroupCompare(variants, align=self.align, **kept)
                except TdwError:  # what was kept no longer fits: start afresh
                    if not kept:
                        raise
                    self.compare = GroupCompare(variants, align=self.align)
            else:
                self.compare = Compare(variants, align=self.align)
                if isinstance(keep, Compare):
                    self.compare.take_place_of(keep)
        except TdwError as exc:
            self.compare = None
            self.body.objects = [problem(str(exc))]
        else:
            self.compare.param.watch(self._realigned, "align")
            self.body.objects = [self.compare]

    def _realigned(self, event: param.parameterized.Event) -> None:
        self.align = event.new

    def __panel__(self):
        return pn.Column(self.notices, pn.Row(self.mode_widget), self.picker, self.body,
                         *([self.address] if self.address is not None else []),
                         sizing_mode="stretch_width")
