"""``tdw verify``: re-hash every file of a store against the catalog and report each mismatch.

Readers already refuse a file that no longer matches its recorded sha256 (see
:func:`tdw.store.serialisation.read_verified_bytes`), so a bit flip never reaches a figure. This
is the sweep a researcher runs before publishing, or after a disk scare: it reads every
probe, checkpoint and artifact the catalog indexes, plus the metrics and resume files
that seal their own hash, and lists every problem with its path and its repair. The
messages are the readers' own, so ``tdw verify`` and a failing view say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tdw.errors import IntegrityError, StoreError
from tdw.store.atomic import stale_temps
from tdw.store.store import Store

__all__ = ["Problem", "VerifyReport", "verify"]


@dataclass(frozen=True)
class Problem:
    """One file that cannot be trusted."""

    variant: str
    kind: str  # "probe", "checkpoint", "artifact", "metrics", "resume" or "catalog"
    path: Path
    message: str  # names the file, what is wrong and how to repair it


@dataclass(frozen=True)
class VerifyReport:
    variants: int
    files: int
    problems: tuple[Problem, ...]
    stray_temps: tuple[Path, ...]  # left by killed writers; harmless, swept on the next write

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        lines = [p.message for p in self.problems]
        if self.stray_temps:
            lines.append(f"{len(self.stray_temps)} temporary file(s) left by a killed writer "
                         "(never indexed; removed by the next write into their folder): "
                         + ", ".join(str(p) for p in self.stray_temps[:5])
                         + (" ..." if len(self.stray_temps) > 5 else ""))
        verdict = (f"{len(self.problems)} problem(s)" if self.problems else "every file matches")
        lines.append(f"verified {self.files} files of {self.variants} variant(s): {verdict}")
        return "\n".join(lines)


def verify(store: Store, variant: str | None = None) -> VerifyReport:
    """Check the catalog's own integrity, then every indexed file of one variant or all."""
    problems: list[Problem] = []
    verdict = store.catalog.integrity_check()
    if verdict != "ok":
        problems.append(Problem("", "catalog", store.catalog.path,
                                f"the catalog {store.catalog.path} fails SQLite's integrity "
                                f"check ({verdict}); restore it from a backup"))
    records = [store.variant(variant)] if variant else store.variants()
    files = 0
    for record in records:
        for kind, path, check in _checks(store, record.id):
            files += 1
            try:
                check()
            except (IntegrityError, StoreError) as exc:
                problems.append(Problem(record.id, kind, path, str(exc)))
    folders = [store.path(r.folder) for r in records]
    temps = tuple(p for folder in folders if folder.exists() for p in stale_temps(folder))
    return VerifyReport(len(records), files, tuple(problems), temps)


def _checks(store: Store, vid: str):
    """(kind, path, check) for every file of ``vid``; each check raises on a problem."""
    folder = store.path(store.variant(vid).folder)
    if store.catalog.one("SELECT 1 FROM probes WHERE variant = ?", (vid,)):
        yield "probe", folder / "probe.safetensors", lambda: store.load_probe(vid)
    for ck in store.checkpoints(vid):
        yield ("checkpoint", store.path(ck.path),
               lambda e=ck.epoch: store.load_checkpoint(vid, e))
    for row in store.catalog.query("SELECT analyzer, epoch, path FROM artifacts WHERE "
                                   "variant = ? ORDER BY analyzer, epoch", (vid,)):
        epoch = None if row["epoch"] < 0 else row["epoch"]
        yield ("artifact", store.path(row["path"]),
               lambda a=row["analyzer"], e=epoch: store.artifact_bytes(vid, a, e))
    if (folder / "metrics.safetensors").exists():
        yield "metrics", folder / "metrics.safetensors", lambda: store.load_metrics(vid)
    if (folder / "schedule.safetensors").exists():
        yield ("schedule", folder / "schedule.safetensors",
               lambda: store.load_schedule_record(vid))
    if store.resume_path(vid).exists():
        yield "resume", store.resume_path(vid), lambda: _check_resume(store, vid)


def _check_resume(store: Store, vid: str) -> None:
    _, meta = store.load_resume(vid)
    epoch = int(meta["epoch"])
    row = store.catalog.one("SELECT sha256 FROM checkpoints WHERE variant = ? AND epoch = ?",
                            (vid, epoch))
    if row is None or row["sha256"] != meta["checkpoint_sha256"]:
        raise IntegrityError(f"the resume file {store.resume_path(vid)} was written with "
                             f"checkpoint {epoch}, which the catalog no longer holds as it "
                             "was; retrain the variant with --force")
