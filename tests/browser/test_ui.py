"""The workbench apps in Python: what a slider move, a marker click, a selector, a form or
an alignment changes, compared against the views' own data computed independently."""

from __future__ import annotations

import numpy as np
import pytest

from tdw.errors import TdwError
from tdw.explore.variant import Variant
from tdw.family.registry import get_family
from tdw.store.store import Store

pytestmark = pytest.mark.slow  # the session fixture trains and analyses two variants


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and a and isinstance(a[0], np.ndarray | list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind == "f" and b.dtype.kind == "f":
        return np.array_equal(a, b, equal_nan=True)  # e.g. a Fisher grid's blank diagonal
    return np.array_equal(a, b)


@pytest.fixture
def variant(ui_store) -> Variant:
    root, ids = ui_store
    return Variant(ids[0], root)


# ------------------------------------------------------------------ view panes
def test_a_server_side_pane_replaces_only_the_per_checkpoint_sources(variant):
    from tdw.explore.viewpane import ViewPane

    view = variant._view("dominant_frequencies")
    pane = ViewPane(variant, view, variant.epochs[-1], client_budget=0)
    assert not pane.client_side
    figure = pane.figure
    for epoch in variant.epochs:
        pane.show(epoch)
        expected = view.epoch_data(variant.context(epoch))
        assert _same(dict(pane.sources["bars"].data), expected["bars"])
    assert pane.figure is figure  # never rebuilt


def test_client_side_frames_hold_every_checkpoint_in_order(variant):
    from tdw.explore.viewpane import ViewPane

    view = variant._view("prediction_trace")
    pane = ViewPane(variant, view, variant.epochs[-1], client_budget=10_000_000)
    assert pane.client_side
    (stack,) = pane.frames["grid"].data["image"]  # every checkpoint in one array
    assert stack.shape[0] == len(variant.epochs)
    for i, epoch in enumerate(variant.epochs):
        expected = view.epoch_data(variant.context(epoch))["grid"]
        assert _same(list(stack[i]), expected["image"])
    small = ViewPane(variant, view, variant.epochs[-1], client_budget=10)
    assert not small.client_side


def test_a_selector_redraws_the_chosen_neuron(variant):
    from tdw.explore.viewpane import ViewPane

    view = variant._view("neuron_activations")
    pane = ViewPane(variant, view, variant.epochs[-1])
    stored = variant.artifact("neuron_activations", variant.epochs[-1])["maps"]
    pane.select(neuron=3)
    np.testing.assert_array_equal(pane.sources["grid"].data["image"][0], stored[3])
    pane.select(neuron=10_000)  # clamped to the last stored neuron
    np.testing.assert_array_equal(pane.sources["grid"].data["image"][0], stored[-1])
    with pytest.raises(KeyError, match="no selector"):
        pane.select(head=1)


# -------------------------------------------------------------------- explorer
def test_the_explorer_moves_every_view_and_the_timeline_together(variant):
    from tdw.ui import Explorer

    ex = Explorer(variant, client_budget=0)
    assert not ex.waiting and len(ex.panes) == len(variant.family.views)
    ex.index = 2
    epoch = variant.epochs[2]
    assert ex.timeline.value == epoch and ex.player.value == 2
    assert f"epoch {epoch} · checkpoint 3 of " in ex.caption
    for pane in ex.panes:
        expected = pane.view.epoch_data(variant.context(epoch))
        for name, cols in expected.items():
            assert _same(dict(pane.sources[name].data), cols), pane.name
    ex.timeline.value = variant.epochs[4]  # a click on the timeline
    assert ex.index == 4
    ex.goto(variant.epochs[1] + 1)  # nearest checkpoint
    assert ex.index == 1


def test_clicking_a_loss_curve_marker_jumps_to_that_checkpoint(variant):
    from tdw.ui import Explorer

    ex = Explorer(variant)
    markers = ex.pane("loss_curves").figure.select_one({"name": "checkpoints"})
    markers.data_source.selected.indices = [3]  # what the tap tool does in the browser
    assert ex.index == 3 and ex.epoch == variant.epochs[3]
    assert markers.data_source.selected.indices == []


def test_client_side_views_are_brought_up_to_date_when_shown_again(variant):
    import panel as pn

    from tdw.ui import Explorer

    ex = Explorer(variant)
    pane = next(p for p in ex.panes if p.client_side and p.view.scope == "checkpoint")
    ex.index = 1
    pn.panel(ex).get_root()  # a fresh display
    expected = pane.view.epoch_data(variant.context(variant.epochs[1]))
    name = next(iter(expected))
    assert _same(dict(pane.sources[name].data), expected[name])


def test_an_unanalysed_variant_lists_what_each_view_waits_for(tmp_path):
    from tdw.training.run import TrainingRun
    from tdw.ui import Explorer

    result = TrainingRun.prepare(family="modulo_addition_1l",
                                 params={"p": 7, "n_epochs": 4}, schedule="0-4/2",
                                 store=tmp_path, device="cpu").execute()
    ex = Explorer(result.variant, tmp_path)
    assert [p.name for p in ex.panes] == ["loss_curves", "accuracy_curves"]
    assert ex.waiting["dominant_frequencies"] == ["dominant_frequencies: 0 of 3 checkpoints"]
    assert "not computed" in ex.waiting["graduation"][0]
    with pytest.raises(KeyError, match="0 of 3"):
        ex.pane("dominant_frequencies")


# --------------------------------------------------------------------- compare
def test_compare_aligns_by_epoch_and_by_transition(ui_store, monkeypatch):
    from tdw.ui.compare import Compare, aligned_positions, index_table

    root, ids = ui_store
    a, b = Variant(ids[0], root), Variant(ids[1], root)
    cmp = Compare([a, b])
    assert aligned_positions([a, b], "epoch") == list(a.epochs) == cmp.positions
    cmp.position = 20
    assert cmp.epochs_at(20) == [20, 20]
    assert cmp.player.value == list(a.epochs).index(20)  # the page's player follows
    for panes in cmp.columns:
        for pane in panes:
            assert pane.epoch == 20
    assert f"epoch 20 · {ids[0].split('/')[-1]} at epoch 20" in cmp.caption
    # plant transitions at 20 and 40: position p shows each variant at transition + p
    monkeypatch.setattr(a, "transition", lambda: (20, 0.9))
    monkeypatch.setattr(b, "transition", lambda: (40, 0.9))
    want = sorted({e - 20 for e in a.epochs} | {e - 40 for e in b.epochs})
    assert aligned_positions([a, b], "turn") == aligned_positions([a, b], "transition") == want
    cmp.align_widget.value = "transition"
    assert cmp.align == "transition" and cmp.timeline.unit == "epochs since transition"
    assert cmp.position == 0  # the first variant still shows epoch 20, its transition
    cmp.position = 10
    assert cmp.epochs_at(10) == [30, 50]
    assert cmp.caption.startswith("epochs since transition 10 · ")
    overlay = cmp.overlays[0]
    shifted = overlay.lines[1].data["x"]
    assert shifted[0] == -40
    # the overlay's line has a frame per position, and its axes span every one of them
    assert overlay.frames["current"].data["x"][0].ravel().tolist() == want
    x_range = overlay.figure.x_range
    assert x_range.start < min(want) and x_range.end > max(want)
    # The table the page moves by: each row names the checkpoint each variant shows there,
    # the nearest to the position (computed here independently of index_table).
    table = index_table([a, b], want, "transition")
    for row, position in enumerate(want):
        for lane, (v, shift) in enumerate([(a, 20), (b, 40)]):
            nearest = min(range(len(v.epochs)),
                          key=lambda i: (abs(v.epochs[i] - (position + shift)), i))
            assert table[f"lane{lane}"][row] == nearest
    cmp.position = 11  # not a position: lands on the nearest
    assert cmp.position in want and abs(cmp.position - 11) == min(abs(p - 11) for p in want)


def test_compare_shows_the_chosen_views_side_by_side_at_the_current_position(ui_store):
    from tdw.ui.compare import DEFAULT_VIEWS, Compare

    root, ids = ui_store
    cmp = Compare(ids, root)
    assert len(cmp.view_names) == DEFAULT_VIEWS
    kept = cmp.columns[0][0]
    cmp.position = 10
    cmp.view_picker.value = [cmp.view_names[0], "loss_curves"]
    assert [[p.name for p in panes] for panes in cmp.columns] == [[cmp.view_names[0],
                                                                    "loss_curves"]] * 2
    assert cmp.columns[0][0] is kept  # a view still chosen keeps its pane
    assert all(p.epoch == 10 for panes in cmp.columns for p in panes)
    assert cmp.position == 10 and cmp.positions[cmp.player.value] == 10  # the place is kept
    assert len(cmp.side.objects) == 2


def test_compare_refuses_what_it_cannot_show(ui_store):
    from tdw.ui.compare import Compare

    root, ids = ui_store
    with pytest.raises(TdwError, match="2 to 4"):
        Compare([ids[0]], root)
    with pytest.raises(TdwError, match="cannot compare nope"):
        Compare(ids, root, views=["nope"])


# ----------------------------------------------------------------------- forms
def test_the_parameter_form_validates_as_you_type():
    from tdw.ui.forms import ParamForm

    form = ParamForm(get_family("modulo_addition_1l"))
    assert form.values["p"] == 113 and form.error == ""
    form.widgets["p"].value = 12
    assert form.values is None and "'p'" in form.error and form.message.visible
    form.widgets["p"].value = 13
    assert form.values["p"] == 13 and not form.message.visible
    form.preset.value = "quick"
    assert form.values["p"] == 59 and form.values["n_epochs"] == 2500


def test_the_schedule_editor_composes_and_checks_schedules():
    from tdw.ui.schedule_editor import ScheduleEditor

    editor = ScheduleEditor(n_epochs=1000)
    editor.step.value = 250
    assert editor.spec == "0-1000/250,end" and editor.schedule.epochs == (0, 250, 500, 750, 1000)
    editor.dense.value = True
    editor.w_start.value, editor.w_stop.value, editor.w_step.value = 100, 200, 50
    assert editor.schedule.epochs == (0, 100, 150, 200, 250, 500, 750, 1000)
    editor.text.value = "0-2000/100"
    assert editor.schedule is None and "2000" in editor.error
    editor.kind.value = "log"
    assert editor.spec.startswith("0,log:1-1000/")


def test_the_schedule_editor_adds_an_adaptive_budget_and_previews_it():
    from tdw.ui.schedule_editor import ScheduleEditor, SchedulePreview

    editor = ScheduleEditor(n_epochs=1000)
    editor.step.value = 250
    editor.adaptive.value, editor.budget.value = True, 12
    assert editor.spec == "0-1000/250,adaptive:0-1000/12,end"
    assert editor.schedule.max_checkpoints == 17
    assert "plus up to 12 adaptive" in editor.status.object
    editor.signal.value = "train_acc"
    assert editor.spec == "0-1000/250,adaptive:train_acc:0-1000/12,end"
    editor.signal.value = "test_loss"
    # a planted run whose test loss falls 6 decades around epoch 600
    loss = 10 ** (-6 / (1 + np.exp(-(np.arange(1001) - 600) / 20)))
    preview = SchedulePreview()
    preview.show({"test_loss": loss, "train_loss": loss}, editor.schedule)
    marks = preview.marks.data
    added = [e for e, k in zip(marks["epoch"], marks["kind"], strict=True)
             if k == "adaptive checkpoints"]
    assert 6 <= len(added) <= 12 and all(500 <= e <= 700 for e in added), added
    preview.show(None, editor.schedule)  # no run to preview on: the scheduled epochs only
    assert preview.marks.data["epoch"] == [0, 250, 500, 750, 1000]


def test_the_train_page_starts_from_the_family_default_schedule_until_edited(tmp_path):
    from tdw.ui import Workbench

    page = Workbench(Store(tmp_path), tab="Train").train
    fam = get_family("modulo_addition_1l")
    page.family.value = fam.name
    assert page.schedule.spec == fam.default_schedule(fam.resolve())
    page.form.widgets["n_epochs"].value = 3000  # not edited yet: follows the family
    assert page.schedule.spec == fam.default_schedule(fam.resolve({"n_epochs": 3000}))
    assert page.schedule.schedule.n_epochs == 3000
    page.schedule.text.value = "0-3000/500"  # edited: kept
    page.form.widgets["n_epochs"].value = 4000
    assert page.schedule.spec.startswith("0-4000/")  # recomposed from the range controls
    page.schedule.use_default.clicks += 1
    assert page.schedule.spec == fam.default_schedule(fam.resolve({"n_epochs": 4000}))


# ------------------------------------------------------------------ workbench
def test_the_variant_table_lists_key_metrics_and_opens_a_row_in_explore(ui_store):
    from tdw.ui import Workbench

    root, ids = ui_store
    wb = Workbench(root, tab="Variants")
    rows = wb.variants.rows
    assert sorted(row["variant"] for row in rows) == sorted(ids)
    assert set(rows[0]) >= {"train acc %", "test acc %", "transition epoch", "checkpoints",
                            "analysed %", "key frequencies"}
    assert all(row["checkpoints"] == 7 and row["analysed %"] == 100 for row in rows)
    assert wb.variants.source.data["variant"] == [row["variant"] for row in rows]
    wb.variants.select_row([row["variant"] for row in rows].index(ids[1]))
    assert wb.tabs.active == 0 and wb.explore.explorer.variant.id == ids[1]


def test_the_workbench_on_an_empty_store_says_what_to_do(tmp_path):
    from tdw.ui import Workbench

    wb = Workbench(Store(tmp_path))
    text = wb.explore.body.objects[0].object
    assert "Train page" in text
    assert "the store has 0" in wb.compare.body.objects[0].object  # and how to get more
    with pytest.raises(TdwError, match="unknown tab"):
        Workbench(Store(tmp_path), tab="Nope")


def test_the_train_page_refuses_a_bad_request_before_any_job(tmp_path):
    from tdw.jobs import jobs
    from tdw.ui import Workbench

    store = Store(tmp_path)
    wb = Workbench(store, tab="Train")
    page = wb.train
    assert "checkpoint_series" not in page.family.options  # imported, not trained
    page.family.value = "modulo_addition_1l"
    page.form.widgets["p"].value = 12
    assert page.start.disabled and "prime" in page.request_text.object
    page._start(None)
    assert page.feedback.alert_type == "danger" and jobs.jobs(store) == []


def test_the_export_bar_renders_the_chosen_view_at_the_current_checkpoint(variant):
    from tdw.ui import Explorer

    ex = Explorer(variant)
    ex.index = 2
    bar = ex.export
    bar.view.value, bar.format.value = "loss_curves", "HTML (interactive)"
    data = bar.render()
    assert data is not None and b"<html" in data[:2000].lower()
    assert bar.download.visible and bar.download.filename.endswith(
        f"-loss_curves-epoch{variant.epochs[2]}.html")
    bar.format.value = "SVG (vector)"
    assert not bar.download.visible  # a changed choice hides the stale download


def test_the_export_bar_shows_an_error_instead_of_a_broken_download(variant, monkeypatch):
    from tdw.ui import Explorer

    monkeypatch.setenv("TDW_CHROMIUM", "/nonexistent/chromium")
    ex = Explorer(variant)
    ex.export.format.value = "PNG image"
    assert ex.export.render() is None
    assert ex.export.status.visible and "TDW_CHROMIUM" in ex.export.status.object
    assert not ex.export.download.visible


def test_explore_and_compare_pickers_pick_up_a_variant_trained_elsewhere(ui_store, tmp_path):
    import shutil

    from helpers import train_and_analyse

    from tdw.ui import ComparePage, ExplorePage

    root, ids = ui_store
    store = tmp_path / "store"
    shutil.copytree(root, store)
    explore, compare = ExplorePage(store), ComparePage(store)
    shown = compare.compare
    new = train_and_analyse(store, model_seed=7)  # e.g. from the command line
    explore.poll_variants()
    compare.poll_variants()
    assert new in explore.picker.options and new in compare.picker.options
    assert explore.variant in ids  # what the user was looking at stays open
    assert compare.compare is shown  # and the comparison is not rebuilt


def test_compare_follows_new_checkpoints_and_artifacts_of_the_variants_it_shows(tmp_path):
    from tdw.analysis.run import AnalysisRun
    from tdw.training.run import TrainingRun
    from tdw.ui import ComparePage

    store = tmp_path / "store"
    ids = [TrainingRun.prepare(
        family="modulo_addition_1l", params={"p": 7, "n_epochs": 20, "train_fraction": 0.5,
                                             "model_seed": seed},
        schedule="0-20/5", store=store, device="cpu").execute().variant for seed in (1, 2)]
    for vid in ids:
        AnalysisRun.prepare(variant=vid, workers=1, store=store,
                            analyzers=("dominant_frequencies",)).execute()
    page = ComparePage(store, initial=ids)
    shown = page.compare
    assert "neuron_activations" not in shown.view_picker.options
    shown.position = shown.positions[1]
    position = shown.position
    page.poll_variants()
    assert page.compare is shown  # nothing changed: nothing rebuilt
    for vid in ids:
        AnalysisRun.prepare(variant=vid, workers=1, store=store,
                            analyzers=("neuron_activations",)).execute()
    page.poll_variants()
    assert page.compare is not shown and "neuron_activations" in page.compare.view_picker.options
    assert page.compare.position == position  # the user's place is kept
    assert page.compare.view_names == shown.view_names


def test_tdw_variants_id_shows_the_transition_and_how_much_is_analysed(ui_store, capsys):
    from tdw.cli.main import main
    from tdw.ui.variants import variant_rows

    root, ids = ui_store
    assert main(["--store", str(root), "variants", ids[0]]) == 0
    shown = capsys.readouterr().out
    row = next(r for r in variant_rows(Store(root)) if r["variant"] == ids[0])
    assert "artifacts (100.0%)" in shown and "views wait" not in shown, shown
    epoch = row["transition epoch"]
    assert (f"transition   epoch {epoch} (confidence" in shown if epoch is not None
            else "transition   none detected (grokking_transition)" in shown), shown


def test_the_story_is_told_above_explore_in_the_table_and_by_the_cli(ui_store, capsys):
    from tdw.cli.main import main
    from tdw.library.story import PHASES, story_lines, tell
    from tdw.ui import Explorer
    from tdw.ui.variants import variant_rows

    root, ids = ui_store
    variant = Variant(ids[0], root)
    story = variant.story()
    told = tell(variant.metrics(), variant.record.n_epochs)
    assert story["label"] == told.label and story["reasons"] == list(told.reasons)
    assert story["windows"] == {p: told.windows[p] for p in PHASES}
    assert "first_mover" in story  # Modulo Addition adds its first mover

    bar = Explorer(variant).story_bar
    assert bar.pane.visible and f'data-label="{told.label}"' in bar.pane.object
    for reason in told.reasons:
        assert reason.replace("'", "&#x27;") in bar.pane.object

    row = next(r for r in variant_rows(Store(root)) if r["variant"] == ids[0])
    assert row["story"] == told.label and row["first mover"] == story["first_mover"]
    assert all(f"{p} epochs" in row for p in PHASES)

    assert main(["--store", str(root), "variants", ids[0]]) == 0
    shown = capsys.readouterr().out
    assert "  story        " + "\n               ".join(story_lines(story)) in shown, shown


# ------------------------------------------------------------------ links
def test_a_page_opens_the_variant_and_checkpoint_its_link_names(ui_store):
    from tdw.ui import ExplorePage, Workbench
    from tdw.ui.links import Link
    from tdw.ui.variants import VariantTable
    from tdw.ui.workbench import TABS

    root, ids = ui_store
    variant = Variant(ids[1], root)
    # the variant named first is the one explored, not only the one in the picker
    page = ExplorePage(root, initial=ids[1])
    assert page.picker.value == page.explorer.variant.id == ids[1]
    wanted = variant.epochs[2]
    page = ExplorePage(root, link=Link.parse(f"variant={ids[1]}&epoch={wanted}"))
    assert (page.explorer.variant.id, page.explorer.epoch) == (ids[1], wanted)
    assert not page.notices.visible
    assert page.address.query == f"variant={ids[1]}&epoch={wanted}"
    page.explorer.index = 4  # a move: the address follows
    assert page.address.query == f"variant={ids[1]}&epoch={variant.epochs[4]}"
    page.picker.value = ids[0]
    assert page.address.query == f"variant={ids[0]}&epoch={Variant(ids[0], root).epochs[-1]}"

    wb = Workbench(root, link=Link.parse(f"tab=Compare&variants={ids[1]},{ids[0]}"))
    assert TABS[wb.tabs.active] == "Compare"
    assert [v.id for v in wb.compare.compare.variants] == [ids[1], ids[0]]
    assert wb.address.query == f"tab=Compare&variants={ids[1]},{ids[0]}&align=epoch"
    wb.tabs.active = 0
    assert wb.address.query.startswith("tab=Explore&variant=")
    # on a Voila page, each row of the variant table links to its variant in Explore
    assert not wb.variants.links  # (not served here)
    table = VariantTable(Store(root), links=True)
    assert [Link.parse(q) for q in table.source.data["link"]] == [
        Link(tab="Explore", variant=v) for v in table.source.data["variant"]]


def test_what_a_link_names_that_the_store_lacks_is_said_on_the_page(ui_store):
    from tdw.ui import ComparePage, ExplorePage, Workbench
    from tdw.ui.links import Link

    root, ids = ui_store
    variant = Variant(ids[0], root)
    between = variant.epochs[1] + 1
    page = ExplorePage(root, link=Link.parse(f"variant={ids[0]}&epoch={between}&colour=red"))
    said = " ".join(alert.object for alert in page.notices)
    assert page.notices.visible and page.explorer.epoch == variant.epochs[1]
    assert f"no checkpoint at epoch {between}; showing the nearest, epoch {variant.epochs[1]}" \
        in said
    assert "'colour' is not one tdw reads" in said
    page = ExplorePage(root, link=Link.parse("variant=nope"))
    assert "unknown variant 'nope'" in page.notices[0].object and page.explorer is not None
    compare = ComparePage(root, link=Link.parse(f"variants={ids[0]},nope,{ids[1]}&align=sideways"))
    said = " ".join(alert.object for alert in compare.notices)
    assert "unknown variant 'nope'" in said and "unknown alignment 'sideways'" in said
    assert [v.id for v in compare.compare.variants] == [ids[0], ids[1]]
    wb = Workbench(root, link=Link.parse("tab=Nowhere&epoch=soon"))
    said = " ".join(alert.object for alert in wb.notices)
    assert "unknown tab 'Nowhere'" in said and "'soon' is not a whole number" in said
    assert wb.tabs.active == 0  # the default tab, still working


# ------------------------------------------------------------------ a researcher's views
def test_a_view_written_in_a_notebook_joins_the_explorer_and_moves_with_it(ui_store):
    from tdw.family import plot
    from tdw.ui import Explorer

    root, ids = ui_store
    explorer = Explorer(ids[0], root)
    before = explorer.player

    def power_share(ctx):
        norms = ctx.load("dominant_frequencies", ctx.epoch)["norms"]
        return {"freq": np.arange(1, len(norms) + 1), "share": norms**2 / (norms**2).sum()}

    mine = plot.bars_view("power_share", "Share of W_E's power", "", ("dominant_frequencies",),
                          power_share, "freq", ["share"], categorical=False, group="My views")
    pane = explorer.add_view(mine)
    assert pane.client_side and explorer.pane("power_share") is pane
    # the page's move code now swaps its frames too: a new player carries them
    assert explorer.player is not before and explorer.player in explorer._header.objects
    targets = explorer.player._args["targets"]
    assert pane.sources["bars"] in targets
    explorer.index = 2
    norms = Variant(ids[0], root).artifact("dominant_frequencies", explorer.epoch)["norms"]
    frame = pane.frames["bars"]
    assert frame is explorer.player._args["frames_list"][targets.index(pane.sources["bars"])]
    assert explorer._sections["My views"].objects[-1].name == "power_share"
    np.testing.assert_allclose(power_share(pane.context(explorer.epoch))["share"],
                               norms**2 / (norms**2).sum())

    def broken(ctx):
        raise KeyError("no array 'typo'")

    assert explorer.add_view(plot.bars_view("broken", "Broken", "", ("dominant_frequencies",),
                                            broken, "freq", ["share"],
                                            group="My views")) is None
    card = explorer._sections["My views"].objects[-1]
    assert "raised KeyError" in card.objects[0].object and "typo" in card.objects[0].object
    unknown = plot.bars_view("unknown", "Unknown", "", ("nope",), broken, "freq", ["share"])
    assert explorer.add_view(unknown) is None
    assert "nope: not an analyzer of modulo_addition_1l" in \
        explorer._sections["Analyses"].objects[-1].objects[0].object
    with pytest.raises(TdwError, match="already shows a view named 'power_share'"):
        explorer.add_view(mine)


def test_a_view_written_in_a_notebook_joins_compare_for_every_variant(ui_store):
    from tdw.family import plot
    from tdw.ui import Compare

    root, ids = ui_store
    compare = Compare(ids, root)
    shown = list(compare.view_names)

    def power_share(ctx):
        norms = ctx.load("dominant_frequencies", ctx.epoch)["norms"]
        return {"freq": np.arange(1, len(norms) + 1), "share": norms**2 / (norms**2).sum()}

    mine = plot.bars_view("power_share", "Share of W_E's power", "", ("dominant_frequencies",),
                          power_share, "freq", ["share"], categorical=False)
    panes = compare.add_view(mine)
    assert len(panes) == 2 and all(p.client_side for p in panes)
    assert compare.view_names == [*shown, "power_share"]
    assert "power_share" in compare.view_picker.options
    assert [col[-1] for col in compare.columns] == panes  # the panes built are the ones shown
    targets = compare.player._args["targets"]  # the page's move code swaps their frames
    assert all(p.sources["bars"] in targets for p in panes)
    compare.position = compare.positions[2]
    for variant, pane, epoch in zip(compare.variants, panes, compare.epochs_at(compare.position),
                                    strict=True):
        norms = variant.artifact("dominant_frequencies", epoch)["norms"]
        np.testing.assert_allclose(power_share(pane.context(epoch))["share"],
                                   norms**2 / (norms**2).sum())
    compare.view_picker.value = shown  # hidden, and shown again from the picker
    compare.view_picker.value = [*shown, "power_share"]
    assert compare.columns[0][-1].view is mine

    def broken(ctx):
        raise KeyError("no array 'typo'")

    assert compare.add_view(plot.bars_view("broken", "Broken", "", ("dominant_frequencies",),
                                           broken, "freq", ["share"])) is None
    said = compare.errors.objects[-1].object
    assert "raised KeyError" in said and "typo" in said
    assert "broken" not in compare.view_names and len(compare.columns[0]) == len(shown) + 1
    with pytest.raises(TdwError, match="already offers a view named 'power_share'"):
        compare.add_view(mine)
