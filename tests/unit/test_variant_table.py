"""The workbench's Variants table in Python: every variant (training and interrupted ones
too) live, one column per parameter, filters, ticks, Compare selected, tags and notes.

The variants are stored as if trained (``tests/table_variants.py``); nothing trains."""

from __future__ import annotations

import pytest
from table_variants import table_variant

from tdw.store import annotations
from tdw.store import jobs as job_table
from tdw.store.store import Store
from tdw.ui.compare import MAX_VARIANTS


@pytest.fixture
def sweep(store: Store) -> dict[tuple[int, int], str]:
    """Six variants: p in (7, 11) x model_seed in (1, 2, 3)."""
    return {(p, seed): table_variant(store, p, seed) for p in (7, 11) for seed in (1, 2, 3)}


def _table(store: Store, **options):
    from tdw.ui.variants import VariantTable

    return VariantTable(store, links=False, **options)


def test_every_parameter_has_a_column_and_every_variant_a_row(store, sweep):
    new = table_variant(store, 13, 1, state="new", epochs_done=0)
    running = table_variant(store, 13, 2, state="training", epochs_done=0)
    stopped = table_variant(store, 13, 3, state="interrupted", epochs_done=5)
    table = _table(store)
    fields = [c.field for c in table.table.columns]
    params = ["p", "model_seed", "data_seed", "train_fraction", "n_epochs", "lr",
              "weight_decay"]
    assert fields[:5] == ["variant", "state", "progress %", "job", "tags"]
    assert fields[5:5 + len(params)] == params and fields[-1] == "note"
    assert "parameters" not in fields
    by_id = {row["variant"]: row for row in table.rows}
    assert set(by_id) == {*sweep.values(), new, running, stopped}
    assert table.source.data["variant"] == [row["variant"] for row in table.rows]
    assert by_id[sweep[7, 2]]["p"] == 7 and by_id[sweep[7, 2]]["model_seed"] == 2
    assert (by_id[new]["state"], by_id[new]["progress %"], by_id[new]["checkpoints"]) == (
        "new", 0.0, 0)
    assert (by_id[stopped]["state"], by_id[stopped]["progress %"]) == ("interrupted", 50.0)
    # a training job's progress is the row's, as the job reports it
    job_id = job_table.queue(store.catalog, "train", running, {})
    table.poll()
    assert table.source.data["job"][table.source.data["variant"].index(running)] == \
        "train queued"
    job_table.mark_running(store.catalog, job_id, 1, "nb", "log")
    job_table.report_progress(store.catalog, job_id, 3, 10, "epoch 3")
    table.poll()
    row = table.source.data["variant"].index(running)
    assert table.source.data["job"][row] == "train 30%"
    assert table.source.data["progress %"][row] == 30.0
    assert table.source.data["state"][row] == "training"


def test_a_variant_trained_elsewhere_appears_at_the_next_poll_and_a_removed_one_goes(
        store, sweep):
    from tdw.store import removal

    table = _table(store)
    assert len(table.rows) == 6
    later = table_variant(store, 13, 1, state="training", epochs_done=0)
    table.poll()
    assert later in table.source.data["variant"] and len(table.rows) == 7
    removal.remove(store, later)
    table.poll()
    assert later not in table.source.data["variant"]
    data = table.source.data
    table.poll()  # nothing changed: the source is not rebuilt
    assert table.source.data is data


def test_filters_keep_the_matching_rows(store, sweep):
    table = _table(store)
    filters = table.filters
    assert set(filters.selects) == {"p", "model_seed"}  # the parameters that vary
    assert filters.selects["model_seed"].options == ["all", "1", "2", "3"]
    filters.set("model_seed", 2)
    assert sorted(table.source.data["variant"]) == sorted([sweep[7, 2], sweep[11, 2]])
    assert table.count.object.startswith("2 of 6 variants shown")
    filters.set("p", 11)
    assert table.source.data["variant"] == [sweep[11, 2]]
    filters.set("model_seed", "all")
    filters.set("p", "all")
    annotations.annotate(store.catalog, sweep[7, 3], tags=["Odd-One"], note="lr looks high")
    table.refresh()
    filters.search.value_input = "odd-one"
    assert table.source.data["variant"] == [sweep[7, 3]]
    filters.search.value_input = "LOOKS high"
    assert table.source.data["variant"] == [sweep[7, 3]]
    filters.search.value_input = "p11 ms1"
    assert table.source.data["variant"] == [sweep[11, 1]]
    filters.search.value_input = ""
    assert len(table.source.data["variant"]) == 6


