"""Marked blocks in Markdown files, the templates that own them, and atomic rewrites.

A block is the lines between an opening and a closing marker, each on a line of its own::

    <!-- figures: quick_preset -->
    Measured on a 2-core CPU: train accuracy passes 99% at epoch 120, ...
    <!-- /figures -->

HTML comments do not render, so a reader sees only the text. A :class:`Template` owns
each block: the block's text with its figures written as placeholders. ``{name}`` is a
deterministic figure (the same preset gives the same value: an accuracy, an epoch, a
count), which ``--check`` compares; ``{~name}`` is a measured one (a time, a load
average), which only a rewrite changes. ``name@arg`` passes an argument (an epoch, a
signal, a seed). Reading a block back against its template gives the values it holds
(:meth:`Template.read`), so a check compares figure by figure and names the stale one.

>>> t = Template("README.md", "demo", "Epoch {transition}, {~train_job} as a job.")
>>> t.render({"transition": "961", "~train_job": "2 min 36 s"})
'Epoch 961, 2 min 36 s as a job.'
>>> t.read("Epoch 961, 2 min 41 s as a job.")
{'transition': '961', '~train_job': '2 min 41 s'}
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Block", "Template", "Slot", "BlockError", "blocks", "replace_blocks", "write_atomic"]

OPEN = re.compile(r"^<!-- figures: ([a-z][a-z0-9_]*) -->$")
CLOSE = "<!-- /figures -->"
_SLOT = re.compile(r"\{(~?)([a-z][a-z0-9_]*)(?:@([A-Za-z0-9_.-]+))?\}")


class BlockError(ValueError):
    """A doc's markers or a template are malformed."""


@dataclass(frozen=True)
class Block:
    """One marked block of a file: its name, its text, and the line after its opening
    marker (1-based) for messages."""

    name: str
    text: str
    line: int


@dataclass(frozen=True)
class Slot:
    """A placeholder: ``key`` is how values are looked up (``~`` kept, ``@arg`` kept)."""

    name: str
    arg: str | None
    measured: bool

    @property
    def key(self) -> str:
        return ("~" if self.measured else "") + self.name + (f"@{self.arg}" if self.arg else "")


def blocks(text: str, where: str = "") -> list[Block]:
    """The marked blocks of ``text``, in order; raises on an unclosed, nested, stray or
    repeated marker (``where`` names the file in the message)."""
    found, names, current, body = [], set(), None, []
    for number, line in enumerate(text.splitlines(), 1):
        opening = OPEN.match(line)
        if opening or line == CLOSE:
            if opening and current is None:
                current, body, start = opening.group(1), [], number + 1
                if current in names:
                    raise BlockError(f"{where}:{number}: block {current!r} appears twice")
                names.add(current)
            elif line == CLOSE and current is not None:
                found.append(Block(current, "\n".join(body), start))
                current = None
            else:
                raise BlockError(f"{where}:{number}: {'nested' if opening else 'stray'} "
                                 f"figures marker")
        elif line.startswith("<!-- figures") or line.startswith("<!-- /figures"):
            raise BlockError(f"{where}:{number}: malformed figures marker {line!r}")
        elif current is not None:
            body.append(line)
    if current is not None:
        raise BlockError(f"{where}: block {current!r} is never closed ({CLOSE})")
    return found


def replace_blocks(text: str, contents: Mapping[str, str]) -> str:
    """``text`` with the body of each block named in ``contents`` replaced; every other
    character, markers included, stays as it was."""
    out, current, known = [], None, {b.name for b in blocks(text)}
    missing = set(contents) - known
    if missing:
        raise BlockError(f"no such block: {', '.join(sorted(missing))}")
    for line in text.splitlines(keepends=True):
        stripped = line.rstrip("\n")
        if current is None:
            out.append(line)
            opening = OPEN.match(stripped)
            if opening and opening.group(1) in contents:
                current = opening.group(1)
                out.append(contents[current] + "\n")
        elif stripped == CLOSE:
            out.append(line)
            current = None
    return "".join(out)


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` all at once: a temporary file beside it, flushed, then
    renamed over it, so a reader (or a crash) sees the old file or the new one."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class Template:
    """The text a block must hold: ``file`` (relative to the repository root), the block's
    ``name``, and its ``text`` with placeholders (see the module docstring)."""

    file: str
    name: str
    text: str

    def __post_init__(self) -> None:
        rest = _SLOT.sub("", self.text)
        if "{" in rest or "}" in rest:
            raise BlockError(f"template {self.name!r}: a brace outside a placeholder")
        if re.search(_SLOT.pattern + _SLOT.pattern, self.text):
            raise BlockError(f"template {self.name!r}: two placeholders with nothing between")
        for slot in self.slots:
            other = "~" + slot.key if not slot.measured else slot.key[1:]
            if other in {s.key for s in self.slots}:
                raise BlockError(f"template {self.name!r}: {slot.name} is both measured "
                                 "and deterministic")

    @property
    def slots(self) -> list[Slot]:
        """Each distinct placeholder, in order of first appearance."""
        seen: dict[str, Slot] = {}
        for m in _SLOT.finditer(self.text):
            slot = Slot(m.group(2), m.group(3), bool(m.group(1)))
            seen.setdefault(slot.key, slot)
        return list(seen.values())

    def render(self, values: Mapping[str, str]) -> str:
        """The block's text with every placeholder replaced by ``values[key]``."""
        missing = [s.key for s in self.slots if s.key not in values]
        if missing:
            raise KeyError(f"template {self.name!r} lacks values for {', '.join(missing)}")
        return _SLOT.sub(lambda m: values[_key(m)], self.text)

    def occurrences(self, text: str) -> list[tuple[str, str]] | None:
        """(key, value) of each placeholder occurrence in ``text`` (a block's body), in
        order; None when the text outside the placeholders differs from the template's."""
        pattern, keys, last = [], [], 0
        for m in _SLOT.finditer(self.text):
            pattern.append(re.escape(self.text[last:m.start()]) + r"([^\n]+?)")
            keys.append(_key(m))
            last = m.end()
        pattern.append(re.escape(self.text[last:]))
        match = re.fullmatch("".join(pattern), text)
        return None if match is None else list(zip(keys, match.groups(), strict=True))

    def read(self, text: str) -> dict[str, str] | None:
        """The value of each placeholder in ``text``, or None when the text outside the
        placeholders differs from the template's, or a placeholder that appears twice holds
        two values."""
        found = self.occurrences(text)
        if found is None:
            return None
        values: dict[str, str] = {}
        for key, value in found:
            if values.setdefault(key, value) != value:
                return None
        return values


def _key(m: re.Match) -> str:
    return m.group(1) + m.group(2) + (f"@{m.group(3)}" if m.group(3) else "")
