"""The figures of toy_operations's README (``benchmarks._docs_toy``), read from a fake run.

No training: a stand-in variant holds the artifacts the figures read, so each test checks
that a figure reads the right array or attribute, at the right checkpoint, and prints it
as the README writes it (ordering, ties, signs, "never").
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

from docs_fakes import FakeArtifact, FakeVariant  # noqa: E402

from benchmarks import docs  # noqa: E402
from benchmarks._docs_figures import FIGURES, FigureError  # noqa: E402
from benchmarks._docs_runs import RUNS, RunData  # noqa: E402
from benchmarks._docs_toy import TEMPLATES, learned_text  # noqa: E402

OPS = ["Max", "Min", "First", "Second", "Last"]


def _run(artifacts: dict, epochs=(0, 1, 2)) -> RunData:
    return RunData("toy_quick", RUNS["toy_quick"], FakeVariant(
        "toy_operations/fake", artifacts, epochs, final_train_acc=1.0, final_test_acc=0.999,
        final_test_loss=0.0091))


def _value(name: str, run: RunData, arg: str | None = None) -> str:
    return FIGURES[name].compute(run, arg)


def _accuracy(epoch: int, acc) -> dict:
    return {("operation_accuracy", epoch): FakeArtifact(
        {"test_accuracy": np.asarray(acc, dtype=np.float32)}, {"operations": OPS})}


def _learning(learned) -> dict:
    return {("operation_learning", None): FakeArtifact(
        {"learned_epoch": np.asarray(learned)}, {"operations": OPS, "first": "Max"})}


def test_each_figure_is_registered_for_both_runs_and_every_placeholder_exists():
    assert FIGURES["toy_learned"].run(None) == "toy"
    assert FIGURES["toyq_learned"].run(None) == "toy_quick"
    assert FIGURES["toyq_train_job"].measured and not FIGURES["toyq_learned"].measured
    assert set(TEMPLATES) <= set(docs.TEMPLATES)
    todo = docs.plan(TEMPLATES, check=False, full=False)
    assert set(todo.needs) == {"toy", "toy_quick"}  # the cores too: never Modulo's run


def test_operations_are_listed_by_accuracy_with_the_leader():
    run = _run(_accuracy(1, [0.76, 0.52, 0.46, 0.60, 0.21]))
    assert _value("toyq_op_accs", run, "1") == ("Max 0.76, Second 0.60, Min 0.52, "
                                                "First 0.46, Last 0.21")
    assert _value("toyq_op_top", run, "1") == "Max"
    assert _value("toyq_op_acc_range", run, "1") == "0.21-0.76"
    with pytest.raises(FigureError, match="not a checkpoint"):
        _value("toyq_op_accs", run, "7")


@pytest.mark.parametrize("learned, text", [
    ([4, 6, 4, 4, 4], "Max, First, Second and Last are learned at epoch 4 and Min at epoch 6"),
    ([1, 6, 3, 3, -1], "Max is learned at epoch 1, First and Second at epoch 3, Min at epoch "
                       "6 and Last never"),
])
def test_the_learning_order_reads_as_a_sentence(learned, text):
    assert learned_text(OPS, learned) == text


def test_the_last_learned_operation_is_one_never_learned_if_any():
    assert _value("toyq_learned_last", _run(_learning([4, 6, 4, 4, 4]))) == "Min"
    assert _value("toyq_learned_last", _run(_learning([4, 6, -1, 4, -1]))) == "First and Last"


def test_selective_neurons_are_read_by_kind_layer_and_checkpoint():
    run = _run({("neuron_selectivity", 2): FakeArtifact({}, {"selective": {
        "operation": [102, 7], "answer": [3, 193], "magnitude": [0, 60]}})})
    assert _value("toyq_neurons", run, "answer.1.end") == "193"
    assert _value("toyq_neurons", run, "operation.0.2") == "102"
    with pytest.raises(FigureError, match="KIND.LAYER.EPOCH"):
        _value("toyq_neurons", run, "answer.end")


def test_the_answer_head_lists_its_attention_per_operation():
    heads = [f"L{layer}H{h}" for layer in (0, 1) for h in range(4)]
    to_answer = np.full((8, 5), 0.15)
    to_answer[4] = [0.64, 0.34, 0.77, 0.91, 0.90]
    to_answer[5] = [0.5, 0.5, 0.5, 0.5, 0.5]
    run = _run({("argument_attention", 2): FakeArtifact(
        {"to_answer": to_answer}, {"heads": heads, "answer_head": "L1H0",
                                   "answer_head_share": 0.712}), **_learning([1] * 5)})
    assert _value("toyq_answer_by_op", run) == ("0.91 for Second, 0.90 for Last, 0.77 for "
                                                "First, 0.64 for Max, 0.34 for Min")
    assert _value("toyq_answer_share", run) == "0.71"
    assert _value("toyq_layer1_answer_range", run) == "0.15-0.71"


def test_entropy_figures_read_the_layer_and_the_sharpest_head():
    def art(by_layer, l1h2):
        entropy = np.full((8, 8), 2.9)
        entropy[6, 7] = l1h2
        return FakeArtifact({"entropy": entropy}, {
            "heads": [f"L{layer}H{h}" for layer in (0, 1) for h in range(4)],
            "answer_entropy_by_layer": by_layer})
    run = _run({("attention_entropy", 0): art([2.79, 2.92], 2.95),
                ("attention_entropy", 2): art([2.18, 0.28], 0.104)})
    assert _value("toyq_entropy_l1", run, "0") == "2.92"
    assert _value("toyq_entropy_l0", run, "end") == "2.18"
    assert _value("toyq_sharpest", run) == "L1H2"
    assert [_value("toyq_sharpest_entropy", run, e) for e in ("0", "end")] == ["2.95", "0.10"]


def test_the_digit_order_prints_a_minus_sign_and_the_epoch_it_holds_from():
    rho = {0: -0.28, 1: 0.77, 2: 0.3, 3: 0.72, 4: 0.77}
    run = _run({("embedding_geometry", e): FakeArtifact(
        {"operation_cosine": np.array([[1.0, -0.372], [-0.372, 1.0]])},
        {"digit_order": r, "digit_pc1_share": 0.174}) for e, r in rho.items()},
        epochs=(0, 1, 2, 3, 4))
    assert _value("toyq_digit_order", run, "0") == "\u22120.28"
    assert _value("toyq_digit_order", run, "end") == "0.77"
    assert _value("toyq_digit_order_from", run) == "3"  # from where it stays >= 0.5
    assert _value("toyq_digit_order_after", run) == "0.72-0.77"
    assert _value("toyq_cos_max_min", run, "end") == "\u22120.37"
    assert _value("toyq_digit_pc1_share", run, "end") == "17%"
    rho[4] = 0.4
    unordered = _run({("embedding_geometry", e): FakeArtifact({}, {"digit_order": r})
                      for e, r in rho.items()}, epochs=(0, 1, 2, 3, 4))
    with pytest.raises(FigureError, match="below 0.5"):
        _value("toyq_digit_order_from", unordered)


def test_final_figures_read_the_variant_record():
    run = _run({})
    assert _value("toyq_final_acc", run, "train") == "100.0%"
    assert _value("toyq_final_acc", run, "test") == "99.9%"
    assert _value("toyq_final_test_loss", run) == "0.0091"
