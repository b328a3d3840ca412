"""Groups of variants: pooling, the mean and band against independent computations, and
the group comparison on a store of six variants (data seed 1, 2 x model seed 1, 2, 3) whose
test loss falls two decades at a known epoch per variant (``tests/group_variants.py``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from group_variants import EPOCHS, group_variant, loss_curve

from tdw.errors import TdwError
from tdw.explore.groups import band, curves_of, default_pool, group_variants, varying
from tdw.explore.variant import Variant
from tdw.store.store import Store

TURN = {(ds, ms): 2 + ms + 2 * ds for ds in (1, 2) for ms in (1, 2, 3)}
"""Each variant's transition epoch: 5, 6, 7 for data seed 1 and 7, 8, 9 for data seed 2."""


@pytest.fixture
def six(store: Store) -> dict[tuple[int, int], str]:
    return {key: group_variant(store, *key, turn) for key, turn in TURN.items()}


def _variants(store: Store, six) -> list[Variant]:
    return [Variant(v, store) for v in six.values()]


# ------------------------------------------------------------------- the band itself
def test_band_on_a_shared_grid_is_the_plain_mean_min_max_and_quartiles():
    rng = np.random.default_rng(0)
    x = np.arange(20)
    ys = rng.normal(size=(5, 20))
    minmax = band([(x, y) for y in ys], "minmax")
    np.testing.assert_array_equal(minmax.x, x)
    np.testing.assert_allclose(minmax.mean, ys.mean(axis=0), rtol=1e-12)
    np.testing.assert_array_equal(minmax.low, ys.min(axis=0))
    np.testing.assert_array_equal(minmax.high, ys.max(axis=0))
    assert (minmax.count == 5).all()
    iqr = band([(x, y) for y in ys], "iqr")
    np.testing.assert_allclose(iqr.low, np.percentile(ys, 25, axis=0), rtol=1e-12)
    np.testing.assert_allclose(iqr.high, np.percentile(ys, 75, axis=0), rtol=1e-12)


def test_members_on_other_epochs_are_interpolated_inside_their_own_span():
    a = (np.array([0.0, 10.0]), np.array([0.0, 10.0]))  # y = x, known at 0 and 10
    b = (np.array([5.0, 15.0]), np.array([1.0, 1.0]))  # y = 1 from 5 to 15
    got = band([a, b], "minmax", quorum=0.5)
    np.testing.assert_array_equal(got.x, [0, 5, 10, 15])
    np.testing.assert_allclose(got.mean, [0, (5 + 1) / 2, (10 + 1) / 2, 1])
    np.testing.assert_array_equal(got.count, [1, 2, 2, 1])
    both = band([a, b], "minmax", quorum=1.0)  # every member present
    np.testing.assert_array_equal(both.x, [5, 10])
    np.testing.assert_allclose(both.low, [1, 1])
    np.testing.assert_allclose(both.high, [5, 10])


def test_a_log_curve_is_averaged_in_log_space_and_skips_what_a_log_axis_cannot_show():
    x = np.arange(3)
    got = band([(x, [1.0, 10.0, 0.0]), (x, [100.0, 1000.0, np.nan])], log=True)
    np.testing.assert_allclose(got.mean, [10.0, 100.0])  # geometric means
    np.testing.assert_array_equal(got.x, [0, 1])  # 0 and NaN are left out
    with pytest.raises(TdwError, match="unknown band 'sd': use one of minmax, iqr"):
        band([(x, x)], "sd")


# ------------------------------------------------------------------------- pooling
def test_pooling_groups_the_variants_that_differ_only_in_the_pooled_parameters(store, six):
    variants = _variants(store, six)
    assert varying(variants) == ["model_seed", "data_seed"]  # in the family's order
    assert default_pool(variants) == ["model_seed", "data_seed"]
    (everything,) = group_variants(variants, ["data_seed", "model_seed"])
    assert everything.label == "modulo_addition_1l" and len(everything) == 6
    by_data = group_variants(variants, ["model_seed"])
    assert [g.label for g in by_data] == ["data_seed=1", "data_seed=2"]
    assert [[v.id for v in g.members] for g in by_data] == [
        [six[ds, ms] for ms in (1, 2, 3)] for ds in (1, 2)]
    singles = group_variants(variants, [])
    assert len(singles) == 6 and singles[0].label == "model_seed=1 · data_seed=1"
    with pytest.raises(TdwError, match="cannot pool over p: the parameters that vary here "
                                       "are model_seed, data_seed"):
        group_variants(variants, ["p"])


def test_every_shared_metric_is_a_curve_with_its_log_axis(store, six):
    curves = {c.name: c for c in curves_of(_variants(store, six))}
    assert {"train_loss", "test_loss", "train_acc", "test_acc"} <= set(curves)
    assert curves["test_loss"].log and not curves["test_acc"].log


