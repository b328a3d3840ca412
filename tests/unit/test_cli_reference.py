"""Docs a newcomer can trust: the CLI reference is the parser's, and every ``tdw`` command
the docs quote is one the parser accepts.

(a) ``docs/cli.md`` must equal :func:`tdw.cli.reference.reference`; when it does not, the
failure names the command that regenerates it.

(b) Every ``tdw`` command line quoted in README.md, docs/*.md, dashboards/README.md,
families/*/README.md and examples/*/README.md must parse with the real parser
(``build_parser().parse_args``). Quoted means a line inside a fenced code block that
starts with ``tdw `` (after an optional ``$ `` prompt; a trailing ``\\`` continues it on
the next line, ``# ...`` is a comment), or an inline code span starting with ``tdw ``.
The rule for what is checked, and how strictly:

- **Placeholders.** A word written in capitals is a placeholder: the common ones are
  replaced by a plausible value (FAMILY, VARIANT, ID, DIR, NAME, ...: see
  :data:`PLAUSIBLE`); a quote with any other is skipped. A quote with optional parts
  (``[--family F]``) is checked twice, with all of them left out and all put in; one
  showing alternatives or repetition (``|``, ``...``) is skipped. So that skipping cannot
  hide a broken extraction, the test also requires at least 120 quotes to be checked.
- **Refused** means the parser rejects what is written: an unknown command or option,
  an option of ``tdw`` placed after the command (``tdw serve --version``; ``--store``
  alone may follow the command too), a bad
  choice or a value of the wrong type.
- **Mentions.** Prose names commands and options in inline code (``tdw train``,
  ``tdw export --view``) without writing out every required argument; an inline quote
  that only stops short (required arguments missing, the last option without its value,
  ``tdw jobs show`` without an id) is accepted. A code-block line is a command to copy,
  so it must be complete as well.
- **Commands a doc defines.** A tutorial may declare a family command of its own
  (``Command("reversal-probe", ...)`` in a code block) and then run it; the real parser
  cannot know it, so quotes of a command the same doc declares are left out.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from tdw.cli.main import build_parser
from tdw.cli.reference import REGENERATE, reference

ROOT = Path(__file__).resolve().parents[2]
DOCS = ("README.md", "docs/*.md", "dashboards/README.md", "families/*/README.md",
        "examples/*/README.md")

PLAUSIBLE = {
    "FAMILY": "modulo_addition_1l", "F": "modulo_addition_1l", "VARIANT": "p59-ms999",
    "ID": "3", "N": "2", "E": "100", "DIR": "/tmp/tdw-store", "NAME": "quick",
    "SPEC": "0-100/10", "MODEL": "EleutherAI/pythia-160m", "FILE": "prompts",
    "OUT": "out", "T": "secret", "P": "quick",
}
"""Placeholder -> a value of the right shape (ids are numbers, since ``tdw jobs`` wants
an int; NAME is a preset name, the one place the docs use it on a full command line)."""

_CAPS = re.compile(r"^[A-Z][A-Z0-9_]*$")
_INCOMPLETE = ("the following arguments are required", "expected one argument",
               "expected at least one argument")


@dataclass(frozen=True)
class Quote:
    """A ``tdw`` command quoted in a doc: where, what, and whether it must be complete."""

    where: str
    text: str
    complete: bool


def quotes(path: Path, root: Path = ROOT) -> list[Quote]:
    """The ``tdw`` commands quoted in the Markdown file ``path``, but for those of a command
    the file declares itself (see the module's rule)."""
    source = path.read_text()
    declared = set(re.findall(r'Command\(\s*"([a-z][a-z0-9-]*)"', source))
    lines = source.splitlines()
    name = path.relative_to(root) if path.is_relative_to(root) else path
    found: list[Quote] = []
    prose: list[tuple[int, str]] = []
    in_block, pending, start = False, "", 0
    for number, line in enumerate(lines, 1):
        if line.lstrip().startswith("```"):
            in_block = not in_block
            continue
        if not in_block:
            prose.append((number, line))
            continue
        stripped = line.strip().removeprefix("$ ")
        if pending:
            stripped = pending + " " + stripped
        elif stripped.startswith("tdw "):
            start = number
        else:
            continue
        if stripped.endswith("\\"):
            pending = stripped[:-1].rstrip()
            continue
        pending = ""
        found.append(Quote(f"{name}:{start}", stripped, complete=True))
    # Inline code may wrap across lines of a paragraph (never across a blank line).
    text = "\n".join(line for _, line in prose)
    offsets = [0]
    for _, line in prose:
        offsets.append(offsets[-1] + len(line) + 1)
    for match in re.finditer(r"(?<!`)`([^`\n]+(?:\n[^`\n]+)*)`(?!`)", text):
        code = " ".join(match.group(1).split())
        if code.startswith("tdw "):
            index = max(i for i, offset in enumerate(offsets) if offset <= match.start())
            found.append(Quote(f"{name}:{prose[index][0]}", code, complete=False))
    return [q for q in found if q.text.split()[1] not in declared]


def forms(quote: Quote) -> list[list[str]]:
    """The argument lists after ``tdw`` that ``quote`` stands for, placeholders replaced:
    one for a plain command; two for one with optional parts (``[...]``: all left out,
    all put in); none for alternatives, repetition or an unknown placeholder (skipped)."""
    try:
        args = shlex.split(quote.text.replace("\\|", "|"), comments=True)[1:]
    except ValueError:  # an unbalanced quote: prose, not a command
        return []
    text = " ".join(args)
    if any(mark in text for mark in ("...", "|", "…")) or re.search(r"\[[^\]]*\[", text):
        return []
    variants = {text}
    if "[" in text:
        variants = {re.sub(r"\s*\[[^\]]*\]", "", text), text.replace("[", "").replace("]", "")}
    out = []
    for variant in sorted(variants):
        replaced = []
        for arg in variant.split():
            parts = re.split(r"([=/.,:])", arg)
            if any(_CAPS.match(p) and p not in PLAUSIBLE for p in parts):
                return []
            replaced.append("".join(PLAUSIBLE.get(p, p) if _CAPS.match(p) else p
                                    for p in parts))
        out.append(replaced)
    return out


def refusal(quote: Quote) -> str | None:
    """Why the parser refuses ``quote`` (any of its :func:`forms`), or None if it accepts
    it (see the module's rule); a quote with no forms is skipped, so accepted."""
    for args in forms(quote):
        if (why := _refusal(args, quote.complete)) is not None:
            return why
    return None


def _refusal(args: list[str], complete: bool) -> str | None:
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
            parsed = build_parser().parse_args(args)
    except SystemExit as exc:
        if not exc.code:
            return None  # --help
        message = errors.getvalue().strip().splitlines()[-1]
        if not complete and any(m in message for m in _INCOMPLETE):
            return None
        return message
    usage_error = getattr(parsed, "usage_error", None)
    if complete and usage_error and (message := usage_error(parsed)):
        return message
    return None


def doc_files(root: Path = ROOT) -> list[Path]:
    return sorted({p for pattern in DOCS for p in root.glob(pattern)})


def stale_reference(path: Path) -> str | None:
    """Why ``path`` is not the current reference, or None if it is."""
    if not path.exists():
        return f"{path} is missing; write it with: {REGENERATE}"
    if path.read_text() != reference():
        return (f"{path} differs from the parser's reference (a command, option or help "
                f"text changed); regenerate it with: {REGENERATE}")
    return None


# ------------------------------------------------------------------------------ the checks

def test_the_cli_reference_is_current():
    message = stale_reference(ROOT / "docs" / "cli.md")
    assert message is None, message


def test_every_quoted_tdw_command_parses():
    checked, refused = 0, []
    for path in doc_files():
        for quote in quotes(path):
            if forms(quote):
                checked += 1
            if (why := refusal(quote)) is not None:
                refused.append(f"{quote.where}: `{quote.text}`: {why}")
    assert not refused, "the docs quote commands the parser refuses:\n" + "\n".join(refused)
    assert checked >= 120, f"only {checked} quotes checked: is the extraction broken?"


def test_the_reference_does_not_depend_on_the_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")
    narrow = reference()
    monkeypatch.setenv("COLUMNS", "250")
    assert reference() == narrow


# ------------------------------------------------------------------- the checks can fail

def test_a_stale_reference_fails_and_names_the_fix(tmp_path):
    copy = tmp_path / "cli.md"
    current = reference()
    copy.write_text(current)
    assert stale_reference(copy) is None
    copy.write_text(current.replace("retrain a finished variant from scratch",
                                    "retrain a finished variant"))
    message = stale_reference(copy)
    assert message is not None and REGENERATE in message
    copy.unlink()
    assert REGENERATE in stale_reference(copy)


def test_a_refused_command_in_a_doc_fails(tmp_path):
    doc = tmp_path / "README.md"
    doc.write_text(
        "Print the version with `tdw serve --version`; list jobs with `tdw jobs show ID`.\n"
        "Name commands in prose: `tdw train`, `tdw export --view`, `tdw jobs show`.\n"
        "Syntax is skipped: `tdw train FAMILY [--preset NAME]`, `tdw train ... --force`.\n"
        "\n"
        "```\n"
        "$ tdw --store DIR serve            # right\n"
        "$ tdw train modulo_addition_1l --preset quick --bogus\n"
        "$ tdw import ckpts/step* --probe FILE.json \\\n"
        "      --analyze\n"
        "$ tdw jobs show\n"
        "$ tdw analyze VARIANT --workers two\n"
        "$ tdw my-command x\n"
        "```\n"
        "A command this doc declares: `Command(\"my-command\", ...)`; `tdw my-other x`.\n")
    listed = quotes(doc, tmp_path)
    found = {q.text: q for q in listed}
    assert "tdw import ckpts/step* --probe FILE.json --analyze" in found  # continued line
    refused = {q.text: why for q in listed if (why := refusal(q))}
    assert set(refused) == {
        "tdw serve --version",  # an option of tdw after the command
        "tdw train modulo_addition_1l --preset quick --bogus",
        "tdw jobs show",  # a full line in a code block must be complete
        "tdw analyze VARIANT --workers two",
        "tdw my-other x",  # declared nowhere: an unknown command
    }, refused
    assert "tdw my-command x" not in found
    assert "unrecognized arguments: --version" in refused["tdw serve --version"]
    assert "invalid int value: 'two'" in refused["tdw analyze VARIANT --workers two"]
    assert forms(found["tdw train FAMILY [--preset NAME]"]) == [
        ["train", "modulo_addition_1l"], ["train", "modulo_addition_1l", "--preset", "quick"]]
    assert forms(found["tdw train ... --force"]) == []
    assert forms(found["tdw jobs show ID"]) == [["jobs", "show", "3"]]


@pytest.mark.parametrize("text, expected", [
    ("tdw --store DIR serve", [["--store", "/tmp/tdw-store", "serve"]]),
    ("tdw export VARIANT OUT.png --view NAME",
     [["export", "p59-ms999", "out.png", "--view", "quick"]]),
    ("tdw families   # ... lists them", [["families"]]),  # a comment is not syntax
    ("tdw train FAMILY --set WHATEVER=1", []),  # an unknown placeholder: skipped
    ("tdw sweep status [ID]", [["sweep", "status"], ["sweep", "status", "3"]]),
    ("tdw jobs [list\\|show ID]", []),  # alternatives: skipped
])
def test_placeholders_are_replaced_or_skipped(text, expected):
    assert forms(Quote("x", text, complete=True)) == expected
