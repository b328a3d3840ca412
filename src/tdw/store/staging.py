"""Staging stores: where an import assembles a variant before the store adopts it.

An import (``tdw import``, ``tdw import-miscope``) writes its variant into a fresh store
under ``<store>/.staging/<uuid>`` and moves it in with one catalog transaction
(:meth:`tdw.store.store.Store.adopt_variant`), so a failure at any point leaves the store as
it was. While it lives, the staging folder is ``flock``-ed by its process; the kernel drops
a dead process's lock, so the next import removes a staging store a killed one left.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from tdw.store.locks import exclusive, held_elsewhere, holding
from tdw.store.store import Store

__all__ = ["STAGING", "staging_store", "sweep_staging"]

STAGING = ".staging"
"""The store's folder where imports are assembled."""


def _sweep(folder: Path) -> list[Path]:
    """Remove the children of ``folder`` no live import holds locked (call under the
    folder's own lock, so no import can be creating one meanwhile)."""
    removed = [child for child in sorted(folder.glob("*")) if not held_elsewhere(child)]
    for child in removed:
        shutil.rmtree(child, ignore_errors=True)
    return removed


def sweep_staging(store: Store) -> list[Path]:
    """Remove the staging stores of killed imports (those no live process holds locked);
    return what was removed."""
    folder = store.path(STAGING)
    if not folder.is_dir():
        return []
    with exclusive(folder):
        return _sweep(folder)


@contextlib.contextmanager
def staging_store(store: Store) -> Iterator[Store]:
    """A fresh staging store inside ``store``, locked while it lives and removed on the way
    out, whatever happens; killed imports' leftovers are swept first. Adopt the variant
    built in it with ``store.adopt_variant(staging, variant)`` before leaving."""
    folder = store.path(STAGING)
    # sweeping, creating and locking a staging store, and removing the emptied folder
    # happen under the folder's own lock: no import sees another's fresh staging store
    # before it is locked, nor removes the folder another is creating in
    with exclusive(folder):
        _sweep(folder)
        root = folder / uuid.uuid4().hex
        root.mkdir()
        held = os.open(root, os.O_RDONLY)
        holding(held)
    try:
        staging = Store(root)
        try:
            yield staging
        finally:
            staging.catalog.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
        os.close(held)
        with exclusive(folder), contextlib.suppress(OSError):
            folder.rmdir()  # when no other import uses it
