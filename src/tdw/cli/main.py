"""The ``tdw`` command line. Every command is a thin call into the library.

Each command group is a module of this package with an ``add_parser(subparsers)`` that
registers its subcommands, each with its handler as ``func``; :func:`build_parser` assembles
them, then adds the commands families contribute. :func:`main` runs one command.

Errors a user can cause print one line naming the problem and the fix, and exit 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from tdw.cli import export, families, family_commands, jobs, serve, sweep, train, variants, views
from tdw.errors import TdwError

__all__ = ["main", "build_parser"]

_GROUPS = (families, views, train, jobs, sweep, variants, export, serve,
           family_commands)  # last: it refuses family commands named like a core one
"""The command groups, in the order ``tdw --help`` lists their commands."""


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
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in _GROUPS:
        group.add_parser(sub)
    return parser


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
