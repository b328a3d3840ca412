"""The catalog's ``variant_tags`` and ``variant_notes`` tables: what a researcher writes
about a variant (``tdw tag``, ``tdw note``, the workbench's Variants table).

Tags are short words (``baseline``, ``seed-sweep``, ``lr=1e-3``) that filter a listing; a
note is free text. Both live in the catalog only: they describe a variant, they are not
its data, so no file backs them and ``tdw verify`` has nothing to check. Their rows go
with the variant's (``ON DELETE CASCADE``). Every change is one immediate transaction
that checks everything first, so a bad tag in a list writes none of the list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from tdw.errors import ParameterError, UnknownNameError
from tdw.store.catalog import Catalog, now

__all__ = ["Annotation", "TAG_RULE", "NOTE_LIMIT", "check_tags", "check_note", "annotation",
           "annotations", "add_tags", "remove_tags", "annotate", "tagged", "stamp"]

_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:=+/-]{0,39}")
TAG_RULE = ("1 to 40 characters: letters, digits and _ . : = + / -, starting with a letter "
            "or digit (no spaces or commas)")
"""What a tag may be, as the error messages say it."""
NOTE_LIMIT = 10_000
"""The longest note, in characters."""


@dataclass(frozen=True)
class Annotation:
    """A variant's tags (sorted) and note ("" when it has none)."""

    tags: tuple[str, ...] = ()
    note: str = ""


def check_tags(tags: Iterable[str]) -> list[str]:
    """``tags`` stripped, without repeats, in order; raises :class:`ParameterError` naming
    the first one that is not a tag and the rule."""
    out: list[str] = []
    for raw in tags:
        tag = str(raw).strip()
        if not _TAG.fullmatch(tag):
            raise ParameterError(f"{tag!r} is not a tag: a tag is {TAG_RULE}; nothing was "
                                 "changed")
        if tag not in out:
            out.append(tag)
    return out


def check_note(text: str) -> str:
    """``text`` without surrounding whitespace; raises :class:`ParameterError` if longer
    than :data:`NOTE_LIMIT` characters."""
    text = str(text).strip()
    if len(text) > NOTE_LIMIT:
        raise ParameterError(f"the note has {len(text):,} characters, more than the "
                             f"{NOTE_LIMIT:,} a note may hold; shorten it")
    return text


def annotation(catalog: Catalog, vid: str) -> Annotation:
    """The tags and note of variant ``vid`` (empty if it has none)."""
    tags = tuple(r["tag"] for r in catalog.query(
        "SELECT tag FROM variant_tags WHERE variant = ? ORDER BY tag", (vid,)))
    row = catalog.one("SELECT note FROM variant_notes WHERE variant = ?", (vid,))
    return Annotation(tags, "" if row is None else row["note"])


def annotations(catalog: Catalog) -> dict[str, Annotation]:
    """Variant id -> its :class:`Annotation`, for every variant with a tag or a note (two
    queries, whatever the number of variants)."""
    tags: dict[str, list[str]] = {}
    for row in catalog.query("SELECT variant, tag FROM variant_tags ORDER BY variant, tag"):
        tags.setdefault(row["variant"], []).append(row["tag"])
    notes = {r["variant"]: r["note"] for r in catalog.query(
        "SELECT variant, note FROM variant_notes")}
    return {vid: Annotation(tuple(tags.get(vid, ())), notes.get(vid, ""))
            for vid in sorted(tags.keys() | notes.keys())}


def _require(db, vid: str) -> None:
    if db.execute("SELECT 1 FROM variants WHERE id = ?", (vid,)).fetchone() is None:
        known = [r["id"] for r in db.execute("SELECT id FROM variants ORDER BY id")]
        raise UnknownNameError("variant", vid, known)


def add_tags(catalog: Catalog, vid: str, tags: Iterable[str]) -> Annotation:
    """Give variant ``vid`` each of ``tags`` (those it has already are kept as they are)."""
    wanted = check_tags(tags)
    with catalog.transaction() as db:
        _require(db, vid)
        db.executemany("INSERT OR IGNORE INTO variant_tags VALUES (?, ?, ?)",
                       [(vid, tag, now()) for tag in wanted])
    return annotation(catalog, vid)


def remove_tags(catalog: Catalog, vid: str, tags: Iterable[str]) -> Annotation:
    """Take ``tags`` off variant ``vid``; refuses (changing nothing) a tag it does not have,
    naming the tags it has."""
    unwanted = [str(t).strip() for t in tags]
    with catalog.transaction() as db:
        _require(db, vid)
        have = [r["tag"] for r in db.execute(
            "SELECT tag FROM variant_tags WHERE variant = ? ORDER BY tag", (vid,))]
        for tag in unwanted:
            if tag not in have:
                raise UnknownNameError(f"tag of {vid}", tag, have)
        db.executemany("DELETE FROM variant_tags WHERE variant = ? AND tag = ?",
                       [(vid, tag) for tag in unwanted])
    return annotation(catalog, vid)


def annotate(catalog: Catalog, vid: str, *, tags: Iterable[str] | None = None,
             note: str | None = None) -> Annotation:
    """Set variant ``vid``'s tags to exactly ``tags`` and/or its note to ``note`` ("" clears
    it), together; ``None`` leaves that part as it is. Both are checked before either is
    written."""
    wanted = None if tags is None else check_tags(tags)
    text = None if note is None else check_note(note)
    with catalog.transaction() as db:
        _require(db, vid)
        if wanted is not None:
            have = {r["tag"] for r in db.execute(
                "SELECT tag FROM variant_tags WHERE variant = ?", (vid,))}
            db.executemany("DELETE FROM variant_tags WHERE variant = ? AND tag = ?",
                           [(vid, tag) for tag in sorted(have - set(wanted))])
            db.executemany("INSERT OR IGNORE INTO variant_tags VALUES (?, ?, ?)",
                           [(vid, tag, now()) for tag in wanted])
        if text == "":
            db.execute("DELETE FROM variant_notes WHERE variant = ?", (vid,))
        elif text is not None:
            db.execute("INSERT INTO variant_notes VALUES (?, ?, ?) ON CONFLICT(variant) DO "
                       "UPDATE SET note = excluded.note, updated = excluded.updated",
                       (vid, text, now()))
    return annotation(catalog, vid)


def tagged(catalog: Catalog, tag: str) -> list[str]:
    """The ids of the variants tagged ``tag``, sorted."""
    return [r["variant"] for r in catalog.query(
        "SELECT variant FROM variant_tags WHERE tag = ? ORDER BY variant", (tag,))]


def stamp(catalog: Catalog) -> tuple:
    """Changes whenever any variant's tags or note do (two small aggregate queries): what a
    page polls to notice an edit made elsewhere."""
    return (tuple(catalog.one("SELECT COUNT(*), MAX(created) FROM variant_tags")),
            tuple(catalog.one("SELECT COUNT(*), MAX(updated) FROM variant_notes")))
