"""The docs' measured figures come from ``python -m benchmarks.docs`` (issue 21, part 1).

Fast checks of the machinery, with no training: the marked blocks parse; every block in
the docs has a template and every template a block; every block's text matches its
template outside the figures; every placeholder names a registered figure; a plain
``--check`` trains only the quick preset and never runs the LLC sampler; a deliberately
stale figure in a copy of a doc fails the check with a message that names the file, the
block, the figure and the fix; a rewrite changes only the inside of blocks, keeps times it
did not measure, and replaces each file atomically. The real check against a fresh quick
run is ``tests/integration/test_docs_check.py`` (slow).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if not (ROOT / "benchmarks").is_dir():
    pytest.skip("benchmarks/ is not in this checkout", allow_module_level=True)
sys.path.append(str(ROOT))

from benchmarks import docs  # noqa: E402
from benchmarks._docs_blocks import (  # noqa: E402
    BlockError,
    Template,
    blocks,
    replace_blocks,
    write_atomic,
)
from benchmarks._docs_figures import listing, minutes, num, span  # noqa: E402
from benchmarks._docs_runs import ANALYSED, TRAINED, LoadWatch, Timed  # noqa: E402

QUICK = "README.md"


def _copy_docs(tmp_path: Path) -> Path:
    for path in docs.doc_files(ROOT):
        target = tmp_path / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    return tmp_path


def _stated(root: Path) -> dict[str, str]:
    """Every value the blocks under ``root`` state, by placeholder key."""
    values: dict[str, str] = {}
    for template in docs.TEMPLATES:
        found = {b.name: b for b in blocks((root / template.file).read_text())}
        values.update(template.read(found[template.name].text))
    return values


def _outside(text: str) -> str:
    """``text`` with every block's body emptied (markers kept)."""
    return replace_blocks(text, {b.name: "" for b in blocks(text)})


# ------------------------------------------------------------------- blocks, templates

def test_blocks_are_found_with_their_lines():
    text = "intro\n<!-- figures: a -->\nx {1}\ny\n<!-- /figures -->\nmid\n" \
           "<!-- figures: b_2 -->\n<!-- /figures -->\n"
    found = blocks(text)
    assert [(b.name, b.text, b.line) for b in found] == [("a", "x {1}\ny", 3), ("b_2", "", 8)]
    assert replace_blocks(text, {"a": "new"}) == text.replace("x {1}\ny", "new")


@pytest.mark.parametrize("text, message", [
    ("<!-- figures: a -->\nx\n", "never closed"),
    ("<!-- figures: a -->\n<!-- figures: b -->\n<!-- /figures -->\n", "nested"),
    ("x\n<!-- /figures -->\n", "stray"),
    ("<!-- figures: a -->\n<!-- /figures -->\n<!-- figures: a -->\n<!-- /figures -->\n",
     "appears twice"),
    ("<!-- figures: Bad Name -->\n<!-- /figures -->\n", "malformed"),
])
def test_malformed_markers_are_refused(text, message):
    with pytest.raises(BlockError, match=message):
        blocks(text, "doc.md")


def test_a_template_renders_and_reads_back_its_values():
    t = Template("x.md", "t", "at epoch {transition} ({transition_confidence}), {~train_job} "
                              "as a job; {keys@end} at the end; again {transition}.")
    assert [s.key for s in t.slots] == ["transition", "transition_confidence", "~train_job",
                                        "keys@end"]
    values = {"transition": "961", "transition_confidence": "0.38", "~train_job": "2 min 36 s",
              "keys@end": "9, 10 and 11"}
    text = t.render(values)
    assert text == ("at epoch 961 (0.38), 2 min 36 s as a job; 9, 10 and 11 at the end; "
                    "again 961.")
    assert t.read(text) == values
    assert t.read(text.replace("as a job", "in a job")) is None  # prose edited
    assert t.read(text.replace("again 961", "again 962")) is None  # one figure, two values
    with pytest.raises(KeyError, match="transition_confidence"):
        t.render({"transition": "1"})


