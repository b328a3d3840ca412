"""Tags and notes: the catalog's schema 3, the store functions, and ``tdw tag``, ``tdw
note`` and ``tdw variants`` reading and writing them."""

from __future__ import annotations

import io
import json
import sqlite3

import pytest
from helpers import snapshot

from tdw.cli.main import main
from tdw.errors import ParameterError, UnknownNameError
from tdw.family.registry import get_family
from tdw.store import annotations
from tdw.store.annotations import Annotation
from tdw.store.catalog import _MIGRATIONS, _SCHEMA, SCHEMA_VERSION
from tdw.store.store import Store

FAMILY = get_family("modulo_addition_1l")


def _variant(store: Store, p: int) -> str:
    return store.ensure_variant(FAMILY, FAMILY.resolve({"p": p, "n_epochs": 10}), "0-10/10",
                                10).id


@pytest.fixture
def vid(store: Store) -> str:
    _variant(store, 11)
    return _variant(store, 7)


def _cli(store: Store, *args: str) -> int:
    return main(["--store", str(store.root), *args])


def test_a_schema_2_store_gains_the_annotation_tables_and_keeps_its_rows(tmp_path):
    root = tmp_path / "old"
    root.mkdir()
    db = sqlite3.connect(root / "catalog.sqlite")
    db.executescript(_SCHEMA + _MIGRATIONS[2])  # version 2 had exactly these tables
    db.execute("INSERT INTO meta VALUES ('schema_version', '2')")
    db.execute("INSERT INTO families VALUES ('modulo_addition_1l', 'Modulo Addition', 1)")
    db.execute("INSERT INTO variants (id, family, params, schedule, n_epochs, state, created, "
               "updated) VALUES ('modulo_addition_1l/p7', 'modulo_addition_1l', '{}', '0-4/2', "
               "4, 'trained', 0, 0)")
    db.execute("INSERT INTO sweeps (family, spec, executor, state, created, updated) VALUES "
               "('modulo_addition_1l', '{}', 'local:1', 'succeeded', 0, 0)")
    db.commit()
    db.close()
    store = Store(root)
    assert SCHEMA_VERSION >= 3  # schema 3 brought the annotation tables
    assert store.catalog.one("SELECT value FROM meta")[0] == str(SCHEMA_VERSION)
    assert [v.id for v in store.variants()] == ["modulo_addition_1l/p7"]
    assert len(store.catalog.query("SELECT * FROM sweeps")) == 1
    annotations.add_tags(store.catalog, "modulo_addition_1l/p7", ["old"])
    reopened = Store(root)  # reopening is a no-op
    assert reopened.catalog.one("SELECT value FROM meta")[0] == str(SCHEMA_VERSION)
    assert annotations.annotation(reopened.catalog, "modulo_addition_1l/p7").tags == ("old",)


def test_tags_and_note_round_trip_and_go_with_the_variant(store, vid):
    assert annotations.annotation(store.catalog, vid) == Annotation()
    annotations.add_tags(store.catalog, vid, ["b", " a ", "b"])
    assert annotations.annotation(store.catalog, vid).tags == ("a", "b")
    notes = annotations.annotate(store.catalog, vid, tags=["c", "a"], note="  grokked late\n")
    assert notes == Annotation(("a", "c"), "grokked late")
    assert annotations.annotations(store.catalog) == {vid: notes}
    assert annotations.tagged(store.catalog, "c") == [vid]
    stamp = annotations.stamp(store.catalog)
    assert annotations.remove_tags(store.catalog, vid, ["c"]).tags == ("a",)
    assert annotations.stamp(store.catalog) != stamp
    assert annotations.annotate(store.catalog, vid, note="").note == ""
    store.catalog.execute("DELETE FROM variants WHERE id = ?", (vid,))  # cascades
    assert annotations.annotations(store.catalog) == {}


@pytest.mark.parametrize("tags", [["fine", "not fine"], ["a,b"], [""], ["-lead"], ["x" * 41]])
def test_a_bad_tag_writes_none_of_the_list(store, vid, tags):
    annotations.annotate(store.catalog, vid, tags=["kept"], note="kept")
    before = snapshot(store.root)
    with pytest.raises(ParameterError, match="is not a tag: a tag is 1 to 40 characters"):
        annotations.annotate(store.catalog, vid, tags=tags, note="changed")
    with pytest.raises(ParameterError):
        annotations.add_tags(store.catalog, vid, ["new", *tags])
    assert snapshot(store.root) == before


