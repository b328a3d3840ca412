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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from tdw.errors import StoreWriteError
from tdw.store.locks import held_elsewhere, holding

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
def atomic_writer(path: Path, *, before_replace: Callable[[], None] | None = None
                  ) -> Iterator[BinaryIO]:
    """Open a temporary file next to ``path``; on success, fsync and rename it over ``path``.

    The temporary file is created as ``.<name>.<pid>.<random>.new``, locked, and only
    then named ``.<name>.<pid>.<random>.tmp``; its writer holds the lock until the final
    rename. So a ``.tmp`` file nobody locks was left by a killed writer: such files in the
    folder are removed first (:func:`sweep_stale_temps`). On any exception the temporary
    file is removed and ``path`` is untouched; an ``OSError`` (disk full, permission,
    read-only filesystem) becomes a :class:`~tdw.errors.StoreWriteError` naming the file.
    ``before_replace`` runs once the new bytes are safely on disk, just before the rename.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        sweep_stale_temps(path.parent)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".new",
                                   dir=path.parent)
    except OSError as exc:
        raise _write_error(path, exc) from exc
    try:
        with os.fdopen(fd, "wb") as fh:  # closed (and unlocked) only after the rename
            holding(fh.fileno())
            os.rename(tmp, locked := tmp[:-len(".new")] + ".tmp")
            tmp = locked
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
            if before_replace is not None:
                before_replace()
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
    """Remove the temporary files killed writers left in ``folder``; return their paths.

    A ``.tmp`` file is stale when no process holds its lock: it got its name only once
    its writer held the lock, so a live writer's file is never touched. A ``.new`` file
    (its writer was killed between creating and locking it, a window that a loaded disk
    can stretch to milliseconds) is stale when unlocked and either the process named in
    it is gone or it is older than ``grace`` seconds (a reused pid only delays it).
    """
    removed: list[Path] = []
    for path in _stale(folder, grace, recursive=False):
        with contextlib.suppress(FileNotFoundError):  # gone: its writer renamed it
            path.unlink()
            removed.append(path)
    return removed


def stale_temps(root: Path, *, grace: float = _GRACE) -> list[Path]:
    """Temporary files anywhere under ``root`` that no live writer owns (what sweeps of
    their folders would remove)."""
    return _stale(root, grace, recursive=True)


def _writer_alive(path: Path) -> bool:
    """Whether the process named in a ``.<name>.<pid>.<random>.new`` file may still run."""
    try:
        os.kill(int(path.name.rsplit(".", 3)[1]), 0)
    except (ValueError, IndexError):
        return True  # not a name this module made: leave it to the grace period
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stale(folder: Path, grace: float, *, recursive: bool) -> list[Path]:
    found = []
    for pattern in (".*.tmp", ".*.new"):
        matches = Path(folder).rglob(pattern) if recursive else Path(folder).glob(pattern)
        for path in sorted(matches):
            try:
                young = time.time() - path.stat().st_mtime < grace
            except FileNotFoundError:
                continue
            if (pattern == ".*.new" and young and _writer_alive(path)) or held_elsewhere(path):
                continue
            found.append(path)
    return found


def atomic_write_bytes(path: Path, data: bytes, *,
                       before_replace: Callable[[], None] | None = None) -> str:
    """Write ``data`` to ``path`` atomically and return its sha256."""
    with atomic_writer(path, before_replace=before_replace) as fh:
        fh.write(data)
    return sha256_bytes(data)
