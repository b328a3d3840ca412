"""The command-line reference, docs/cli.md, generated from the parser so it cannot drift.

Regenerate it with ``python -m tdw.cli.reference > docs/cli.md``;
``tests/unit/test_cli_reference.py`` fails while the file differs from :func:`reference`.

Every command and subcommand of :func:`tdw.cli.main.build_parser` gets a section: its
one-line help, its description, its usage line, its arguments and options with their help
text, and its epilog. The usage lines are argparse's own, formatted at a fixed width
(:data:`WIDTH`) instead of the terminal's, so the output is the same on every machine.
Commands a plug-in family contributes are left out: the page documents tdw as shipped
with its built-in families.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from tdw.cli.main import build_parser
from tdw.family.registry import families

__all__ = ["reference", "REGENERATE", "WIDTH"]

REGENERATE = "python -m tdw.cli.reference > docs/cli.md"
"""The command that rewrites docs/cli.md; named in its header and in the stale-file test."""
WIDTH = 92
"""Column at which usage lines wrap, whatever the terminal (argparse reads $COLUMNS)."""
_BUILT_IN = "tdw.families."  # the package of the built-in families' code


class _Fixed(argparse.HelpFormatter):
    """argparse's formatter at :data:`WIDTH` columns instead of the terminal's width."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position, WIDTH)


def _subcommands(parser: argparse.ArgumentParser
                 ) -> Iterator[tuple[argparse.Action, str, argparse.ArgumentParser]]:
    """(choice action, name, parser) of every subcommand of ``parser``, in help order."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice for choice in action._choices_actions}
            for name, sub in action.choices.items():
                yield helps.get(name), name, sub


def _plug_in_commands() -> set[str]:
    """Names of the commands contributed by families that are not built in."""
    return {command.name for family in families().values() for command in family.commands
            if not command.run.__module__.startswith(_BUILT_IN)}


def _invocation(action: argparse.Action) -> str:
    """How an argument is written: ``family``, ``--set NAME=VALUE``, ``-h, --help``."""
    if not action.option_strings:
        return action.metavar or action.dest
    if action.nargs == 0:
        return ", ".join(action.option_strings)
    metavar = action.metavar or action.dest.upper()
    return ", ".join(f"{option} {metavar}" for option in action.option_strings)


def _details(action: argparse.Action) -> str:
    """The help text of an argument, with its choices and its default where the help text
    does not already say them."""
    text = (action.help or "").replace("%(default)s", str(action.default))
    text = text.replace("%(prog)s", "tdw")
    extra = []
    if action.choices is not None and not isinstance(action, argparse._SubParsersAction):
        extra.append("one of " + ", ".join(map(str, action.choices)))
    shown = action.default not in (None, False, argparse.SUPPRESS, [])
    if shown and "default" not in text and action.nargs != 0:
        extra.append(f"default {action.default}")
    if extra:
        text = f"{text} ({'; '.join(extra)})" if text else "; ".join(extra)
    return text or "(no help text)"


def _arguments(parser: argparse.ArgumentParser) -> list[str]:
    positional = [a for a in parser._actions if not a.option_strings
                  and not isinstance(a, argparse._SubParsersAction)]
    optional = [a for a in parser._actions if a.option_strings]
    lines: list[str] = []
    for title, actions in (("Arguments", positional), ("Options", optional)):
        if actions:
            lines += [f"**{title}**", ""]
            lines += [f"- `{_invocation(a)}`: {_details(a)}" for a in actions]
            lines.append("")
    return lines


def _block(text: str) -> list[str]:
    """Text printed as written (argparse keeps the line breaks of raw descriptions and
    epilogs): a code block keeps them in Markdown too."""
    return ["```", text.strip("\n"), "```", ""]


def _section(path: str, parser: argparse.ArgumentParser, summary: str | None) -> list[str]:
    lines = [f"## {path}", ""]
    if summary:
        lines += [summary[0].upper() + summary[1:] + ".", ""]
    raw = issubclass(parser.formatter_class, argparse.RawDescriptionHelpFormatter)
    if parser.description:
        lines += (_block(parser.description) if raw and "\n" in parser.description
                  else [parser.description, ""])
    parser.formatter_class = _Fixed
    lines += _block(parser.format_usage())
    lines += _arguments(parser)
    if parser.epilog:
        lines += _block(parser.epilog)
    return lines


def _walk(path: str, parser: argparse.ArgumentParser, summary: str | None, skip: set[str]
          ) -> Iterator[tuple[str, list[str]]]:
    yield path, _section(path, parser, summary)
    for choice, name, sub in _subcommands(parser):
        if f"{path} {name}" not in skip:
            yield from _walk(f"{path} {name}", sub, choice.help if choice else None, skip)


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def _portable(text: str) -> str:
    """``text`` with the built-in families' folder on this machine written as the
    repository's ``families``: help texts name files there by absolute path (true for the
    user's install), which would make the page differ from one checkout to the next."""
    spec = importlib.util.find_spec(_BUILT_IN.rstrip("."))
    for folder in (spec.submodule_search_locations or []) if spec else []:
        text = text.replace(str(Path(folder)) + os.sep, "families/")
    return text


def reference() -> str:
    """docs/cli.md: the reference of every ``tdw`` command, from :func:`build_parser`."""
    skip = {f"tdw {name}" for name in _plug_in_commands()}
    sections = list(_walk("tdw", build_parser(), None, skip))
    head = [f"<!-- Generated from the argparse parser by `{REGENERATE}`; do not edit by "
            "hand. tests/unit/test_cli_reference.py fails when it is stale. -->", "",
            "# Command-line reference", "",
            "Every `tdw` command, its arguments and options, as `tdw COMMAND --help` prints "
            "them. Options of `tdw` itself come before the command, as in "
            "`tdw --store /data/tdw serve`; `--store` may also follow it "
            "(`tdw serve --store /data/tdw`).", ""]
    contents = [f"- [{path}](#{_anchor(path)})" for path, _ in sections[1:]]
    body = [line for _, lines in sections for line in lines]
    return _portable("\n".join([*head, *contents, "", *body]).rstrip("\n") + "\n")


if __name__ == "__main__":
    sys.stdout.write(reference())
