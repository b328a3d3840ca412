"""The Init gradients page (Modulo Addition's ``Family.pages``) and the workbench's tabs for
family pages: the charts hold what :func:`init_gradient_sweep` computes (recomputed here),
bad input is said on the page before any model is built, and a family's page that fails
or clashes never takes the workbench down.

The store holds planted variants (p = 11; nothing is trained): one whose key frequencies
are 2 and 4 at its last checkpoint, and one with a checkpoint but no analysis.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import panel as pn
import pytest
from planted import plant_variant
from tdw.families.modulo_addition_1l.init_sweep import init_gradient_sweep, trained_variant
from tdw.families.modulo_addition_1l.init_sweep_charts import KEY, OTHER
from tdw.families.modulo_addition_1l.init_sweep_page import NONE, InitSweepPage

from tdw.family.pages import Page
from tdw.family.registry import families, get_family
from tdw.ui import family_pages

FAMILY = get_family("modulo_addition_1l")
SITES = ("W_E", "W_Q", "W_K", "W_V", "W_in")


@pytest.fixture
def planted(store):
    """The store, its analysed variant (model seed 1, keys 2 and 4), and an unanalysed one
    (model seed 2, planted last: the most recent)."""
    analysed = plant_variant(store, 1, [2, 4])
    return store, analysed, plant_variant(store, 2, None)


def test_the_charts_hold_the_sweep_of_the_compared_variants_parameters(planted):
    store, analysed, unanalysed = planted
    page = InitSweepPage(store, analysed)
    assert page.against.options == [NONE, unanalysed, analysed]  # most recent first
    assert page.inputs["p"].value == 11 and page.inputs["p"].disabled  # the keys' modulus
    assert "epoch 3, its last checkpoint" in page.keys_line.object
    assert f"<b style='color:{KEY}'>2, 4</b>" in page.keys_line.object
    page.seeds.value = "0-2"
    page.run()
    assert page.run_button.disabled and page.cancel_button.visible  # while it runs
    page.wait()
    assert page.message.visible is False and page.status.object.startswith("Done: 3 seeds")
    assert not page.run_button.disabled and not page.cancel_button.visible

    expected = init_gradient_sweep(FAMILY.resolve({"p": 11}), (0, 1, 2), keys=(2, 4))
    assert list(page.figures) == [*(f"init-sweep:{s}" for s in SITES), "init-sweep:seeds"]
    for i, site in enumerate(SITES):
        bars = page.figures[f"init-sweep:{site}"].select_one({"name": f"init-sweep-bars:{site}"})
        data = bars.data
        assert data["freq"] == [1, 2, 3, 4, 5]
        np.testing.assert_allclose(data["mean"], expected.shares[:, i].mean(0), rtol=1e-12)
        np.testing.assert_allclose(data["spread"], expected.shares[:, i].std(0), rtol=1e-12)
        np.testing.assert_allclose(data["upper"], np.add(data["mean"], data["spread"]))
        assert min(data["lower"]) >= 0
        assert data["color"] == [OTHER, KEY, OTHER, KEY, OTHER]
        assert data["rank"] == expected.rank[i].tolist()
    seeds = page.figures["init-sweep:seeds"].select_one({"name": "init-sweep-seeds"}).data
    np.testing.assert_allclose(seeds["percentile"], expected.key_percentile_by_seed.ravel())
    assert seeds["seed"][:5] == [0] * 5 and seeds["site"][:5] == list(SITES)
    assert [s for s, own in zip(seeds["seed"], seeds["own"], strict=True) if own] == [1] * 5

    table = next(o for o in page.results.objects if "tdw-init-keys" in o.css_classes).object
    rows = table.split("<tr class='tdw-init-key-row'>")[1:]
    assert len(rows) == len(SITES) and "seed 1: percentile" in table  # its own seed was swept
    for i, (site, row) in enumerate(zip(SITES, rows, strict=True)):
        cells = [c.split(">", 1)[1] for c in row.split("</td>")[:-1]]
        ranks = ", ".join(f"#{expected.rank[i, k - 1]}" for k in (2, 4))
        assert cells == [site, ranks, f"{expected.key_percentile[i]:.1%}",
                         f"{expected.key_p_value[i]:.3g}",
                         f"{expected.key_percentile_by_seed[1, i]:.1%}",
                         f"{expected.key_p_value_by_seed[1, i]:.3g}"]

    trained = trained_variant(store, analysed)  # without its own seed: said, not tabled
    page.show(init_gradient_sweep(FAMILY.resolve({"p": 11}), (0,), keys=(2, 4)), trained)
    said = " ".join(str(getattr(o, "object", "")) for o in page.results.objects)
    assert "Its own initialisation (model seed 1) is not among the seeds" in said
    assert "seed 1: percentile" not in said


def test_without_a_variant_the_form_sets_p_and_nothing_is_ranked(planted):
    store, _, _ = planted
    page = InitSweepPage(store)
    page.against.value = NONE
    assert not page.inputs["p"].disabled and "no key frequencies" in page.keys_line.object
    page.inputs["p"].value, page.seeds.value = 13, "4,7"
    page.run()
    page.wait()
    expected = init_gradient_sweep(FAMILY.resolve({"p": 13}), (4, 7))
    assert list(page.figures) == [f"init-sweep:{s}" for s in SITES]  # no keys: no seed chart
    mean = page.figures["init-sweep:W_in"].select_one({"name": "init-sweep-bars:W_in"}).data
    np.testing.assert_allclose(mean["mean"], expected.mean[-1], rtol=1e-12)
    assert set(mean["color"]) == {OTHER}


@pytest.mark.parametrize(("change", "words"), [
    ({"seeds": "0-x"}, "model seeds '0-x': '0-x' is not a seed or a range; write "
                       "comma-separated seeds and ranges"),
    ({"seeds": "9-3"}, "the range 9-3 runs downward; write it upward, e.g. 3-9"),
    ({"seeds": "4294967296"}, "the largest model_seed; choose seeds in 0-4294967295"),
    ({"against": NONE, "p": 12}, "the modulus must be prime (e.g. 53, 59, 97, 113)"),
    ({"data_seed": None}, "fill in data_seed"),
    ({"train_fraction": 1.5}, "'train_fraction' = 1.5 is above the maximum 0.99"),
    ({"against": "unanalysed"}, "dominant_frequencies"),
])
def test_bad_input_is_said_on_the_page_before_any_model_is_built(planted, change, words):
    store, analysed, unanalysed = planted
    page = InitSweepPage(store)
    change = dict(change)
    if change.get("against") == "unanalysed":
        change["against"] = unanalysed
    if "against" in change:
        page.against.value = change.pop("against")
    if "seeds" in change:
        page.seeds.value = change.pop("seeds")
    for name, value in change.items():
        page.inputs[name].value = value
    page.run()
    assert page.sweep is None and page.message.visible
    assert words in page.message.object, page.message.object
    assert "Traceback" not in page.message.object and page.results.objects == []


def test_an_unknown_or_untrained_variant_in_the_link_is_said_and_another_compared(planted):
    store, analysed, unanalysed = planted
    page = InitSweepPage(store, "nope")
    assert page.message.visible and "unknown variant 'nope'" in page.message.object
    assert page.against.value == unanalysed  # the most recent, as with no link
    assert "dominant_frequencies" in page.keys_line.object  # why it cannot be compared
    page.against.value = analysed
    assert "2, 4" in page.keys_line.object


def test_cancel_stops_the_sweep_after_the_current_seed(planted):
    store, analysed, _ = planted
    page = InitSweepPage(store, analysed)
    page.seeds.value = "0-999"
    page.run()
    page.cancel_button.clicks += 1
    page.wait()
    assert page.sweep.done < 1000 and page.results.objects == []
    assert page.message.object.startswith("Cancelled after ") and "of 1000 seeds" in \
        page.message.object
    assert not page.run_button.disabled  # ready for the next


def test_a_cancel_during_the_last_seed_keeps_the_finished_sweep():
    from tdw.families.modulo_addition_1l.init_sweep_page import SweepThread, _Cancelled

    sweep = SweepThread.__new__(SweepThread)  # its progress hook alone, no thread
    sweep.done, sweep._cancel = 0, __import__("threading").Event()
    sweep._cancel.set()
    sweep._progress(3, 3)  # the last seed is done: the result stands
    assert sweep.done == 3
    with pytest.raises(_Cancelled):
        sweep._progress(2, 3)


# --- the workbench: one tab per family page ----------------------------------------------


def test_the_workbench_opens_the_page_a_link_names(planted):
    from tdw.ui import Workbench
    from tdw.ui.links import Link

    store, analysed, _ = planted
    wb = Workbench(store, link=Link.parse("tab=init-gradients&variant=p11-ms1"))
    assert wb.tab_names[-1] == "init-gradients" and wb.tabs._names[-1] == "Init gradients"
    assert wb.tab_names[wb.tabs.active] == "init-gradients"
    (shown,) = [p for p in wb.family_pages if p.page.name == "init-gradients"]
    assert isinstance(shown.view, InitSweepPage) and shown.view.against.value == analysed
    assert wb.address.query == "tab=init-gradients"
    assert not wb.notices.visible
    wb.tabs.active = 0
    assert wb.address.query.startswith("tab=Explore")
    wb = Workbench(store, link=Link.parse("tab=nowhere"))
    said = " ".join(alert.object for alert in wb.notices)
    assert "unknown tab 'nowhere'; choose one of: Explore, " in said
    assert "Sweeps, init-gradients" in said


def test_a_broken_or_clashing_family_page_does_not_take_the_workbench_down(planted,
                                                                           monkeypatch):
    from tdw.ui import Workbench

    store, _, _ = planted

    def broken(store, variant):
        raise RuntimeError("no such widget")

    class Stale:  # builds, but cannot follow the store
        def refresh(self):
            raise KeyError("gone")

        def __panel__(self):
            return pn.pane.Markdown("stale")

    extra = dataclasses.replace(FAMILY, name="other", pages=(
        Page("init-gradients", "Copy", lambda store, variant: None),  # taken by Modulo's
        Page("broken", "Broken", broken), Page("stale", "Stale", lambda s, v: Stale())))
    known = {**families(), "other": extra}
    monkeypatch.setattr(family_pages, "families", lambda: known)
    wb = Workbench(store, tab="broken")
    assert wb.tab_names[-3:] == ("init-gradients", "broken", "stale")
    said = " ".join(alert.object for alert in wb.notices)
    assert "family other's page 'init-gradients' is not shown: family modulo_addition_1l " \
           "has a tab of that name" in said
    error = wb.family_pages[-2].panel.objects[-1].object
    assert "page 'broken' could not be built: RuntimeError: no such widget" in error
    wb._job_finished(None)  # a job's end refreshes the pages that can refresh ...
    stale = wb.family_pages[-1].panel.objects[0].object  # ... and one that cannot says so
    assert "could not follow the store: KeyError: 'gone'" in stale


@pytest.mark.parametrize("name", ["Init", "1st", "init gradients", ""])
def test_a_page_name_is_a_lower_case_slug(name):
    with pytest.raises(ValueError, match="lower-case letters, digits and hyphens"):
        Page(name, "Title", lambda store, variant: None)