# ------------------------------------------------------------- the group comparison
def test_transition_alignment_puts_every_members_fall_at_zero(store, six):
    from tdw.ui.groups import GroupCompare

    page = GroupCompare(list(six.values()), store, pool=["model_seed"], align="transition")
    assert [g.label for g in page.groups] == ["data_seed=1", "data_seed=2"]
    fig = next(f.object for f in page.figures.objects
               if f.object.name == "group-curve:test_loss")
    sources = {r.data_source.name: r.data_source.data for r in fig.renderers}
    for i, ds in enumerate((1, 2)):
        data = sources[f"group-band:test_loss:{i}"]
        x = np.asarray(data["x"])
        # independently: each member's loss shifted by its transition, on the union of x
        shifted = [(np.arange(11) - TURN[ds, ms], loss_curve(TURN[ds, ms], 1.0 + ms))
                   for ms in (1, 2, 3)]
        for k, at in enumerate(x):
            present = [np.log10(y[xs == at][0]) for xs, y in shifted if at in xs]
            if len(present) >= 2:
                assert data["mean"][k] == pytest.approx(10 ** np.mean(present), rel=1e-6)
                assert data["count"][k] == len(present)
        before, after = np.asarray(data["mean"])[x < 0], np.asarray(data["mean"])[x >= 0]
        assert before.min() > 1.9 and after.max() < 0.05  # the fall sits at 0 for all


def test_the_small_multiples_follow_the_position_and_the_controls(store, six):
    from tdw.ui.groups import GroupCompare

    page = GroupCompare(list(six.values()), store, pool=["model_seed"])
    assert page.view_names == ["neuron_activations"]
    assert [[p.variant.id for p in row] for row in page.panes] == [
        [six[ds, ms] for ms in (1, 2, 3)] for ds in (1, 2)]
    assert all(p.epoch == EPOCHS[-1] for row in page.panes for p in row)
    page.slider.value = 4  # nearest checkpoint 5 for every member
    assert all(p.epoch == 5 for row in page.panes for p in row)
    maps = page.panes[0][1].sources
    assert any(np.asarray(v).size and float(np.nanmax(np.asarray(v))) == 5 + 2
               for cols in maps.values() for v in cols.data.values()
               if np.asarray(v).dtype.kind == "f")
    page.pool_widget.value = ["model_seed", "data_seed"]
    assert len(page.groups) == 1 and len(page.panes[0]) == 6
    assert page.band_widget.value == "minmax"
    page.band_widget.value = "iqr"
    assert page.band == "iqr" and "interquartile" in page.summary.object
    page.pool_widget.value = []
    assert len(page.groups) == 6
    with pytest.raises(TdwError, match="cannot show 'nope' for every member"):
        GroupCompare(list(six.values()), store, view="nope")


def test_the_workbench_compares_more_than_four_ticked_variants_in_groups(store, six):
    from tdw.ui import Workbench
    from tdw.ui.groups import GroupCompare
    from tdw.ui.workbench import TABS

    wb = Workbench(store, tab="Variants")
    wb.variants.tick(list(six.values()))
    ids = wb.variants.compare_selected()
    assert sorted(ids) == sorted(six.values()) and TABS[wb.tabs.active] == "Compare"
    assert wb.compare.mode == "groups" and isinstance(wb.compare.compare, GroupCompare)
    assert len(wb.compare.compare.variants) == 6
    wb.compare.compare.align_widget.value = "transition"
    assert wb.compare.align == "transition"
    wb.compare.mode_widget.value = "side"  # six is too many side by side: it says so
    assert wb.compare.compare is None
    assert "Side by side shows 2 to 4 variants; 6 are picked" in str(
        wb.compare.body.objects[0].object)
    wb.compare.picker.value = ids[:3]
    assert [v.id for v in wb.compare.compare.variants] == ids[:3]


def test_aligning_on_a_transition_a_member_lacks_is_refused_and_changes_nothing(store, six):
    from tdw.ui.groups import GroupCompare

    lacking = group_variant(store, 3, 1, None)
    page = GroupCompare([*six.values(), lacking], store, pool=["model_seed"])
    before = [f.object for f in page.figures.objects]
    page.align_widget.value = "transition"
    assert page.message.visible and f"{lacking} has no detected transition" in \
        page.message.object
    assert page.align == "epoch" and page.align_widget.value == "epoch"
    assert [f.object for f in page.figures.objects] == before
    with pytest.raises(TdwError, match="has no detected transition"):
        GroupCompare([*six.values(), lacking], store, align="transition")


def test_controls_keep_the_position_and_realigning_keeps_the_first_members_checkpoint(
        store, six):
    from tdw.ui.groups import GroupCompare

    page = GroupCompare(list(six.values()), store, pool=["model_seed"])
    page.slider.value = 5
    panes = [p for row in page.panes for p in row]
    page.band_widget.value = "iqr"  # the curves change, the members' views do not
    assert page.position == 5 and [p for row in page.panes for p in row] == panes
    page.align_widget.value = "transition"  # the first member is at epoch 5, its transition
    assert page.position == 5 - TURN[1, 1] == 0 and page.panes[0][0].epoch == 5
    assert page.slider.value == 0 and min(page.slider.options) < 0


