"""``python -m benchmarks.docs``: the docs' measured figures, regenerated rather than remembered.

The figures of the docs that describe a run's result or a time (in README.md,
docs/getting_started.md and every family's README) sit in marked blocks
(``<!-- figures: NAME -->`` ... ``<!-- /figures -->``) whose text a template owns: those of
Modulo Addition's runs in :mod:`benchmarks._docs_templates`, each other family's in its
module (:mod:`benchmarks._docs_induction`, :mod:`benchmarks._docs_toy`,
:mod:`benchmarks._docs_series`), beside its figures.

``python -m benchmarks.docs`` trains the runs the figures come from (Modulo Addition's quick
preset, its seeds 1-3 and an adaptive schedule; the quick and control runs of Induction
Heads; Toy Operations' default and quick runs; and imports two local checkpoint series)
as ``tdw`` jobs into a temporary store, or
into ``--store DIR``, reusing what that store already holds; analyses them; computes every
figure; and rewrites each block in place, each file atomically, printing every change and
every time with the load average beside it. A time is rewritten only when this process
measured it (a reused run keeps the time its block already states).

``--check`` computes only the deterministic figures (accuracies, epochs, key frequencies,
counts, the story), the cheapest honest way: it trains the runs of :data:`CHECKED_RUNS`,
which are bitwise deterministic, analyses only the analyzers those figures read, and
counts artifacts from the family's analyzers and the checkpoints, without analysing.
Figures that need the LLC sampler or another run are checked with ``--full``. It exits 1,
naming the file, the block, the stale figure and the fix, when a block disagrees. Times
are never checked.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import benchmarks._docs_llc  # noqa: F401  (each registers its figures)
import benchmarks._docs_modulo  # noqa: F401
import benchmarks._docs_times  # noqa: F401
from benchmarks import _docs_induction, _docs_series, _docs_toy
from benchmarks._docs_blocks import Slot, Template, blocks, replace_blocks, write_atomic
from benchmarks._docs_figures import ALL, FIGURES, FigureError, NotMeasured
from benchmarks._docs_runs import RUNS, RunData, prepare, with_preset
from benchmarks._docs_templates import TEMPLATES as _QUICKSTART_TEMPLATES
from tdw.family.analyzer import CrossEpochAnalyzer
from tdw.family.family import analyzers_of
from tdw.family.registry import get_family

__all__ = ["main", "check", "rewrite", "select", "Finding", "DOCS", "REGENERATE"]

ROOT = Path(__file__).resolve().parent.parent
DOCS = ("README.md", "docs/getting_started.md", "families/*/README.md")
"""The files whose blocks the templates own (every block in them must have one)."""
TEMPLATES = (_QUICKSTART_TEMPLATES + _docs_induction.TEMPLATES + _docs_toy.TEMPLATES
             + _docs_series.TEMPLATES)
"""Every block's template: those of Modulo Addition's runs, then each other family's."""
REGENERATE = "python -m benchmarks.docs"
CHECKED_RUNS = ("quick", "ih_quick", "toy_quick", "series_tiny")
"""The runs a plain ``--check`` makes: the quick presets of Modulo Addition (about 4
minutes on two cores with the analyzers its figures read), Induction Heads (about 2) and
Toy Operations (under 1), and the tiny imported series (under half a minute), so the whole
check stays under 8. The seeds, the adaptive run, the control and default runs and the
Pythia-160M-shaped series need ``--full``."""
SAMPLERS = ("llc",)
"""Analyzers a plain ``--check`` does not run: the LLC's SGLD sampler is most of the
analysis time (4-5 s a checkpoint). Figures reading it, or anything built on it
(``phase_change``), need ``--full``."""


@dataclass(frozen=True)
class Finding:
    """Why a block is not what its template and the figures say."""

    file: str
    line: int
    block: str
    text: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: block '{self.block}': {self.text}"


@dataclass
class Plan:
    """What to compute: each run's analyzers, and the placeholders left out (``--check``
    without ``--full``)."""

    needs: dict[str, set[str]] = field(default_factory=dict)
    slots: list[tuple[Template, Slot]] = field(default_factory=list)
    skipped: list[tuple[Template, Slot]] = field(default_factory=list)


def doc_files(root: Path) -> list[Path]:
    return sorted({p for pattern in DOCS for p in root.glob(pattern)})


def unmatched(root: Path, templates: Sequence[Template] = TEMPLATES,
              files: Sequence[Path] | None = None) -> list[str]:
    """Blocks without a template and templates without a block, as messages (in ``files``,
    by default the :data:`DOCS`)."""
    owned = {(t.file, t.name) for t in templates}
    found = {(str(p.relative_to(root)), b.name) for p in (doc_files(root) if files is None
                                                          else files)
             for b in blocks(p.read_text(), str(p))}
    return ([f"{f}: block '{n}' has no template (benchmarks/_docs_templates.py, or the "
             "family's benchmarks/_docs_*.py)"
             for f, n in sorted(found - owned)] +
            [f"{f}: no block '{n}' for its template (add the markers around its text)"
             for f, n in sorted(owned - found)])


