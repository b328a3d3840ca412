"""Store queries the workbench pages share."""

from __future__ import annotations

from tdw.store.store import Store

__all__ = ["explorable_variants"]


def explorable_variants(store: Store) -> list[str]:
    """Variants with checkpoints, most recently updated first."""
    records = sorted(store.variants(), key=lambda v: v.updated, reverse=True)
    return [v.id for v in records if store.checkpoints(v.id)]
