"""The ``tdw`` command line. Every command is a thin call into the library.

Each command group is a module of this package with an ``add_parser(subparsers)`` that
registers its subcommands, each with its handler as ``func``; :func:`build_parser` assembles
them, then adds the commands families contribute, and gives every command the
``--store`` option of ``tdw`` itself (``tdw variants --store DIR`` is ``tdw --store DIR
variants``). :func:`main` runs one command.

Errors a user can cause print one line naming the problem and the fix, and exit 2.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from tdw.cli import (
    annotate,
    export,
    families,
    family_commands,
    jobs,
    llc,
    remove,
    serve,
    sweep,
    train,
    variants,
    views,
)
from tdw.errors import TdwError

__all__ = ["main", "build_parser"]

_GROUPS = (families, views, train, jobs, sweep, variants, annotate, remove, export, serve, llc,
           family_commands)  # last: it refuses family commands named like a core one
"""The command groups, in the order ``tdw --help`` lists their commands."""
# A subcommand's parser writes its defaults over the namespace of tdw's own options, so
# --store after the command lands in a name of its own and main() reconciles the two.
_STORE_AFTER = "store_after_command"


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command, core and contributed by a family.

    Raises:
        TdwError: a registered family fails to load, or names a command like another.
    """
    parser = argparse.ArgumentParser(
        prog="tdw", description="Training Dynamics Workbench: train toy transformers, analyse "
        "every checkpoint against a fixed probe, explore how behaviour changes across training.")
    parser.add_argument("--store", default=None, help="store folder (default: $TDW_HOME, "
                        "else ~/.local/share/tdw)")
    parser.add_argument("--version", action="version", version=f"tdw {_version()}",
                        help="print the installed version of tdw and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in _GROUPS:
        group.add_parser(sub)
    for command in sub.choices.values():
        if "--store" not in command._option_string_actions:  # a family's own may take it
            command.add_argument("--store", dest=_STORE_AFTER, metavar="STORE",
                                 help="store folder, as tdw --store STORE before the command")
    return parser


def _version() -> str:
    try:
        return importlib.metadata.version("tdw")
    except importlib.metadata.PackageNotFoundError:  # a source tree not installed
        return "(not installed)"


def _reconcile_store(args: argparse.Namespace) -> None:
    """Set ``args.store`` from ``--store`` after the command, refusing two different ones."""
    after = getattr(args, _STORE_AFTER, None)
    if after is None:
        return
    before = args.store
    if len({Path(p).expanduser().resolve() for p in (before, after) if p is not None}) > 1:
        raise TdwError(f"--store is given twice, as {before} before the command and as "
                       f"{after} after it; give it once")
    args.store = after


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
    except TdwError as exc:
        print(f"tdw: {exc}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    # Argument combinations argparse cannot express (``tdw jobs show`` without an id) are
    # usage errors: the usage line and exit 2, like any other.
    if (usage_error := getattr(args, "usage_error", None)) and (message := usage_error(args)):
        parser.error(message)
    try:
        _reconcile_store(args)
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
