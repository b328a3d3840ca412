"""Sweep maps and the sweep form in Python: outcomes of each variant (or why it has none),
the map's columns for one, two and more swept parameters, a click that opens a variant, and
a form that checks and starts a sweep as ``tdw sweep --background`` does.

The variants are stored as if trained (``tests/sweep_variants.py``); nothing trains and no
coordinator process is started (``start_background`` is replaced where a sweep starts)."""

from __future__ import annotations

import math

import pytest
from sweep_variants import plant_keys, recorded_sweep

from tdw.cli.main import main
from tdw.errors import TdwError, UnknownNameError
from tdw.family.registry import get_family
from tdw.store.store import Store
from tdw.sweeps import coordinator, outcomes
from tdw.sweeps import sweep as sweep_mod
from tdw.sweeps.sweep import SweepMember
from tdw.ui.sweep_map import map_columns, map_figure, map_kind, missing_text

FAMILY = "modulo_addition_1l"
SIX = ["p=7,11", "model_seed=1,2,3"]


def _outcome(name: str) -> outcomes.Outcome:
    return outcomes.outcome(get_family(FAMILY), name)


def _members(axes: list[tuple[str, tuple]]) -> list[SweepMember]:
    grid = sweep_mod.Grid(tuple(axes))
    return [SweepMember(1, i, f"fam/v{i}", point, "done", None, None, None, None)
            for i, point in enumerate(grid.points())]


def _measured(values: list[float], name: str = "final LLC") -> outcomes.Measured:
    reasons = tuple("not analysed" if math.isnan(v) else "" for v in values)
    return outcomes.Measured(_outcome(name), tuple(values), reasons)


# ------------------------------------------------------------------ outcomes
def test_outcomes_are_read_from_the_catalog_and_artifacts_or_say_why_not(store: Store):
    record = recorded_sweep(store, SIX, keys={(7, 2): [3, 5, 9]})
    ids = [m.variant for m in sweep_mod.members(store, record.id)]
    acc = outcomes.measure(store, ids, _outcome("final test accuracy"))
    assert acc.values == (0.51, 0.52, 0.53, 0.51, 0.52, 0.53)  # 0.5 + model_seed / 100
    assert acc.missing() == {}
    keys = outcomes.measure(store, ids, _outcome("number of key frequencies"))
    assert keys.values[1] == 3.0 and all(math.isnan(v) for i, v in enumerate(keys.values)
                                         if i != 1)
    assert keys.missing() == {"not analysed": 5}
    for name in ("transition epoch", "transition confidence", "final LLC"):
        measured = outcomes.measure(store, ids, _outcome(name))
        assert measured.missing() == {"not analysed": 6}, name
    assert outcomes.measure(store, ["fam/nowhere"], _outcome("final LLC")).reasons == (
        "not started",)


def test_an_artifact_of_an_older_analyzer_is_one_reason_for_every_variant(store, monkeypatch):
    from tdw.errors import IntegrityError, StoreError
    from tdw.explore.variant import Variant

    record = recorded_sweep(store, SIX, keys={k: [3] for k in [(7, 1), (7, 2), (11, 3)]})
    ids = [m.variant for m in sweep_mod.members(store, record.id)]

    def old(self, analyzer, epoch=None):  # as the store says it, naming the variant
        raise StoreError(f"artifact {analyzer} of {self.id} is version 1, the analyzer is 2")

    monkeypatch.setattr(Variant, "artifact", old)
    keys = outcomes.measure(store, ids, _outcome("number of key frequencies"))
    assert keys.missing() == {"out of date: re-run tdw analyze": 3, "not analysed": 3}

    def damaged(self, analyzer, epoch=None):
        raise IntegrityError(f"{self.id}: sha256 mismatch")

    monkeypatch.setattr(Variant, "artifact", damaged)
    keys = outcomes.measure(store, ids, _outcome("number of key frequencies"))
    assert keys.missing() == {"damaged: run tdw verify": 3, "not analysed": 3}


def test_an_unknown_outcome_names_the_known_ones():
    with pytest.raises(UnknownNameError, match="final test accuracy"):
        outcomes.outcome(get_family(FAMILY), "final accuracy")


# ------------------------------------------------------------------ map columns
def test_one_numeric_parameter_gives_points_in_order_of_its_values():
    members = _members([("p", (11, 7, 13))])
    columns = map_columns([("p", (11, 7, 13))], members, _measured([2.0, math.nan, 3.0]))
    assert map_kind([("p", (11, 7, 13))]) == "scatter"
    assert columns["x"] == [7, 11, 13]  # sorted, so that the line joins them in order
    assert columns["variant"] == ["fam/v1", "fam/v0", "fam/v2"]
    assert columns["value"][1:] == [2.0, 3.0] and math.isnan(columns["value"][0])
    assert columns["text"] == ["not analysed", "2", "3"]


