"""View controls on planted artifacts: a click on a neuron's row of the cluster heatmap picks
the stored slot of that neuron in ``neuron_activations`` (or says it has none), selectors
are named by what they stand for, and decimal thresholds reach the views' data exactly as
an independent computation predicts. No training: the variant is written into the store
by hand (a probe, three checkpoints, ``neuron_freq_clusters`` and ``neuron_activations``)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from bokeh.models import ColumnDataSource, HoverTool

from tdw.errors import ParameterError, UnknownNameError
from tdw.explore.taps import FOUND_CLASS, MISSING_CLASS, TapWire
from tdw.explore.variant import Variant
from tdw.explore.viewpane import ViewPane
from tdw.family.analyzer import CrossEpochInputs
from tdw.family.artifacts import Artifact
from tdw.family.controls import Control, resolve_tap
from tdw.family.registry import get_family
from tdw.family.views import View
from tdw.store.store import Store

FAMILY = "modulo_addition_1l"
EPOCHS = (0, 10, 20)
N_MLP, N_FREQ, P = 12, 3, 7
STORED = np.array([9, 2, 7, 4], dtype=np.int32)  # MLP indices, most variable first
NOT_STORED = 5


def _fraction(epoch: int) -> np.ndarray:
    """``(neuron, freq)`` planted shares, different at each checkpoint, each row summing to
    at most 1; neuron 11 is constant (all 0)."""
    rng = np.random.default_rng(epoch + 1)
    raw = rng.random((N_MLP, N_FREQ + 1))
    fraction = (raw / raw.sum(axis=1, keepdims=True))[:, :N_FREQ]
    # every fifth neuron specialises (>= 0.85 of its variance in one frequency), more of
    # them at later checkpoints, so the paper's threshold counts some
    for n in range(0, N_MLP, 5 if epoch else 10):
        fraction[n] *= 0.1
        fraction[n, n % N_FREQ] += 0.88
    fraction[11] = 0.0
    return fraction.astype(np.float32)


def _dominant(fraction: np.ndarray) -> np.ndarray:
    return np.where(fraction.max(-1) > 0, fraction.argmax(-1) + 1, 0).astype(np.int32)


@pytest.fixture
def variant(store: Store) -> Variant:
    fam = get_family(FAMILY)
    vid = store.ensure_variant(fam, fam.resolve({"p": P, "n_epochs": 20}), "0-20/10", 20).id
    store.ensure_probe(vid, {"tokens": torch.zeros(3, 3, dtype=torch.long)})
    schemas = {a.name: a.schema for a in fam.analyzers}
    for epoch in EPOCHS:
        store.write_checkpoint(vid, epoch, {"embed.W_E": torch.full((2, 2), epoch)})
        fraction = _fraction(epoch)
        store.write_artifact(vid, Artifact(schemas["neuron_freq_clusters"], epoch, {
            "fraction": fraction, "dominant": _dominant(fraction),
            "specialised_count": np.bincount(  # as neuron_freq_clusters counts them
                _dominant(fraction)[fraction.max(-1) >= 0.85], minlength=N_FREQ + 1
            )[1:].astype(np.int32),
            "variance": np.ones(N_MLP, np.float32)}, {"threshold": 0.85}))
        maps = np.stack([np.full((P, P), n + epoch / 100) for n in STORED]).astype(np.float16)
        store.write_artifact(vid, Artifact(schemas["neuron_activations"], epoch,
                                           {"maps": maps, "neurons": STORED},
                                           {"n_neurons_total": N_MLP}))
    # the cross-epoch counts at the paper's 0.85, by the real analyzer, as analysis writes them
    clusters = [store.load_artifact(vid, schemas["neuron_freq_clusters"], e) for e in EPOCHS]
    specialisation = {a.name: a for a in fam.cross_epoch}["neuron_specialisation"]
    arrays, attrs = specialisation.run(CrossEpochInputs(
        {}, np.array(EPOCHS), {"neuron_freq_clusters": clusters}, {}))
    store.write_artifact(vid, Artifact(specialisation.schema, None, arrays, attrs))
    return Variant(vid, store)


def _view(variant: Variant, name: str) -> View:
    return variant._view(name)


def _rows(epoch: int, share: float) -> np.ndarray:
    """The cluster heatmap's rows, bottom up, computed here from the planted shares: neurons
    below ``share`` first, then by dominant frequency, then by index."""
    fraction = _fraction(epoch)
    key = [(bool(fraction[n].max() >= share), int(_dominant(fraction)[n]), n)
           for n in range(N_MLP)]
    return np.array([k[2] for k in sorted(key)])


# --------------------------------------------------------------------------- click link
@pytest.mark.parametrize("share", [0.0, 0.4])
def test_each_row_of_the_cluster_heatmap_maps_to_the_stored_slot_of_its_neuron(variant, share):
    clusters, activations = _view(variant, "neuron_freq_clusters"), _view(variant,
                                                                          "neuron_activations")
    link = clusters.on_tap
    assert (link.target, link.selector) == ("neuron_activations", "neuron")
    ctx = replace(variant.context(10), controls={"min_share": share})
    rows = _rows(10, share)
    found = 0
    for row, neuron in enumerate(rows):
        result = resolve_tap(link, row, ctx, activations, variant.context(10))
        assert result.value == neuron
        if neuron in STORED:
            slot = list(STORED).index(neuron)
            assert result.index == slot and f"neuron {neuron}" in result.message
            found += 1
        else:
            assert result.index is None
            assert result.message == (f"neuron {neuron} has no stored activation map; the 4 "
                                      f"stored are 2, 4, 7, 9")
    assert found == len(STORED)


def test_a_click_selects_the_neuron_in_the_target_pane_and_says_where_it_went(variant):
    source = ViewPane(variant, _view(variant, "neuron_freq_clusters"), 20, client_budget=10**7)
    target = ViewPane(variant, _view(variant, "neuron_activations"), 20, client_budget=10**7)
    wire = TapWire(source, target)
    taps = source.figure.select_one({"name": "taps"})
    (hover,) = source.figure.select({"type": HoverTool})
    assert taps not in hover.renderers  # hovering a row reports the heatmap, not the band
    maps = variant.artifact("neuron_activations", 20)["maps"]
    row = int(np.flatnonzero(_rows(20, 0.0) == 7)[0])  # neuron 7 lives in slot 2
    result = wire.tap(row)
    assert (result.value, result.index) == (7, 2)
    assert target.selection == {"neuron": 2}
    np.testing.assert_array_equal(target.sources["grid"].data["image"][0], maps[2])
    (stack,) = target.frames["grid"].data["image"]  # the browser's frames follow too
    np.testing.assert_array_equal(stack[-1][0], maps[2])
    assert FOUND_CLASS in wire.notice.text and "neuron 7" in wire.notice.text

    row = int(np.flatnonzero(_rows(20, 0.0) == NOT_STORED)[0])
    result = wire.tap(row)
    assert result.index is None and target.selection == {"neuron": 2}  # nothing moved
    assert MISSING_CLASS in wire.notice.text
    assert f"neuron {NOT_STORED} has no stored activation map" in wire.notice.text


def test_the_neuron_selector_is_named_by_mlp_neuron_not_by_stored_slot(variant):
    pane = ViewPane(variant, _view(variant, "neuron_activations"), 0)
    assert pane.selector_labels["neuron"] == [f"neuron {n}" for n in STORED]
    heads = _view(variant, "attention_patterns")  # no labels: named by position
    assert heads.selector_label("head", 1) == "head 1"


def test_the_explorer_widgets_show_names_and_a_click_moves_the_dropdown(variant):
    from tdw.ui.view_controls import ViewControls, link_taps

    panes = {name: ViewPane(variant, _view(variant, name), 20)
             for name in ("neuron_freq_clusters", "neuron_activations")}
    controls = {name: ViewControls(pane) for name, pane in panes.items()}
    (wire,) = link_taps(controls)
    dropdown = controls["neuron_activations"].selectors["neuron"]
    assert list(dropdown.options) == [f"neuron {n}" for n in STORED]
    wire.tap(int(np.flatnonzero(_rows(20, 0.0) == 4)[0]))  # neuron 4: slot 3
    assert dropdown.value == 3 and panes["neuron_activations"].selection == {"neuron": 3}
    (share,) = controls["neuron_freq_clusters"].inputs.values()
    assert (share.start, share.end, share.step, share.value) == (0.0, 1.0, 0.01, 0.0)


# ----------------------------------------------------------------------------- thresholds
def _expected_grid(epoch: int, share: float) -> np.ndarray:
    fraction = _fraction(epoch)
    rows = _rows(epoch, share)
    grid = fraction[rows].copy()
    grid[fraction[rows].max(axis=1) < share] = np.nan
    return grid


def test_the_cluster_threshold_reaches_epoch_data_and_greys_the_neurons_in_no_cluster(variant):
    view = _view(variant, "neuron_freq_clusters")
    pane = ViewPane(variant, view, 10, client_budget=10**7)
    assert pane.client_side and pane.controls == {"min_share": 0.0}
    np.testing.assert_array_equal(pane.sources["grid"].data["image"][0], _expected_grid(10, 0.0))
    pane.set_controls(min_share=0.45)
    shown = pane.sources["grid"].data["image"][0]
    np.testing.assert_array_equal(shown, _expected_grid(10, 0.45))
    greyed = np.isnan(shown).all(axis=1).sum()
    assert 0 < greyed < N_MLP  # the planted shares straddle 0.45
    assert greyed == (_fraction(10).max(axis=1) < 0.45).sum()
    (stack,) = pane.frames["grid"].data["image"]  # every checkpoint's frame is redrawn
    for i, epoch in enumerate(EPOCHS):
        np.testing.assert_array_equal(stack[i][0], _expected_grid(epoch, 0.45))


def test_the_specialisation_threshold_counts_neurons_as_an_independent_count_does(variant):
    view = _view(variant, "neuron_specialisation")
    pane = ViewPane(variant, view, 20)
    for share in (0.85, 0.3, 0.5):
        pane.set_controls(min_share=share)
        lines = pane.sources["lines"].data
        counts = {}  # frequency -> neurons specialised in it, per checkpoint
        for epoch in EPOCHS:
            fraction = _fraction(epoch)
            for n in range(N_MLP):
                if fraction[n].max() >= share and fraction[n].max() > 0:
                    k = int(fraction[n].argmax()) + 1
                    counts.setdefault(k, [0] * len(EPOCHS))[EPOCHS.index(epoch)] += 1
        keys = sorted(k for k, c in counts.items() if c[-1] > 0)
        if not keys:  # none at the end: the line of the most held frequency then (0s)
            assert len(lines["name"]) == 1 and all(v == 0 for v in lines["ys"][0])
            continue
        assert lines["name"] == [f"k = {k}" for k in keys]
        assert lines["ys"] == [[float(c) for c in counts[k]] for k in keys]


def test_a_threshold_out_of_range_is_refused_with_its_range(variant):
    view = _view(variant, "neuron_freq_clusters")
    pane = ViewPane(variant, view, 10)
    before = pane.sources["grid"].data["image"][0].copy()
    for bad in (1.5, -0.1, float("nan"), "0.5", True):
        with pytest.raises(ParameterError, match=r"min_share=.* is out of range: choose a "
                                                 r"decimal from 0 to 1 \(step 0\.01\)"):
            pane.set_controls(min_share=bad)
    assert pane.controls == {"min_share": 0.0}  # nothing changed
    np.testing.assert_array_equal(pane.sources["grid"].data["image"][0], before)
    with pytest.raises(UnknownNameError, match="choose one of: min_share"):
        pane.set_controls(share=0.5)
    ctx = variant.context(10)
    with pytest.raises(ParameterError, match="out of range"):
        view.epoch_data(replace(ctx, controls={"min_share": 2.0}))
    with pytest.raises(ValueError, match="default in"):
        Control("t", 2.0, 0.0, 1.0, 0.1, "a default outside its range")


def test_the_page_input_refuses_a_bad_value_and_keeps_what_is_drawn(variant):
    from tdw.ui.view_controls import ViewControls

    pane = ViewPane(variant, _view(variant, "neuron_freq_clusters"), 10)
    controls = ViewControls(pane)
    share = controls.inputs["min_share"]
    share.value = 0.35  # a decimal, not a whole number
    assert pane.controls == {"min_share": 0.35} and not controls.problem.visible
    share.value = None  # the box emptied
    assert share.value == 0.35 and pane.controls == {"min_share": 0.35}
    assert controls.problem.visible and "needs a value" in controls.problem.object


def test_the_notebook_api_draws_a_view_at_the_controls_it_is_given(variant):
    result = variant.at(20).view("neuron_freq_clusters", controls={"min_share": 0.45})
    assert result.context.controls == {"min_share": 0.45}
    (grid,) = [s for s in result.figure.select({"type": ColumnDataSource})
               if "image" in s.data]
    np.testing.assert_array_equal(grid.data["image"][0], _expected_grid(20, 0.45))
    with pytest.raises(ParameterError, match="min_share"):
        variant.at(20).view("neuron_freq_clusters", controls={"min_share": 2.0})
    with pytest.raises(UnknownNameError, match="control of view"):
        variant.at(20).view("neuron_freq_clusters", controls={"min_shar": 0.5})


def test_a_view_whose_code_raises_keeps_its_former_selection_and_drawing(variant, monkeypatch):
    view = _view(variant, "neuron_freq_clusters")
    pane = ViewPane(variant, view, 10)
    pane.set_controls(min_share=0.3)
    before = pane.sources["grid"].data["image"][0].copy()

    def broken(ctx):
        if ctx.controls.get("min_share") == 0.6:
            raise IndexError("planted")
        return original(ctx)
    original = view.epoch_data
    monkeypatch.setattr(pane, "view", replace(view, epoch_data=broken))
    pane._cache.clear()
    with pytest.raises(IndexError, match="planted"):
        pane.set_controls(min_share=0.6)
    assert pane.controls == {"min_share": 0.3}
    np.testing.assert_array_equal(pane.sources["grid"].data["image"][0], before)


def test_a_click_link_to_a_selector_the_target_lacks_is_said_on_the_card(variant):
    from tdw.ui.view_controls import ViewControls, link_taps

    clusters = _view(variant, "neuron_freq_clusters")
    broken = replace(clusters, on_tap=replace(clusters.on_tap, selector="nueron"))
    panes = {v.name: ViewControls(ViewPane(variant, v, 10))
             for v in (broken, _view(variant, "neuron_activations"))}
    assert link_taps(panes) == []
    problem = panes["neuron_freq_clusters"].problem
    assert problem.visible and "selector 'nueron'" in problem.object
    assert "it has neuron" in problem.object
