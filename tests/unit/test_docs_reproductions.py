"""docs/reproductions.md (issue 23, part 3): the rules that date Nanda et al.'s phases on
planted curves, the report's figures read from a fake canonical run, and the report's
blocks against their templates. No training: the real runs are 25,000 epochs each
(``python -m benchmarks.reproductions --store DIR``)."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
if not (ROOT / "benchmarks").is_dir():
    pytest.skip("benchmarks/ is not in this checkout", allow_module_level=True)
sys.path.append(str(ROOT))

from docs_fakes import FakeArtifact, FakeVariant  # noqa: E402

from benchmarks import _docs_repro, docs  # noqa: E402
from benchmarks._docs_blocks import blocks  # noqa: E402
from benchmarks._docs_figures import FIGURES, FigureError  # noqa: E402
from benchmarks._docs_repro import fall_points, phases  # noqa: E402
from benchmarks._docs_repro_templates import REPORT, TEMPLATES  # noqa: E402
from benchmarks._docs_runs import RUNS, RunData  # noqa: E402
from tdw.library.transition import detect_transition  # noqa: E402

N = 20_000


def _grokking(start: int, end: int, decades: float = 6.0) -> np.ndarray:
    """A test loss at 10 that falls ``decades`` decades, linearly in log, over start-end."""
    t = np.clip((np.arange(N + 1) - start) / (end - start), 0, 1)
    return 10.0 * 10.0 ** (-decades * t)


def _excluded(epochs: np.ndarray, lowest: int) -> np.ndarray:
    """Falls to 0.5 at ``lowest`` (memorisation), then rises (circuit formation)."""
    return np.where(epochs <= lowest, 4.7 - 4.2 * epochs / lowest,
                    0.5 + 8 * (epochs - lowest) / N)


def _accuracy(start: int, end: int) -> np.ndarray:
    return np.clip((np.arange(N + 1) - start) / (end - start), 0, 1)


def test_the_phases_are_the_excluded_minimum_the_transition_and_99_percent():
    epochs = np.arange(0, N + 1, 100)
    loss = _grokking(9000, 14000)
    found = phases(epochs, _excluded(epochs, 1400), loss, _accuracy(9000, 13000))
    assert found.memorisation == 1400
    assert found.circuit == detect_transition(loss).transition_epoch
    assert abs(found.circuit - 9000) <= 300
    assert found.cleanup == 9000 + int(np.ceil(0.99 * 4000))


def test_no_phase_moves_when_the_run_trains_on_after_generalising():
    epochs = np.arange(0, N + 1, 100)
    short = _grokking(9000, 14000)[:15_001]
    longer = _grokking(9000, 14000).copy()
    longer[14_000:] *= 10.0 ** (-np.arange(N + 1 - 14_000) / 2000)  # weight decay slides on
    acc = _accuracy(9000, 13000)
    first = phases(epochs[epochs <= 15_000], _excluded(epochs, 1400)[epochs <= 15_000], short,
                   acc[:15_001])
    assert phases(epochs, _excluded(epochs, 1400), longer, acc).cleanup == first.cleanup
    assert phases(epochs, _excluded(epochs, 1400), longer, acc).memorisation == 1400


def test_memorisation_ends_before_clean_up_even_if_the_excluded_loss_dips_later():
    epochs = np.arange(0, N + 1, 100)
    excluded = _excluded(epochs, 1400)
    excluded[epochs >= 15000] = 0.01  # a later fall does not count
    found = phases(epochs, excluded, _grokking(9000, 14000), _accuracy(9000, 13000))
    assert found.memorisation == 1400


@pytest.mark.parametrize("loss, acc, message", [
    (np.full(N + 1, 10.0), _accuracy(9000, 13000), "no transition"),
    (_grokking(9000, 14000), _accuracy(9000, 13000) * 0.9, "never reaches 99%"),
])
def test_a_run_without_clean_up_has_no_phases_and_says_why(loss, acc, message):
    epochs = np.arange(0, N + 1, 100)
    with pytest.raises(FigureError, match=message):
        phases(epochs, _excluded(epochs, 1400), loss, acc)


def test_a_loss_is_dated_in_decades_between_two_epochs_from_checkpoints():
    epochs = np.array([0, 1000, 2000, 4000, 6000, 8000, 10_000, 12_000, 20_000])
    dense = _grokking(6000, 10_000)  # six decades, linear in log between checkpoints
    assert fall_points(epochs, dense[epochs], 2000, 12_000) == pytest.approx((6400, 9600), abs=1)
    assert fall_points(np.arange(N + 1), dense, 2000, 12_000, (0.5,)) == pytest.approx((8000,),
                                                                                       abs=1)
    with pytest.raises(FigureError, match="does not fall between epochs 0 and 4,000"):
        fall_points(epochs, dense[epochs], 0, 4000)


# --------------------------------------------------------------- figures of a fake run

def _canonical(keys=(14, 35, 41)) -> RunData:
    epochs = [int(e) for e in range(0, N + 1, 500)]
    excluded = _excluded(np.asarray(epochs), 1500)
    loss = _grokking(9000, 14000)
    norms = np.zeros(56)
    norms[[13, 34, 40]] = [3.0, 2.0, 1.0]  # frequencies 14, 35, 41
    norms[0] = 0.5  # frequency 1: 0.25 of the 14.25 squared
    artifacts = {("progress_measures", e): FakeArtifact({}, {
        "excluded_loss": x, "restricted_loss": float(loss[e]) / 2, "test_loss": float(loss[e])})
        for e, x in zip(epochs, excluded, strict=True)}
    artifacts[("dominant_frequencies", N)] = FakeArtifact(
        {"norms": norms}, {"key_frequencies": list(keys), "key_share": 14 / 14.25})
    counts = np.zeros(56, dtype=int)
    counts[[13, 34]] = [120, 80]
    artifacts[("neuron_freq_clusters", N)] = FakeArtifact({"specialised_count": counts}, {})
    return RunData("canonical", RUNS["canonical"], FakeVariant(
        "modulo_addition_1l/fake", artifacts, epochs,
        metrics={"test_loss": loss, "test_acc": _accuracy(9000, 14000),
                 "train_acc": np.ones(N + 1)},
        final_test_acc=1.0, final_test_loss=float(loss[-1])))


def _value(name: str, run: RunData, arg: str | None = None) -> str:
    return FIGURES[name].compute(run, arg)


def test_the_report_figures_read_the_run_as_the_report_prints_them():
    run = _canonical()
    assert _value("cm_phase", run, "memorisation") == "1,500"
    assert _value("cm_paper_ratio", run, "memorisation") == "1.07x"
    assert _value("cm_phase", run, "cleanup") == "13,950"  # 99% of 9,000-14,000
    assert _value("cm_test_acc_at", run, "cleanup") == "99%"
    assert _value("cm_reach", run, "test50") == "11,500"
    assert _value("cm_reach", run, "train99") == "0"
    assert _value("cm_keys", run) == "14, 35 and 41"
    assert _value("cm_key_count", run) == "3"
    assert _value("cm_next_share", run) == "1.8%"
    assert _value("cm_neuron_keys", run) == "120 in frequency 14 and 80 in 35"
    assert _value("cm_excluded", run, "memorisation") == "0.5"
    assert _value("cm_checkpoints", run) == "41"
    assert _value("ct_phase", run, "circuit") == _value("cm_phase", run, "circuit")
    # the restricted loss is half the test loss here, so both fall alike
    assert _value("cm_fall", run, "restricted.10") == _value("cm_fall", run, "test.10")
    # flat until 9,000, then 6 decades to 14,000: 5.94 by 13,950 per epoch, 5.4 by the
    # restricted loss's last checkpoint before it (13,500)
    assert _value("cm_decades", run, "test.cleanup") == "5.9"
    assert _value("cm_decades", run, "restricted.cleanup") == "5.4"
    assert _value("cm_decades", run, "test.memorisation") == "0.0"


@pytest.mark.parametrize("name, arg, message", [
    ("cm_phase", "grokking", "not a phase"),
    ("cm_reach", "val50", "train|test"),
    ("cm_fall", "restricted.50", "restricted|test and 10|90"),
    ("cm_fall", "train.10", "restricted|test and 10|90"),
    ("cm_decades", "train.circuit", "restricted|test and a phase"),
    ("cm_decades", "test.grokking", "not a phase"),
])
def test_a_bad_argument_is_named(name, arg, message):
    with pytest.raises(FigureError, match=message):
        _value(name, _canonical(), arg)


def test_with_every_frequency_key_there_is_no_next_one_and_it_says_so():
    with pytest.raises(FigureError, match="every frequency is key"):
        _value("cm_next_share", _canonical(keys=range(1, 57)))


def _job(id_: int, kind: str, finished: float, **params) -> SimpleNamespace:
    return SimpleNamespace(id=id_, kind=kind, state="succeeded", params=params,
                           started=finished - 100.0 * id_, finished=finished)


def test_costs_come_from_whole_jobs_not_resumed_or_partial_ones(monkeypatch):
    records = [_job(1, "train", 10_000.0), _job(2, "train", 20_000.0),
               _job(3, "analyze", 30_000.0, analyzers=""),
               _job(4, "analyze", 40_000.0, analyzers="llc")]
    logs = {1: ["v: epochs 0->25000 in 4400.0 s (176.0 ms/epoch), 95 checkpoints written"],
            2: ["v: epochs 9000->25000 in 190.0 s (11.9 ms/epoch), 95 checkpoints written"]}
    monkeypatch.setattr(_docs_repro, "jobs", lambda store, variant: records)
    monkeypatch.setattr(_docs_repro, "log_tail",
                        lambda store, record, lines: logs.get(record.id, []))
    run = _canonical()
    run.variant.store = None
    assert _value("train_cost", run, "canonical") == "1m40s as a job (176.0 ms/epoch)"
    assert (_value("analysis_cost", run, "canonical")
            == "5m00s as a job (41 checkpoints, 7.3 s each)")
    monkeypatch.setattr(_docs_repro, "jobs", lambda store, variant: records[1:2])
    with pytest.raises(FigureError, match="from epoch 0 to the end in one go"):
        _value("train_cost", run, "canonical")
    with pytest.raises(FigureError, match="no successful analysis of every analyzer"):
        _value("analysis_cost", run, "canonical")


def test_the_induction_slopes_compare_equal_spans_around_the_jump():
    phase = FakeArtifact({"detected": [True], "onset_epoch": [9], "steepest_epoch": [12],
                          "end_epoch": [16]}, {"signals": ["induction score"]})
    loss = np.linspace(5.0, 2.6, 25)
    loss[9:17] = np.linspace(loss[9], loss[9] - 0.8, 8)
    loss[17:] = loss[16] - 0.01 * np.arange(1, 9)
    run = RunData("ih_quick", RUNS["ih_quick"], FakeVariant(
        "induction_heads/fake", {("phase_change", None): phase}, list(range(25)),
        metrics={"test_loss": loss}))
    assert _value("ih_loss_slope", run, "during") == f"{(loss[9] - loss[16]) / 7:.3f}"
    assert _value("ih_loss_slope", run, "before") == f"{(loss[2] - loss[9]) / 7:.3f}"
    assert _value("ih_loss_slope", run, "after") == f"{(loss[16] - loss[24]) / 8:.3f}"


# ---------------------------------------------------------------- the report itself

def test_the_report_has_a_block_for_every_template_and_no_other():
    assert docs.unmatched(ROOT, TEMPLATES, files=[ROOT / REPORT]) == []


def test_every_block_of_the_report_matches_its_template_outside_the_figures():
    found = {b.name: b for b in blocks((ROOT / REPORT).read_text())}
    for template in TEMPLATES:
        assert template.read(found[template.name].text) is not None, (
            f"{REPORT}: block '{template.name}' differs from its template in "
            "benchmarks/_docs_repro_templates.py; rewrite it with python -m "
            "benchmarks.reproductions --store DIR")


def test_every_placeholder_of_the_report_names_a_figure():
    todo = docs.plan(TEMPLATES, check=False, full=True)
    assert {"canonical", "ih_quick", "ih_control", "toy", "toy_quick"} <= set(todo.needs)


def test_the_report_is_not_one_of_the_docs_a_plain_docs_check_trains_for():
    # the canonical runs are 25,000 epochs: never part of python -m benchmarks.docs
    assert "canonical" not in docs.plan(docs.TEMPLATES, check=False, full=False).needs
