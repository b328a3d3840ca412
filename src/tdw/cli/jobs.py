"""``tdw jobs``: list the jobs, show one (progress, notebook, log tail) or cancel one.

With ``--json`` each prints job objects: ``list`` a list of them, ``show`` and ``cancel``
one. A job object has the keys of :data:`JOB_KEYS` (``fraction`` 0..1, ``eta_seconds``
null when unknown, times in seconds since the epoch, ``notebook`` and ``log`` as absolute
paths or null); ``show`` adds ``log_tail``, the last ``--lines`` lines of its log.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from tdw.cli.format import duration, pct, print_json, table
from tdw.jobs import jobs as jobs_mod
from tdw.store.jobs import JobRecord
from tdw.store.store import Store

__all__ = ["add_parser", "job_json", "JOB_KEYS"]

JOB_KEYS = ("id", "kind", "variant", "state", "params", "progress", "total", "fraction",
            "eta_seconds", "message", "error", "pid", "notebook", "log", "created", "started",
            "finished", "updated")
"""The keys of a job's ``--json`` object, in order."""


def job_json(store: Store, rec: JobRecord) -> dict[str, Any]:
    """A job as a ``--json`` object (:data:`JOB_KEYS`)."""
    out = {key: getattr(rec, key) for key in JOB_KEYS}
    out.update({key: str(store.path(out[key])) if out[key] else None
                for key in ("notebook", "log")})
    return out


def cmd_jobs(args: argparse.Namespace) -> int:
    store = Store(args.store)
    if args.action == "cancel":
        rec = jobs_mod.cancel(store, args.id)
        if args.json:
            print_json(job_json(store, rec))
        else:
            print(f"job {rec.id} {rec.state}")
        return 0
    if args.action == "show":
        jobs_mod.reconcile(store)
        rec = jobs_mod.job(store, args.id)
        if args.json:
            print_json({**job_json(store, rec), "log_tail": jobs_mod.log_tail(store, rec,
                                                                               args.lines)})
            return 0
        print(f"job {rec.id}: {rec.kind} {rec.variant}\n  state     {rec.state}\n  progress  "
              f"{rec.progress}/{rec.total} ({pct(rec.fraction)}), eta "
              f"{duration(rec.eta_seconds)}\n  notebook  "
              f"{store.path(rec.notebook) if rec.notebook else '-'}")
        if rec.error:
            print(f"  error     {rec.error}")
        if tail := jobs_mod.log_tail(store, rec, args.lines):
            print("  log tail:\n    " + "\n    ".join(tail))
        return 0
    if args.json:
        print_json([job_json(store, rec) for rec in jobs_mod.jobs(store, limit=args.limit)])
        return 0
    rows = []
    for rec in jobs_mod.jobs(store, limit=args.limit):
        age = time.time() - rec.created
        rows.append((rec.id, rec.kind, rec.variant, rec.state, pct(rec.fraction),
                     duration(rec.eta_seconds), duration(age) + " ago"))
    print(table(("id", "kind", "variant", "state", "progress", "eta", "created"), rows)
          if rows else "no jobs yet; start one with: tdw train FAMILY")
    return 0


def _usage_error(args: argparse.Namespace) -> str:
    """``show`` and ``cancel`` without an id; the id is optional only for ``list``."""
    if args.action in ("show", "cancel") and args.id is None:
        return f"tdw jobs {args.action} needs a job id"
    return ""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``tdw jobs``."""
    p = sub.add_parser("jobs", help="list jobs; 'show ID' or 'cancel ID'")
    p.add_argument("action", nargs="?", choices=("list", "show", "cancel"), default="list",
                   help="list the recent jobs, show one (its progress and log tail) or "
                   "cancel one")
    p.add_argument("id", nargs="?", type=int, help="job id (for show and cancel)")
    p.add_argument("--limit", type=int, default=30, help="how many jobs 'list' shows")
    p.add_argument("--lines", type=int, default=15, help="log lines shown by 'show'")
    p.add_argument("--json", action="store_true", help="print JSON: a list of job objects "
                   "(show and cancel: one)")
    p.set_defaults(func=cmd_jobs, usage_error=_usage_error)
