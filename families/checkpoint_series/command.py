"""``tdw import``: the family's own command, listed in ``FAMILY.commands``.

It checks and imports a series (:mod:`.importer`) with a progress bar; ``--analyze`` asks
the CLI to analyse the new variant right after, as ``tdw analyze`` would.
"""

from __future__ import annotations

import argparse
import sys

from tdw.errors import TdwError
from tdw.family.commands import Command, CommandResult
from tdw.store.store import Store

from .importer import AlreadyImported, ImportRequest, plan_import, run_import
from .probe import README

__all__ = ["COMMAND"]


def _int_list(text: str, option: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise TdwError(f"{option} {text!r}: write comma-separated integers, e.g. "
                       f"{option} 0,1000,2000") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``tdw import``."""
    parser.add_argument("source", nargs="+", help="a Hub model id or a folder (with "
                        "--revisions), or one directory per checkpoint")
    parser.add_argument("--probe", required=True, metavar="FILE.json",
                        help="prompt file: prompts, source prompts, answers, metric, head groups")
    parser.add_argument("--revisions", metavar="R1,R2,...",
                        help="Hub revisions (step1000,step2000) or subfolders of the one folder")
    parser.add_argument("--steps", metavar="S1,S2,...",
                        help="training step of each revision (default: read from names stepN)")
    parser.add_argument("--name", help="label of the series in the variant id (default: the "
                        "model's name); import a series again under another name to use "
                        "another prompt file")
    parser.add_argument("--dry-run", action="store_true", help="check everything, print the "
                        "plan, write nothing")
    parser.add_argument("--analyze", action="store_true", help="analyse the variant right after")


def run(args: argparse.Namespace, store: Store) -> CommandResult:
    """Plan the import (nothing is written unless every revision loads), then import."""
    # tqdm only when the command runs: loading the family (every registry user does) stays
    # light.
    from tqdm import tqdm

    request = ImportRequest(
        sources=tuple(args.source), probe=args.probe,
        revisions=tuple(r.strip() for r in (args.revisions or "").split(",") if r.strip()),
        steps=_int_list(args.steps or "", "--steps"), name=args.name or "")
    try:
        plan = plan_import(store, request)
    except AlreadyImported as exc:  # nothing to do is not a failure
        print(f"tdw: {exc}", file=sys.stderr)
        return CommandResult()
    print(f"importing {plan.describe()}")
    if args.dry_run:
        for rev in plan.revisions:
            print(f"  step {rev.step}: {rev.label}")
        return CommandResult()
    with tqdm(total=len(plan.revisions), unit="checkpoint", dynamic_ncols=True) as bar:
        result = run_import(store, plan, lambda done, total: bar.update(done - bar.n))
    print(result.summary())
    return CommandResult(analyze=(result.variant,) if args.analyze else ())


COMMAND = Command(
    name="import",
    help="import a pretrained causal LM's checkpoint series as a variant",
    add_arguments=add_arguments,
    run=run,
    description="Import the training checkpoints of a pretrained causal LM as one variant "
    "of the checkpoint_series family: Hugging Face Hub revisions of one model (Pythia "
    "publishes step0 ... step143000), revisions that are subfolders of one local folder, "
    "or one local save_pretrained directory per checkpoint. Each checkpoint is loaded "
    "with TransformerBridge.boot_transformers and stored (hashed) like a trained one; "
    f"its step is its 'epoch'. The probe is your prompt file (format: {README}). Nothing "
    "is written unless every revision loads.",
    epilog="examples:\n  tdw import EleutherAI/pythia-160m --revisions step1000,step2000,"
    "step4000 --probe decimals.json\n  tdw import ckpts/step* --probe decimals.json "
    "--analyze",
)
"""``tdw import``: a series of checkpoints becomes one variant of this family."""
