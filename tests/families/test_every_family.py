"""Every registered family, with no family-specific code: the family's own tiny variant
(its ``tiny`` preset trained on the CPU, or, for an imported family, the one its
``tiny_variant`` hook imports) is analysed, and every view renders at every checkpoint, in
the notebook API, the Explore page and the Compare page.

This is the test that keeps "adding a family changes nothing outside its folder" honest:
the dashboards must show whatever a family declares, and a new family, built in or a
plugin, is covered by declaring ``tiny``. ``tests/families/test_example_plugin.py`` runs this module
for the example plugin in a subprocess that has it installed (``-k sequence_reversal``)."""

from __future__ import annotations

import pytest

from tdw.explore.variant import Variant
from tdw.family.registry import families, get_family

pytestmark = pytest.mark.slow  # each family's variant is trained (or imported) and analysed

MAX_TINY_CHECKPOINTS = 10
"""A tiny variant leaves a handful of checkpoints: every view renders at each of them."""


def build_tiny_variant(name: str, root) -> str:
    """Put the tiny variant of family ``name`` into the store at ``root``, analyse it fully,
    and return its id."""
    from tdw.analysis.run import AnalysisRun
    from tdw.store.store import Store
    from tdw.training.run import TrainingRun

    fam = get_family(name)
    store = Store(root)
    if fam.tiny_variant is not None:
        variant = fam.tiny_variant(store)
    else:
        assert "tiny" in fam.presets, (
            f"{name} declares neither a 'tiny' preset nor a tiny_variant hook: add "
            f"presets={{'tiny': {{...}}}} (a run of seconds on a CPU) to its Family")
        variant = TrainingRun.prepare(family=name, preset="tiny", store=store,
                                      device="cpu").execute().variant
    AnalysisRun.prepare(variant=variant, workers=1, store=store).execute()
    return variant


@pytest.fixture(scope="module", params=sorted(families()))
def variant(request, tmp_path_factory) -> Variant:
    name = request.param
    root = tmp_path_factory.mktemp(name) / "store"
    variant = Variant(build_tiny_variant(name, root), root)
    assert variant.family.name == name
    return variant


def test_the_tiny_variant_is_tiny(variant):
    n = len(variant.epochs)
    assert 2 <= n <= MAX_TINY_CHECKPOINTS, (
        f"{variant.family.name}'s tiny variant has {n} checkpoints; make its tiny preset "
        f"leave 2 to {MAX_TINY_CHECKPOINTS} under the default schedule (fewer epochs)")


def test_every_analyzer_has_a_view(variant):
    fam = variant.family
    read = {name for view in fam.views for name in view.reads}
    for analyzer in (*fam.analyzers, *fam.cross_epoch):
        assert analyzer.name in read or analyzer.name == fam.transition, \
            f"{fam.name}: analyzer {analyzer.name} has no view"


def test_every_view_renders_at_every_checkpoint(variant):
    from bokeh.models import ColumnDataSource, Model

    assert variant.epochs, "the tiny variant must leave checkpoints"
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
    cmp.position = cmp.positions[0]
    assert all(p.epoch == variant.epochs[0] for panes in cmp.columns for p in panes)
