"""Analyzer options (tdw.family.analyzer): recorded in every artifact and its catalog row,
and a change makes exactly those artifacts stale; old stores (catalog schema 3) keep working."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace

import numpy as np
import pytest

from tdw.analysis.engine import AnalysisRunConfig, execute, make_plan
from tdw.errors import SchemaError
from tdw.family import registry
from tdw.family.analyzer import Analyzer, options_change, options_json
from tdw.family.artifacts import ArraySpec, AttrSpec
from tdw.family.registry import families, get_family, register
from tdw.store.catalog import SCHEMA_VERSION
from tdw.store.store import Store
from tdw.training.run import TrainingRun


@dataclass(frozen=True)
class Scale:
    """A planted option: the factor the embedding norm is multiplied by."""

    factor: float = 1.0
    label: str = "plain"


def _scaled_norm(options: Scale):
    def compute(inputs):
        norm = inputs.weights["embed.weight"].norm(dim=1).numpy().astype(np.float32)
        return {"norm": norm * options.factor}, {}
    return compute


def _norm(inputs):
    return {"norm": inputs.weights["embed.weight"].norm(dim=1).numpy().astype(np.float32)}, {}


def _analyzers(options: Scale | None):
    spec = (ArraySpec("norm", "float32", ("token",)),)
    return (Analyzer("scaled", 1, "scaled norm", spec, (), _scaled_norm(options or Scale()),
                     options=options),
            Analyzer("plain", 1, "norm", spec, (), _norm))


NAME = "options_test_family"


def _family(options: Scale | None):
    return replace(get_family("modulo_addition_1l"), name=NAME, title="Options test",
                   analyzers=_analyzers(options), cross_epoch=(), transition=None, story=None,
                   views=(), summaries=(), pages=(), commands=())


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    if NAME not in families():
        register(_family(Scale()), origin="tests/unit/test_analyzer_options.py")
    root = tmp_path_factory.mktemp("options") / "store"
    result = TrainingRun.prepare(family=NAME, params={"p": 7, "n_epochs": 10},
                                 schedule="0-10/5", store=root, device="cpu").execute()
    store = Store(root)
    execute(store, make_plan(store, AnalysisRunConfig(result.variant, workers=1)), workers=1)
    yield root, result.variant
    registry._REGISTRY.pop(NAME, None)


def _plan_with(monkeypatch, root, vid, options: Scale | None):
    monkeypatch.setattr("tdw.family.registry._REGISTRY",
                        {**families(), NAME: _family(options)})
    return make_plan(Store(root), AnalysisRunConfig(vid, workers=1))


def test_options_are_in_the_artifact_and_its_catalog_row(trained):
    root, vid = trained
    store = Store(root)
    rows = {(r.analyzer, r.epoch): r for r in store.artifacts(vid)}
    assert rows[("scaled", 5)].options == '{"factor":1.0,"label":"plain"}'
    assert rows[("plain", 5)].options is None
    art = store.load_artifact(vid, _analyzers(Scale())[0].schema, 5)
    assert art.attrs["options"] == {"factor": 1.0, "label": "plain"}


def test_unchanged_options_are_fresh_and_changed_ones_stale_for_exactly_that_analyzer(
        trained, monkeypatch):
    root, vid = trained
    assert _plan_with(monkeypatch, root, vid, Scale()).empty
    plan = _plan_with(monkeypatch, root, vid, Scale(factor=3e-05))
    assert {(i.analyzer, i.epoch) for i in plan.items} == {("scaled", 0), ("scaled", 5),
                                                           ("scaled", 10)}
    assert {i.reason for i in plan.items} == {"stale: options changed (factor 1.0 -> 3e-05)"}
    assert "scaled: 3 checkpoints (stale: options changed (factor 1.0 -> 3e-05))" \
        in plan.describe()


def test_recomputing_with_new_options_makes_the_plan_fresh_again(trained, monkeypatch,
                                                                 tmp_path):
    import shutil

    root, vid = trained
    shutil.copytree(root, tmp_path / "copy")
    plan = _plan_with(monkeypatch, tmp_path / "copy", vid, Scale(label="other"))
    assert {i.reason for i in plan.items} == {
        'stale: options changed (label "plain" -> "other")'}
    execute(Store(tmp_path / "copy"), plan, workers=1)
    assert _plan_with(monkeypatch, tmp_path / "copy", vid, Scale(label="other")).empty


def test_rows_without_options_match_options_less_analyzers_only(trained, monkeypatch,
                                                                tmp_path):
    import shutil

    root, vid = trained
    shutil.copytree(root, tmp_path / "copy")
    Store(tmp_path / "copy").catalog.execute("UPDATE artifacts SET options = NULL")
    plan = _plan_with(monkeypatch, tmp_path / "copy", vid, Scale())
    assert {(i.analyzer, i.reason) for i in plan.items} == {
        ("scaled", "stale: options not recorded (made before the analyzer had options)")}
    assert plan.up_to_date == 3  # "plain" never had options: still fresh
    dropped = _plan_with(monkeypatch, root, vid, None)  # options removed from "scaled"
    assert {i.reason for i in dropped.items} == {
        "stale: options dropped (the analyzer no longer has options)"}


def test_a_schema_3_store_gains_the_options_column_and_its_rows_count_as_options_less(
        trained, tmp_path, monkeypatch):
    import shutil

    root, vid = trained
    shutil.copytree(root, tmp_path / "old")
    db = sqlite3.connect(tmp_path / "old" / "catalog.sqlite")  # back to what schema 3 was
    db.executescript("ALTER TABLE artifacts DROP COLUMN options;"
                     "UPDATE meta SET value = '3' WHERE key = 'schema_version';")
    db.close()
    store = Store(tmp_path / "old")
    assert SCHEMA_VERSION == 4
    assert store.catalog.one("SELECT value FROM meta")[0] == "4"
    assert {r.options for r in store.artifacts(vid)} == {None}  # nothing says what made them
    assert Store(tmp_path / "old").catalog.one("SELECT value FROM meta")[0] == "4"  # no-op
    columns = [r["name"] for r in store.catalog.query("PRAGMA table_info(artifacts)")]
    assert columns.count("options") == 1 and columns[-1] == "options"
    plan = _plan_with(monkeypatch, tmp_path / "old", vid, Scale())
    assert {i.analyzer for i in plan.items} == {"scaled"} and plan.up_to_date == 3


def test_a_migration_killed_after_the_column_or_run_twice_adds_it_once(trained, tmp_path):
    import shutil

    root, vid = trained
    shutil.copytree(root, tmp_path / "half")
    db = sqlite3.connect(tmp_path / "half" / "catalog.sqlite")  # the column, but version 3
    db.executescript("UPDATE meta SET value = '3' WHERE key = 'schema_version';")
    db.close()
    first, second = Store(tmp_path / "half"), Store(tmp_path / "half")  # two openers
    for store in (first, second):
        assert store.catalog.one("SELECT value FROM meta")[0] == "4"
        columns = [r["name"] for r in store.catalog.query("PRAGMA table_info(artifacts)")]
        assert columns.count("options") == 1
    assert len(first.artifacts(vid)) == len(Store(root).artifacts(vid))  # no row lost


def test_a_new_store_has_the_column_in_the_same_place_as_a_migrated_one(tmp_path):
    columns = [r["name"] for r in Store(tmp_path / "new").catalog.query(
        "PRAGMA table_info(artifacts)")]
    assert columns[-2:] == ["created", "options"]


def test_options_text_is_canonical_and_the_change_names_each_field():
    assert options_json({"b": 1, "a": [1, 2]}) == options_json({"a": [1, 2], "b": 1})
    assert options_json(None) is None
    assert options_change('{"a":1,"b":2}', '{"a":1,"b":3}') == "options changed (b 2 -> 3)"
    assert options_change('{"a":1}', '{"a":1,"c":null}') == "options changed (c unset -> null)"
    assert options_change('{"a":1}', '{"a":2,"c":4}') == \
        "options changed (a 1 -> 2, c unset -> 4)"


def test_options_must_be_a_frozen_dataclass_and_options_is_a_reserved_attribute():
    @dataclass
    class Mutable:
        x: int = 1

    spec = (ArraySpec("norm", "float32", ("token",)),)
    with pytest.raises(SchemaError, match="frozen dataclass instance"):
        Analyzer("a", 1, "", spec, (), _norm, options=Mutable())
    with pytest.raises(SchemaError, match="frozen dataclass instance"):
        Analyzer("a", 1, "", spec, (), _norm, options=Scale)
    with pytest.raises(SchemaError, match="reserved"):
        Analyzer("a", 1, "", spec, (AttrSpec("options", "json"),), _norm)
