"""``tdw sweep``: train (and analyse) every variant of a parameter grid; its status and cancel.

``tdw sweep status [ID] --json`` prints a list of sweep objects (``cancel ID --json``: the
one cancelled): ``id``, ``family``, ``state``, ``executor``, ``grid`` (parameter -> its
values), ``fixed`` (the ``--set`` values as given, text), ``preset``, ``schedule``,
``analyze``, ``analyzers``, ``done`` and
``total`` (variants), the times ``created``, ``started``, ``finished``, ``updated``, and
``members``: per variant ``position``, ``variant``, ``params``, ``state``, ``fraction``,
``error``, ``train_job``, ``analyze_job`` (ids) and ``job``, its current job as
``tdw jobs --json`` gives it, or null.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from tdw.cli.format import duration, pct, print_json, table
from tdw.cli.jobs import job_json
from tdw.errors import TdwError
from tdw.store.store import Store

__all__ = ["add_parser"]


def _sweep_table(members: Sequence[Any]) -> str:
    rows = [(m.position + 1, m.variant, m.state, m.job.id if m.job else "-",
             f"{m.job.kind} {m.job.state}" if m.job else "-", pct(m.fraction),
             duration(m.job.eta_seconds) if m.job else "-", (m.error or "")[:60])
            for m in members]
    return table(("#", "variant", "state", "job", "job state", "progress", "eta", "error"),
                 rows)


def _sweep_json(store: Store, rec: Any, members: Sequence[Any]) -> dict[str, Any]:
    """A sweep record and its members as a ``--json`` object (see the module)."""
    spec = rec.spec
    return {"id": rec.id, "family": rec.family, "state": rec.state, "executor": rec.executor,
            "grid": dict(spec.grid.axes), "fixed": dict(spec.fixed), "preset": spec.preset,
            "schedule": spec.schedule, "analyze": spec.analyze,
            "analyzers": list(spec.analyzers), "done": sum(m.state == "done" for m in members),
            "total": len(members), "created": rec.created, "started": rec.started,
            "finished": rec.finished, "updated": rec.updated,
            "members": [{"position": m.position, "variant": m.variant, "params": m.params,
                         "state": m.state, "fraction": m.fraction, "error": m.error,
                         "train_job": m.train_job, "analyze_job": m.analyze_job,
                         "job": None if m.job is None else job_json(store, m.job)}
                        for m in members]}


def cmd_sweep(args: argparse.Namespace) -> int:
    from tdw.jobs.executors import open_executor
    from tdw.sweeps import coordinator
    from tdw.sweeps import sweep as sweep_mod

    store = Store(args.store)
    if args.target in ("status", "cancel"):
        if args.target == "cancel":
            if args.id is None:
                raise TdwError("tdw sweep cancel needs a sweep id (see tdw sweep status)")
            rec = sweep_mod.cancel(store, _sweep_id(args.id))
            if args.json:
                print_json(_sweep_json(store, rec, sweep_mod.members(store, rec.id)))
            else:
                print(f"sweep {rec.id} {rec.state}")
            return 0
        records = ([sweep_mod.sweep(store, _sweep_id(args.id))] if args.id is not None
                   else sweep_mod.sweeps(store))
        sweep_mod.reconcile(store)
        if args.json:
            fresh = [sweep_mod.sweep(store, r.id) for r in records]  # as reconciled
            print_json([_sweep_json(store, r, sweep_mod.members(store, r.id)) for r in fresh])
            return 0
        if not records:
            print("no sweeps yet; start one with: tdw sweep FAMILY --grid NAME=V1,V2")
        for rec in records:
            rec = sweep_mod.sweep(store, rec.id)
            grid = " ".join(f"{n}={','.join(map(str, v))}" for n, v in rec.spec.grid.axes)
            members = sweep_mod.members(store, rec.id)
            done = sum(m.state == "done" for m in members)
            print(f"sweep {rec.id}: {rec.family} {grid}{' +analyze' if rec.spec.analyze else ''}"
                  f" on {rec.executor}: {rec.state}, {done}/{len(members)} done")
            print("  " + _sweep_table(members).replace("\n", "\n  ") + "\n")
        return 0
    if args.json:
        raise TdwError("--json prints the state of sweeps: tdw sweep status [ID] --json")
    if args.id is not None:
        raise TdwError(f"unexpected {args.id!r}: write tdw sweep FAMILY --grid NAME=V1,V2, "
                       "tdw sweep status [ID] or tdw sweep cancel ID")
    spec = sweep_mod.SweepSpec.from_cli(args.target, args.grid or [], args.set or [],
                                        preset=args.preset or "", schedule=args.schedule or "",
                                        analyze=args.analyze, analyzers=args.analyzers or "",
                                        device=args.device)
    executor_spec, points = coordinator.check(store, spec, args.executor)
    if args.dry_run:
        print(f"would sweep {len(points)} variants of {spec.family} on {executor_spec}:")
        for point in points:
            print(f"  {point.variant}")
        return 0
    if args.background:
        record, pid = coordinator.start_sweep(store, spec, executor_spec, points)
        print(f"sweep {record.id}: {len(points)} variants of {spec.family} on {executor_spec}, "
              f"coordinated in the background (pid {pid}); follow it with: tdw sweep status "
              f"{record.id}; its log: {store.path(f'sweeps/{record.id}/coordinator.log')}")
        return 0
    # an unreachable scheduler fails before any write
    executor = open_executor(executor_spec, spec.device)
    try:
        record = sweep_mod.create(store, spec, points, str(executor_spec))
        print(f"sweep {record.id}: {len(points)} variants of {spec.family} on {executor_spec} "
              f"({executor.slots} at a time); cancel with: tdw sweep cancel {record.id}",
              flush=True)
        shown = [""]

        # Called on a change of state, or another tenth of a job.
        def show(members: Sequence[Any]) -> None:
            if (text := _sweep_table(members)) != shown[0]:
                print(text + "\n", flush=True)
                shown[0] = text

        final = coordinator.run(store, record.id, executor, on_change=show)
    finally:
        executor.close()
    took = duration((final.finished or 0) - (final.started or 0))
    print(f"sweep {final.id} {final.state} in {took}")
    return 0 if final.state == "succeeded" else 1


def _sweep_id(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise TdwError(f"{text!r} is not a sweep id; ids are numbers (see tdw sweep status)"
                       ) from None



def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``tdw sweep``."""
    p = sub.add_parser(
        "sweep", help="train (and analyse) every variant of a parameter grid as jobs; "
        "'status [ID]' or 'cancel ID'",
        description="Train every variant of a parameter grid as jobs, at most a few at once, "
        "and show their progress. Running the same command again skips finished variants "
        "and resumes interrupted ones.",
        epilog="examples:\n  tdw sweep modulo_addition_1l --preset quick --grid p=53,59,61 "
        "--grid model_seed=1,2 --analyze\n  tdw sweep modulo_addition_1l --grid model_seed="
        "1,2,3 --executor dask://10.0.0.5:8786\n  tdw sweep status\n  tdw sweep cancel 3",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("target", metavar="FAMILY|status|cancel",
                   help="family to sweep, or status / cancel")
    p.add_argument("id", nargs="?", help="sweep id (for status and cancel)")
    p.add_argument("--grid", action="append", metavar="NAME=V1,V2,...",
                   help="a swept parameter and its values; repeat for a product grid")
    p.add_argument("--set", action="append", metavar="NAME=VALUE",
                   help="a parameter fixed for every variant")
    p.add_argument("--preset", help="named parameter preset, e.g. quick")
    p.add_argument("--schedule", help="checkpoint schedule (default: the family's)")
    p.add_argument("--analyze", action="store_true", help="analyse each variant once trained")
    p.add_argument("--analyzers", metavar="A,B,...", help="analyse with only these analyzers "
                   "(implies --analyze; default: all of the family's)")
    p.add_argument("--executor", default="local",
                   help="local[:N] (default: N = cores/2), dask://HOST:PORT (an existing Dask "
                   "scheduler; the store must be on a filesystem every worker sees) or "
                   "dask-local[:N] (a LocalCluster of N worker processes here)")
    p.add_argument("--device", default="auto", help="where every job runs: auto (CUDA when "
                   "available), cpu, cuda or cuda:N; on CUDA at most one job per GPU")
    p.add_argument("--background", action="store_true", help="coordinate the sweep in a "
                   "process of its own and return at once; see tdw sweep status")
    p.add_argument("--dry-run", action="store_true", help="list the variants and stop")
    p.add_argument("--json", action="store_true", help="with status (or cancel): print JSON, "
                   "a list of sweep objects with their members")
    p.set_defaults(func=cmd_sweep)