def test_removing_a_tag_the_variant_lacks_changes_nothing(store, vid):
    annotations.add_tags(store.catalog, vid, ["a", "b"])
    with pytest.raises(UnknownNameError, match="choose one of: a, b"):
        annotations.remove_tags(store.catalog, vid, ["a", "zzz"])
    assert annotations.annotation(store.catalog, vid).tags == ("a", "b")
    with pytest.raises(UnknownNameError, match="unknown variant"):
        annotations.add_tags(store.catalog, "modulo_addition_1l/nope", ["a"])
    with pytest.raises(ParameterError, match="shorten it"):
        annotations.annotate(store.catalog, vid, note="x" * 10_001)


def test_tdw_tag_and_note_round_trip(store, vid, capsys, monkeypatch):
    short = vid.split("/")[1][:3]  # a unique prefix is enough
    assert _cli(store, "tag", short, "baseline", "seed-sweep") == 0
    assert capsys.readouterr().out == f"{vid}: baseline, seed-sweep\n"
    assert _cli(store, "tag", short, "--json") == 0
    assert json.loads(capsys.readouterr().out) == {"variant": vid,
                                                   "tags": ["baseline", "seed-sweep"],
                                                   "note": ""}
    assert _cli(store, "tag", short, "seed-sweep", "--remove") == 0
    assert capsys.readouterr().out == f"{vid}: baseline\n"
    before = snapshot(store.root)
    assert _cli(store, "tag", short, "ok", "not ok") == 2
    assert "'not ok' is not a tag" in capsys.readouterr().err
    assert _cli(store, "tag", short, "nope", "--remove") == 2
    assert "unknown tag of" in capsys.readouterr().err
    assert snapshot(store.root) == before
    with pytest.raises(SystemExit):  # a usage error
        _cli(store, "tag", short, "--remove")
    assert "needs the tags to remove" in capsys.readouterr().err

    assert _cli(store, "note", short) == 0
    assert "has no note" in capsys.readouterr().err
    assert _cli(store, "note", short, "lr too high?\nsecond line") == 0
    assert capsys.readouterr().out == f"{vid}: note saved\n"
    assert _cli(store, "note", short) == 0
    assert capsys.readouterr().out == "lr too high?\nsecond line\n"
    monkeypatch.setattr("sys.stdin", io.StringIO("from stdin\n"))
    assert _cli(store, "note", short, "-") == 0
    assert annotations.annotation(store.catalog, vid).note == "from stdin"
    capsys.readouterr()
    assert _cli(store, "note", short, "--clear", "--json") == 0
    assert json.loads(capsys.readouterr().out)["note"] == ""


def test_tdw_variants_shows_tags_and_notes(store, vid, capsys):
    other = next(v.id for v in store.variants() if v.id != vid)
    annotations.annotate(store.catalog, vid, tags=["keep", "p7"], note="the small one")
    assert _cli(store, "variants") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[-1] == "tags"
    assert next(line for line in lines if line.startswith(vid)).endswith("keep p7")
    assert _cli(store, "variants", "--json") == 0
    listed = {v["id"]: v for v in json.loads(capsys.readouterr().out)}
    assert (listed[vid]["tags"], listed[vid]["note"]) == (["keep", "p7"], "the small one")
    assert (listed[other]["tags"], listed[other]["note"]) == ([], "")
    assert _cli(store, "variants", "--tag", "keep", "--json") == 0
    assert [v["id"] for v in json.loads(capsys.readouterr().out)] == [vid]
    assert _cli(store, "variants", "--tag", "nothing") == 0
    assert "no variant is tagged 'nothing'" in capsys.readouterr().out
    assert _cli(store, "variants", vid) == 0
    shown = capsys.readouterr().out
    assert "  tags         keep, p7\n" in shown and "  note         the small one\n" in shown
    assert _cli(store, "variants", vid, "--json") == 0
    assert json.loads(capsys.readouterr().out)["tags"] == ["keep", "p7"]
