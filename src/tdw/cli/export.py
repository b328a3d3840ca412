"""``tdw export``: a view as an image or animation, a variant's standalone explorer, or
(``--data``) the numbers behind its metrics or a view as a table (:mod:`.data_export`)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from tdw.cli import data_export
from tdw.errors import TdwError
from tdw.family.params import parse_assignments
from tdw.store.store import Store

__all__ = ["add_parser"]


def _values(items: Sequence[str], flag: str, kind: type, what: str, example: str) -> dict:
    """``--FLAG name=raw`` assignments as ``{name: kind(raw)}``; a raw value ``kind`` cannot
    read is refused naming ``what`` a value is and an ``example``. The view checks names
    and ranges."""
    out = {}
    for name, raw in parse_assignments(items).items():
        try:
            out[name] = kind(raw)
        except ValueError:
            raise TdwError(f"{flag} {name}={raw}: {what}, e.g. {flag} {name}={example}"
                           ) from None
    return out


def _selection(items: Sequence[str]) -> dict[str, int]:
    """``--select neuron=3`` as ``{"neuron": 3}``: an index along the selector's axis of the
    stored artifact (see :mod:`tdw.cli.views`)."""
    return _values(items, "--select", int, "a selector value is an index (a whole number)",
                   "0")


_SWITCH_WORDS = {"true": True, "on": True, "yes": True, "false": False, "off": False,
                 "no": False}
"""How a switch such as ``log_y`` may be written besides 1 and 0 (a decimal control, which
takes no word, refuses them)."""


def _decimal(raw: str) -> float | bool:
    word = raw.strip().lower()
    return _SWITCH_WORDS[word] if word in _SWITCH_WORDS else float(raw)


def _controls(items: Sequence[str]) -> dict[str, float | bool]:
    """``--control min_share=0.5`` as ``{"min_share": 0.5}`` (``tdw views`` lists each
    view's controls); a switch takes ``true``/``false`` (or on/off, yes/no) as 1 and 0."""
    return _values(items, "--control", _decimal, "a control's value is a decimal, or "
                   "true/false for a switch", "0.5")


def _export_data(args: argparse.Namespace, out: Path) -> int:
    from tdw.explore.variant import Variant

    fmt = data_export.table_format(out)  # before any work: a refused export writes nothing
    if args.view is None and (args.epoch is not None or args.select or args.control):
        raise TdwError("--epoch, --select and --control pick what a view shows; the metrics "
                       "table holds every epoch: drop them, or name a view with --view")
    selection, controls = _selection(args.select or []), _controls(args.control or [])
    variant = Variant(args.variant, Store(args.store))
    table = (data_export.metrics_table(variant) if args.view is None
             else data_export.view_table(variant, args.view, args.epoch, selection, controls))
    data_export.write_table(table, out, fmt)
    print(f"wrote {out} ({len(table):,} rows, {out.stat().st_size / 1e6:.2f} MB)")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from tdw.explore.variant import Variant

    out = Path(args.out)
    suffix = out.suffix.lower()
    if args.data:
        return _export_data(args, out)
    if suffix in data_export.FORMATS:
        raise TdwError(f"{out.name}: a table of numbers needs --data: tdw export "
                       f"{args.variant} {args.out} --data [--view NAME]")
    variant = Variant(args.variant, Store(args.store))
    selection, controls = _selection(args.select or []), _controls(args.control or [])
    if args.view is None:
        if controls:
            raise TdwError("--control sets a view's threshold: name the view with --view")
        if suffix != ".html":
            raise TdwError(f"{out.name}: without --view tdw export writes the standalone "
                           "explorer, an .html file; name a view to export .png, .svg or .gif")
        variant.export_explorer(out)
    elif suffix == ".gif":
        variant.animate(args.view, out, fps=args.fps, controls=controls, **selection)
    else:
        epoch = args.epoch if args.epoch is not None else variant.last
        variant.at(epoch).view(args.view, controls=controls, **selection).export(out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0


_DATA_HELP = """\
Export a view as an image (.png, .svg, .html) or an animation across checkpoints (.gif),
a variant's standalone explorer (.html, without --view), or with --data the numbers
behind them as a table (.csv, or .parquet with pyarrow installed).

tdw export VARIANT out.csv --data
  the per-epoch metrics: epoch, train_loss, test_loss, train_acc, test_acc (one row per
  trained epoch)
tdw export VARIANT out.csv --data --view NAME [--epoch E] [--select NAME=INDEX]
  what the view draws: one row per element of each of its column sources, under
  checkpoint (the epoch it was drawn at; empty for what does not change with it), source
  (the source's name) and item (the element's position), then the sources' own columns.
  A line becomes one row per point (column point); an image one row per cell (columns
  grid_row, grid_col). A per-checkpoint view is exported at every checkpoint, or at
  --epoch E; a summary view once (its marker of the current checkpoint only at --epoch E).
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``tdw export``."""
    p = sub.add_parser("export", help="export a view (.png, .svg, .html; .gif across "
                       "checkpoints), a variant's standalone explorer (.html), or with --data "
                       "the numbers behind its metrics or a view (.csv, .parquet)",
                       description=_DATA_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("variant", help="variant id or a unique prefix")
    p.add_argument("out", help="output file; its suffix picks the format")
    p.add_argument("--view", help="view name (see tdw views); omit for the standalone explorer "
                   "(with --data: for the metrics)")
    p.add_argument("--data", action="store_true", help="write the numbers instead of a "
                   "picture: a tidy table (.csv, or .parquet with pyarrow) of the per-epoch "
                   "metrics, or with --view of what the view draws (see above)")
    p.add_argument("--epoch", type=int, help="checkpoint epoch (default: the last; with "
                   "--data: every checkpoint of a per-checkpoint view)")
    p.add_argument("--select", action="append", metavar="NAME=INDEX",
                   help="selector value: an index along the axis of the stored artifact the "
                   "selector names (tdw views lists each view's selectors, --variant with "
                   "their ranges); repeat for several. Where the analyzer stores only some "
                   "items, it indexes those: modulo_addition_1l's neuron=3 is the 4th stored "
                   "neuron, not MLP neuron 3")
    p.add_argument("--control", action="append", metavar="NAME=VALUE",
                   help="a view's decimal control, e.g. a threshold: --control min_share=0.5 "
                   "(tdw views lists each view's controls, their ranges and defaults); a "
                   "switch takes true/false: --control log_y=true; repeat for several")
    p.add_argument("--fps", type=float, default=4, help="GIF frames per second")
    p.set_defaults(func=cmd_export)
