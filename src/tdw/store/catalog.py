"""The SQLite catalog: the index of a store (families, variants, probes, checkpoints,
artifacts with the options they were computed with, jobs, sweeps, and each variant's tags
and note).

The catalog runs in WAL mode so a dashboard can read while a job writes, and every
write is one short transaction. Files are the truth: a catalog row points at a file
and records its sha256; :mod:`tdw.store` checks the two agree before it trusts either.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from tdw.errors import StoreError

__all__ = ["Catalog", "SCHEMA_VERSION"]

SCHEMA_VERSION = 4

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS families (
    name TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS variants (
    id TEXT PRIMARY KEY,
    family TEXT NOT NULL REFERENCES families(name),
    params TEXT NOT NULL,             -- JSON: every parameter, typed
    schedule TEXT NOT NULL,           -- the checkpoint schedule text
    n_epochs INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('new', 'training', 'interrupted', 'trained', 'failed')),
    epochs_done INTEGER NOT NULL DEFAULT 0,
    final_train_acc REAL,
    final_test_acc REAL,
    final_train_loss REAL,
    final_test_loss REAL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS variants_family ON variants(family);
CREATE TABLE IF NOT EXISTS probes (
    variant TEXT PRIMARY KEY REFERENCES variants(id) ON DELETE CASCADE,
    sha256 TEXT NOT NULL,
    path TEXT NOT NULL,
    n_items INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    variant TEXT NOT NULL REFERENCES variants(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    path TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (variant, epoch)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS artifacts (
    variant TEXT NOT NULL REFERENCES variants(id) ON DELETE CASCADE,
    analyzer TEXT NOT NULL,
    epoch INTEGER NOT NULL,           -- -1 for a cross-epoch artifact
    version INTEGER NOT NULL,
    probe_sha256 TEXT NOT NULL,
    checkpoint_sha256 TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    path TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (variant, analyzer, epoch)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    variant TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    params TEXT NOT NULL,             -- JSON: the template parameters
    progress INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    pid INTEGER,                      -- the runner (papermill) process; its session id
    kernel_pid INTEGER,               -- the kernel executing the template
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    notebook TEXT,
    log TEXT,
    error TEXT,
    created REAL NOT NULL,
    started REAL,
    progress_started REAL,
    progress_at_start INTEGER NOT NULL DEFAULT 0,
    finished REAL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_variant ON jobs(variant, state);
"""

# Each schema version's additions, applied in order to an older store when it is opened.
# Additions only (new tables, new indexes, new nullable columns at the end of a table), so a
# store stays readable by its own rows.
_MIGRATIONS: dict[int, str] = {
    2: """
CREATE TABLE IF NOT EXISTS sweeps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    family TEXT NOT NULL,
    spec TEXT NOT NULL UNIQUE,        -- JSON: grid, fixed parameters, preset, schedule, analyze
    executor TEXT NOT NULL,           -- the executor of the latest run (local:2, dask://...)
    state TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'failed', 'cancelled',
                                         'interrupted')),
    pid INTEGER,                      -- the coordinator process of the latest run
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sweep_variants (
    sweep INTEGER NOT NULL REFERENCES sweeps(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,        -- order in the grid
    variant TEXT NOT NULL,
    params TEXT NOT NULL,             -- JSON: the grid point
    state TEXT NOT NULL CHECK (state IN ('pending', 'training', 'analyzing', 'done',
                                         'failed', 'cancelled')),
    train_job INTEGER,
    analyze_job INTEGER,
    error TEXT,
    PRIMARY KEY (sweep, position)
) WITHOUT ROWID;
""",
    3: """
CREATE TABLE IF NOT EXISTS variant_tags (
    variant TEXT NOT NULL REFERENCES variants(id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (variant, tag)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS variant_tags_tag ON variant_tags(tag);
CREATE TABLE IF NOT EXISTS variant_notes (
    variant TEXT PRIMARY KEY REFERENCES variants(id) ON DELETE CASCADE,
    note TEXT NOT NULL,
    updated REAL NOT NULL
);
""",
    4: "",
}

