"""``tdw rm``: delete variants and all their files, after asking.

Every variant named is checked before any is touched: an unknown one, or one a job or a
running sweep holds, refuses the whole command and deletes nothing. How a removal stays
safe if it is killed half-way is :mod:`tdw.store.removal`'s to say.
"""

from __future__ import annotations

import argparse
import sys

from tdw.errors import TdwError
from tdw.store import removal
from tdw.store.store import Store
from tdw.sweeps import sweep as sweep_mod

__all__ = ["add_parser"]


def _confirmed(count: int) -> bool:
    """Ask on the terminal; refuse (naming ``--yes``) when there is none to ask on."""
    if not sys.stdin.isatty():
        raise TdwError("tdw rm asks before deleting, but its input is not a terminal; pass "
                       "--yes to remove without asking")
    print(f"Remove {'this variant' if count == 1 else f'these {count} variants'} and all "
          "their files? This cannot be undone. [y/N] ", end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def cmd_rm(args: argparse.Namespace) -> int:
    store = Store(args.store)
    sweep_mod.reconcile(store)  # a job or sweep whose process died holds nothing
    plans: dict[str, removal.Removal] = {}
    for ref in args.variants:
        plan = removal.plan(store, ref)
        plans.setdefault(plan.variant, plan)
    for plan in plans.values():
        print(plan.describe(), file=sys.stderr)
    if not args.yes and not _confirmed(len(plans)):
        print("nothing removed", file=sys.stderr)
        return 1
    for vid in plans:
        done = removal.remove(store, vid)
        print(f"removed {done.variant}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``tdw rm``."""
    p = sub.add_parser("rm", help="delete variants and all their files (asks first; refuses "
                       "while a job or a running sweep holds one)")
    p.add_argument("variants", nargs="+", metavar="VARIANT",
                   help="variant id, in full (with or without its family; no prefix)")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation "
                   "(needed when the input is not a terminal)")
    p.set_defaults(func=cmd_rm)
