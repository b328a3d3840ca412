"""``tdw llc-calibrate``: choose the SGLD step size and localisation of a family's LLC
estimate on one stored checkpoint (:mod:`tdw.library.llc_calibration`).

Each (localisation, step size) cell runs the family's chains once; the table gives each
cell's estimate, drift and verdict, and the command recommends the largest ok step with the
smallest ok localisation, and how to put it into the family.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, replace

from tdw.cli.format import print_json, table
from tdw.errors import ParameterError, TdwError, UnknownNameError
from tdw.family.family import analyzers_of
from tdw.family.model import boot_variant, load_weights
from tdw.family.registry import get_family
from tdw.library.llc import SGLDConfig
from tdw.library.llc_calibration import Calibration, calibrate_model
from tdw.store.store import Store

__all__ = ["add_parser"]

LR_STEPS = (0.3, 1.0, 3.0)
"""Default step sizes, as multiples of the family's."""
LOCALIZATION_STEPS = (0.1, 1.0, 10.0)
"""Default localisations, as multiples of the family's."""


def _numbers(text: str | None, option: str, default: list[float]) -> list[float]:
    if text is None:
        return default
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ParameterError(f"{option} takes numbers separated by commas, got {text!r}; "
                             f"e.g. {option} 1e-5,3e-5,1e-4") from None


def _family_config(family) -> SGLDConfig:
    llc = analyzers_of(family).get("llc")
    if llc is None or not isinstance(llc.options, SGLDConfig):
        raise TdwError(f"family {family.name} has no llc analyzer (tdw.library.llc.make_llc), "
                       "so there is no LLC to calibrate")
    return llc.options


def _advice(cal: Calibration, family: str) -> str:
    best = cal.recommended
    if best is None:
        verdicts = {c.verdict for c in cal.cells}
        hint = ("smaller steps or a larger localisation" if verdicts & {"diverged", "negative"}
                else "larger steps or a longer burn-in (--draws, --burnin)")
        return f"no setting is ok ({', '.join(sorted(verdicts))}); try {hint}"
    return (f"recommended: lr {best.lr:g}, localization {best.localization:g} (the largest ok "
            "step, then the smallest ok localisation).\nPut them into the SGLDConfig the "
            f"family {family} passes to make_llc (modulo_addition_1l's is LLC_CONFIG),\n"
            f"  SGLDConfig(lr={best.lr:.3g}, localization={best.localization:.3g}, ...)\n"
            "and the next tdw analyze recomputes the llc estimates made with the old settings.")


def cmd_calibrate(args: argparse.Namespace) -> int:
    store = Store(args.store)
    variant = store.variant(args.variant)
    family = get_family(variant.family)
    config = _family_config(family)
    epochs = [c.epoch for c in store.checkpoints(variant.id)]
    if not epochs:
        raise TdwError(f"variant {variant.id} has no checkpoints yet; train it first")
    epoch = epochs[-1] if args.epoch is None else args.epoch
    if epoch not in epochs:
        raise UnknownNameError(f"checkpoint epoch of {variant.id}", str(epoch),
                               [str(e) for e in epochs])
    try:
        base = replace(config, **{k: getattr(args, k) for k in ("chains", "draws", "burnin")
                                  if getattr(args, k) is not None})
    except ValueError as exc:
        raise ParameterError(str(exc)) from None
    lrs = _numbers(args.lr, "--lr", [config.lr * f for f in LR_STEPS])
    gammas = _numbers(args.localization, "--localization",
                      [config.localization * f for f in LOCALIZATION_STEPS])
    model = boot_variant(family, variant.params, store.path(variant.folder), "cpu")
    load_weights(model, store.load_checkpoint(variant.id, epoch),
                 source=f"checkpoint {epoch} of {variant.id}")
    model.eval()

    def progress(done: int, total: int) -> None:  # on a terminal only: a log keeps the table
        if sys.stderr.isatty():
            print(f"\r{done}/{total} cells", end="" if done < total else "\n", file=sys.stderr)

    cal = calibrate_model(model, family.readout, family.dataset(variant.params), lrs=lrs,
                          localizations=gammas, base=base, progress=progress)
    if args.plot:
        from bokeh.embed import file_html
        from bokeh.resources import INLINE

        args.plot.write_text(file_html(cal.figure(), INLINE, title=f"LLC calibration: "
                                       f"{variant.id} epoch {epoch}"))
    if args.json:
        best = cal.recommended
        print_json({"variant": variant.id, "epoch": epoch, "base": asdict(base),
                    "cells": cal.table(), "recommended": None if best is None else best.row()})
        return 0
    rows = cal.table()
    print(f"{variant.id}, epoch {epoch}: {base.chains} chains of {base.burnin} burn-in + "
          f"{base.draws} draws per cell")
    print(table(list(rows[0]), [[_cell(v) for v in r.values()] for r in rows]))
    print(_advice(cal, family.name))
    return 0


def _cell(value: object) -> object:
    return f"{value:.4g}" if isinstance(value, float) else value


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``tdw llc-calibrate``."""
    from pathlib import Path

    p = sub.add_parser("llc-calibrate", help="try SGLD step sizes x localisations of the LLC "
                       "on one checkpoint and recommend the settings")
    p.add_argument("variant", metavar="VARIANT", help="variant id (or a unique prefix)")
    p.add_argument("--epoch", type=int, default=None,
                   help="checkpoint epoch (default: the last)")
    p.add_argument("--lr", default=None, help="step sizes, comma-separated (default: the "
                   "family's x 0.3, 1, 3)")
    p.add_argument("--localization", default=None, help="localisations, comma-separated "
                   "(default: the family's x 0.1, 1, 10)")
    p.add_argument("--chains", type=int, default=None, help="chains per cell (default: the "
                   "family's)")
    p.add_argument("--draws", type=int, default=None, help="draws per chain (default: the "
                   "family's)")
    p.add_argument("--burnin", type=int, default=None, help="burn-in steps per chain "
                   "(default: the family's)")
    p.add_argument("--plot", type=Path, default=None, metavar="FILE.html",
                   help="also write the chains of every cell as small multiples")
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    p.set_defaults(func=cmd_calibrate)