def select(root: Path, templates: Sequence[Template], names: Sequence[str] | None,
           files: Sequence[Path] | None = None) -> tuple[list[Template], list[str]]:
    """The templates of the blocks ``names`` (every one if None), and what is wrong: a
    block without a template or the reverse (:func:`unmatched`), an unknown name."""
    problems = unmatched(root, templates, files)
    chosen = [t for t in templates if not names or t.name in names]
    if names and len(chosen) != len(set(names)):
        problems.append(f"unknown block among {list(names)}")
    return chosen, problems


def _closure(family: str, names: Iterable[str]) -> set[str]:
    """``names`` with every analyzer the cross-epoch ones among them read."""
    known = analyzers_of(get_family(family))
    todo, seen = list(known if ALL in names else names), set()
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            spec = known[name]
            todo.extend(spec.inputs if isinstance(spec, CrossEpochAnalyzer) else ())
    return seen


def plan(templates: Sequence[Template], *, check: bool, full: bool) -> Plan:
    """The runs and analyzers the templates' figures need (see the module docstring)."""
    out = Plan()
    for template in templates:
        for slot in template.slots:
            fig = FIGURES.get(slot.name)
            if fig is None:
                raise FigureError(f"template {template.name!r}: no figure {slot.name!r}")
            if fig.measured != slot.measured:
                mark = "{~" if fig.measured else "{"
                raise FigureError(f"template {template.name!r}: write {slot.name} as "
                                  f"{mark}{slot.name}}}")
            if check and slot.measured:
                continue
            run = fig.run(slot.arg)
            needs = set(fig.needs)
            cheap = run in CHECKED_RUNS and not (_closure(RUNS[run].family, needs)
                                                 & set(SAMPLERS))
            if check and not full and not cheap:
                out.skipped.append((template, slot))
                continue
            out.needs.setdefault(run, set()).update(needs)
            out.slots.append((template, slot))
    return out


def compute(todo: Plan, runs: Mapping[str, RunData]) -> tuple[dict[str, str], list[str]]:
    """The value of each planned placeholder; errors as messages. A time this process did
    not measure is left out (a rewrite keeps what the block says)."""
    values, errors = {}, []
    for template, slot in todo.slots:
        if slot.key in values:
            continue
        fig = FIGURES[slot.name]
        try:
            values[slot.key] = fig.compute(runs[fig.run(slot.arg)], slot.arg)
        except NotMeasured:
            pass
        except (FigureError, KeyError, ValueError) as exc:
            errors.append(f"{template.file}, block '{template.name}': {slot.key}: {exc}")
    return values, errors


def _blocks_of(root: Path, templates: Sequence[Template]) -> dict[str, dict]:
    files: dict[str, dict] = {}
    for name in sorted({t.file for t in templates}):
        path = root / name
        files[name] = {b.name: b for b in blocks(path.read_text(), name)} if path.exists() else {}
    return files


def check(root: Path, values: Mapping[str, str],
          templates: Sequence[Template] = TEMPLATES) -> list[Finding]:
    """Every block of ``templates`` whose deterministic figures differ from ``values``
    (placeholder key -> text), or whose text outside the figures differs from its template."""
    findings = []
    for file, found in _blocks_of(root, templates).items():
        for template in (t for t in templates if t.file == file):
            block = found.get(template.name)
            if block is None:
                findings.append(Finding(file, 0, template.name, "missing (add its markers)"))
                continue
            says = template.occurrences(block.text)
            if says is None:
                findings.append(Finding(file, block.line, template.name,
                                        "its text differs from its template outside the "
                                        "figures (edited by hand?)"))
                continue
            stale = dict.fromkeys((key, value) for key, value in says if key in values
                                  and not key.startswith("~") and value != values[key])
            findings += [Finding(file, block.line, template.name, f"{{{key}}} reads "
                                 f"{value!r}, the run gives {values[key]!r}")
                         for key, value in stale]
    return findings


def rewrite(root: Path, values: Mapping[str, str],
            templates: Sequence[Template] = TEMPLATES) -> list[str]:
    """Render every block of ``templates`` from ``values``, keeping what a block says for a
    placeholder without a value (a time not measured here); write each changed file
    atomically. Returns one line per changed figure; raises before writing anything when a
    block lacks a value it cannot keep."""
    changes, texts = [], {}
    for file, found in _blocks_of(root, templates).items():
        contents = {}
        for template in (t for t in templates if t.file == file):
            block = found.get(template.name)
            if block is None:
                raise FigureError(f"{file}: no block '{template.name}' (add its markers)")
            says: dict[str, str] = {}
            for key, value in template.occurrences(block.text) or ():
                says.setdefault(key, value)  # the first, if a hand edit made two
            merged = {**says, **values}
            missing = [s.key for s in template.slots if s.key not in merged]
            if missing:
                raise FigureError(f"{file}, block '{template.name}': no value for "
                                  f"{', '.join(missing)} (its text no longer matches the "
                                  "template, and this run did not measure them)")
            contents[template.name] = template.render(merged)
            if not says and block.text != contents[template.name]:
                changes.append(f"{file} [{template.name}]: rewritten from its template")
            changes += [f"{file} [{template.name}] {s.key}: {says[s.key]} -> {merged[s.key]}"
                        for s in template.slots if s.key in says and says[s.key] != merged[s.key]]
        path = root / file
        text = path.read_text()
        new = replace_blocks(text, contents)
        if new != text:
            texts[path] = new
    for path, new in texts.items():
        write_atomic(path, new)
    return changes


