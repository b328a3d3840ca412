"""``python -m benchmarks.reproductions``: docs/reproductions.md, regenerated from real runs.

The report sets tdw's canonical runs against the papers and the study they follow. Its
figures sit in marked blocks whose templates are in :mod:`benchmarks._docs_repro_templates`
(the same machinery as ``python -m benchmarks.docs``, :mod:`benchmarks.docs`); its plots are
exported with ``tdw export`` from the same runs.

The runs are trained as ``tdw`` jobs into ``--store DIR`` unless it holds them, and analysed
as far as the figures need. Modulo Addition's canonical variant trains for 25,000 epochs
(about an hour and a quarter per recipe on two cores), so keep the store: a later run of
this script reuses it. ``--check`` compares the deterministic figures of the blocks with the
runs in the store and writes nothing (exit 1 naming each stale figure).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import docs
from benchmarks._docs_figures import FigureError
from benchmarks._docs_repro_templates import REPORT, TEMPLATES
from benchmarks._docs_runs import RUNS, RunData
from tdw.family.family import variant_id
from tdw.family.registry import get_family
from tdw.store.store import Store

__all__ = ["main", "IMAGES", "export_images", "missing_runs"]

IMAGES = ("progress_measures", "dominant_frequencies")
"""The views exported for each canonical run (at its last checkpoint), as
``docs/images/repro_{run}_{view}.png``."""
CANONICAL = ("canonical", "canonical_tdw")


def image_paths(root: Path, names) -> list[Path]:
    """Where the plots of the canonical runs among ``names`` go."""
    return [root / "docs" / "images" / f"repro_{name}_{view}.png"
            for name in CANONICAL if name in names for view in IMAGES]


def export_images(folder: Path, runs: dict[str, RunData]) -> list[Path]:
    """Export :data:`IMAGES` of each canonical run in ``runs`` into ``folder`` with
    ``tdw export``, as the report names them; the files written."""
    written = []
    for name in (n for n in CANONICAL if n in runs):
        variant = runs[name].variant
        for view in IMAGES:
            out = folder / f"repro_{name}_{view}.png"
            command = [sys.executable, "-m", "tdw.cli", "--store", str(variant.store.root),
                       "export", variant.id, str(out), "--view", view]
            if subprocess.run(command, check=False).returncode != 0:
                raise FigureError(f"`tdw export {variant.id} {out.name} --view {view}` failed")
            written.append(out)
    return written


def missing_runs(store: Path, names) -> list[str]:
    """The runs among ``names`` that ``store`` does not hold trained (``--check`` never
    trains), as messages."""
    problems = []
    for name in names:
        spec = RUNS[name]
        fam = get_family(spec.family)
        vid = variant_id(fam, fam.resolve(dict(spec.params), preset=spec.preset or None))
        folder = store / spec.folder
        known = ({v.id: v.state for v in Store(folder).variants(fam.name)}
                 if (folder / "catalog.sqlite").exists() else {})  # no store made to look
        if known.get(vid) != "trained":
            state = known.get(vid, "absent")
            problems.append(f"run {name} ({vid}) is {state} in {store}: train it first "
                            f"(python -m benchmarks.reproductions --store {store})")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.reproductions", description="Train (unless the store "
        "holds them) and analyse the runs docs/reproductions.md reports, export its plots and "
        "rewrite its figures blocks (with --check: compare, write nothing).")
    parser.add_argument("--store", type=Path, required=True,
                        help="train and analyse here, reusing what it holds (the canonical "
                             "runs take about an hour and a quarter each)")
    parser.add_argument("--check", action="store_true",
                        help="compare the deterministic figures with the runs the store "
                             "holds (never trains); write nothing")
    parser.add_argument("--block", action="append", metavar="NAME",
                        help="only this block (repeatable)")
    parser.add_argument("--root", type=Path, default=docs.ROOT,
                        help="the repository whose report is read and written")
    args = parser.parse_args(argv)
    templates, problems = docs.select(args.root, TEMPLATES, args.block,
                                      files=[args.root / REPORT])
    todo = docs.plan(templates, check=args.check, full=True) if not problems else None
    if todo is not None and args.check:
        problems += missing_runs(args.store, todo.needs)
        problems += [f"{path.relative_to(args.root)} is missing: rewrite the report"
                     for path in image_paths(args.root, todo.needs) if not path.exists()]
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    runs = docs.run_all(todo, args.store, check=args.check, preset=None)
    values, errors = docs.compute(todo, runs)
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    if args.check:
        findings = docs.check(args.root, values, templates)
        if findings:
            print("\n".join(map(str, findings)), file=sys.stderr)
            print(f"{len(findings)} stale; rewrite the report with: python -m "
                  f"benchmarks.reproductions --store {args.store}", file=sys.stderr)
            return 1
        print(f"{len(values)} figures in {len(templates)} blocks agree with the runs")
        return 0
    with tempfile.TemporaryDirectory(prefix="tdw-repro-") as scratch:
        try:  # the plots first, into scratch: nothing is written unless every step works
            images = export_images(Path(scratch), runs)
            changes = docs.rewrite(args.root, values, templates)
        except FigureError as exc:
            print(f"report not rewritten: {exc}", file=sys.stderr)
            return 1
        for image in images:
            os.replace(image, args.root / "docs" / "images" / image.name)
    print("\n".join([*(f"exported docs/images/{image.name}" for image in images),
                     *(changes or ["every block is up to date"])]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
