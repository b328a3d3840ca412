"""What variants compared with each other share, and how they line up: by epoch, or by
epochs since each one's detected transition.

Compare (side by side) and groups (mean and band) both show only the views every variant
has analysed (:func:`shared_views`), and place a variant's checkpoint or curve at
``epoch - offset``, where the offset is 0 by epoch and the variant's detected transition
epoch (:meth:`~tdw.explore.variant.Variant.transition`) by transition.
"""

from __future__ import annotations

from tdw.errors import TdwError
from tdw.explore.variant import Variant
from tdw.family.plot import nearest_index

__all__ = ["ALIGNMENTS", "alignment", "offset", "epoch_at", "aligned_positions",
           "shared_views"]

ALIGNMENTS = {"epoch": "epoch", "transition": "epochs since transition"}
"""Each alignment and what a position is called under it."""

_ALIASES = {"turn": "transition"}  # the name stores and notebooks of earlier releases used


def alignment(align: str) -> str:
    """The alignment ``align`` names (an alias such as "turn" gives its name); refuses an
    unknown one, naming the choices."""
    align = _ALIASES.get(align, align)
    if align not in ALIGNMENTS:
        raise TdwError(f"unknown alignment {align!r}: use one of {', '.join(ALIGNMENTS)}")
    return align


def offset(variant: Variant, align: str) -> int:
    """The epoch ``variant`` puts at position 0 under ``align``: 0 by epoch, its detected
    transition by transition (refused, saying what to do, when it has none)."""
    if alignment(align) == "transition":
        found = variant.transition()
        if found is None:
            raise TdwError(f"{variant.id} has no detected transition (analyse it, or align "
                           "by epoch)")
        return found[0]
    return 0


def epoch_at(variant: Variant, position: int, align: str) -> int:
    """The checkpoint of ``variant`` nearest ``position`` under ``align`` (the earlier of
    a tie)."""
    target = position + offset(variant, align)
    return variant.epochs[nearest_index(variant.epochs, target)]


def aligned_positions(variants: list[Variant], align: str) -> list[int]:
    """Every position: the union of the variants' checkpoint epochs, each shifted by its
    offset under ``align``."""
    align = alignment(align)
    return sorted({e - offset(v, align) for v in variants for e in v.epochs})


def shared_views(variants: list[Variant], scope: str | None = None) -> list[str]:
    """The views (of ``scope``, if given) that every one of ``variants`` has analysed, in
    the first variant's order."""
    waiting = [v.waiting() for v in variants]
    return [name for name in variants[0].views()
            if (scope is None or variants[0]._view(name).scope == scope)
            and all(name in v.views() and name not in w
                    for v, w in zip(variants, waiting, strict=True))]
