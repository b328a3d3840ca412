"""The ``tdw`` command line. Every command is a thin call into the library.

Errors a user can cause print one line naming the problem and the fix, and exit 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tdw.analysis.run import AnalysisRun
from tdw.errors import TdwError
from tdw.family.family import variant_id
from tdw.family.params import parse_assignments
from tdw.family.registry import families, get_family
from tdw.jobs import jobs as jobs_mod
from tdw.jobs import launch
from tdw.store.store import Store
from tdw.training.run import AlreadyTrained

__all__ = ["main"]


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


_ARCHITECTURE = ("n_layers", "d_model", "n_heads", "d_head", "d_mlp", "act_fn",
                 "normalization_type", "d_vocab", "d_vocab_out", "n_ctx")
_NO_MLP = {"d_mlp", "act_fn"}  # an attention-only model has neither (its d_mlp is unused)


def _architecture(cfg) -> str:
    attn_only = bool(getattr(cfg, "attn_only", False))
    shown = [f"{k}={getattr(cfg, k)}" for k in _ARCHITECTURE
             if hasattr(cfg, k) and not (attn_only and k in _NO_MLP)]
    return ("attention only, " if attn_only else "") + ", ".join(shown)


def _first_line(fn) -> str:
    return ((fn.__doc__ or fn.__name__).strip().splitlines() or [""])[0]


# ------------------------------------------------------------------ commands
def cmd_families(args: argparse.Namespace) -> int:
    for fam in families().values():
        defaults = fam.resolve()
        print(f"{fam.name}  ({fam.title})\n  {fam.description}\n")
        rows = [(p.name, p.type, p.default, p.describe_range() or "-",
                 "yes" if p.identity else "", p.description) for p in fam.params]
        print("  " + _table(("parameter", "type", "default", "range", "names variant",
                            "description"), rows).replace("\n", "\n  "))
        for name, preset in fam.presets.items():
            shown = ", ".join(f"{k}={v}" for k, v in preset.items())
            print(f"\n  preset {name}: {shown}")
        if fam.imported_by:
            print(f"\n  imported, not trained: {fam.imported_by}")
            print(f"  analyzers: {', '.join(a.name for a in fam.analyzers)}")
            print(f"  cross-epoch: {', '.join(a.name for a in fam.cross_epoch)}")
            print(f"  views: {', '.join(v.name for v in fam.views)}\n")
            continue
        cfg = fam.model_config(defaults)
        arch = _architecture(cfg)
        training = fam.train_config(defaults)
        print(f"\n  architecture (defaults): {arch}")
        print(f"  training (defaults): {training}")
        print(f"  dataset: {_first_line(fam.dataset)}\n  probe: {_first_line(fam.probe)}")
        print(f"  default schedule: {fam.default_schedule(defaults)}")
        print(f"  analyzers: {', '.join(a.name for a in fam.analyzers) or '(none yet)'}")
        print(f"  cross-epoch: {', '.join(a.name for a in fam.cross_epoch) or '(none yet)'}")
        print(f"  views: {', '.join(v.name for v in fam.views) or '(none yet)'}\n")
    return 0


def cmd_views(args: argparse.Namespace) -> int:
    if args.family:
        get_family(args.family)  # a typo'd name lists the known ones, never an empty answer
    for fam in families().values():
        if args.family and fam.name != args.family:
            continue
        rows = [(v.name, v.scope, v.group, ", ".join(v.reads), v.description)
                for v in fam.views]
        print(f"{fam.name}\n  " + _table(("view", "scope", "group", "reads", "description"),
                                          rows).replace("\n", "\n  ") + "\n")
    return 0


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
        return 0
    record = launch.start_training(store, request)
    print(f"job {record.id}: training {request.describe()}; record: "
          f"{store.path(f'jobs/{record.id}')}")
    if args.background:
        print(f"running in the background; follow it with: tdw jobs show {record.id}")
        return 0
    return _follow(store, record.id)


def cmd_analyze(args: argparse.Namespace) -> int:
    store = Store(args.store)
    if args.dry_run:
        print(AnalysisRun.prepare(variant=args.variant, analyzers=args.analyzers or "",
                                  checkpoints=args.checkpoints or "", force=args.force,
                                  workers=args.workers, store=store).describe())
        return 0
    run, record = launch.start_analysis(store, args.variant, analyzers=args.analyzers or "",
                                        checkpoints=args.checkpoints or "", force=args.force,
                                        workers=args.workers)
    print(run.describe())
    if record is None:
        return 0
    print(f"job {record.id}: analysing {run.config.variant}; record: "
          f"{store.path(f'jobs/{record.id}')}")
    if args.background:
        print(f"running in the background; follow it with: tdw jobs show {record.id}")
        return 0
    return _follow(store, record.id, unit="checkpoint")


def cmd_import(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from tdw.families.checkpoint_series import importer

    store = Store(args.store)
    request = importer.ImportRequest(
        sources=tuple(args.source), probe=args.probe,
        revisions=tuple(r.strip() for r in (args.revisions or "").split(",") if r.strip()),
        steps=_int_list(args.steps or "", "--steps"), name=args.name or "")
    try:
        plan = importer.plan_import(store, request)
    except importer.AlreadyImported as exc:
        print(f"tdw: {exc}", file=sys.stderr)
        return 0
    print(f"importing {plan.describe()}")
    if args.dry_run:
        for rev in plan.revisions:
            print(f"  step {rev.step}: {rev.label}")
        return 0
    with tqdm(total=len(plan.revisions), unit="checkpoint", dynamic_ncols=True) as bar:
        result = importer.run_import(store, plan, lambda done, total: bar.update(done - bar.n))
    print(result.summary())
    if not args.analyze:
        return 0
    run, record = launch.start_analysis(store, result.variant)
    print(run.describe())
    if record is None:
        return 0
    print(f"job {record.id}: analysing {result.variant}; record: {store.path(f'jobs/{record.id}')}")
    return _follow(store, record.id, unit="checkpoint")


def _int_list(text: str, option: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise TdwError(f"{option} {text!r}: write comma-separated integers, e.g. "
                       f"{option} 0,1000,2000") from None


def _follow(store: Store, job_id: int, unit: str = "epoch") -> int:
    from tqdm import tqdm

    bar = None
    try:
        while True:
            jobs_mod.reconcile(store)
            rec = jobs_mod.job(store, job_id)
            if rec.total and bar is None:
                bar = tqdm(total=rec.total, initial=rec.progress, unit=unit, dynamic_ncols=True)
            if bar is not None:
                bar.update(rec.progress - bar.n)
            if rec.state in jobs_mod.FINISHED:
                break
            time.sleep(0.25)
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        print(f"\ninterrupted: cancelling job {job_id} (its checkpoints are kept; train again "
              "to resume)", file=sys.stderr)
        jobs_mod.cancel(store, job_id)
        return 130
    if bar is not None:
        bar.close()
    if rec.state == "succeeded":
        print(f"job {job_id} succeeded in {_duration((rec.finished or 0) - (rec.started or 0))}")
        return 0
    print(f"tdw: job {job_id} {rec.state}: {rec.error}\n  notebook: "
          f"{store.path(rec.notebook) if rec.notebook else '-'}", file=sys.stderr)
    return 1


def cmd_jobs(args: argparse.Namespace) -> int:
    store = Store(args.store)
    if args.action == "cancel":
        rec = jobs_mod.cancel(store, args.id)
        print(f"job {rec.id} {rec.state}")
        return 0
    if args.action == "show":
        jobs_mod.reconcile(store)
        rec = jobs_mod.job(store, args.id)
        print(f"job {rec.id}: {rec.kind} {rec.variant}\n  state     {rec.state}\n  progress  "
              f"{rec.progress}/{rec.total} ({_pct(rec.fraction)}), eta "
              f"{_duration(rec.eta_seconds)}\n  notebook  "
              f"{store.path(rec.notebook) if rec.notebook else '-'}")
        if rec.error:
            print(f"  error     {rec.error}")
        if tail := jobs_mod.log_tail(store, rec, args.lines):
            print("  log tail:\n    " + "\n    ".join(tail))
        return 0
    rows = []
    for rec in jobs_mod.jobs(store, limit=args.limit):
        age = time.time() - rec.created
        rows.append((rec.id, rec.kind, rec.variant, rec.state, _pct(rec.fraction),
                     _duration(rec.eta_seconds), _duration(age) + " ago"))
    print(_table(("id", "kind", "variant", "state", "progress", "eta", "created"), rows)
          if rows else "no jobs yet; start one with: tdw train FAMILY")
    return 0


def _sweep_table(members) -> str:
    rows = [(m.position + 1, m.variant, m.state, m.job.id if m.job else "-",
             f"{m.job.kind} {m.job.state}" if m.job else "-", _pct(m.fraction),
             _duration(m.job.eta_seconds) if m.job else "-", (m.error or "")[:60])
            for m in members]
    return _table(("#", "variant", "state", "job", "job state", "progress", "eta", "error"),
                  rows)


def cmd_sweep(args: argparse.Namespace) -> int:
    from tdw.jobs.executors import open_executor, parse_executor
    from tdw.sweeps import coordinator
    from tdw.sweeps import sweep as sweep_mod

    store = Store(args.store)
    if args.target in ("status", "cancel"):
        if args.target == "cancel":
            if args.id is None:
                raise TdwError("tdw sweep cancel needs a sweep id (see tdw sweep status)")
            rec = sweep_mod.cancel(store, _sweep_id(args.id))
            print(f"sweep {rec.id} {rec.state}")
            return 0
        records = ([sweep_mod.sweep(store, _sweep_id(args.id))] if args.id is not None
                   else sweep_mod.sweeps(store))
        sweep_mod.reconcile(store)
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
    if args.id is not None:
        raise TdwError(f"unexpected {args.id!r}: write tdw sweep FAMILY --grid NAME=V1,V2, "
                       "tdw sweep status [ID] or tdw sweep cancel ID")
    spec = sweep_mod.SweepSpec.from_cli(args.target, args.grid or [], args.set or [],
                                        preset=args.preset or "", schedule=args.schedule or "",
                                        analyze=args.analyze, analyzers=args.analyzers or "")
    executor_spec = parse_executor(args.executor)
    points = sweep_mod.plan(spec)
    sweep_mod.refuse_if_running(store, spec)
    if args.dry_run:
        print(f"would sweep {len(points)} variants of {spec.family} on {executor_spec}:")
        for point in points:
            print(f"  {point.variant}")
        return 0
    if args.background:
        if executor_spec.kind == "dask":  # an unreachable scheduler fails before any write
            open_executor(executor_spec).close()
        record = sweep_mod.create(store, spec, points, str(executor_spec))
        pid = coordinator.start_background(store, record.id, str(executor_spec))
        print(f"sweep {record.id}: {len(points)} variants of {spec.family} on {executor_spec}, "
              f"coordinated in the background (pid {pid}); follow it with: tdw sweep status "
              f"{record.id}; its log: {store.path(f'sweeps/{record.id}/coordinator.log')}")
        return 0
    executor = open_executor(executor_spec)  # an unreachable scheduler fails before any write
    try:
        record = sweep_mod.create(store, spec, points, str(executor_spec))
        print(f"sweep {record.id}: {len(points)} variants of {spec.family} on {executor_spec} "
              f"({executor.slots} at a time); cancel with: tdw sweep cancel {record.id}",
              flush=True)
        shown = [""]

        def show(members) -> None:  # on a change of state, or another tenth of a job
            if (table := _sweep_table(members)) != shown[0]:
                print(table + "\n", flush=True)
                shown[0] = table

        final = coordinator.run(store, record.id, executor, on_change=show)
    finally:
        executor.close()
    took = _duration((final.finished or 0) - (final.started or 0))
    print(f"sweep {final.id} {final.state} in {took}")
    return 0 if final.state == "succeeded" else 1


def _sweep_id(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise TdwError(f"{text!r} is not a sweep id; ids are numbers (see tdw sweep status)"
                       ) from None


def cmd_variants(args: argparse.Namespace) -> int:
    store = Store(args.store)
    jobs_mod.reconcile(store)
    if args.id:
        rec = store.variant(args.id)
        cks = store.checkpoints(rec.id)
        plan = store.load_schedule_record(rec.id)
        adaptive = [e for e, r in zip(plan.epochs, plan.reasons, strict=True)
                    if r == "adaptive"] if plan else []
        why = f" ({len(adaptive)} adaptive: {', '.join(map(str, adaptive))})" if adaptive else ""
        print(f"{rec.id}\n  state        {rec.state}\n  parameters   "
              + ", ".join(f"{k}={v}" for k, v in rec.params.items())
              + f"\n  schedule     {rec.schedule}\n  epochs       {rec.epochs_done}/{rec.n_epochs}"
              f"\n  final acc    train {_pct(rec.final_train_acc)}, test "
              f"{_pct(rec.final_test_acc)}\n  checkpoints  {len(cks)}{why}: "
              + ", ".join(str(c.epoch) for c in cks)
              + f"\n  folder       {store.path(rec.folder)}")
        return 0
    counts = {r["variant"]: r["n"] for r in store.catalog.query(
        "SELECT variant, COUNT(*) AS n FROM checkpoints GROUP BY variant")}
    variants = store.variants(args.family)
    if args.family and not variants:
        get_family(args.family)  # a typo'd name is named, not shown as an empty store
    rows = [(v.id, v.state, f"{v.epochs_done}/{v.n_epochs}", counts.get(v.id, 0),
             _pct(v.final_train_acc), _pct(v.final_test_acc)) for v in variants]
    print(_table(("variant", "state", "epochs", "checkpoints", "train acc", "test acc"), rows)
          if rows else "no variants yet; train one with: tdw train FAMILY")
    return 0


def _selection(items: Sequence[str]) -> dict[str, int]:
    """``--select neuron=3`` as ``{"neuron": 3}``; the view checks names and ranges."""
    out = {}
    for name, raw in parse_assignments(items).items():
        try:
            out[name] = int(raw)
        except ValueError:
            raise TdwError(f"--select {name}={raw}: a selector value is an index (a whole "
                           f"number), e.g. --select {name}=0") from None
    return out


def cmd_verify(args: argparse.Namespace) -> int:
    from tdw.store.verify import verify

    report = verify(Store(args.store), args.variant)
    print(report.summary(), file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1


def cmd_export(args: argparse.Namespace) -> int:
    from tdw.explore.variant import Variant

    variant = Variant(args.variant, Store(args.store))
    out = Path(args.out)
    suffix = out.suffix.lower()
    selection = _selection(args.select or [])
    if args.view is None:
        if suffix != ".html":
            raise TdwError(f"{out.name}: without --view tdw export writes the standalone "
                           "explorer, an .html file; name a view to export .png, .svg or .gif")
        variant.export_explorer(out)
    elif suffix == ".gif":
        variant.animate(args.view, out, fps=args.fps, **selection)
    else:
        epoch = args.epoch if args.epoch is not None else variant.last
        variant.at(epoch).view(args.view, **selection).export(out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0


def _serve_config(args: argparse.Namespace, store: Store):
    from tdw.serve import ServeConfig, dashboards_dir, new_token

    token = new_token() if args.token == "auto" else (args.token or "")
    directory = Path(args.dir).expanduser().resolve() if getattr(args, "dir", None) \
        else dashboards_dir()
    return ServeConfig(store=store.root, port=args.port, ip=args.ip, token=token,
                       directory=directory, public_host=args.public_host or "",
                       preheat=not args.no_preheat)


def _interrupt(signum, frame):  # noqa: ARG001
    raise KeyboardInterrupt


def _serve_until_interrupted(config, first_page: str = "") -> int:
    import signal

    from tdw.serve import serve

    print(f"starting the dashboards (Voila) on {config.base_url} ...", flush=True)
    # SIGTERM (kill, a service manager) stops Voila as cleanly as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    server = serve(config)
    print(f"\n  open {server.page(first_page) if first_page else server.url}\n"
          f"  dashboards: {server.url}\n  log: {server.log}\n\nCtrl-C stops the server.",
          flush=True)
    try:
        while server.running():
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nstopping the server", file=sys.stderr)
        server.stop()
        return 0
    print(f"tdw: voila exited with status {server.process.returncode}; its log: {server.log}",
          file=sys.stderr)
    return 1


def cmd_serve(args: argparse.Namespace) -> int:
    return _serve_until_interrupted(_serve_config(args, Store(args.store)))


QUICKSTART_FAMILY = "modulo_addition_1l"


def cmd_quickstart(args: argparse.Namespace) -> int:
    from tdw.serve import check_port_free

    store = Store(args.store)
    config = _serve_config(args, store)  # bad serve options fail before any training
    check_port_free(config.ip, config.port)
    jobs_mod.reconcile(store)
    try:
        request = launch.validate_training(store, QUICKSTART_FAMILY, preset="quick")
    except AlreadyTrained:
        request = None
    if request is None:
        print("1/3 training: the quick variant is already trained")
    else:
        running = [j for j in jobs_mod.jobs(store, variant=request.variant)
                   if j.kind == "train" and j.state not in jobs_mod.FINISHED]
        if running:
            record = running[0]
            print(f"1/3 training: following the running job {record.id}")
        else:
            record = launch.start_training(store, request)
            print(f"1/3 training {request.describe()} (job {record.id})")
        if (code := _follow(store, record.id)) != 0:
            return code
    fam = families()[QUICKSTART_FAMILY]
    variant = variant_id(fam, fam.resolve(preset="quick"))
    run, record = launch.start_analysis(store, variant)
    if record is None:
        print("2/3 analysis: every checkpoint is already analysed")
    else:
        plan = run.describe().splitlines()[0].split(": ", 1)[-1]
        print(f"2/3 analysing {variant} (job {record.id}): {plan}")
        if (code := _follow(store, record.id, unit="checkpoint")) != 0:
            return code
    print("3/3 serving the workbench")
    return _serve_until_interrupted(config, "workbench.ipynb")


# -------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tdw", description="Training Dynamics Workbench: train toy transformers, analyse "
        "every checkpoint against a fixed probe, explore how behaviour changes across training.")
    parser.add_argument("--store", default=None, help="store folder (default: $TDW_HOME, "
                        "else ~/.local/share/tdw)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("families", help="list registered families, their parameters and presets")
    p.set_defaults(func=cmd_families)

    p = sub.add_parser("views", help="list every family's views")
    p.add_argument("--family")
    p.set_defaults(func=cmd_views)

    p = sub.add_parser("train", help="train a variant as a papermill job")
    p.add_argument("family", help="family name (see tdw families)")
    p.add_argument("--set", action="append", metavar="NAME=VALUE",
                   help="parameter value; repeat for several (e.g. --set p=113)")
    p.add_argument("--preset", help="named parameter preset, e.g. quick")
    p.add_argument("--schedule",
                   help="checkpoint schedule, e.g. '0-1500/100,log:1500-25000/40,end'")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu or cuda")
    p.add_argument("--background", action="store_true", help="return at once; see tdw jobs")
    p.add_argument("--force", action="store_true", help="retrain a finished variant from scratch")
    p.add_argument("--resume", action="store_true",
                   help="require an interrupted run to resume (resuming is otherwise automatic)")
    p.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("analyze", help="analyse a variant's checkpoints (only what is missing)")
    p.add_argument("variant", help="variant id or a unique prefix (see tdw variants)")
    p.add_argument("--analyzers", help="comma-separated analyzer names (default: all)")
    p.add_argument("--checkpoints", help="epochs to analyse, schedule syntax (default: all)")
    p.add_argument("--force", action="store_true", help="recompute up-to-date artifacts too")
    p.add_argument("--workers", type=int, default=0, help="worker processes (default: cores)")
    p.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    p.add_argument("--background", action="store_true", help="return at once; see tdw jobs")
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser(
        "import", help="import a pretrained causal LM's checkpoint series as a variant",
        description="Import the training checkpoints of a pretrained causal LM as one variant "
        "of the checkpoint_series family: Hugging Face Hub revisions of one model (Pythia "
        "publishes step0 ... step143000), revisions that are subfolders of one local folder, "
        "or one local save_pretrained directory per checkpoint. Each checkpoint is loaded "
        "with TransformerBridge.boot_transformers and stored (hashed) like a trained one; "
        "its step is its 'epoch'. The probe is your prompt file (format: tdw/families/"
        "checkpoint_series/README.md). Nothing is written unless every revision loads.",
        epilog="examples:\n  tdw import EleutherAI/pythia-160m --revisions step1000,step2000,"
        "step4000 --probe decimals.json\n  tdw import ckpts/step* --probe decimals.json "
        "--analyze", formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", nargs="+", help="a Hub model id or a folder (with --revisions), "
                   "or one directory per checkpoint")
    p.add_argument("--probe", required=True, metavar="FILE.json",
                   help="prompt file: prompts, source prompts, answers, metric, head groups")
    p.add_argument("--revisions", metavar="R1,R2,...",
                   help="Hub revisions (step1000,step2000) or subfolders of the one folder")
    p.add_argument("--steps", metavar="S1,S2,...",
                   help="training step of each revision (default: read from names stepN)")
    p.add_argument("--name", help="label of the series in the variant id (default: the "
                   "model's name); import a series again under another name to use another "
                   "prompt file")
    p.add_argument("--dry-run", action="store_true", help="check everything, print the plan, "
                   "write nothing")
    p.add_argument("--analyze", action="store_true", help="analyse the variant right after")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("jobs", help="list jobs; 'show ID' or 'cancel ID'")
    p.add_argument("action", nargs="?", choices=("list", "show", "cancel"), default="list")
    p.add_argument("id", nargs="?", type=int)
    p.add_argument("--limit", type=int, default=30)
    p.add_argument("--lines", type=int, default=15, help="log lines shown by 'show'")
    p.set_defaults(func=cmd_jobs)

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
    p.add_argument("--background", action="store_true", help="coordinate the sweep in a "
                   "process of its own and return at once; see tdw sweep status")
    p.add_argument("--dry-run", action="store_true", help="list the variants and stop")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("variants", help="list variants, or show one")
    p.add_argument("id", nargs="?", help="variant id (a unique prefix of its name is enough)")
    p.add_argument("--family")
    p.set_defaults(func=cmd_variants)

    p = sub.add_parser("verify", help="re-hash checkpoints, probes and artifacts against the "
                       "catalog; list every mismatch with its path (exit 1 if any)")
    p.add_argument("variant", nargs="?", help="variant id or a unique prefix (default: all)")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("export", help="export a view (.png, .svg, .html; .gif across "
                       "checkpoints) or a variant's standalone explorer (.html)")
    p.add_argument("variant", help="variant id or a unique prefix")
    p.add_argument("out", help="output file; its suffix picks the format")
    p.add_argument("--view", help="view name (see tdw views); omit for the standalone explorer")
    p.add_argument("--epoch", type=int, help="checkpoint epoch (default: the last)")
    p.add_argument("--select", action="append", metavar="NAME=INDEX",
                   help="selector value, e.g. --select neuron=3")
    p.add_argument("--fps", type=float, default=4, help="GIF frames per second")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("serve", help="serve the dashboards with Voila (no code shown, offline)")
    _add_serve_options(p)
    p.add_argument("--dir", help="folder of dashboard notebooks (default: tdw's own)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("quickstart", help="train and analyse the quick preset (unless done), "
                       "then serve the workbench and print its URL")
    _add_serve_options(p)
    p.set_defaults(func=cmd_quickstart)
    return parser


def _add_serve_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=8866, help="port (default 8866)")
    p.add_argument("--ip", default="127.0.0.1",
                   help="interface to bind (default 127.0.0.1; any other needs --token)")
    p.add_argument("--token", help="require this token in the URL; 'auto' makes a random one")
    p.add_argument("--public-host", help="host name browsers use to reach a non-loopback "
                   "server (default: this machine's name)")
    p.add_argument("--no-preheat", action="store_true", help="start a kernel per page visit "
                   "instead of keeping one ready per dashboard (less memory, slower pages)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "action", None) in ("show", "cancel") and args.id is None:
        parser.error(f"tdw jobs {args.action} needs a job id")
    try:
        code = args.func(args)
        sys.stdout.flush()  # inside the try: a reader that left is a BrokenPipeError here
        return code
    except TdwError as exc:
        print(f"tdw: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `tdw jobs | head`: the reader left; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's final flush must not fail
        return 141  # 128 + SIGPIPE, as a shell reports a writer killed by the signal


if __name__ == "__main__":
    sys.exit(main())
