"""Placing an indexed file: its bytes on disk and its catalog row change together.

Probes, checkpoints and artifacts are files that a catalog row points at and vouches for
(their sha256). :func:`place` writes one such file and its row so that no reader, and no
kill at any instant, ever sees a row that disagrees with its file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tdw.errors import StoreError
from tdw.store.atomic import atomic_write_bytes
from tdw.store.catalog import Catalog
from tdw.store.locks import exclusive

__all__ = ["place", "INDEXED_TABLES"]

INDEXED_TABLES = ("probes", "checkpoints", "artifacts")
"""The tables whose rows index a file of a variant (each row has ``sha256`` and ``path``)."""


def place(catalog: Catalog, folder: Path, path: Path, data: bytes, digest: str, table: str,
          key: Mapping[str, Any], row: tuple) -> None:
    """Write ``data`` (sha256 ``digest``) to ``path`` and index it with ``row`` in ``table``.

    ``folder`` is the variant's folder, whose lock every writer of the variant holds.
    ``key`` names the row's primary key columns and values.

    File and row change together as far as any other writer can tell: both happen
    under the variant's write lock. A row recording other bytes is deleted once the new
    bytes are on disk and just before they replace its file, so a kill between the two
    leaves a gap that the next run fills, never a row that disagrees with its file.
    A write that fails puts the old row back; if the catalog refuses the new row, a
    file that did not exist before is removed again: a failed write changes nothing.
    """
    if table not in INDEXED_TABLES:
        raise ValueError(f"{table} does not index files")
    where, args = " AND ".join(f"{k} = ?" for k in key), tuple(key.values())
    with exclusive(folder):
        existed = path.exists()
        old = catalog.one(f"SELECT * FROM {table} WHERE {where}", args)
        stale = old is not None and old["sha256"] != digest

        def drop_stale_row() -> None:
            if stale:
                with catalog.transaction() as db:
                    db.execute(f"DELETE FROM {table} WHERE {where}", args)

        try:
            atomic_write_bytes(path, data, before_replace=drop_stale_row)
        except BaseException:
            if stale:  # the file was not replaced: its row stands again
                _insert(catalog, table, tuple(old))
            raise
        try:
            _insert(catalog, table, row)
        except BaseException as exc:
            if not existed:
                path.unlink(missing_ok=True)
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"cannot index {path} in the catalog {catalog.path} "
                                 f"({exc}); nothing refers to the new file; fix the cause "
                                 "and run the command again") from exc
            raise


def _insert(catalog: Catalog, table: str, row: tuple) -> None:
    with catalog.transaction() as db:
        db.execute(f"INSERT OR REPLACE INTO {table} VALUES ({', '.join('?' * len(row))})", row)
