"""Small helpers the dashboard notebooks call, so that the notebooks hold no logic."""

from __future__ import annotations

from tdw.errors import TdwError
from tdw.store import Store

__all__ = ["explorable_variants", "latest_variant", "latest_variants"]


def explorable_variants(store: Store) -> list[str]:
    """Variants with checkpoints, most recently updated first."""
    records = sorted(store.variants(), key=lambda v: v.updated, reverse=True)
    return [v.id for v in records if store.checkpoints(v.id)]


def latest_variant(store: Store | str | None = None) -> str:
    """The most recently updated variant with checkpoints."""
    ids = explorable_variants(store if isinstance(store, Store) else Store(store))
    if not ids:
        raise TdwError("no variant with checkpoints yet; train one: tdw quickstart")
    return ids[0]


def latest_variants(store: Store | str | None = None, given: str = "", n: int = 2) -> list[str]:
    """The comma-separated ``given`` ids, else the ``n`` most recent variants."""
    if given.strip():
        return [v.strip() for v in given.split(",") if v.strip()]
    ids = explorable_variants(store if isinstance(store, Store) else Store(store))
    if len(ids) < n:
        raise TdwError(f"compare needs {n} variants with checkpoints, the store has {len(ids)}; "
                       "train another on the Train page or with tdw train")
    return ids[:n]
