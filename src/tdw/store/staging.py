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


def sweep_staging(store: Store) -> list[Path]:
    """Remove the staging stores of killed imports (those no live process holds locked);
    return what was removed."""
    removed = []
    folder = store.path(STAGING)
    for child in sorted(folder.glob("*")) if folder.is_dir() else ():
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


@contextlib.contextmanager
def staging_store(store: Store) -> Iterator[Store]:
    """A fresh staging store inside ``store``, locked while it lives and removed on the way
    out, whatever happens; killed imports' leftovers are swept first. Adopt the variant
    built in it with ``store.adopt_variant(staging, variant)`` before leaving."""
    sweep_staging(store)
    root = store.path(STAGING) / uuid.uuid4().hex
    root.mkdir(parents=True)
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
        with contextlib.suppress(OSError):
            root.parent.rmdir()  # the staging folder itself, when no other import uses it