def _times(run: RunData) -> list[str]:
    t = run.timings
    lines = []
    if "train" in t:
        lines.append(f"{run.name}: training job {t['train'].seconds:.0f} s, load average "
                     f"{t['train'].load_text()} ({t['train_epochs']:.1f} s of epochs, "
                     f"{t['ms_per_epoch']:.1f} ms/epoch)")
    if "analysis" in t:
        lines.append(f"{run.name}: analysis job {t['analysis'].seconds:.0f} s, load average "
                     f"{t['analysis'].load_text()} ({t['analysis_seconds']:.0f} s of "
                     f"analysis, {t['worker_per_checkpoint']:.2f} worker s per checkpoint)")
    return lines


def run_all(todo: Plan, store: Path, *, check: bool, preset: str | None,
            say: Callable[[str], None] = print) -> dict[str, RunData]:
    """Train and analyse every run ``todo`` needs (the quickstart's run in full, and
    timed, unless checking)."""
    runs = {}
    for name, needs in todo.needs.items():
        spec = with_preset(RUNS[name], preset)
        expanded = sorted(_closure(spec.family, needs)) if ALL in needs else sorted(needs)
        options = [f"--set {k}={v}" for k, v in spec.params]
        options += [f"--schedule {spec.schedule}"] if spec.schedule else []
        say(" ".join([f"== run {name}: {spec.family} --preset {spec.preset}", *options]))
        runs[name] = prepare(name, spec, store, expanded, full=spec.timed and not check,
                             say=say)
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=REGENERATE, description="Train the runs the docs' figures come from, and "
        "rewrite every figures block (with --check: compare the deterministic figures, "
        "write nothing). The blocks' templates are in benchmarks/_docs_templates.py and "
        "each family's benchmarks/_docs_*.py.")
    parser.add_argument("--check", action="store_true",
                        help="compare the deterministic figures with a fresh run; write nothing")
    parser.add_argument("--full", action="store_true",
                        help="with --check: also the figures of the LLC sampler and the "
                             "other runs (about 20 minutes)")
    parser.add_argument("--store", type=Path,
                        help="train and analyse here, reusing what it holds (default: a "
                             "temporary store)")
    parser.add_argument("--block", action="append", metavar="NAME",
                        help="only this block (repeatable)")
    parser.add_argument("--preset", help="train this preset instead of quick (tiny exercises "
                                         "the script in seconds; its figures differ)")
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="the repository whose docs are read and written")
    args = parser.parse_args(argv)
    if args.full and not args.check:
        parser.error("--full goes with --check (a rewrite computes every figure)")
    if args.preset and not args.check and args.root.resolve() == ROOT:
        parser.error("--preset would write another preset's figures into this repository's "
                     "docs: use it with --check, or with --root on a copy")
    templates, problems = select(args.root, TEMPLATES, args.block)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    todo = plan(templates, check=args.check, full=args.full)
    with tempfile.TemporaryDirectory(prefix="tdw-docs-") as scratch:
        store = args.store or Path(scratch)
        runs = run_all(todo, store, check=args.check, preset=args.preset)
        values, errors = compute(todo, runs)
    for run in runs.values():
        for line in _times(run):
            print(line)
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    if args.check:
        return _report_check(args.root, values, templates, todo)
    try:
        changes = rewrite(args.root, values, templates)
    except FigureError as exc:
        print(f"nothing written: {exc}", file=sys.stderr)
        return 1
    print("\n".join(changes) if changes else "every block is up to date")
    return 0


def _report_check(root: Path, values: Mapping[str, str], templates: Sequence[Template],
                  todo: Plan) -> int:
    findings = check(root, values, templates)
    skipped = sorted({s.key for _, s in todo.skipped})
    checked = len(values)
    if skipped:
        print(f"not checked without --full ({len(skipped)}: the LLC sampler and the other "
              f"runs): {', '.join(skipped)}")
    if findings:
        print("\n".join(map(str, findings)), file=sys.stderr)
        print(f"{len(findings)} stale; rewrite the blocks with: {REGENERATE}", file=sys.stderr)
        return 1
    print(f"{checked} figures in {len(templates)} blocks agree with the run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
