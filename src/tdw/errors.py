"""The project's own errors.

Every error a user can cause is a :class:`TdwError` whose message names the problem
and the fix. The CLI prints the message (no traceback) and exits with status 2.
"""

from __future__ import annotations

__all__ = [
    "TdwError",
    "UnknownNameError",
    "ParameterError",
    "ScheduleError",
    "StoreError",
    "StoreWriteError",
    "IntegrityError",
    "ProbeMismatchError",
    "SchemaError",
    "JobError",
    "ExportError",
]


class TdwError(Exception):
    """Base class of every error tdw raises on purpose."""


class UnknownNameError(TdwError, KeyError):
    """A family, parameter, variant, analyzer or view name that is not registered."""

    def __init__(self, kind: str, name: str, known: list[str] | tuple[str, ...]):
        self.kind, self.name, self.known = kind, name, tuple(known)
        listing = ", ".join(sorted(self.known)) or "(none)"
        super().__init__(f"unknown {kind} {name!r}; choose one of: {listing}")

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return self.args[0]


class ParameterError(TdwError, ValueError):
    """A parameter value that does not parse or does not validate."""


class ScheduleError(TdwError, ValueError):
    """A checkpoint schedule that is malformed, unsorted, negative or past the end."""


class StoreError(TdwError):
    """The store cannot be opened or written (missing, unwritable, newer schema)."""


class StoreWriteError(StoreError, OSError):
    """A store file could not be written (disk full, permission, read-only filesystem).

    The write left nothing behind: the previous file, if any, is intact. It is also an
    ``OSError`` carrying the original ``errno``.
    """

    def __str__(self) -> str:  # the message already names the cause; no "[Errno 28]"
        return str(self.strerror)


class IntegrityError(StoreError):
    """A file on disk does not match the hash recorded in the catalog."""


class ProbeMismatchError(IntegrityError):
    """A probe other than the variant's stored probe was offered for analysis."""


class SchemaError(TdwError, ValueError):
    """An artifact that does not match its analyzer's declared schema."""


class JobError(TdwError):
    """A job that cannot be started, found or cancelled."""


class ExportError(TdwError):
    """An export that cannot run (no browser, render timeout) or wrote an invalid file."""
