"""Removing a variant (``tdw rm``): its catalog rows and every file of its folder.

A variant is refused while something holds it: a queued or running job on it
(:mod:`tdw.store.jobs`), a running sweep it belongs to, or an analysis running in another
process without a job (it holds the lock on the variant's ``artifacts`` folder). The
checks are read first, so a refusal changes nothing, and the job and sweep checks are
taken again inside the transaction that deletes the rows, so a job queued meanwhile
cannot slip between them.

The order makes a crash harmless at any instant. The rows go first, in one transaction:
the variant, its probe, checkpoints and artifacts (the rows that vouch for files), its
tags and note; a sweep that listed it forgets it was done (run the sweep again to
retrain it). Only then is the folder removed (:func:`tdw.store.trash.discard`: moved
aside atomically, then deleted). A kill before the commit leaves the variant whole; a
kill after it leaves at most files no row points at, which a later training of the same
variant clears first (:meth:`tdw.store.store.Store.ensure_variant`). No catalog row ever
points at a missing file. The variant's jobs stay listed (``tdw jobs``) with their
executed notebooks: the record of what ran.

There is no lease for dashboards that show a variant: a page showing a removed variant
says it is gone at its next read, and the workbench drops it from its lists when it
polls.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from tdw.errors import JobError, StoreError, TdwError
from tdw.store import trash
from tdw.store.locks import exclusive, held_elsewhere
from tdw.store.store import Store

__all__ = ["Removal", "plan", "remove", "holders"]


@dataclass(frozen=True)
class Removal:
    """What removing a variant deletes."""

    variant: str
    folder: Path  # absolute
    checkpoints: int
    artifacts: int
    files: int
    bytes: int

    def describe(self) -> str:
        """One line for a confirmation prompt or a report."""
        return (f"{self.variant}: {self.checkpoints} checkpoint(s), {self.artifacts} "
                f"artifact(s), {self.files} file(s), {_size(self.bytes)} in {self.folder}")


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"


_JOBS = ("SELECT id, kind, state FROM jobs WHERE variant = ? AND state IN ('queued', "
         "'running') ORDER BY id")
_SWEEPS = ("SELECT DISTINCT s.id FROM sweeps s JOIN sweep_variants m ON m.sweep = s.id "
           "WHERE m.variant = ? AND s.state = 'running' ORDER BY s.id")


def _job_errors(rows, sweeps, vid: str) -> list[JobError]:
    out = [JobError(f"variant {vid} is held by {r['kind']} job {r['id']} ({r['state']}); wait "
                    f"for it to finish or cancel it (tdw jobs cancel {r['id']}), then remove "
                    "the variant again") for r in rows]
    out += [JobError(f"variant {vid} belongs to sweep {r['id']}, which is running; wait for "
                     f"it to finish or cancel it (tdw sweep cancel {r['id']}), then remove "
                     "the variant again") for r in sweeps]
    return out


def holders(store: Store, vid: str) -> list[str]:
    """Why variant ``vid`` cannot be removed now, one message each (empty: it can). Reads
    only; jobs whose process died count until reconciled (the CLI reconciles first)."""
    return [str(e) for e in _holding(store, vid)]


def _holding(store: Store, vid: str) -> list[TdwError]:
    errors: list[TdwError] = [*_job_errors(store.catalog.query(_JOBS, (vid,)),
                                           store.catalog.query(_SWEEPS, (vid,)), vid)]
    artifacts = store.path(store.variant(vid).folder / "artifacts")
    if held_elsewhere(artifacts):
        errors.append(StoreError(f"an analysis of {vid} is running in another process (it "
                                 f"holds {artifacts}); wait for it to finish, then remove "
                                 "the variant again"))
    return errors


def plan(store: Store, ref: str) -> Removal:
    """What removing variant ``ref`` would delete; raises, as :func:`remove` would, if
    something holds it. Changes nothing.

    ``ref`` must be the variant's whole id, with or without its family: a deletion that
    cannot be undone does not take the unique prefix other commands accept, for a typo
    such as ``p11`` must not remove ``p113``."""
    record = store.variant(ref)
    if ref not in (record.id, record.id.split("/", 1)[-1]):
        raise StoreError(f"{ref!r} is only part of the variant id {record.id}; tdw rm "
                         f"deletes a variant named in full: pass {record.id}")
    _refuse_if_held(store, record.id)
    folder = store.path(record.folder)
    files = [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
    count = {t: store.catalog.one(f"SELECT COUNT(*) FROM {t} WHERE variant = ?",
                                  (record.id,))[0] for t in ("checkpoints", "artifacts")}
    return Removal(record.id, folder, count["checkpoints"], count["artifacts"], len(files),
                   sum(p.stat().st_size for p in files))


def _refuse_if_held(store: Store, vid: str) -> None:
    if problems := _holding(store, vid):
        raise problems[0]


def remove(store: Store, ref: str) -> Removal:
    """Remove variant ``ref`` (its whole id, see :func:`plan`): rows, then files (see the module
    docstring). Raises :class:`~tdw.errors.JobError` or :class:`~tdw.errors.StoreError`,
    changing nothing, while something holds it."""
    removal = plan(store, ref)
    vid, folder = removal.variant, removal.folder
    # A writer without a job (a notebook) places each file under the folder's lock: wait
    # for the one in flight. One that comes after finds no variant row to index its file.
    with exclusive(folder) if folder.is_dir() else contextlib.nullcontext():
        with store.catalog.transaction() as db:
            errors = _job_errors(db.execute(_JOBS, (vid,)).fetchall(),
                                 db.execute(_SWEEPS, (vid,)).fetchall(), vid)
            if errors:
                raise errors[0]
            for table in ("artifacts", "checkpoints", "probes", "variant_tags",
                          "variant_notes"):
                db.execute(f"DELETE FROM {table} WHERE variant = ?", (vid,))
            db.execute("UPDATE sweep_variants SET state = 'pending', train_job = NULL, "
                       "analyze_job = NULL, error = NULL WHERE variant = ?", (vid,))
            db.execute("DELETE FROM variants WHERE id = ?", (vid,))
        trash.discard(folder)
    return removal
