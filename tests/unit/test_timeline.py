"""The checkpoint timeline: an anywidget that needs no Panel, and the dashboards' Panel
host of the same front end and traits, kept in step with it."""

from __future__ import annotations

import pytest
import traitlets

from tdw.ui.timeline import ESM, TRAITS, Timeline, caption_text


def test_a_timeline_is_an_anywidget_observed_like_any_ipywidget():
    import anywidget
    import ipywidgets

    timeline = Timeline(epochs=[0, 10, 100], transition=10)
    assert isinstance(timeline, anywidget.AnyWidget) and isinstance(timeline, ipywidgets.Widget)
    assert timeline.value == 0  # the first checkpoint unless told
    seen = []
    timeline.observe(lambda change: seen.append((change["old"], change["new"])), names="value")
    timeline.value = 100
    assert seen == [(0, 100)]
    assert timeline._esm == ESM.read_text()  # the front end travels with the widget
    state = timeline.get_state()
    assert {name: state[name] for name in TRAITS} == {
        "epochs": [0, 10, 100], "value": 100, "transition": 10, "scale": "linear",
        "caption": False, "unit": "epoch", "notes": []}


def test_a_timeline_refuses_a_value_that_is_no_checkpoint_naming_the_nearest():
    timeline = Timeline(epochs=[0, 10, 100], value=10)
    with pytest.raises(traitlets.TraitError, match="epoch 90 is not one of this timeline's "
                       "checkpoints; the nearest is 100"):
        timeline.value = 90
    assert timeline.value == 10
    with pytest.raises(traitlets.TraitError, match="nearest is 10"):
        Timeline(epochs=[0, 10, 100], value=12)


@pytest.mark.parametrize("traits, message", [
    ({"epochs": [0, 100, 10]}, "strictly increasing"),
    ({"epochs": [0, 10, 10]}, "strictly increasing"),
    ({"epochs": [0, 10], "notes": ["a"]}, "one note per epoch: 1 notes for 2 epochs"),
    ({"epochs": [0, 10], "scale": "logarithmic"}, "scale"),
])
def test_a_timeline_refuses_bad_traits_clearly(traits, message):
    with pytest.raises(traitlets.TraitError, match=message):
        Timeline(**traits)


def test_the_caption_names_the_checkpoint_its_position_and_the_transition():
    assert caption_text([0, 10, 20], 20, None, "epoch", []) == "epoch 20 · checkpoint 3 of 3"
    assert caption_text([-5, 0, 5], 0, None, "epochs since transition", ["a@100", "b@80", ""]) \
        == "epochs since transition 0 · b@80"
    assert Timeline(epochs=[0, 10], value=10, transition=10, caption=True).caption_text() == \
        "epoch 10 · checkpoint 2 of 2 · detected transition at epoch 10"


def test_the_panel_host_declares_the_widgets_traits_with_the_same_defaults():
    from tdw.ui.timeline_pane import TimelinePane

    widget, pane = Timeline(), TimelinePane()
    assert TimelinePane._esm == ESM
    for name in TRAITS:
        assert name in pane.param, name
        assert getattr(pane, name) == getattr(widget, name), name
    assert pane.param.scale.objects == list(Timeline.scale.values)


def test_a_widget_on_a_panel_page_stays_in_step_both_ways():
    from tdw.ui.timeline_pane import TimelinePane

    widget = Timeline(epochs=[0, 10, 100], value=0, transition=10, unit="step")
    pane = TimelinePane.of(widget, width=500)
    assert (pane.epochs, pane.value, pane.transition, pane.unit, pane.width) == \
        ([0, 10, 100], 0, 10, "step", 500)
    seen = []
    widget.observe(lambda change: seen.append(change["new"]), names="value")
    pane.value = 100  # as the page sets it
    assert (widget.value, seen) == (100, [100])
    widget.transition = None
    widget.scale = "log"
    assert (pane.transition, pane.scale) == (None, "log")
    pane.value = 100  # no change: no echo
    assert seen == [100]