@pytest.mark.parametrize("text, message", [
    ("a {b} {c", "brace outside"),
    ("{a}{b}", "nothing between"),
    ("{a} and {~a}", "both measured and deterministic"),
])
def test_malformed_templates_are_refused(text, message):
    with pytest.raises(BlockError, match=message):
        Template("x.md", "t", text)


# -------------------------------------------------------------- the docs and the script

def test_every_block_has_a_template_and_every_template_a_block():
    assert docs.unmatched(ROOT) == []
    names = [t.name for t in docs.TEMPLATES]
    assert len(names) == len(set(names))


def test_every_block_matches_its_template_outside_the_figures():
    for template in docs.TEMPLATES:
        found = {b.name: b for b in blocks((ROOT / template.file).read_text())}
        block = found[template.name]
        assert template.read(block.text) is not None, (
            f"{template.file}:{block.line}: block '{template.name}' differs from its "
            "template in benchmarks/_docs_templates.py outside the figures; change the "
            f"template, or rewrite the block with: {docs.REGENERATE}")


def test_every_placeholder_names_a_figure_marked_as_the_figure_is():
    todo = docs.plan(docs.TEMPLATES, check=False, full=False)
    assert len(todo.slots) == sum(len(t.slots) for t in docs.TEMPLATES)
    assert {"quick", "quick_ms1", "quick_adaptive"} <= set(todo.needs)


def test_a_plain_check_trains_the_quick_presets_alone_and_skips_the_sampler():
    todo = docs.plan(docs.TEMPLATES, check=True, full=False)
    assert set(todo.needs) == {"quick", "ih_quick", "toy_quick", "series_tiny"}
    for run, needs in todo.needs.items():
        assert not docs._closure(docs.RUNS[run].family, needs) & set(docs.SAMPLERS)
    checked = {s.key for _, s in todo.slots}
    assert {"generalised", "transition", "keys@end", "artifacts", "story_label"} <= checked
    assert not any(key.startswith("~") for key in checked)  # times are never checked
    skipped = {s.key for _, s in todo.skipped}
    assert {"llc@150", "phase_onset", "story_brief@1",
            "window_checkpoints@quick_adaptive"} <= skipped
    full = docs.plan(docs.TEMPLATES, check=True, full=True)
    assert not full.skipped and "llc" in full.needs["quick"]


def test_the_docs_pass_a_check_against_the_values_they_state(tmp_path):
    root = _copy_docs(tmp_path)
    assert docs.check(root, _stated(root)) == []


def test_a_stale_line_fails_the_check_naming_file_block_figure_and_fix(tmp_path, capsys):
    root = _copy_docs(tmp_path)
    values = _stated(root)
    readme = root / QUICK
    text = readme.read_text()
    line = next(x for x in text.splitlines() if "passes 95% only at epoch" in x)
    readme.write_text(text.replace(line, line.replace(values["generalised"], "1,590")))
    findings = docs.check(root, values)
    assert len(findings) == 1
    message = str(findings[0])
    assert message.startswith("README.md:") and "block 'quick_preset'" in message
    assert "{generalised} reads '1,590'" in message and repr(values["generalised"]) in message
    todo = docs.plan([t for t in docs.TEMPLATES if t.file == QUICK], check=True, full=False)
    assert docs._report_check(root, values, docs.TEMPLATES, todo) == 1
    err = capsys.readouterr().err
    assert "README.md:" in err and "quick_preset" in err and docs.REGENERATE in err


def test_the_check_ignores_times_and_catches_edited_prose(tmp_path):
    root = _copy_docs(tmp_path)
    values = _stated(root)
    readme = root / QUICK
    text = readme.read_text()
    readme.write_text(text.replace(f"The job took {values['~train_job']} end",
                                   "The job took 9 min 59 s end"))
    assert docs.check(root, values) == []
    readme.write_text(text.replace("real grokking", "true grokking"))
    (finding,) = docs.check(root, values)
    assert finding.block == "quick_preset" and "outside the figures" in finding.text


