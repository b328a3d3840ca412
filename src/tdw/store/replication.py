"""Catalog rows between a Dask worker's scratch catalog and the coordinator's real one.

A worker never opens the store's catalog (SQLite is not safe over a network filesystem):
it runs its job against a *scratch* catalog of its own (:mod:`tdw.jobs.remote`). This
module is both ends of that exchange, as far as rows go:

* the coordinator sends a job and its variant's rows (:func:`job_for_worker`,
  :func:`variant_rows`), which the worker plants in its scratch catalog (:func:`plant`);
* the worker reports the job's columns (:data:`JOB_FIELDS`) and the variant's rows, whole
  or as a delta (:func:`variant_rows` with ``since``, watched through :func:`signature`);
* the coordinator writes them into the real catalog (:func:`merge_rows`,
  :func:`update_job`).

Files need no replication: they go straight to the shared filesystem.
"""

from __future__ import annotations

from typing import Any

from tdw.store.atomic import sha256_file
from tdw.store.catalog import Catalog, now
from tdw.store.placement import INDEXED_TABLES
from tdw.store.store import Store

__all__ = ["JOB_FIELDS", "ROW_TABLES", "Rows", "job_for_worker", "variant_rows",
           "plant", "index_orphan_checkpoints", "merge_rows", "update_job"]

JOB_FIELDS = ("state", "progress", "total", "message", "notebook", "log", "error", "started",
              "progress_started", "progress_at_start", "finished", "updated")
"""Job columns a worker reports; never pids, which mean nothing on the coordinator."""
ROW_TABLES = INDEXED_TABLES
"""Tables whose rows belong to one variant (``variant`` column), reported whole."""

Rows = dict[str, list[dict[str, Any]]]
"""Catalog rows as plain dicts, by table (what travels between processes)."""


def job_for_worker(catalog: Catalog, job_id: int) -> dict[str, Any]:
    """What a worker needs of a queued job: its ``id``, ``kind``, ``variant`` and ``params``
    (the JSON text exactly as recorded)."""
    row = catalog.one("SELECT id, kind, variant, params FROM jobs WHERE id = ?", (job_id,))
    return dict(row)


def variant_rows(catalog: Catalog, variant: str, since: float | None = None) -> Rows:
    """The catalog rows of ``variant`` and its family as plain dicts, by table: all of them,
    or (``since``) only the file rows created at or after that time (a report's delta)."""
    out: Rows = {
        "families": [dict(r) for r in catalog.query(
            "SELECT f.* FROM families f JOIN variants v ON v.family = f.name WHERE v.id = ?",
            (variant,))],
        "variants": [dict(r) for r in catalog.query("SELECT * FROM variants WHERE id = ?",
                                                    (variant,))]}
    for table in ROW_TABLES:
        out[table] = [dict(r) for r in catalog.query(
            f"SELECT * FROM {table} WHERE variant = ? AND created >= ?",
            (variant, since if since is not None else float("-inf")))]
    return out


def plant(catalog: Catalog, rows: Rows, job: dict[str, Any]) -> None:
    """Write the rows the coordinator sent and the job, *queued*, into a scratch catalog, in
    one transaction."""
    with catalog.transaction() as db:
        for table in ("families", "variants", *ROW_TABLES):
            for row in rows.get(table, []):
                cols = ", ".join(row)
                db.execute(f"INSERT OR REPLACE INTO {table} ({cols}) VALUES "
                           f"({', '.join('?' * len(row))})", tuple(row.values()))
        db.execute("INSERT INTO jobs (id, kind, variant, state, params, created, updated) "
                   "VALUES (?, ?, ?, 'queued', ?, ?, ?)",
                   (job["id"], job["kind"], job["variant"], job["params"], now(), now()))


def index_orphan_checkpoints(store: Store, variant: str) -> None:
    """Index checkpoint files a killed earlier attempt wrote but never reported.

    A file is written whole or not at all (atomic rename), so a file on disk is a true
    checkpoint; its row is rebuilt from it. Without this the resume file of the killed
    attempt would name a checkpoint the catalog does not know.
    """
    row = store.catalog.one("SELECT id FROM variants WHERE id = ?", (variant,))
    if row is None:
        return
    folder = store.path(store.variant(variant).folder / "checkpoints")
    known = {r["epoch"] for r in store.catalog.query(
        "SELECT epoch FROM checkpoints WHERE variant = ?", (variant,))}
    for path in sorted(folder.glob("epoch_*.safetensors")):
        epoch = int(path.stem.split("_", 1)[1])
        if epoch in known:
            continue
        rel = path.relative_to(store.root)
        store.catalog.execute("INSERT INTO checkpoints VALUES (?, ?, ?, ?, ?, ?)",
                              (variant, epoch, sha256_file(path), str(rel),
                               path.stat().st_size, now()))


def merge_rows(catalog: Catalog, rows: Rows, *, replace: bool = True) -> None:
    """Write the rows of one variant a worker reported, in one transaction: all of its file
    rows (``replace``: the variant then has exactly these) or new ones (a progress delta)."""
    columns = {t: {r["name"] for r in catalog.query(f"PRAGMA table_info({t})")}
               for t in ("families", "variants", *ROW_TABLES)}
    if not rows.get("variants"):
        return
    (variant,) = rows["variants"]
    with catalog.transaction() as db:
        for table, key in (("families", "name"), ("variants", "id")):
            for row in rows[table]:
                row = {k: v for k, v in row.items() if k in columns[table]}
                updates = ", ".join(f"{k} = excluded.{k}" for k in row if k != key)
                db.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES "
                           f"({', '.join('?' * len(row))}) ON CONFLICT({key}) DO UPDATE SET "
                           f"{updates}", tuple(row.values()))
        for table in ROW_TABLES:
            if replace:
                db.execute(f"DELETE FROM {table} WHERE variant = ?", (variant["id"],))
            for row in rows[table]:
                row = {k: v for k, v in row.items() if k in columns[table]}
                db.execute(f"INSERT OR REPLACE INTO {table} ({', '.join(row)}) VALUES "
                           f"({', '.join('?' * len(row))})", tuple(row.values()))


def update_job(catalog: Catalog, job_id: int, fields: dict[str, Any]) -> None:
    """Set the reported columns (of :data:`JOB_FIELDS`) of job ``job_id``."""
    if not fields.keys() <= set(JOB_FIELDS):
        raise ValueError(f"a worker does not report {sorted(fields.keys() - set(JOB_FIELDS))}")
    cols = ", ".join(f"{k} = ?" for k in fields)
    catalog.execute(f"UPDATE jobs SET {cols} WHERE id = ?", (*fields.values(), job_id))
