"""``tdw train`` and ``tdw analyze``: start a training or an analysis job and follow it."""

from __future__ import annotations

import argparse
import sys

from tdw.analysis.run import AnalysisRun
from tdw.cli.follow import follow
from tdw.family.params import parse_assignments
from tdw.jobs import jobs, launch
from tdw.store.jobs import busy_error
from tdw.store.store import Store
from tdw.training.run import AlreadyTrained

__all__ = ["add_parser", "analyse"]


def _dry_verdict(store: Store, kind: str, variant: str) -> int:
    """The end of a dry run: exit 0 if the real command would start its job now; else say
    why it would be refused, as the real command would, and exit 2 like it. Reads only."""
    busy = jobs.blocking(store, kind, variant)
    if busy is None:
        return 0
    print(f"tdw: the real command would be refused now: "
          f"{busy_error(variant, busy.kind, busy.id)}", file=sys.stderr)
    return 2


def cmd_train(args: argparse.Namespace) -> int:
    store = Store(args.store)
    given = parse_assignments(args.set or [])
    try:
        request = launch.validate_training(store, args.family, given, preset=args.preset,
                                           schedule=args.schedule or "", force=args.force,
                                           device=args.device, require_resume=args.resume)
    except AlreadyTrained as exc:
        print(f"tdw: {exc}", file=sys.stderr)
        return 0
    sched = request.schedule
    if args.dry_run:
        listed = ", ".join(map(str, sorted(set(sched.epochs) | {sched.n_epochs})))
        print(f"would train {request.variant} for {sched.n_epochs} epochs with "
              f"{sched.describe()}: {listed}")
        return _dry_verdict(store, "train", request.variant)
    record = launch.start_training(store, request)
    print(f"job {record.id}: training {request.describe()}; record: "
          f"{store.path(f'jobs/{record.id}')}")
    if args.background:
        print(f"running in the background; follow it with: tdw jobs show {record.id}")
        return 0
    return follow(store, record.id)


def analyse(store: Store, variant: str, *, analyzers: str = "", checkpoints: str = "",
            force: bool = False, workers: int = 0, device: str = "auto",
            background: bool = False) -> int:
    """Analyse what is missing of ``variant`` as a job, printing the plan, and follow the
    job unless ``background``; the exit status of ``tdw analyze``. Family commands that
    ask for an analysis (:class:`~tdw.family.commands.CommandResult`) run through here too.
    """
    run, record = launch.start_analysis(store, variant, analyzers=analyzers,
                                        checkpoints=checkpoints, force=force, workers=workers,
                                        device=device)
    print(run.describe())
    if record is None:
        return 0
    print(f"job {record.id}: analysing {run.config.variant}; record: "
          f"{store.path(f'jobs/{record.id}')}")
    if background:
        print(f"running in the background; follow it with: tdw jobs show {record.id}")
        return 0
    return follow(store, record.id, unit="checkpoint")


def cmd_analyze(args: argparse.Namespace) -> int:
    store = Store(args.store)
    if args.dry_run:
        run = AnalysisRun.prepare(variant=args.variant, analyzers=args.analyzers or "",
                                  checkpoints=args.checkpoints or "", force=args.force,
                                  workers=args.workers, device=args.device, store=store)
        print(run.describe())
        # With nothing to do the real command queues no job, so nothing can refuse it.
        return 0 if run.plan.empty else _dry_verdict(store, "analyze", run.config.variant)
    return analyse(store, args.variant, analyzers=args.analyzers or "",
                   checkpoints=args.checkpoints or "", force=args.force, workers=args.workers,
                   device=args.device, background=args.background)


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``tdw train`` and ``tdw analyze``."""
    p = sub.add_parser("train", help="train a variant as a papermill job")
    p.add_argument("family", help="family name (see tdw families)")
    p.add_argument("--set", action="append", metavar="NAME=VALUE",
                   help="parameter value; repeat for several (e.g. --set p=113)")
    p.add_argument("--preset", help="named parameter preset, e.g. quick")
    p.add_argument("--schedule",
                   help="checkpoint schedule, e.g. '0-1500/100,log:1500-25000/40,end'")
    p.add_argument("--device", default="auto",
                   help="auto (CUDA when available), cpu, cuda or cuda:N")
    p.add_argument("--background", action="store_true", help="return at once; see tdw jobs")
    p.add_argument("--force", action="store_true", help="retrain a finished variant from scratch")
    p.add_argument("--resume", action="store_true",
                   help="require an interrupted run to resume (resuming is otherwise automatic)")
    p.add_argument("--dry-run", action="store_true", help="print the plan and stop; exit 2, "
                   "saying why, if the real command would be refused (a job holds the variant)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("analyze", help="analyse a variant's checkpoints (only what is missing)")
    p.add_argument("variant", help="variant id or a unique prefix (see tdw variants)")
    p.add_argument("--analyzers", help="comma-separated analyzer names (default: all)")
    p.add_argument("--checkpoints", help="epochs to analyse, schedule syntax (default: all)")
    p.add_argument("--force", action="store_true",
                   help="recompute up-to-date artifacts too: those of the analyzers "
                        "--analyzers names (not the inputs a cross-epoch one reads), or of "
                        "every analyzer")
    p.add_argument("--workers", type=int, default=0,
                   help="worker processes (default: one per core, or one per GPU on CUDA)")
    p.add_argument("--device", default="auto",
                   help="auto (CUDA when available), cpu, cuda (every GPU) or cuda:N")
    p.add_argument("--dry-run", action="store_true", help="print the plan and stop; exit 2, "
                   "saying why, if the real command would be refused (a training job holds "
                   "the variant)")
    p.add_argument("--background", action="store_true", help="return at once; see tdw jobs")
    p.set_defaults(func=cmd_analyze)
