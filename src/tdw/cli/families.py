"""``tdw families``: what the registered families declare (their views: :mod:`.views`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from tdw.cli.format import table
from tdw.family.registry import families

__all__ = ["add_parser"]

_ARCHITECTURE = ("n_layers", "d_model", "n_heads", "d_head", "d_mlp", "act_fn",
                 "normalization_type", "d_vocab", "d_vocab_out", "n_ctx")
_NO_MLP = {"d_mlp", "act_fn"}  # an attention-only model has neither (its d_mlp is unused)


def _architecture(cfg: Any) -> str:
    attn_only = bool(getattr(cfg, "attn_only", False))
    shown = [f"{k}={getattr(cfg, k)}" for k in _ARCHITECTURE
             if hasattr(cfg, k) and not (attn_only and k in _NO_MLP)]
    return ("attention only, " if attn_only else "") + ", ".join(shown)


def _first_line(fn: Callable[..., Any]) -> str:
    return ((fn.__doc__ or fn.__name__).strip().splitlines() or [""])[0]


def cmd_families(args: argparse.Namespace) -> int:
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
    p.set_defaults(func=cmd_families)
