"""``tdw variants`` and ``tdw verify``: what the store holds, and whether it is intact.

``tdw variants --json`` prints a list of objects, each a variant's catalog record (``id``,
``family``, ``params``, ``schedule``, ``n_epochs``, ``state``, ``epochs_done``,
``final_train_acc``, ``final_test_acc``, ``final_train_loss``, ``final_test_loss``,
``created``, ``updated``: times in seconds since the epoch), its number of
``checkpoints``, its ``tags`` (a sorted list) and its ``note`` ("" if none: see ``tdw
tag`` and ``tdw note``). ``tdw variants ID --json`` prints one such object with, besides,
``checkpoint_epochs``, ``adaptive_epochs`` (those the adaptive schedule added),
``folder``, ``analysed`` (``{"artifacts": stored, "expected": made by the family's
analyzers}``), ``waiting`` (view -> what it still needs) and ``transition``
(``{"epoch", "confidence"}`` of the detected one, or null).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from tdw.cli.format import pct, print_json, table
from tdw.family.registry import get_family
from tdw.jobs import jobs as jobs_mod
from tdw.store import annotations
from tdw.store.annotations import Annotation
from tdw.store.records import VariantRecord
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
        notes = annotations.annotation(store.catalog, rec.id)
        if args.json:
            print_json({**_record(rec, len(cks), notes),
                        "checkpoint_epochs": [c.epoch for c in cks],
                        "adaptive_epochs": adaptive, "folder": str(store.path(rec.folder)),
                        **_analysis(store, rec.id, rec.family, len(cks))})
            return 0
        why = f" ({len(adaptive)} adaptive: {', '.join(map(str, adaptive))})" if adaptive else ""
        print(f"{rec.id}\n  state        {rec.state}\n  parameters   "
              + ", ".join(f"{k}={v}" for k, v in rec.params.items())
              + f"\n  schedule     {rec.schedule}\n  epochs       {rec.epochs_done}/{rec.n_epochs}"
              f"\n  final acc    train {pct(rec.final_train_acc)}, test "
              f"{pct(rec.final_test_acc)}\n  checkpoints  {len(cks)}{why}: "
              + ", ".join(str(c.epoch) for c in cks)
              + _analysis_lines(store, rec.id, rec.family, len(cks))
              + f"\n  tags         {', '.join(notes.tags) or '-'}"
              + ("\n  note         " + notes.note.replace("\n", "\n               ")
                 if notes.note else "")
              + f"\n  folder       {store.path(rec.folder)}")
        return 0
    counts = store.checkpoint_counts()
    variants = store.variants(args.family)
    if args.family and not variants:
        get_family(args.family)  # a typo'd name is named, not shown as an empty store
    notes = annotations.annotations(store.catalog)
    if args.tag:
        variants = [v for v in variants if args.tag in notes.get(v.id, Annotation()).tags]
    if args.json:
        print_json([_record(v, counts.get(v.id, 0), notes.get(v.id, Annotation()))
                    for v in variants])
        return 0
    rows = [(v.id, v.state, f"{v.epochs_done}/{v.n_epochs}", counts.get(v.id, 0),
             pct(v.final_train_acc), pct(v.final_test_acc),
             " ".join(notes.get(v.id, Annotation()).tags)) for v in variants]
    empty = (f"no variant is tagged {args.tag!r}; tag one with: tdw tag VARIANT {args.tag}"
             if args.tag else "no variants yet; train one with: tdw train FAMILY")
    print(table(("variant", "state", "epochs", "checkpoints", "train acc", "test acc", "tags"),
                rows) if rows else empty)
    return 0


def _record(rec: VariantRecord, checkpoints: int, notes: Annotation) -> dict[str, Any]:
    """A variant's catalog record, its number of checkpoints, tags and note, for ``--json``."""
    return {**dataclasses.asdict(rec), "checkpoints": checkpoints, "tags": list(notes.tags),
            "note": notes.note}


def _analysis(store: Store, vid: str, family: str, checkpoints: int) -> dict[str, Any]:
    """The ``analysed``, ``waiting`` and ``transition`` keys of ``tdw variants ID --json``;
    null where the family is not registered or there is no checkpoint to analyse."""
    from tdw.explore.variant import Variant
    from tdw.family.registry import families

    if families().get(family) is None or not checkpoints:
        return {"analysed": None, "waiting": None, "transition": None}
    variant = Variant(vid, store)
    have, expected = variant.analysed()
    turn = variant.transition()
    return {"analysed": {"artifacts": have, "expected": expected},
            "waiting": variant.waiting(),
            "transition": None if turn is None else {"epoch": turn[0], "confidence": turn[1]}}


def _analysis_lines(store: Store, vid: str, family: str, checkpoints: int) -> str:
    """The ``transition`` and ``analysed`` lines of ``tdw variants ID``."""
    from tdw.explore.variant import Variant
    from tdw.family.registry import families
    from tdw.library.story import story_lines

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
    elif (turn := variant.transition()) is None:
        transition = f"none detected ({fam.transition})"
    else:
        transition = f"epoch {turn[0]} (confidence {turn[1]:.2f}, {fam.transition})"
    story = ""
    if fam.story is not None:
        told = variant.story()
        lines = story_lines(told) if told else [f"not analysed yet ({fam.story})"]
        story = "\n  story        " + "\n               ".join(lines)
    return f"\n  transition   {transition}{story}\n  analysed     {analysed}"


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
    p.add_argument("--tag", help="list only the variants with this tag (see tdw tag)")
    p.add_argument("--json", action="store_true", help="print JSON: a list of objects, one "
                   "per variant (with ID, one object with its checkpoints and analysis)")
    p.set_defaults(func=cmd_variants)

    p = sub.add_parser("verify", help="re-hash checkpoints, probes and artifacts against the "
                       "catalog; list every mismatch with its path (exit 1 if any)")
    p.add_argument("variant", nargs="?", help="variant id or a unique prefix (default: all)")
    p.set_defaults(func=cmd_verify)
