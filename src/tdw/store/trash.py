"""Removing a variant's folder so that no crash leaves part of it where the variant was.

:func:`discard` renames the folder to a hidden sibling (``.removing-<name>-<token>``, in
the same directory, hence on the same filesystem, so the rename is atomic), then deletes
that. A kill during the deletion leaves only a hidden sibling, which no variant's path
names; the next :func:`discard` in that directory deletes it. Neither step needs the
catalog: callers delete the rows that point into the folder first (see
:mod:`tdw.store.removal`).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

__all__ = ["discard", "PREFIX"]

PREFIX = ".removing-"
"""How a folder being deleted is named (a hidden sibling of where it was)."""


def discard(folder: Path) -> bool:
    """Delete ``folder`` and everything in it, first moving it out of its place atomically.

    Returns whether there was a folder. Folders an earlier, killed discard left in the same
    directory are deleted too.
    """
    folder = Path(folder)
    parent = folder.parent
    doomed = parent / f"{PREFIX}{folder.name}-{os.getpid()}-{time.time_ns()}"
    try:
        os.replace(folder, doomed)
    except FileNotFoundError:  # no folder (or another process moved it first)
        existed = False
    else:
        existed = True
        shutil.rmtree(doomed, ignore_errors=True)
    if parent.is_dir():
        for left in parent.glob(f"{PREFIX}*"):
            if left.is_dir() and not _in_progress(left):
                shutil.rmtree(left, ignore_errors=True)
    return existed


def _in_progress(path: Path) -> bool:
    """Whether another live process is deleting ``path`` now (its pid is in the name)."""
    try:
        pid = int(path.name[len(PREFIX):].rsplit("-", 2)[1])
    except (IndexError, ValueError):
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
