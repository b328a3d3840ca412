"""Advisory locks between processes that share a store, released by the kernel on death.

The locks are ``flock(2)`` locks on an open file or folder. The kernel drops a process's
locks when it exits for any reason (SIGKILL and out-of-memory included), so a killed
writer never leaves a stale lock behind and no lock needs a timeout or a pid file, which
a reused pid could fool. Locks are per open file description: two ``open`` calls in one
process exclude each other as two processes do (do not nest one lock in one thread).

Folders are locked rather than lock files so that locking adds nothing to the store:
a snapshot of a store before and after a failed command compares equal.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ["exclusive", "held_elsewhere", "holding"]


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file or folder ``path`` (created as a folder if absent),
    waiting for any other holder to release it."""
    path = Path(path)
    if not path.exists():
        path.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def holding(fd: int) -> None:
    """Take an exclusive lock on an open descriptor this process created (never waits: a
    new file has no other holder)."""
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def held_elsewhere(path: Path) -> bool:
    """Whether another open description holds a lock on ``path`` (a live writer or runner).

    False when the file is gone. Takes and drops the lock when it is free.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
