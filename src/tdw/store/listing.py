"""Queries for listing variants (the workbench's Variants table, ``tdw variants``).

A table of every variant is rebuilt when something changes, and polls to learn whether
anything did. :func:`variant_stamps` answers for all variants in a few grouped queries,
where :meth:`tdw.store.store.Store.signature` takes four per variant.
"""

from __future__ import annotations

from tdw.store.catalog import Catalog
from tdw.store.placement import INDEXED_TABLES

__all__ = ["variant_stamps", "artifact_versions"]


def variant_stamps(catalog: Catalog) -> dict[str, tuple]:
    """Variant id -> a stamp that changes whenever any of the variant's rows does: its own
    (state, epochs, results), and the count and latest time of its probe, checkpoints and
    artifacts. One query per table."""
    stamps: dict[str, list] = {r["id"]: [r["updated"], r["state"], r["epochs_done"]]
                               for r in catalog.query(
                                   "SELECT id, updated, state, epochs_done FROM variants")}
    for table in INDEXED_TABLES:
        counts = {r["variant"]: (r["n"], r["latest"]) for r in catalog.query(
            f"SELECT variant, COUNT(*) AS n, MAX(created) AS latest FROM {table} "
            "GROUP BY variant")}
        for vid, parts in stamps.items():
            parts.append(counts.get(vid, (0, None)))
    return {vid: tuple(parts) for vid, parts in stamps.items()}


def artifact_versions(catalog: Catalog, vid: str) -> list[tuple[str, int, int, str | None]]:
    """``(analyzer, epoch, version, options)`` of every artifact of ``vid`` (-1 for a
    cross-epoch one): what counting its current artifacts needs, without the rest of each
    row (a fifth of the time of reading whole records)."""
    return [(r["analyzer"], int(r["epoch"]), int(r["version"]), r["options"])
            for r in catalog.query("SELECT analyzer, epoch, version, options FROM artifacts "
                                   "WHERE variant = ?", (vid,))]
