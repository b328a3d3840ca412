"""``tdw serve`` and ``tdw quickstart``: the dashboards under Voila, and a first run that
trains, analyses and serves in one command."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import NoReturn

from tdw import serve as serving
from tdw.cli.follow import follow
from tdw.family.family import variant_id
from tdw.family.registry import families
from tdw.jobs import jobs as jobs_mod
from tdw.jobs import launch
from tdw.store.store import Store
from tdw.training.run import AlreadyTrained

__all__ = ["add_parser", "QUICKSTART_FAMILY"]

QUICKSTART_FAMILY = "modulo_addition_1l"
"""The family whose ``quick`` preset ``tdw quickstart`` trains and analyses."""


def _serve_config(args: argparse.Namespace, store: Store) -> serving.ServeConfig:
    token = serving.new_token() if args.token == "auto" else (args.token or "")
    directory = Path(args.dir).expanduser().resolve() if getattr(args, "dir", None) \
        else serving.dashboards_dir()
    return serving.ServeConfig(store=store.root, port=args.port, ip=args.ip, token=token,
                               directory=directory, public_host=args.public_host or "",
                               preheat=not args.no_preheat,
                               prefix=getattr(args, "prefix", None) or "")


def _interrupt(signum: int, frame: FrameType | None) -> NoReturn:  # noqa: ARG001
    raise KeyboardInterrupt


def _serve_until_interrupted(config: serving.ServeConfig, first_page: str = "") -> int:
    print(f"starting the dashboards (Voila) on {config.base_url} ...", flush=True)
    # SIGTERM (kill, a service manager) stops Voila as cleanly as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    server = serving.serve(config)
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


def cmd_quickstart(args: argparse.Namespace) -> int:
    store = Store(args.store)
    config = _serve_config(args, store)  # bad serve options fail before any training
    serving.check_port_free(config.ip, config.port)
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
        if (code := follow(store, record.id)) != 0:
            return code
    fam = families()[QUICKSTART_FAMILY]
    variant = variant_id(fam, fam.resolve(preset="quick"))
    run, record = launch.start_analysis(store, variant)
    if record is None:
        print("2/3 analysis: every checkpoint is already analysed")
    else:
        plan = run.describe().splitlines()[0].split(": ", 1)[-1]
        print(f"2/3 analysing {variant} (job {record.id}): {plan}")
        if (code := follow(store, record.id, unit="checkpoint")) != 0:
            return code
    print("3/3 serving the workbench")
    return _serve_until_interrupted(config, "workbench.ipynb")


def _add_serve_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=8866, help="port (default 8866)")
    p.add_argument("--ip", default="127.0.0.1",
                   help="interface to bind (default 127.0.0.1; any other needs --token)")
    p.add_argument("--token", help="require this token in the URL; 'auto' makes a random one")
    p.add_argument("--public-host", help="host name browsers use to reach a non-loopback "
                   "server (default: this machine's name)")
    p.add_argument("--no-preheat", action="store_true", help="start a kernel per page visit "
                   "instead of keeping one ready per dashboard (less memory, slower pages)")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``tdw serve`` and ``tdw quickstart``."""
    p = sub.add_parser("serve", help="serve the dashboards with Voila (no code shown, offline)")
    _add_serve_options(p)
    p.add_argument("--dir", help="folder of dashboard notebooks (default: tdw's own)")
    p.add_argument("--prefix", help="the path browsers reach the server under through a "
                   "proxy that strips it, e.g. /tdw/ (JupyterLab's launcher sets it)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("quickstart", help="train and analyse the quick preset (unless done), "
                       "then serve the workbench and print its URL")
    _add_serve_options(p)
    p.set_defaults(func=cmd_quickstart)
