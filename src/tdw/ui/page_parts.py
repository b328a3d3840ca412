"""What the workbench's pages share: opening the store, a notice for what a link asked for
that the page could not open, and following the store's variants while a page is shown."""

from __future__ import annotations

from collections.abc import Sequence

import panel as pn

from tdw.errors import TdwError
from tdw.store.store import Store
from tdw.ui.apps import explorable_variants

__all__ = ["open_store", "problem", "notices", "known", "FollowsVariants", "VARIANT_POLL_MS"]


def open_store(store: Store | str | None) -> Store:
    return store if isinstance(store, Store) else Store(store or None)


def problem(message: str):
    return pn.pane.Alert(message, alert_type="warning", sizing_mode="stretch_width")


def notices(problems: Sequence[str]) -> pn.Column:
    """What a link asked for that the page could not open, one notice each."""
    return pn.Column(*[problem(f"This page's link: {p}.") for p in problems],
                     sizing_mode="stretch_width", visible=bool(problems))


def known(store: Store, wanted: str, problems: list[str],
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


class FollowsVariants:
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