def test_two_parameters_give_a_heatmap_cell_per_variant_and_percent_values():
    axes = [("p", (7, 11)), ("model_seed", (1, 2))]
    columns = map_columns(axes, _members(axes), _measured([0.5, 0.25, 1.0, math.nan],
                                                          "final test accuracy"))
    assert map_kind(axes) == "heatmap"
    assert list(zip(columns["x"], columns["y"], strict=True)) == [
        ("7", "1"), ("7", "2"), ("11", "1"), ("11", "2")]
    assert columns["value"][:3] == [50.0, 25.0, 100.0]
    assert columns["text"] == ["50.0%", "25.0%", "100.0%", "not analysed"]
    assert columns["param:model_seed"] == ["1", "2", "1", "2"]
    assert columns["ink"] == ["#ffffff", "#ffffff", "#333333", "#333333"]  # legible on fill


def test_three_parameters_give_parallel_coordinates_over_normalised_axes():
    axes = [("p", (7, 11)), ("model_seed", (1, 2, 3)), ("lr", (0.001,))]
    members = _members(axes)
    values = [float(i) for i in range(len(members))]
    columns = map_columns(axes, members, _measured(values))
    assert map_kind(axes) == "parallel"
    assert columns["xs"][0] == [0, 1, 2, 3]
    assert columns["ys"][0] == [0.0, 0.0, 0.5, 0.0]  # a single value sits mid-axis
    assert columns["ys"][-1] == [1.0, 1.0, 0.5, 1.0]
    assert columns["ys"][4][1] == 0.5  # model_seed 2 of 1..3
    assert columns["x"] == [3] * 6 and columns["y"] == [i / 5 for i in range(6)]


def test_the_map_says_how_many_variants_lack_the_outcome_and_why():
    measured = _measured([1.0, math.nan, math.nan])
    assert missing_text(measured) == "2 of 3 variants have no final LLC: not analysed (2)."
    assert missing_text(_measured([1.0])) == ""


# ------------------------------------------------------------------ the page
def test_the_sweeps_page_maps_each_sweep_and_a_click_opens_its_variant(store: Store):
    from tdw.ui.sweeps import SweepList

    record = recorded_sweep(store, SIX)
    opened: list[str] = []
    page = SweepList(store, on_open=opened.append)
    smap = page.cards[record.id].map
    data = dict(smap.source.data)
    assert data["x"] == ["7", "7", "7", "11", "11", "11"]
    assert data["y"] == ["1", "2", "3", "1", "2", "3"]
    assert data["value"] == pytest.approx([51, 52, 53, 51, 52, 53])
    assert smap.note.object == ""

    smap.outcome.value = "number of key frequencies"
    assert all(math.isnan(v) for v in smap.source.data["value"])
    assert "6 of 6 variants have no number of key frequencies: not analysed (6)." in \
        smap.note.object
    assert smap.figure.title.text == f"sweep {record.id}: number of key frequencies by p, " \
        "model_seed"
    # analysed later: the next poll redraws the map of the finished sweep
    plant_keys(store, data["variant"][4], [1, 2])
    page.refresh()
    assert smap.source.data["value"][4] == 2.0 and smap.source.data["text"][4] == "2"

    smap.source.selected.indices = [4]  # what the tap tool does in the browser
    assert opened == [data["variant"][4]]
    assert smap.source.selected.indices == []  # a second click on it opens it again
    # a variant without checkpoints (a grey cell while it waits to train) opens nothing
    store.catalog.execute("DELETE FROM checkpoints WHERE variant = ?", (data["variant"][2],))
    smap.source.selected.indices = [2]
    assert opened == [data["variant"][4]]
    assert f"{data['variant'][2]} has no checkpoints yet: nothing to open." in \
        smap.note.object



def test_a_poll_measures_again_only_the_variants_that_changed(store: Store, monkeypatch):
    from tdw.ui.sweeps import SweepList

    record = recorded_sweep(store, SIX)
    ids = [m.variant for m in sweep_mod.members(store, record.id)]
    measured: list[list[str]] = []
    real = outcomes.measure

    def counting(store_, variants, wanted):
        measured.append(list(variants))
        return real(store_, variants, wanted)

    monkeypatch.setattr(outcomes, "measure", counting)
    page = SweepList(store)
    assert measured == [ids]  # once, when the card is made
    page.refresh()
    assert measured == [ids]  # nothing changed: nothing measured
    store.update_variant(ids[4], final_test_acc=0.99)
    page.refresh()
    assert measured == [ids, [ids[4]]]
    assert page.cards[record.id].map.source.data["value"].count(99.0) == 1

