"""``tdw views``: every family's views, what they read, and what their selectors index.

A selector (``View.selectors``: name -> (analyzer, array, axis)) picks one entry along an
axis of a stored artifact, so its range is that axis's size in a variant's artifact. Without
``--variant`` the listing says which axis that is, from the analyzer's declared schema; a
view whose analyzer keeps only some items says so in its description (Modulo Addition
keeps 16 of its MLP neurons, so ``neuron=3`` is the 4th stored neuron, not MLP neuron 3).
With ``--variant`` it also gives each selector's range in that variant. A selector with
labels says which array names its entries on the page; a view's decimal controls
(thresholds, ``View.controls``) are listed with their range, step and default, and a click
link (``View.on_tap``) with the selector it sets.

``--json`` prints a list of view objects: ``family``, ``name``, ``title``,
``description``, ``scope``, ``group``, ``reads``, ``selectors`` (each ``name``,
``analyzer``, ``array``, ``axis``, ``labels``: the array naming its entries or null, and
``size``: how many values it takes in the ``--variant``, null without one or before the
variant is analysed), ``controls`` (each ``name``, ``low``, ``high``, ``step``,
``default``, ``description``) and ``on_tap`` (``{"target", "selector"}`` or null).
"""

from __future__ import annotations

import argparse
import shutil
import textwrap
from typing import Any

from tdw.cli.format import print_json
from tdw.errors import TdwError
from tdw.family.controls import Control, TapLink
from tdw.family.family import Family, analyzers_of
from tdw.family.registry import families, get_family
from tdw.family.views import View

__all__ = ["add_parser", "describe_selector", "describe_control", "describe_tap"]

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
    named = ""
    if name in view.labels:
        labels = view.labels[name]
        named = (f"; the dashboard names each entry by `{labels.array}` of {analyzer} "
                 f"({labels.name(name, 'N')})")
    return (f"{name}: index into the {dim} axis (axis {axis}) of `{array}` of {analyzer}"
            f"{what}; its range is that axis's size in a variant's artifact "
            f"(tdw views --variant ID shows it){named}")


def describe_control(control: Control) -> str:
    """A decimal control in words: its name, range, step, default and what it decides."""
    return (f"{control.name}: a decimal from {control.low:g} to {control.high:g} in steps of "
            f"{control.step:g}, default {control.default:g}. {control.description}")


def describe_tap(link: TapLink) -> str:
    """What a click on a view's row does, in words."""
    return (f"a row selects its entry in the `{link.selector}` selector of {link.target} "
            f"(the dashboard says so when {link.target} holds none)")


Sizes = dict[tuple[str, str], int | None]
"""(view, selector) -> how many values the selector takes in a variant; None before the
variant's artifacts for the view are stored."""


def _sizes(ref: str, store: str | None) -> tuple[str, str, Sizes]:
    """The id and family of variant ``ref``, and each (view, selector)'s size in it."""
    from tdw.explore.variant import Variant  # the read path, imported only when asked
    from tdw.store.store import Store

    variant = Variant(ref, Store(store))
    if not variant.epochs:
        raise TdwError(f"variant {variant.id} has no checkpoints yet, so its selectors have "
                       f"no range; train it first, or drop --variant")
    sizes: Sizes = {}
    for view in variant.family.views:
        for name in view.selectors:
            sizes[view.name, name] = None if variant.missing(view) else view.selector_range(
                variant.context(variant.last), name)
    return variant.id, variant.family.name, sizes


def _view_json(family: Family, view: View, sizes: Sizes) -> dict[str, Any]:
    """A view as a ``--json`` object (see the module)."""
    tap = view.on_tap
    return {"family": family.name, "name": view.name, "title": view.title,
            "description": view.description, "scope": view.scope, "group": view.group,
            "reads": list(view.reads),
            "selectors": [{"name": name, "analyzer": analyzer, "array": array, "axis": axis,
                           "labels": view.labels[name].array if name in view.labels else None,
                           "size": sizes.get((view.name, name))}
                          for name, (analyzer, array, axis) in view.selectors.items()],
            "controls": [{"name": c.name, "low": c.low, "high": c.high, "step": c.step,
                          "default": c.default, "description": c.description}
                         for c in view.controls],
            "on_tap": None if tap is None else {"target": tap.target, "selector": tap.selector}}


def cmd_views(args: argparse.Namespace) -> int:
    width = max(shutil.get_terminal_size((_DEFAULT_WIDTH, 24)).columns, _MIN_WIDTH)
    sizes: Sizes = {}
    vid = ""
    only = args.family
    if args.variant:
        vid, family_of_variant, sizes = _sizes(args.variant, args.store)
        if only and only != family_of_variant:
            raise TdwError(f"variant {args.variant} is of family {family_of_variant}, not "
                           f"{only}; drop --family or name a variant of {only}")
        only = family_of_variant
    if only:
        get_family(only)  # a typo'd name lists the known ones, never an empty answer
    shown = [fam for fam in families().values() if not only or fam.name == only]
    if args.json:
        print_json([_view_json(fam, view, sizes) for fam in shown for view in fam.views])
        return 0

    def block(text: str, indent: int, hang: int = 0) -> str:
        """``text`` wrapped to the terminal, its lines after the first indented ``hang``
        more (a selector's continuation lines stand out from the next selector)."""
        pad = " " * indent
        return textwrap.fill(text, width, initial_indent=pad,
                             subsequent_indent=pad + " " * hang, break_on_hyphens=False)

    for fam in shown:
        print(f"{fam.name}  ({fam.title})")
        for view in fam.views:
            print()
            print(block(f"{view.name}: {view.title}", 2))
            print(block(f"{view.scope} view, group {view.group}; reads "
                        f"{', '.join(view.reads) or 'nothing'}", 4))
            print(block(view.description, 4))
            for name in view.selectors:
                text = describe_selector(fam, view, name)
                if (view.name, name) in sizes:
                    n = sizes[view.name, name]
                    text += (f". Range: unknown until analysed (tdw analyze {vid})" if n is None
                             else f". Range: 0 to {n - 1} in {vid}")
                print(block(f"selector {text}", 4, hang=2))
            for control in view.controls:
                print(block(f"control {describe_control(control)}", 4, hang=2))
            if view.on_tap is not None:
                print(block(f"click {describe_tap(view.on_tap)}", 4, hang=2))
        print()
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``tdw views``."""
    p = sub.add_parser(
        "views", help="list every family's views and what their selectors index",
        description="List each view of each family: its scope, what it reads, what it shows, "
        "its selectors, its decimal controls (thresholds) and what a click on it selects. "
        "A selector (e.g. neuron) is an index along one axis of a stored "
        "artifact, so its range depends on the variant; name one with --variant to see it.")
    p.add_argument("--family", help="list only this family's views")
    p.add_argument("--variant", help="variant id or a unique prefix: list its family's views "
                   "with each selector's range in that variant")
    p.add_argument("--json", action="store_true", help="print JSON: a list of objects, one "
                   "per view, with its selectors (and their sizes, given --variant)")
    p.set_defaults(func=cmd_views)