_COLUMNS: dict[int, tuple[tuple[str, str, str], ...]] = {
    # The canonical JSON of the options an artifact was computed with (tdw.family.analyzer.
    # options_json); NULL for an analyzer without options and for a row made before schema 4.
    4: (("artifacts", "options", "TEXT"),),
}
"""Each schema version's new columns, ``(table, column, declaration)``, added after the
table's existing columns (ALTER TABLE, which has no IF NOT EXISTS: see ``_add_columns``)."""


class Catalog:
    """A connection to a store's ``catalog.sqlite``; one per process, not shared across forks."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None,
                                       check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the catalog {self.path}: {exc}") from None
        self._db.row_factory = sqlite3.Row
        try:
            self._db.execute("PRAGMA busy_timeout = 60000")
            self._refuse_newer()  # before anything is written: a newer store stays as it is
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise StoreError(f"{self.path} is not a tdw catalog ({exc}); point --store (or "
                             "TDW_HOME) at a tdw store folder, or at an empty one") from None
        self._db.execute("PRAGMA foreign_keys = ON")
        mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise StoreError(f"the catalog {self.path} cannot use WAL mode (got {mode}); "
                             "put the store on a local filesystem")
        self._db.execute("PRAGMA synchronous = FULL")
        self._migrate()

    def _refuse_newer(self) -> None:
        has_meta = self._db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                                    "name = 'meta'").fetchone()
        if has_meta is None:
            return
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is not None and int(row[0]) > SCHEMA_VERSION:
            self._db.close()
            raise StoreError(
                f"the store at {self.path.parent} was written by a newer tdw (catalog schema "
                f"{row[0]}, this tdw knows {SCHEMA_VERSION}); upgrade tdw to open it"
            )

    def _migrate(self) -> None:
        # CREATE ... IF NOT EXISTS in one write transaction: concurrent openers serialise.
        self._db.executescript("BEGIN IMMEDIATE;" + _SCHEMA + "COMMIT;")
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:  # a new store: every version's tables, then the version
            for target in _COLUMNS:
                self._add_columns(target)
            self._db.executescript("BEGIN IMMEDIATE;" + "".join(_MIGRATIONS.values())
                                   + "INSERT OR IGNORE INTO meta VALUES ('schema_version', "
                                   f"'{SCHEMA_VERSION}');COMMIT;")
            return
        version = int(row[0])
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the store at {self.path.parent} was written by a newer tdw (catalog schema "
                f"{row[0]}, this tdw knows {SCHEMA_VERSION}); upgrade tdw to open it"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            # The additions and the new version commit together: a killed migration leaves
            # the old version, and the next opener runs it again (its DDL is idempotent).
            self._add_columns(target)
            self._db.executescript(f"BEGIN IMMEDIATE;{_MIGRATIONS[target]}UPDATE meta SET "
                                   f"value = '{target}' WHERE key = 'schema_version';COMMIT;")

    def _add_columns(self, target: int) -> None:
        """Add version ``target``'s new columns unless they exist: looked up and added in
        one write transaction, so concurrent openers and a rerun after a kill add each once."""
        with self.transaction() as db:
            for table, column, declaration in _COLUMNS.get(target, ()):
                present = {r["name"] for r in db.execute(f"PRAGMA table_info({table})")}
                if column not in present:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """An immediate (write-locking) transaction, committed on success, rolled back on error."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def query(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        return self._db.execute(sql, args).fetchall()

    def one(self, sql: str, args: tuple = ()) -> sqlite3.Row | None:
        return self._db.execute(sql, args).fetchone()

    def execute(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        """A single statement in its own transaction (autocommit)."""
        return self._db.execute(sql, args)

    def integrity_check(self) -> str:
        return self._db.execute("PRAGMA integrity_check").fetchone()[0]

    def close(self) -> None:
        self._db.close()


def now() -> float:
    return time.time()