# ------------------------------------------------------------------ the form
@pytest.fixture
def no_coordinator(monkeypatch) -> list[tuple[int, str]]:
    """Sweeps started in the background record (id, executor) here; no process starts."""
    started: list[tuple[int, str]] = []

    def start(store, sweep_id, executor):
        started.append((sweep_id, executor))
        return 4242

    monkeypatch.setattr(coordinator, "start_background", start)
    return started


def _form(store: Store, **options):
    from tdw.ui.sweep_form import SweepForm

    form = SweepForm(store, **options)
    form.family.value = FAMILY
    return form


def _cli_error(*args: str) -> str:
    try:
        spec = sweep_mod.SweepSpec.from_cli(FAMILY, list(args), preset="quick", analyze=True)
        sweep_mod.plan(spec)
    except TdwError as exc:
        return str(exc)
    raise AssertionError("the CLI accepts it")


@pytest.mark.parametrize("values", ["1,,2", "1,1", "x"])
def test_the_form_refuses_a_bad_grid_in_the_words_of_the_cli(store, values):
    form = _form(store)
    form.grid[0].values.value_input = values
    assert form.start.disabled
    said = _cli_error(f"model_seed={values}")
    assert said.replace("'", "&#x27;") in form.plan.object


def test_the_form_words_its_refusals_in_its_own_terms(store):
    form = _form(store)
    assert not form.start.disabled and "Will sweep 2 variants of modulo_addition_1l on local" \
        in form.plan.object
    form.executor.value_input = "ray"
    assert form.start.disabled and "is not an executor" in form.plan.object
    form.executor.value_input = "local:2"
    form.fixed.value_input = "model_seed=3"
    assert form.start.disabled and ("model_seed is swept and also fixed: remove it from the "
                                    "fixed values") in form.plan.object
    form.fixed.value_input = ""
    form.add_row("model_seed", "4")  # the same parameter in a second row
    assert form.start.disabled and "rows 1 and 2 both sweep model_seed" in form.plan.object
    for row in list(form.grid):
        form._remove(row)
    assert form.start.disabled and "add a swept parameter" in form.plan.object
    assert form.submit() is None and "add a swept parameter" in form.feedback.object


def test_the_form_starts_a_sweep_like_the_cli_and_the_page_shows_its_card(
        store, no_coordinator):
    from tdw.ui.sweeps import SweepList

    page = SweepList(store)
    form = page.form
    form.family.value = FAMILY
    form.preset.value = "tiny"
    form.grid[0].values.value_input = "1,2"
    row = form.add_row("p", "7,11")
    assert row.parameter.value == "p"
    form.executor.value_input = "local:1"
    form.analyze.value = False
    assert "Will sweep 4 variants" in form.plan.object
    record = form.submit()
    assert record is not None and no_coordinator == [(record.id, "local:1")]
    spec = record.spec
    assert dict(spec.grid.axes) == {"model_seed": (1, 2), "p": (7, 11)}
    assert spec.preset == "tiny" and not spec.analyze
    assert [m.state for m in sweep_mod.members(store, record.id)] == ["pending"] * 4
    assert "Started sweep" in form.feedback.object
    assert list(page.cards) == [record.id]  # its card is shown at once


def test_the_cli_starts_a_background_sweep_through_the_same_path(store, no_coordinator,
                                                                  capsys):
    assert main(["--store", str(store.root), "sweep", FAMILY, "--preset", "tiny", "--grid",
                 "model_seed=1,2", "--executor", "local:1", "--background"]) == 0
    assert "coordinated in the background (pid 4242)" in capsys.readouterr().out
    (record,) = sweep_mod.sweeps(store)
    assert no_coordinator == [(record.id, "local:1")]


@pytest.mark.parametrize("axes", [
    [("p", (7, 11, 13))],
    [("optimizer", ("adam", "sgd"))],
    [("p", (7, 11)), ("model_seed", (1, 2))],
    [("p", (7, 11)), ("model_seed", (1, 2)), ("lr", (0.001, 0.01))],
])
def test_every_kind_of_map_is_clickable_on_its_variants_and_serialises(axes):
    from bokeh.embed import json_item
    from bokeh.models import TapTool

    members = _members(axes)
    values = [float(i) for i in range(len(members) - 1)] + [math.nan]
    fig, source = map_figure(5, axes, map_columns(axes, members, _measured(values)),
                             "final LLC")
    assert source.name == "sweep-map:5" and fig.title.text.startswith("sweep 5: final LLC by")
    (tap,) = fig.select(TapTool)
    assert [r.data_source for r in tap.renderers] == [source]
    assert sorted(source.data["variant"]) == sorted(m.variant for m in members)
    json_item(fig)  # every property is one Bokeh accepts
