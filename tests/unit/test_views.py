"""Every view of every family renders from stored artifacts, changes with the checkpoint,
and exports standalone HTML; the notebook API names its mistakes."""

from __future__ import annotations

import numpy as np
import pytest

from tdw.analysis.run import AnalysisRun
from tdw.errors import TdwError, UnknownNameError
from tdw.explore.variant import Variant
from tdw.training.run import TrainingRun

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def variant(tmp_path_factory) -> Variant:
    root = tmp_path_factory.mktemp("views") / "store"
    result = TrainingRun.prepare(family="modulo_addition_1l",
                                 params={"p": 11, "n_epochs": 60, "train_fraction": 0.5},
                                 schedule="0-60/20", store=root, device="cpu").execute()
    AnalysisRun.prepare(variant=result.variant, workers=1, store=root).execute()
    return Variant(result.variant, root)


def _epoch_columns(variant, view_name, epoch):
    view = variant._view(view_name)
    return view.epoch_data(variant.context(epoch))


@pytest.mark.parametrize("name", ["dominant_frequencies", "neuron_freq_clusters",
                                  "prediction_trace", "attention_patterns"])
def test_checkpoint_views_change_with_the_checkpoint(variant, name):
    first = _epoch_columns(variant, name, variant.epochs[0])
    last = _epoch_columns(variant, name, variant.epochs[-1])
    assert first.keys() == last.keys()
    differs = [not np.array_equal(np.asarray(first[s][c], dtype=object),
                                  np.asarray(last[s][c], dtype=object))
               for s in first for c in first[s]]
    assert any(differs)


def test_summary_views_move_only_their_marker(variant):
    view = variant._view("loss_curves")
    assert set(view.epoch_data(variant.context(variant.epochs[0]))) == {"current"}
    assert view.epoch_data(variant.context(variant.epochs[1]))["current"]["x"] == [
        variant.epochs[1]]


def test_loss_curve_data_are_the_stored_metrics(variant):
    data = variant._view("loss_curves").data(variant.context(variant.epochs[-1]))
    metrics = variant.metrics()
    np.testing.assert_array_equal(data["curves"]["test"], metrics["test_loss"])
    assert list(data["checkpoints"]["epoch"]) == list(variant.epochs)


def test_selectors_pick_neurons_and_heads(variant):
    view = variant._view("neuron_activations")
    ctx = variant.context(variant.epochs[-1])
    assert view.selector_range(ctx, "neuron") == 16
    a = view.epoch_data(variant.context(variant.epochs[-1], neuron=0))["grid"]["image"][0]
    b = view.epoch_data(variant.context(variant.epochs[-1], neuron=1))["grid"]["image"][0]
    assert a.shape == (11, 11) and not np.array_equal(a, b)


def test_export_writes_self_contained_html(variant, tmp_path):
    path = variant.view("loss_curves").export(tmp_path / "loss.html")
    html = path.read_text()
    assert "Bokeh" in html and "cdn.bokeh.org" not in html
    with pytest.raises(TdwError, match=r"\.html"):
        variant.view("loss_curves").export(tmp_path / "loss.jpg")


def test_notebook_api_names_its_mistakes(variant):
    with pytest.raises(UnknownNameError, match="loss_curves"):
        variant.view("loss_curve")
    with pytest.raises(TdwError, match=r"at\(epoch\)"):
        variant.view("dominant_frequencies")
    with pytest.raises(UnknownNameError, match="checkpoint epoch"):
        variant.at(7)
