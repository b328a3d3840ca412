"""``tdw variants`` and ``tdw verify``: what the store holds, and whether it is intact."""

from __future__ import annotations

import argparse
import sys

from tdw.cli.format import pct, table
from tdw.family.registry import get_family
from tdw.jobs import jobs as jobs_mod
from tdw.store.store import Store

__all__ = ["add_parser"]


def cmd_variants(args: argparse.Namespace) -> int:
    store = Store(args.store)
    jobs_mod.reconcile(store)
    if args.id:
        rec = store.variant(args.id)
        cks = store.checkpoints(rec.id)
        plan = store.load_schedule_record(rec.id)
        adaptive = [e for e, r in zip(plan.epochs, plan.reasons, strict=True)
                    if r == "adaptive"] if plan else []
        why = f" ({len(adaptive)} adaptive: {', '.join(map(str, adaptive))})" if adaptive else ""
        print(f"{rec.id}\n  state        {rec.state}\n  parameters   "
              + ", ".join(f"{k}={v}" for k, v in rec.params.items())
              + f"\n  schedule     {rec.schedule}\n  epochs       {rec.epochs_done}/{rec.n_epochs}"
              f"\n  final acc    train {pct(rec.final_train_acc)}, test "
              f"{pct(rec.final_test_acc)}\n  checkpoints  {len(cks)}{why}: "
              + ", ".join(str(c.epoch) for c in cks)
              + _analysis_lines(store, rec.id, rec.family, len(cks))
              + f"\n  folder       {store.path(rec.folder)}")
        return 0
    counts = store.checkpoint_counts()
    variants = store.variants(args.family)
    if args.family and not variants:
        get_family(args.family)  # a typo'd name is named, not shown as an empty store
    rows = [(v.id, v.state, f"{v.epochs_done}/{v.n_epochs}", counts.get(v.id, 0),
             pct(v.final_train_acc), pct(v.final_test_acc)) for v in variants]
    print(table(("variant", "state", "epochs", "checkpoints", "train acc", "test acc"), rows)
          if rows else "no variants yet; train one with: tdw train FAMILY")
    return 0


def _analysis_lines(store: Store, vid: str, family: str, checkpoints: int) -> str:
    """The ``transition`` and ``analysed`` lines of ``tdw variants ID``."""
    from tdw.explore.variant import Variant
    from tdw.family.registry import families

    fam = families().get(family)
    if fam is None or not checkpoints:
        return ""
    variant = Variant(vid, store)
    have, expected = variant.analysed()
    waiting = variant.waiting()
    analysed = (f"{have:,} of {expected:,} artifacts ({pct(min(have / expected, 1.0))})"
                if expected else "nothing to analyse")
    if waiting:
        analysed += (f"; {len(waiting)} of {len(fam.views)} views wait "
                     f"(tdw analyze {vid})")
    if fam.transition is None:
        transition = f"none marked by {fam.name}"
    elif -1 not in store.artifact_epochs(vid).get(fam.transition, set()):
        transition = f"not analysed yet ({fam.transition})"
    elif (turn := variant.turn()) is None:
        transition = f"none detected ({fam.transition})"
    else:
        transition = f"epoch {turn[0]} (confidence {turn[1]:.2f}, {fam.transition})"
    return f"\n  transition   {transition}\n  analysed     {analysed}"


def cmd_verify(args: argparse.Namespace) -> int:
    from tdw.store.verify import verify

    report = verify(Store(args.store), args.variant)
    print(report.summary(), file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``tdw variants`` and ``tdw verify``."""
    p = sub.add_parser("variants", help="list variants, or show one")
    p.add_argument("id", nargs="?", help="variant id (a unique prefix of its name is enough)")
    p.add_argument("--family", help="list only this family's variants")
    p.set_defaults(func=cmd_variants)

    p = sub.add_parser("verify", help="re-hash checkpoints, probes and artifacts against the "
                       "catalog; list every mismatch with its path (exit 1 if any)")
    p.add_argument("variant", nargs="?", help="variant id or a unique prefix (default: all)")
    p.set_defaults(func=cmd_verify)
