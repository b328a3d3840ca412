"""Every registered family, with no family-specific code: a tiny variant of each (built by
``tests/family_builders.py``) renders every view at every checkpoint, in the notebook API,
the Explore page and the Compare page.

This is the test that keeps "adding a family changes nothing outside ``families/<name>/``"
honest: the dashboards must show whatever a family declares."""

from __future__ import annotations

import pytest
from family_builders import BUILDERS

from tdw.explore.variant import Variant
from tdw.family.registry import families

pytestmark = pytest.mark.slow  # each family's variant is trained (or imported) and analysed


def test_every_registered_family_has_a_builder():
    missing = sorted(set(families()) - set(BUILDERS))
    assert not missing, f"add a tiny-variant builder to tests/family_builders.py for {missing}"


@pytest.fixture(scope="module", params=sorted(families()))
def variant(request, tmp_path_factory) -> Variant:
    name = request.param
    if name not in BUILDERS:
        pytest.skip(f"{name} has no builder (see test_every_registered_family_has_a_builder)")
    root = tmp_path_factory.mktemp(name) / "store"
    variant = Variant(BUILDERS[name](root), root)
    assert variant.family.name == name
    return variant


def test_every_analyzer_has_a_view(variant):
    fam = variant.family
    read = {name for view in fam.views for name in view.reads}
    for analyzer in (*fam.analyzers, *fam.cross_epoch):
        assert analyzer.name in read or analyzer.name == fam.transition, \
            f"{fam.name}: analyzer {analyzer.name} has no view"


def test_every_view_renders_at_every_checkpoint(variant):
    from bokeh.models import ColumnDataSource, Model

    assert variant.epochs, "the builder must leave checkpoints"
    for view in variant.family.views:
        assert not variant.missing(view), f"{view.name} waits for {variant.missing(view)}"
        for epoch in variant.epochs:
            result = variant.at(epoch).view(view.name)
            assert isinstance(result.figure, Model), view.name
            sources = result.figure.select({"type": ColumnDataSource})
            assert any(len(next(iter(s.data.values()), [])) for s in sources if s.data), \
                f"{view.name} at epoch {epoch} draws nothing"


def test_the_explorer_shows_every_view_and_moves_them(variant):
    from tdw.ui import Explorer

    ex = Explorer(variant)
    assert not ex.waiting
    assert [p.name for p in ex.panes] == [v.name for v in variant.family.views]
    ex.index = 0
    assert all(p.epoch == variant.epochs[0] for p in ex.panes if p.view.scope == "checkpoint")
    assert ex.__panel__() is not None


def test_the_compare_page_lays_a_family_side_by_side(variant):
    from tdw.ui.compare import Compare

    cmp = Compare([variant, variant])
    assert cmp.view_names, f"{variant.family.name} has no per-checkpoint view to compare"
    cmp.slider.value = cmp.slider.options[0]
    assert all(p.epoch == variant.epochs[0] for panes in cmp.columns for p in panes)
