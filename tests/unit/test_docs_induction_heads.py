"""The figures of Induction Heads' README (``benchmarks._docs_induction``), from a fake run.

No training: a stand-in variant holds the artifacts the figures read, so each test checks
that a figure reads the right signal, checkpoint, head or position, and prints it as the
README writes it; and that the control, which has no jump, says so instead of failing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
if not (ROOT / "benchmarks").is_dir():
    pytest.skip("benchmarks/ is not in this checkout", allow_module_level=True)
sys.path.append(str(ROOT))

from docs_fakes import FakeArtifact  # noqa: E402
from docs_fakes import FakeVariant as FakeVariantBase  # noqa: E402

from benchmarks import docs  # noqa: E402
from benchmarks._docs_figures import FIGURES, FigureError  # noqa: E402
from benchmarks._docs_induction import TEMPLATES  # noqa: E402
from benchmarks._docs_runs import RUNS, RunData  # noqa: E402

HEADS = ["L0H0", "L0H1", "L1H0", "L1H1"]
SIGNALS = ["induction score", "in-context learning score", "Hessian top eigenvalue"]
EPOCHS = [0, 1, 2, 3, 4]


def FakeVariant(artifacts: dict) -> FakeVariantBase:  # noqa: N802  (stands in for a class)
    return FakeVariantBase(
        "induction_heads/fake", artifacts, EPOCHS, params={"n_ctx": 8, "d_vocab": 32},
        metrics={"test_loss": np.array([3.5, 3.4, 3.0, 2.6, 2.5]),
                 "train_loss": np.array([3.5, 3.3, 2.9, 2.5, 2.4])})


def _phase(detected: bool) -> FakeArtifact:
    jump = [1, 0, 0] if detected else [0, 0, 0]
    return FakeArtifact(
        {"detected": np.array(jump, np.uint8),
         "onset_epoch": np.array([1 if detected else -1, -1, -1]),
         "steepest_epoch": np.array([2 if detected else -1, -1, -1]),
         "end_epoch": np.array([3 if detected else -1, -1, -1])},
        {"signals": SIGNALS, "transition_epoch": 1 if detected else None,
         "confidence": 0.456 if detected else 0.0,
         "agreeing": ["induction score"] if detected else [],
         "summary": "phase change at epoch 1" if detected else "no phase change"})


def _artifacts(detected: bool = True) -> dict:
    out = {("phase_change", None): _phase(detected)}
    for e in EPOCHS:
        previous = np.array([0.1 + 0.1 * e, 0.05, 0.9, 0.2 + 0.1 * e], np.float32)
        induction = np.array([0.0, 0.0, 0.1 * e, 0.05], np.float32)
        best = int(np.argmax(induction))
        out[("head_scores", e)] = FakeArtifact(
            {"previous_token": previous, "induction": induction},
            {"heads": HEADS, "max_induction": float(induction[best]),
             "best_induction_head": HEADS[best]})
        out[("in_context_learning", e)] = FakeArtifact(
            {"repeated_loss": np.array([3.5, 3.4, 3.3, 3.6, 1.0, 0.2, 0.9, np.nan], np.float32),
             "random_loss": np.array([3.4, 3.5, 3.4, 3.5, 3.6, 3.7, 3.8, np.nan], np.float32)},
            {"icl_score": -0.5 * e})
        out[("hessian_spectrum", e)] = FakeArtifact({}, {"top_eigenvalue": [0.2, 3.0, 5.0,
                                                                            4.0, 4.5][e]})
    return out


def _value(name: str, arg: str | None = None, *, detected: bool = True) -> str:
    run = "ih_quick" if name.startswith("ih_") else "ih_control"
    data = RunData(run, RUNS[run], FakeVariant(_artifacts(detected)))
    return FIGURES[name].compute(data, arg)


def test_each_figure_is_registered_for_both_runs_and_every_placeholder_exists():
    assert FIGURES["ih_onset"].run(None) == "ih_quick"
    assert FIGURES["ihc_onset"].run(None) == "ih_control"
    assert FIGURES["ihc_train_job"].measured and not FIGURES["ihc_onset"].measured
    assert FIGURES["ih_cores"].run(None) == "ih_quick"  # never trains the quickstart's run
    assert set(TEMPLATES) <= set(docs.TEMPLATES)
    todo = docs.plan(TEMPLATES, check=False, full=False)
    assert set(todo.needs) == {"ih_quick", "ih_control"}


def test_epoch_arguments_name_the_ends_of_the_induction_jump():
    assert _value("ih_induction", "onset") == "0.10"
    assert _value("ih_induction", "top") == "0.30"
    assert _value("ih_induction", "end") == "0.40"
    assert _value("ih_icl", "2") == "-1.0"
    assert _value("ih_test_loss", "top") == "2.60"
    assert _value("ih_train_loss", "0") == "3.50"
    with pytest.raises(FigureError, match="not an epoch"):
        _value("ih_induction", "middle")
    with pytest.raises(FigureError, match="not a checkpoint"):
        _value("ih_induction", "7")


def test_the_jump_and_the_transition():
    assert _value("ih_onset") == "1"
    assert _value("ih_steepest", "induction_score") == "2"
    assert _value("ih_jump", "induction_score") == "1-3"
    assert _value("ih_confidence") == "0.46"
    assert _value("ih_agreeing") == "induction score"


def test_a_run_without_a_jump_says_none_and_refuses_jump_epochs():
    assert _value("ihc_onset", detected=False) == "none"
    assert _value("ihc_jump", "induction_score", detected=False) == "none"
    assert _value("ihc_agreeing", detected=False) == "none"
    assert _value("ihc_summary", detected=False) == "no phase change"
    with pytest.raises(FigureError, match="no induction-score jump"):
        _value("ihc_induction", "onset", detected=False)


def test_previous_token_heads_are_the_layer_0_heads_that_end_above_the_threshold():
    # L1H0 scores 0.9 but is in layer 1; L0H1 stays at 0.05; L0H0 ends at 0.5
    assert _value("ih_previous_heads") == "L0H0"
    assert _value("ih_previous", "onset") == "0.20"
    assert _value("ih_previous", "top") == "0.40"


def test_hessian_peak_and_loss_by_position():
    assert (_value("ih_hessian_peak"), _value("ih_hessian_peak_epoch")) == ("5.0", "2")
    assert _value("ih_first_copy_loss") == "3.40"  # positions 0..2 of n_ctx 8
    # the second copy's tokens 2..4 are predicted at positions 4..6
    assert [_value("ih_second_copy", t) for t in "234"] == ["1.00", "0.20", "0.90"]
    assert (_value("ih_second_copy_min"), _value("ih_second_copy_min_token")) == ("0.20", "3")
    with pytest.raises(FigureError, match="token 2..4"):
        _value("ih_second_copy", "5")
    assert (_value("ih_random_first_half"), _value("ih_random_second_half")) == ("3.45", "3.70")
    assert (_value("ih_uniform_loss"), _value("ih_random_vs_uniform")) == ("3.47", "above")
