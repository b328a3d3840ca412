"""The catalog's ``sweeps`` and ``sweep_variants`` tables: a sweep, its run, its variants.

Rows come back as plain dicts (``params`` decoded from JSON); :mod:`tdw.sweeps` turns them
into its records, since a sweep's spec is a type of that layer. A sweep's coordinator
writes these tables while a ``tdw sweep cancel`` or a dashboard may write them too, so
changes that must be seen together (a new sweep and its variants; a sweep's end and its
unfinished variants) are one immediate transaction each.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from tdw.store.catalog import Catalog, now

__all__ = ["get", "recent", "members", "running", "find", "create", "start_run",
           "request_cancel", "settle", "set_member", "MEMBER_FIELDS"]

MEMBER_FIELDS = ("state", "train_job", "analyze_job", "error")
"""The columns of a sweep's variant that change while the sweep runs."""


def get(catalog: Catalog, sweep_id: int) -> dict[str, Any] | None:
    """The row of sweep ``sweep_id``, or None."""
    row = catalog.one("SELECT * FROM sweeps WHERE id = ?", (sweep_id,))
    return None if row is None else dict(row)


def recent(catalog: Catalog, limit: int) -> list[dict[str, Any]]:
    """The rows of the most recent sweeps first."""
    return [dict(r) for r in catalog.query("SELECT * FROM sweeps ORDER BY id DESC LIMIT ?",
                                           (limit,))]


def members(catalog: Catalog, sweep_id: int) -> list[dict[str, Any]]:
    """The variants of a sweep in grid order, each with its ``params`` decoded."""
    out = []
    for row in catalog.query("SELECT * FROM sweep_variants WHERE sweep = ? ORDER BY position",
                             (sweep_id,)):
        data = dict(row)
        data["params"] = json.loads(data["params"])
        out.append(data)
    return out


def running(catalog: Catalog) -> list[int]:
    """The ids of the sweeps recorded as running (their coordinators may have died)."""
    return [r["id"] for r in catalog.query("SELECT id FROM sweeps WHERE state = 'running'")]


def find(catalog: Catalog, spec: str) -> dict[str, Any] | None:
    """The ``id`` and ``pid`` (of its latest coordinator) of the sweep whose canonical spec
    is ``spec``, or None."""
    row = catalog.one("SELECT id, pid FROM sweeps WHERE spec = ?", (spec,))
    return None if row is None else dict(row)


def create(catalog: Catalog, family: str, spec: str, executor: str,
           points: Iterable[tuple[int, str, Mapping[str, Any]]]) -> int:
    """The id of the sweep whose canonical spec is ``spec``, recording it first if new,
    with one *pending* variant per ``(position, variant, params)`` point. The lookup and the
    inserts are one transaction: a spec is recorded once, always with all its variants."""
    t = now()
    with catalog.transaction() as db:
        row = db.execute("SELECT id FROM sweeps WHERE spec = ?", (spec,)).fetchone()
        if row is not None:
            return int(row["id"])
        cur = db.execute("INSERT INTO sweeps (family, spec, executor, state, created, "
                         "updated) VALUES (?, ?, ?, 'interrupted', ?, ?)",
                         (family, spec, executor, t, t))
        sweep_id = int(cur.lastrowid)
        for position, variant, params in points:
            db.execute("INSERT INTO sweep_variants (sweep, position, variant, params, "
                       "state) VALUES (?, ?, ?, ?, 'pending')",
                       (sweep_id, position, variant, json.dumps(dict(params))))
        return sweep_id


def start_run(catalog: Catalog, sweep_id: int, pid: int, executor: str) -> None:
    """A coordinator (process ``pid``, on ``executor``) takes the sweep up: it is running,
    no cancel is pending, and it has not finished."""
    with catalog.transaction() as db:
        db.execute("UPDATE sweeps SET state = 'running', pid = ?, executor = ?, "
                   "cancel_requested = 0, started = ?, finished = NULL, updated = ? WHERE id = ?",
                   (pid, executor, now(), now(), sweep_id))


def request_cancel(catalog: Catalog, sweep_id: int) -> None:
    """Ask the sweep's coordinator to stop (it polls the flag)."""
    catalog.execute("UPDATE sweeps SET cancel_requested = 1, updated = ? WHERE id = ?",
                    (now(), sweep_id))


def settle(catalog: Catalog, sweep_id: int, state: str) -> None:
    """End the sweep in ``state`` if it is running (or, to cancel it, interrupted); when it
    is cancelled its unfinished variants become cancelled in the same transaction."""
    with catalog.transaction() as db:
        if state == "cancelled":
            db.execute("UPDATE sweep_variants SET state = 'cancelled' WHERE sweep = ? AND "
                       "state NOT IN ('done', 'failed')", (sweep_id,))
        # An interrupted sweep may still be cancelled (its local jobs outlive it).
        db.execute("UPDATE sweeps SET state = ?, finished = ?, updated = ? WHERE id = ? AND "
                   "state IN ('running', ?)", (state, now(), now(), sweep_id,
                                               "interrupted" if state == "cancelled" else ""))


def set_member(catalog: Catalog, sweep_id: int, position: int, **fields: Any) -> None:
    """Update the variant at ``position`` of a sweep (columns of :data:`MEMBER_FIELDS`)."""
    if not fields.keys() <= set(MEMBER_FIELDS):
        raise ValueError(f"cannot update {sorted(fields.keys() - set(MEMBER_FIELDS))}")
    cols = ", ".join(f"{k} = ?" for k in fields)
    catalog.execute(f"UPDATE sweep_variants SET {cols} WHERE sweep = ? AND position = ?",
                    (*fields.values(), sweep_id, position))
