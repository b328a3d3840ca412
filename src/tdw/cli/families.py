"""``tdw families``: what the registered families declare (their views: :mod:`.views`).

``--json`` prints a list of family objects: ``name``, ``title``, ``description``,
``params`` (each ``name``, ``type``, ``default``, ``minimum``, ``maximum``, ``choices``,
``identity``: whether it names the variant, ``description``), ``presets`` (name ->
parameter values), ``imported_by`` (the command that imports a family's variants, or
null for a trained family), ``architecture`` and ``training`` (the model's and the
optimiser's settings at the defaults), ``default_schedule`` (these three null for an
imported family), ``transition``, ``story`` (analyzer names or null), ``analyzers``,
``cross_epoch`` and ``views`` (names).
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from typing import Any

from tdw.cli.format import print_json, table
from tdw.family.family import Family
from tdw.family.registry import families

__all__ = ["add_parser"]

_ARCHITECTURE = ("n_layers", "d_model", "n_heads", "d_head", "d_mlp", "act_fn",
                 "normalization_type", "d_vocab", "d_vocab_out", "n_ctx")
_NO_MLP = {"d_mlp", "act_fn"}  # an attention-only model has neither (its d_mlp is unused)


def _architecture_values(cfg: Any) -> dict[str, Any]:
    """``attn_only`` and the architecture settings of a model config that it uses."""
    attn_only = bool(getattr(cfg, "attn_only", False))
    return {"attn_only": attn_only, **{k: getattr(cfg, k) for k in _ARCHITECTURE
                                       if hasattr(cfg, k) and not (attn_only and k in _NO_MLP)}}


def _architecture(cfg: Any) -> str:
    values = _architecture_values(cfg)
    shown = [f"{k}={v}" for k, v in values.items() if k != "attn_only"]
    return ("attention only, " if values["attn_only"] else "") + ", ".join(shown)


def _family_json(fam: Family) -> dict[str, Any]:
    """A family as a ``--json`` object (see the module)."""
    trained = not fam.imported_by
    defaults = fam.resolve() if trained else {}
    architecture = None
    if trained:  # every key, null where the model has none: stable keys for a reader
        used = _architecture_values(fam.model_config(defaults))
        architecture = {k: used.get(k) for k in ("attn_only", *_ARCHITECTURE)}
    return {
        "name": fam.name, "title": fam.title, "description": fam.description,
        "params": [{"name": p.name, "type": p.type, "default": p.default, "minimum": p.minimum,
                    "maximum": p.maximum, "choices": list(p.choices), "identity": p.identity,
                    "description": p.description} for p in fam.params],
        "presets": {name: dict(preset) for name, preset in fam.presets.items()},
        "imported_by": fam.imported_by or None,
        "architecture": architecture,
        "training": dataclasses.asdict(fam.train_config(defaults)) if trained else None,
        "default_schedule": fam.default_schedule(defaults) if trained else None,
        "transition": fam.transition, "story": fam.story,
        "analyzers": [a.name for a in fam.analyzers],
        "cross_epoch": [a.name for a in fam.cross_epoch],
        "views": [v.name for v in fam.views]}


def _first_line(fn: Callable[..., Any]) -> str:
    return ((fn.__doc__ or fn.__name__).strip().splitlines() or [""])[0]


def cmd_families(args: argparse.Namespace) -> int:
    if args.json:
        print_json([_family_json(fam) for fam in families().values()])
        return 0
    for fam in families().values():
        defaults = fam.resolve()
        print(f"{fam.name}  ({fam.title})\n  {fam.description}\n")
        rows = [(p.name, p.type, p.default, p.describe_range() or "-",
                 "yes" if p.identity else "", p.description) for p in fam.params]
        print("  " + table(("parameter", "type", "default", "range", "names variant",
                           "description"), rows).replace("\n", "\n  "))
        for name, preset in fam.presets.items():
            shown = ", ".join(f"{k}={v}" for k, v in preset.items())
            print(f"\n  preset {name}: {shown}")
        if fam.imported_by:
            print(f"\n  imported, not trained: {fam.imported_by}")
            print(f"  analyzers: {', '.join(a.name for a in fam.analyzers)}")
            print(f"  cross-epoch: {', '.join(a.name for a in fam.cross_epoch)}")
            print(f"  views: {', '.join(v.name for v in fam.views)}\n")
            continue
        cfg = fam.model_config(defaults)
        arch = _architecture(cfg)
        training = fam.train_config(defaults)
        print(f"\n  architecture (defaults): {arch}")
        print(f"  training (defaults): {training}")
        print(f"  dataset: {_first_line(fam.dataset)}\n  probe: {_first_line(fam.probe)}")
        print(f"  default schedule: {fam.default_schedule(defaults)}")
        print(f"  analyzers: {', '.join(a.name for a in fam.analyzers) or '(none yet)'}")
        print(f"  cross-epoch: {', '.join(a.name for a in fam.cross_epoch) or '(none yet)'}")
        print(f"  views: {', '.join(v.name for v in fam.views) or '(none yet)'}\n")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``tdw families``."""
    p = sub.add_parser("families", help="list registered families, their parameters and presets")
    p.add_argument("--json", action="store_true", help="print JSON: a list of objects, one per "
                   "family")
    p.set_defaults(func=cmd_families)