def test_a_rebuild_takes_over_pooling_band_view_and_position(store, six):
    from tdw.ui.groups import GroupCompare

    old = GroupCompare(list(six.values()), store, pool=["model_seed"], band="iqr")
    old.slider.value = 5
    new = GroupCompare(list(six.values()), store)
    new.take_place_of(old)
    assert (new.pool, new.band, new.position) == (["model_seed"], "iqr", 5)
    assert new.pool_widget.value == ["model_seed"] and new.band_widget.value == "iqr"
    assert all(p.epoch == 5 for row in new.panes for p in row)


def test_members_without_views_metrics_or_checkpoints(store, six, tmp_path):
    from table_variants import table_variant

    from tdw.ui.groups import GroupCompare

    bare = group_variant(store, 3, 1, 6, analysed=False)  # no per-checkpoint artifact
    page = GroupCompare([*six.values(), bare], store)
    assert page.view_names == [] and page.panes == []
    page.slider.value = 5  # nothing to move, and no error
    assert "No per-checkpoint view" in page.multiples.objects[0].object
    untrained = table_variant(store, 13, 1, state="new", epochs_done=0)
    with pytest.raises(TdwError, match=f"{untrained} has no checkpoints yet: train them "
                                       "first, or leave them out"):
        GroupCompare([*six.values(), untrained], store)
    folder = store.path(store.variant(six[1, 1]).folder)
    (folder / "metrics.safetensors").unlink()  # imported without its training metrics
    page = GroupCompare(list(six.values()), store)
    assert not any(c.name.endswith(("loss", "acc")) for c in page.curves)


def test_the_page_picks_side_by_side_or_groups_and_links_carry_the_groups(store, six):
    from tdw.ui.compare import Compare
    from tdw.ui.compare_page import ComparePage
    from tdw.ui.groups import GroupCompare
    from tdw.ui.links import Link

    ids = list(six.values())
    page = ComparePage(store, address=False)
    page.show(ids)
    assert page.mode == "groups" and isinstance(page.compare, GroupCompare)
    page.compare.pool_widget.value = ["model_seed"]
    page.compare.band_widget.value = "iqr"
    link = page.link()
    assert (link.pool, link.band) == (("model_seed",), "iqr")
    assert "pool=model_seed&band=iqr" in link.query()
    page.show(ids[:2])  # few enough: side by side again
    assert page.mode == "side" and isinstance(page.compare, Compare)
    assert page.link().pool is None
    again = ComparePage(store, link=Link.parse(link.query()), address=False)
    assert again.mode == "groups" and again.compare.pool == ["model_seed"]
    assert again.compare.band == "iqr" and [v.id for v in again.compare.variants] == ids
    three = ComparePage(store, link=Link(variants=tuple(ids[:3]), pool=()), address=False)
    assert three.mode == "groups" and len(three.compare.groups) == 3  # none pooled


def test_aligning_on_a_missing_transition_falls_back_to_epoch_and_says_so(store, six):
    from tdw.ui.compare_page import ComparePage
    from tdw.ui.groups import GroupCompare

    lacking = group_variant(store, 3, 1, None)
    page = ComparePage(store, align="transition", address=False)
    page.show([*six.values(), lacking])
    assert isinstance(page.compare, GroupCompare) and page.compare.align == "epoch"
    assert page.align == "transition"  # asked for still: variants that all have one get it
    assert f"{lacking} has no detected transition (analyse it), so these are aligned by " \
        "epoch" in str(page.body.objects[0].object)
    page.show(list(six.values()))
    assert page.compare.align == "transition" and len(page.body.objects) == 1


def test_a_poll_rebuild_keeps_the_groups_state(store, six):
    from tdw.ui.compare_page import ComparePage

    page = ComparePage(store, address=False)
    page.show(list(six.values()))
    page.compare.pool_widget.value = ["model_seed"]
    page.compare.slider.value = 5
    old = page.compare
    store.write_checkpoint(six[1, 1], 7, {"embed.W_E": torch.full((2, 2), 7.0)})
    page.poll_variants()
    assert page.compare is not old and page.compare.pool == ["model_seed"]
    assert page.compare.position == 5


def test_a_record_from_before_a_parameter_existed_means_its_default(store, six):
    import json

    old = six[1, 1]
    params = dict(store.variant(old).params)
    del params["recipe"]  # as written before the recipe parameter existed
    with store.catalog.transaction() as db:
        db.execute("UPDATE variants SET params = ? WHERE id = ?", (json.dumps(params), old))
    variants = _variants(store, six)
    assert "recipe" not in store.variant(old).params and variants[0].params["recipe"] == "tdw"
    assert varying(variants) == ["model_seed", "data_seed"]  # not recipe: both are tdw