def test_a_rewrite_changes_only_the_blocks_and_keeps_unmeasured_times(tmp_path):
    root = _copy_docs(tmp_path)
    before = {p: p.read_text() for p in docs.doc_files(root)}
    values = {k: v for k, v in _stated(root).items() if not k.startswith("~")}
    fresh = {**values, "generalised": "1,590", "~train_job": "2 min 41 s"}
    changes = docs.rewrite(root, fresh)
    assert f"README.md [quick_preset] generalised: {values['generalised']} -> 1,590" in changes
    after = {p: p.read_text() for p in docs.doc_files(root)}
    for path, text in before.items():
        assert _outside(after[path]) == _outside(text), path
    stated = _stated(root)
    assert stated["generalised"] == "1,590" and stated["~train_job"] == "2 min 41 s"
    assert stated["~analysis_job"] == _stated(ROOT)["~analysis_job"]  # kept, not measured
    assert docs.rewrite(root, fresh) == []  # a second rewrite changes nothing


def test_a_rewrite_that_cannot_fill_a_block_writes_nothing(tmp_path):
    root = _copy_docs(tmp_path)
    values = {k: v for k, v in _stated(root).items() if not k.startswith("~")}
    guide = root / "docs/getting_started.md"
    guide.write_text(guide.read_text().replace("as a job, load average", "as a job, load"))
    before = {p: p.read_text() for p in docs.doc_files(root)}
    with pytest.raises(docs.FigureError, match="guide_quickstart_table"):
        docs.rewrite(root, {**values, "generalised": "1,590"})
    assert {p: p.read_text() for p in docs.doc_files(root)} == before


def test_files_are_replaced_atomically(tmp_path, monkeypatch):
    doc = tmp_path / "doc.md"
    doc.write_text("old\n")
    os.chmod(doc, 0o640)

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(doc, "new\n")
    assert doc.read_text() == "old\n" and sorted(tmp_path.iterdir()) == [doc]
    monkeypatch.undo()
    write_atomic(doc, "new\n")
    assert doc.read_text() == "new\n" and (doc.stat().st_mode & 0o777) == 0o640
    assert sorted(tmp_path.iterdir()) == [doc]


# ------------------------------------------------------- formats, loads, summary lines

def test_figures_print_as_the_docs_write_them():
    assert [num(x) for x in (6.94e-7, 4.2e-8, 0.0027, 0.19, 5.96, 47.32, 139.9)] == \
        ["6.9e-7", "4.2e-8", "0.0027", "0.19", "6.0", "47.3", "140"]
    assert listing([9, 10, 11]) == "9, 10 and 11" and listing([]) == "none"
    assert span(1170, 2450) == "1,170-2,450"
    assert minutes(156.2) == "2 min 36 s" and minutes(29) == "29 s"
    assert Timed(1.0, (1.94, 2.31)).load_text() == "1.9-2.3"
    assert Timed(1.0, (2.0, 2.04)).load_text() == "2.0"


def test_the_load_average_is_sampled_while_a_step_runs():
    with LoadWatch(every=0.01) as watch:
        time.sleep(0.05)
    timed = watch.timed()
    assert len(watch.samples) >= 3 and timed.seconds >= 0.05
    assert timed.load[0] <= timed.load[1]


def test_the_job_summaries_the_script_reads_still_have_its_format():
    from tdw.analysis.engine import AnalysisReport
    from tdw.training.run import TrainResult

    trained = TrainResult("v", 2500, 0, 95, 147.4, {"train_acc": 1.0, "test_acc": 1.0,
                                                   "test_loss": 6.9e-7})
    match = TRAINED.search(trained.summary())
    assert match and match.groups() == ("147.4", "59.0")
    report = AnalysisReport("v", 1626, 95, 291.0, 5.77, {"llc": 450.12, "flatness": 65.3})
    match = ANALYSED.search(report.summary())
    assert match and match.group(1) == "291.0" and match.group(2) == "5.77"
    assert match.group(3) == "llc 450.12s, flatness 65.30s"
