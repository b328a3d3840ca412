"""The subcommands families contribute (``Family.commands``), added after the core ones.

A family declares a :class:`~tdw.family.commands.Command`; this module turns it into a
``tdw`` subcommand, opens the store for it, and runs the analyses its
:class:`~tdw.family.commands.CommandResult` asks for: families never start jobs
themselves (they import only the SDK, the library, the store and the errors).
"""

from __future__ import annotations

import argparse
import functools

from tdw.cli.train import analyse
from tdw.errors import TdwError
from tdw.family.commands import Command
from tdw.family.registry import families
from tdw.store.store import Store

__all__ = ["add_parser"]


def _run(command: Command, args: argparse.Namespace) -> int:
    store = Store(args.store)
    result = command.run(args, store)
    if result.status != 0:
        return result.status
    for variant in result.analyze:
        if (code := analyse(store, variant)) != 0:
            return code
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register every registered family's commands; call it after the core groups, whose
    names it keeps.

    Raises:
        TdwError: a family's command is named like a core command or another family's.
    """
    core = set(sub.choices)
    owners: dict[str, str] = {}
    for family in families().values():
        for command in family.commands:
            name = command.name
            if name in core:
                raise TdwError(f"family {family.name} adds a command {name!r}, but tdw {name} "
                               f"is a core command; rename the family's command")
            if name in owners:
                raise TdwError(f"family {family.name} adds a command {name!r}, but family "
                               f"{owners[name]} adds one of that name; rename one of them")
            owners[name] = family.name
            p = sub.add_parser(name, help=command.help, description=command.description or None,
                               epilog=command.epilog or None,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
            command.add_arguments(p)
            p.set_defaults(func=functools.partial(_run, command))
