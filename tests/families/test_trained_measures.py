"""Analyzers on a really trained tiny variant (not planted signals)."""

from __future__ import annotations

import pytest

from tdw.analysis.run import AnalysisRun
from tdw.explore.variant import Variant
from tdw.training.run import TrainingRun

pytestmark = pytest.mark.slow


def test_excluded_loss_is_higher_than_the_full_loss_on_a_trained_variant(tmp_path):
    root = tmp_path / "store"
    result = TrainingRun.prepare(family="modulo_addition_1l",
                                 params={"p": 23, "n_epochs": 1500, "train_fraction": 0.6},
                                 schedule="0-1500/500", store=root, device="cpu").execute()
    AnalysisRun.prepare(variant=result.variant,
                        analyzers="progress_measures,prediction_trace,dominant_frequencies",
                        workers=1, store=root).execute()
    variant = Variant(result.variant, root)
    # p=23 with 60% of the pairs forms a Fourier circuit within 1500 epochs (keys 4 and 5)
    assert variant.artifact("dominant_frequencies", 1500).attrs["key_frequencies"]
    final = variant.artifact("progress_measures", 1500).attrs
    assert final["train_loss"] < 1e-3  # memorised
    assert final["excluded_loss"] > final["full_loss"] > final["train_loss"]
    assert final["restricted_loss"] < final["full_loss"]
    trace = variant.artifact("prediction_trace", 1500).attrs
    assert trace["train_accuracy"] == 1.0
    metrics = variant.metrics()
    assert trace["test_accuracy"] == pytest.approx(metrics["test_acc"][1500], abs=1e-6)
