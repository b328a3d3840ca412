"""Atomic file writes and hashing: a reader sees the old file or the new one, never half.

Every file the store writes goes through :func:`atomic_writer`: the bytes land in a
temporary file in the destination folder, are fsync'd, and are renamed over the target;
the folder is fsync'd so the rename survives a power cut. A writer killed mid-write
leaves only its temporary file, which the next write into that folder removes.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from tdw._locks import held_elsewhere, holding
from tdw.errors import StoreWriteError

_CHUNK = 1 << 20
_GRACE = 2.0  # seconds a fresh temporary file is left alone before its lock is checked


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # some filesystems refuse O_RDONLY on folders
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_writer(path: Path) -> Iterator[BinaryIO]:
    """Open a temporary file next to ``path``; on success, fsync and rename it over ``path``.

    The temporary file (``.<name>.<random>.tmp``) is locked by its writer from creation to
    rename, so a temporary file nobody locks was left by a killed writer: such files in the
    folder are removed first (:func:`sweep_stale_temps`). On any exception the temporary
    file is removed and ``path`` is untouched; an ``OSError`` (disk full, permission,
    read-only filesystem) becomes a :class:`~tdw.errors.StoreWriteError` naming the file.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        sweep_stale_temps(path.parent)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _write_error(path, exc) from exc
    try:
        holding(fd)
        with os.fdopen(fd, "wb") as fh:  # closed (and unlocked) only after the rename
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
            os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, StoreWriteError):
            raise _write_error(path, exc) from exc
        raise
    _fsync_dir(path.parent)


def _write_error(path: Path, exc: OSError) -> StoreWriteError:
    reason = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        fix = "free some space on that disk and run the command again"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = "make the store folder writable (or pass --store DIR) and run the command again"
    else:
        fix = "fix the cause and run the command again"
    return StoreWriteError(exc.errno, f"cannot write {path}: {reason}; nothing was changed; "
                                      f"{fix}")


def sweep_stale_temps(folder: Path, *, grace: float = _GRACE) -> list[Path]:
    """Remove the temporary files a killed writer left in ``folder``; return their paths.

    A temporary file is stale when no process holds its lock and it is older than
    ``grace`` seconds (a live writer takes the lock microseconds after creating the file;
    the grace covers that instant). A live writer's file is never touched.
    """
    removed: list[Path] = []
    try:
        entries = [e for e in os.scandir(folder)
                   if e.name.startswith(".") and e.name.endswith(".tmp") and e.is_file()]
    except FileNotFoundError:
        return removed
    for entry in entries:
        path = Path(entry.path)
        with contextlib.suppress(FileNotFoundError):
            if time.time() - entry.stat().st_mtime < grace or held_elsewhere(path):
                continue
            path.unlink()
            removed.append(path)
    return removed


def stale_temps(root: Path, *, grace: float = _GRACE) -> list[Path]:
    """Temporary files under ``root`` that no live writer owns (what a sweep would remove)."""
    return [p for p in sorted(Path(root).rglob(".*.tmp"))
            if p.is_file() and time.time() - p.stat().st_mtime >= grace
            and not held_elsewhere(p)]


def atomic_write_bytes(path: Path, data: bytes) -> str:
    """Write ``data`` to ``path`` atomically and return its sha256."""
    with atomic_writer(path) as fh:
        fh.write(data)
    return sha256_bytes(data)
