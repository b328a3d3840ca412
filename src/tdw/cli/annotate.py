"""``tdw tag`` and ``tdw note``: what a researcher writes about a variant.

Tags (``baseline``, ``seed-sweep``) filter ``tdw variants --tag`` and the workbench's
Variants table; a note is free text. Both live in the catalog
(:mod:`tdw.store.annotations`) and are edited from the Variants table too. With
``--json`` both print ``{"variant": ID, "tags": [...], "note": "..."}``.
"""

from __future__ import annotations

import argparse
import sys

from tdw.cli.format import print_json
from tdw.store import annotations
from tdw.store.annotations import TAG_RULE, Annotation
from tdw.store.store import Store

__all__ = ["add_parser"]


def _show(vid: str, notes: Annotation, args: argparse.Namespace, what: str) -> None:
    if args.json:
        print_json({"variant": vid, "tags": list(notes.tags), "note": notes.note})
    elif what == "tags":
        print(f"{vid}: {', '.join(notes.tags)}" if notes.tags else
              f"{vid} has no tags; add some with: tdw tag {vid} TAG")
    else:
        print(notes.note if notes.note else
              f"{vid} has no note; write one with: tdw note {vid} \"TEXT\"",
              file=sys.stdout if notes.note else sys.stderr)


def cmd_tag(args: argparse.Namespace) -> int:
    store = Store(args.store)
    vid = store.variant(args.variant).id
    if not args.tags:
        notes = annotations.annotation(store.catalog, vid)
    elif args.remove:
        notes = annotations.remove_tags(store.catalog, vid, args.tags)
    else:
        notes = annotations.add_tags(store.catalog, vid, args.tags)
    _show(vid, notes, args, "tags")
    return 0


def cmd_note(args: argparse.Namespace) -> int:
    store = Store(args.store)
    vid = store.variant(args.variant).id
    if args.clear:
        notes = annotations.annotate(store.catalog, vid, note="")
    elif args.text is None:
        notes = annotations.annotation(store.catalog, vid)
    else:
        text = sys.stdin.read() if args.text == "-" else args.text
        notes = annotations.annotate(store.catalog, vid, note=text)
        if not args.json:
            print(f"{vid}: note {'saved' if notes.note else 'cleared'}")
            return 0
    _show(vid, notes, args, "note")
    return 0


def _tag_usage(args: argparse.Namespace) -> str:
    return "tdw tag --remove needs the tags to remove" if args.remove and not args.tags else ""


def _note_usage(args: argparse.Namespace) -> str:
    return "tdw note takes TEXT or --clear, not both" if args.clear and args.text else ""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``tdw tag`` and ``tdw note``."""
    p = sub.add_parser("tag", help="tag a variant (--remove: untag it); without tags, list "
                       "its tags")
    p.add_argument("variant", help="variant id (a unique prefix of its name is enough)")
    p.add_argument("tags", nargs="*", metavar="TAG", help=f"a tag: {TAG_RULE}")
    p.add_argument("--remove", action="store_true", help="remove these tags instead (each "
                   "must be one the variant has)")
    p.add_argument("--json", action="store_true", help="print JSON: the variant's id, tags "
                   "and note")
    p.set_defaults(func=cmd_tag, usage_error=_tag_usage)

    p = sub.add_parser("note", help="write a free-text note on a variant; without text, "
                       "print it")
    p.add_argument("variant", help="variant id (a unique prefix of its name is enough)")
    p.add_argument("text", nargs="?", help="the note (replaces the old one; '-' reads it "
                   "from standard input; '' clears it)")
    p.add_argument("--clear", action="store_true", help="delete the variant's note")
    p.add_argument("--json", action="store_true", help="print JSON: the variant's id, tags "
                   "and note")
    p.set_defaults(func=cmd_note, usage_error=_note_usage)
