"""Commands a family adds to the ``tdw`` command line.

Most families need no command of their own: ``tdw train``, ``tdw analyze`` and the rest work
for every registered family. A family whose variants come from elsewhere (the
checkpoint_series family imports a pretrained model's checkpoints with ``tdw import``)
declares a :class:`Command` in ``Family.commands``. The CLI adds one subcommand per command
of every registered family, beside the core ones; a name already taken by a core command or
by another family's command is refused with an error naming both.

A command declares its arguments on its own :class:`argparse.ArgumentParser` and runs
against the store the user chose with ``tdw --store``. It returns a
:class:`CommandResult`: its exit status, and the variants the workbench should analyse
next. Analysing is left to the CLI so that a family never runs jobs itself (families import
only the SDK, the library, the store and the errors)::

    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("source", help="the folder to import")
        parser.add_argument("--analyze", action="store_true", help="analyse it right after")

    def run(args: argparse.Namespace, store: Store) -> CommandResult:
        variant = import_folder(store, args.source)  # the family's own code
        return CommandResult(analyze=(variant,) if args.analyze else ())

    FAMILY = Family(..., commands=(Command("import", "import a folder as a variant",
                                           add_arguments, run),))

Errors follow the CLI's rule: raise :class:`~tdw.errors.TdwError` with a message that names
the problem and the fix, and ``tdw`` prints it as one line and exits 2.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Command", "CommandResult"]

_NAME = re.compile(r"[a-z][a-z0-9-]*")


@dataclass(frozen=True)
class CommandResult:
    """What a :class:`Command` asks of the CLI once it has run.

    Attributes:
        status: the exit status when nothing is left to analyse (0: success). A nonzero
            status skips ``analyze``.
        analyze: variant ids to analyse next, in order, as ``tdw analyze ID`` does in the
            foreground: only what is missing, as a job, with a progress bar. The first
            analysis that does not succeed ends the command with its exit status.
    """

    status: int = 0
    analyze: tuple[str, ...] = ()


@dataclass(frozen=True)
class Command:
    """A ``tdw`` subcommand contributed by a family (listed in ``Family.commands``).

    Attributes:
        name: the subcommand, ``tdw NAME``: lower-case letters, digits and hyphens,
            starting with a letter. Unique among the core commands and every family's.
        help: one line, shown by ``tdw --help`` in the list of commands.
        add_arguments: ``parser -> None``: declares the command's arguments and options on
            its :class:`argparse.ArgumentParser` (``--store`` is the CLI's, before the
            command name).
        run: ``(args, store) -> CommandResult``: runs the command with the parsed
            :class:`argparse.Namespace` and the :class:`~tdw.store.store.Store` chosen by
            ``--store``.
        description: paragraph of ``tdw NAME --help`` above the arguments; empty for none.
            Printed as written: line breaks are kept, nothing is rewrapped.
        epilog: text of ``tdw NAME --help`` below the arguments, e.g. examples; printed as
            written, like ``description``. Empty for none.
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    # The store is a tdw.store.store.Store; the SDK sits below the store in the layers, so
    # it cannot name the type here.
    run: Callable[[argparse.Namespace, Any], CommandResult]
    description: str = ""
    epilog: str = ""

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"command {self.name!r}: a command name is lower-case letters, "
                             "digits and hyphens, starting with a letter (e.g. import-series)")
