"""Staging stores: where an import assembles a variant before the store adopts it.

An import (``tdw import``, ``tdw import-miscope``) writes its variant into a fresh store
under ``<store>/.staging/<uuid>`` and moves it in with one catalog transaction
(:meth:`tdw.store.store.Store.adopt_variant`), so a failure at any point leaves the store as
it was. While it lives, the staging folder is ``flock``-ed by its process; the kernel drops
a dead process's lock, so the next import removes a staging store a killed one left.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from tdw.store.store import Store

__all__ = ["STAGING", "staging_store", "sweep_staging"]

STAGING = ".staging"
"""The store's folder where imports are assembled."""


@contextlib.contextmanager
def _holding(folder: Path) -> Iterator[None]:
    """The staging folder's own lock: sweeping, creating (and locking) a staging store and
    removing the emptied folder happen under it, so no import sees another's fresh staging
    store before it is locked, nor removes the folder another is creating in."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _sweep(folder: Path) -> list[Path]:
    removed = []
    for child in sorted(folder.glob("*")):
        try:
            fd = os.open(child, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a live import is writing it
        else:
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child)
        finally:
            os.close(fd)
    return removed


def sweep_staging(store: Store) -> list[Path]:
    """Remove the staging stores of killed imports (those no live process holds locked);
    return what was removed."""
    folder = store.path(STAGING)
    if not folder.is_dir():
        return []
    with _holding(folder):
        return _sweep(folder)


@contextlib.contextmanager
def staging_store(store: Store) -> Iterator[Store]:
    """A fresh staging store inside ``store``, locked while it lives and removed on the way
    out, whatever happens; killed imports' leftovers are swept first. Adopt the variant
    built in it with ``store.adopt_variant(staging, variant)`` before leaving."""
    folder = store.path(STAGING)
    with _holding(folder):
        _sweep(folder)
        root = folder / uuid.uuid4().hex
        root.mkdir()
        held = os.open(root, os.O_RDONLY)
        fcntl.flock(held, fcntl.LOCK_EX)
    try:
        staging = Store(root)
        try:
            yield staging
        finally:
            staging.catalog.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
        os.close(held)
        with _holding(folder), contextlib.suppress(OSError):
            folder.rmdir()  # when no other import uses it
