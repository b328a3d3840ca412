"""``tdw views``: every family's views, what they read, and what their selectors index.

A selector (``View.selectors``: name -> (analyzer, array, axis)) picks one entry along an
axis of a stored artifact, so its range is that axis's size in a variant's artifact. Without
``--variant`` the listing says which axis that is, from the analyzer's declared schema; a
view whose analyzer keeps only some items says so in its description (Modulo Addition
keeps 16 of its MLP neurons, so ``neuron=3`` is the 4th stored neuron, not MLP neuron 3).
With ``--variant`` it also gives each selector's range in that variant.
"""

from __future__ import annotations

import argparse
import shutil
import textwrap

from tdw.errors import TdwError
from tdw.family.family import Family, analyzers_of
from tdw.family.registry import families, get_family
from tdw.family.views import View

__all__ = ["add_parser", "describe_selector"]

_DEFAULT_WIDTH = 100  # when the output is not a terminal (a pipe, a file, a test)
_MIN_WIDTH = 40  # below this, wrapping would shred every line


def describe_selector(family: Family, view: View, name: str) -> str:
    """What selector ``name`` of ``view`` indexes, in words, read from the declared schema
    of the analyzer it points into. Which items the index stands for, when the analyzer
    keeps only some (stored neurons, not MLP neurons), is the view's description to say:
    no schema says which array holds their identity."""
    analyzer, array, axis = view.selectors[name]
    declared = analyzers_of(family).get(analyzer)
    spec = next((a for a in getattr(declared, "arrays", ()) if a.name == array), None)
    if spec is None or axis >= len(spec.dims):  # e.g. a library analyzer not listed
        return f"{name}: index along axis {axis} of `{array}` of {analyzer}"
    dim = spec.dims[axis]
    what = f" ({spec.description})" if spec.description else ""
    return (f"{name}: index into the {dim} axis (axis {axis}) of `{array}` of {analyzer}"
            f"{what}; its range is that axis's size in a variant's artifact "
            f"(tdw views --variant ID shows it)")


def _ranges(ref: str, store: str | None) -> tuple[str, dict[tuple[str, str], str]]:
    """The family of variant ``ref`` and each (view, selector)'s range in it, in words."""
    from tdw.explore.variant import Variant  # the read path, imported only when asked
    from tdw.store.store import Store

    variant = Variant(ref, Store(store))
    if not variant.epochs:
        raise TdwError(f"variant {variant.id} has no checkpoints yet, so its selectors have "
                       f"no range; train it first, or drop --variant")
    ranges: dict[tuple[str, str], str] = {}
    for view in variant.family.views:
        for name in view.selectors:
            if variant.missing(view):
                ranges[view.name, name] = (f"unknown until analysed (tdw analyze "
                                           f"{variant.id})")
                continue
            n = view.selector_range(variant.context(variant.last), name)
            ranges[view.name, name] = f"0 to {n - 1} in {variant.id}"
    return variant.family.name, ranges


def cmd_views(args: argparse.Namespace) -> int:
    width = max(shutil.get_terminal_size((_DEFAULT_WIDTH, 24)).columns, _MIN_WIDTH)
    ranges: dict[tuple[str, str], str] = {}
    only = args.family
    if args.variant:
        family_of_variant, ranges = _ranges(args.variant, args.store)
        if only and only != family_of_variant:
            raise TdwError(f"variant {args.variant} is of family {family_of_variant}, not "
                           f"{only}; drop --family or name a variant of {only}")
        only = family_of_variant
    if only:
        get_family(only)  # a typo'd name lists the known ones, never an empty answer

    def block(text: str, indent: int, hang: int = 0) -> str:
        """``text`` wrapped to the terminal, its lines after the first indented ``hang``
        more (a selector's continuation lines stand out from the next selector)."""
        pad = " " * indent
        return textwrap.fill(text, width, initial_indent=pad,
                             subsequent_indent=pad + " " * hang, break_on_hyphens=False)

    for fam in families().values():
        if only and fam.name != only:
            continue
        print(f"{fam.name}  ({fam.title})")
        for view in fam.views:
            print()
            print(block(f"{view.name}: {view.title}", 2))
            print(block(f"{view.scope} view, group {view.group}; reads "
                        f"{', '.join(view.reads) or 'nothing'}", 4))
            print(block(view.description, 4))
            for name in view.selectors:
                text = describe_selector(fam, view, name)
                if (view.name, name) in ranges:
                    text += f". Range: {ranges[view.name, name]}"
                print(block(f"selector {text}", 4, hang=2))
        print()
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``tdw views``."""
    p = sub.add_parser(
        "views", help="list every family's views and what their selectors index",
        description="List each view of each family: its scope, what it reads, what it shows, "
        "and its selectors. A selector (e.g. neuron) is an index along one axis of a stored "
        "artifact, so its range depends on the variant; name one with --variant to see it.")
    p.add_argument("--family", help="list only this family's views")
    p.add_argument("--variant", help="variant id or a unique prefix: list its family's views "
                   "with each selector's range in that variant")
    p.set_defaults(func=cmd_views)