def test_ticks_survive_a_filter_that_keeps_them_and_compare_selected_sends_them(store, sweep):
    sent = []
    table = _table(store, on_compare=sent.append)
    table.tick([sweep[7, 1], sweep[7, 2], sweep[11, 1]])
    assert table.chosen == [r["variant"] for r in table.rows
                            if r["variant"] in {sweep[7, 1], sweep[7, 2], sweep[11, 1]}]
    table.filters.set("p", 7)  # hides one ticked row: it is no longer ticked
    assert sorted(table.chosen) == sorted([sweep[7, 1], sweep[7, 2]])
    assert [table.rows[i]["variant"] for i in table.source.selected.indices] == table.chosen
    assert table.compare_selected() == table.chosen and sent == [table.chosen]
    assert not table.message.visible


@pytest.mark.parametrize("count", [0, 1])
def test_compare_selected_of_fewer_than_two_says_how_many_it_takes(store, sweep, count):
    sent = []
    table = _table(store, on_compare=sent.append)
    table.tick(list(sweep.values())[:count])
    assert table.compare_selected() is None and sent == []
    assert table.message.visible
    assert f"Compare needs two variants or more; {count}" in table.message.object
    assert "Tick more" in table.message.object


def test_compare_selected_sends_more_than_side_by_side_shows(store, sweep):
    sent = []
    table = _table(store, on_compare=sent.append)
    ticked = list(sweep.values())[:MAX_VARIANTS + 1]
    table.tick(ticked)
    assert table.compare_selected() == table.chosen and sorted(sent[0]) == sorted(ticked)
    assert not table.message.visible


def test_compare_selected_refuses_a_variant_without_checkpoints(store, sweep):
    bare = table_variant(store, 13, 1, state="new", epochs_done=0)
    table = _table(store, on_compare=lambda ids: None)
    table.tick([sweep[7, 1], bare])
    assert table.compare_selected() is None
    assert f"{bare} has no checkpoints yet" in table.message.object


def test_the_editor_edits_the_one_ticked_variant(store, sweep):
    table = _table(store)
    editor = table.editor
    assert editor.save.disabled and not editor.variant
    table.tick([sweep[11, 3]])
    assert editor.variant == sweep[11, 3] and not editor.save.disabled
    editor.tags.value, editor.note.value = "keep, seed-3  late", "turns late"
    assert editor.save_now()
    assert annotations.annotation(store.catalog, sweep[11, 3]) == annotations.Annotation(
        ("keep", "late", "seed-3"), "turns late")
    row = table.source.data["variant"].index(sweep[11, 3])
    assert table.source.data["tags"][row] == "keep late seed-3"
    assert table.source.data["note"][row] == "turns late"
    editor.tags.value = "fine, not,ok!"
    assert not editor.save_now() and "&#x27;ok!&#x27; is not a tag" in editor.status.object
    assert annotations.annotation(store.catalog, sweep[11, 3]).tags == ("keep", "late",
                                                                        "seed-3")
    table.tick([sweep[11, 3], sweep[7, 1]])
    assert editor.save.disabled and not editor.variant


def test_the_workbench_compares_the_ticked_variants_and_opens_one(store, sweep):
    from tdw.ui import Workbench
    from tdw.ui.workbench import TABS

    wb = Workbench(store, tab="Variants")
    chosen = [sweep[7, 2], sweep[11, 2], sweep[11, 3]]
    wb.variants.tick(chosen)
    ids = wb.variants.compare_selected()
    assert TABS[wb.tabs.active] == "Compare"
    assert list(wb.compare.picker.value) == ids and sorted(ids) == sorted(chosen)
    assert [v.id for v in wb.compare.compare.variants] == ids
    assert wb.address.query.startswith(f"tab=Compare&variants={','.join(ids)}")
    wb.tabs.active = TABS.index("Variants")
    wb.variants.tick([sweep[7, 1]])
    assert wb.variants.open_selected() == sweep[7, 1]
    assert TABS[wb.tabs.active] == "Explore" and wb.explore.variant == sweep[7, 1]
    wb.tabs.active = TABS.index("Variants")
    wb.variants.open_selected()  # the same variant again: opened again
    assert TABS[wb.tabs.active] == "Explore"
