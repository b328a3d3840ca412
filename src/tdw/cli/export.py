"""``tdw export``: a view as an image or animation, or a variant's standalone explorer."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from tdw.errors import TdwError
from tdw.family.params import parse_assignments
from tdw.store.store import Store

__all__ = ["add_parser"]


def _selection(items: Sequence[str]) -> dict[str, int]:
    """``--select neuron=3`` as ``{"neuron": 3}``: an index along the selector's axis of the
    stored artifact (see :mod:`tdw.cli.views`); the view checks names and ranges."""
    out: dict[str, int] = {}
    for name, raw in parse_assignments(items).items():
        try:
            out[name] = int(raw)
        except ValueError:
            raise TdwError(f"--select {name}={raw}: a selector value is an index (a whole "
                           f"number), e.g. --select {name}=0") from None
    return out


def cmd_export(args: argparse.Namespace) -> int:
    from tdw.explore.variant import Variant

    variant = Variant(args.variant, Store(args.store))
    out = Path(args.out)
    suffix = out.suffix.lower()
    selection = _selection(args.select or [])
    if args.view is None:
        if suffix != ".html":
            raise TdwError(f"{out.name}: without --view tdw export writes the standalone "
                           "explorer, an .html file; name a view to export .png, .svg or .gif")
        variant.export_explorer(out)
    elif suffix == ".gif":
        variant.animate(args.view, out, fps=args.fps, **selection)
    else:
        epoch = args.epoch if args.epoch is not None else variant.last
        variant.at(epoch).view(args.view, **selection).export(out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``tdw export``."""
    p = sub.add_parser("export", help="export a view (.png, .svg, .html; .gif across "
                       "checkpoints) or a variant's standalone explorer (.html)")
    p.add_argument("variant", help="variant id or a unique prefix")
    p.add_argument("out", help="output file; its suffix picks the format")
    p.add_argument("--view", help="view name (see tdw views); omit for the standalone explorer")
    p.add_argument("--epoch", type=int, help="checkpoint epoch (default: the last)")
    p.add_argument("--select", action="append", metavar="NAME=INDEX",
                   help="selector value: an index along the axis of the stored artifact the "
                   "selector names (tdw views lists each view's selectors, --variant with "
                   "their ranges); repeat for several. Where the analyzer stores only some "
                   "items, it indexes those: modulo_addition_1l's neuron=3 is the 4th stored "
                   "neuron, not MLP neuron 3")
    p.add_argument("--fps", type=float, default=4, help="GIF frames per second")
    p.set_defaults(func=cmd_export)
