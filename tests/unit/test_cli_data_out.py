"""Data out of the CLI: ``--json`` of every list command, ``tdw export --data`` (metrics and
a view's numbers as a tidy table), ``--store`` after the command and ``tdw --version``.

The variant is built directly in the store, no training: a probe, two checkpoints, hand-made
metrics and ``neuron_activations`` artifacts. Every check compares with what the store
holds, read independently of the command (the catalog's records, the artifact's arrays).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import sys

import numpy as np
import pandas as pd
import pytest
from helpers import neuron_variant

from tdw.cli.data_export import INDEX, view_table
from tdw.cli.jobs import JOB_KEYS
from tdw.cli.main import main
from tdw.explore.variant import Variant
from tdw.family.registry import families, get_family
from tdw.jobs import jobs as jobs_mod
from tdw.store import jobs as job_table
from tdw.store.store import Store
from tdw.sweeps import sweep as sweep_mod

FAMILY = "modulo_addition_1l"
NEURONS = 5  # stored neurons (the real analyzer stores 16)


def _maps(epoch: int) -> np.ndarray:
    """The (neuron, a, b) activation maps stored at ``epoch``: distinct per epoch."""
    rng = np.random.default_rng(epoch)
    return rng.standard_normal((NEURONS, 7, 7)).astype(np.float16)


@pytest.fixture
def variant(store: Store) -> str:
    """A finished modulo addition variant (p = 7, 10 epochs) with metrics, checkpoints at
    epochs 0 and 10 and a ``neuron_activations`` artifact at each; nothing else analysed."""
    vid = neuron_variant(store, _maps)
    rng = np.random.default_rng(1)
    store.write_metrics(vid, {name: rng.random(11).astype(np.float32) for name in
                              ("train_loss", "test_loss", "train_acc", "test_acc")})
    store.update_variant(vid, state="trained", epochs_done=10, final_train_acc=1.0,
                         final_test_acc=0.25)
    return vid


def _json(capsys, *args: str):
    assert main(list(args)) == 0
    return json.loads(capsys.readouterr().out)


def _fails(capsys, *args: str) -> str:
    """The one line a refused command prints (exit 2)."""
    assert main(list(args)) == 2
    err = capsys.readouterr().err
    assert err.startswith("tdw: ") and len(err.strip().splitlines()) == 1, err
    return err


# ------------------------------------------------------------------------------ --json


def test_variants_json_is_the_catalog(store, variant, capsys):
    listed = _json(capsys, "--store", str(store.root), "variants", "--json")
    expected = [{**dataclasses.asdict(v), "checkpoints": len(store.checkpoints(v.id)),
                 "tags": [], "note": ""} for v in store.variants()]
    assert listed == json.loads(json.dumps(expected))  # tuples become lists, nothing else
    (one,) = listed
    assert one["id"] == variant and one["checkpoints"] == 2 and one["final_test_acc"] == 0.25
    assert one["final_train_loss"] is None  # missing is null, not NaN or ""


def test_one_variant_json_adds_its_checkpoints_and_analysis(store, variant, capsys):
    one = _json(capsys, "--store", str(store.root), "variants", variant[:-1], "--json")
    assert one["id"] == variant and one["checkpoint_epochs"] == [0, 10]
    assert one["adaptive_epochs"] == [] and one["transition"] is None
    have, expected = Variant(variant, store).analysed()
    assert one["analysed"] == {"artifacts": have, "expected": expected} and have == 2
    assert "attention_patterns" in one["waiting"]
    assert "neuron_activations" not in one["waiting"]


def test_jobs_json_lists_and_shows_the_job_records(store, variant, capsys):
    job_id = job_table.queue(store.catalog, "analyze", variant, {"workers": 1})
    listed = _json(capsys, "--store", str(store.root), "jobs", "--json")
    record = jobs_mod.job(store, job_id)
    assert [tuple(j) for j in listed] == [JOB_KEYS]
    (job,) = listed
    assert {k: job[k] for k in ("id", "kind", "variant", "state", "params", "progress")} == {
        "id": job_id, "kind": "analyze", "variant": variant, "state": record.state,
        "params": {"workers": 1}, "progress": record.progress}
    assert job["finished"] == record.finished and job["eta_seconds"] is None
    shown = _json(capsys, "--store", str(store.root), "jobs", "show", str(job_id), "--json")
    assert shown == {**job, "log_tail": []}


def test_sweep_status_json_lists_each_sweep_with_its_members(store, capsys):
    spec = sweep_mod.SweepSpec.from_cli(FAMILY, ["model_seed=1,2"], ["p=7", "n_epochs=10"])
    points = sweep_mod.plan(spec)
    record = sweep_mod.create(store, spec, points, "local:1")
    listed = _json(capsys, "--store", str(store.root), "sweep", "status", "--json")
    (sweep,) = listed
    assert sweep["id"] == record.id and sweep["family"] == FAMILY
    assert sweep["grid"] == {"model_seed": [1, 2]} and sweep["fixed"] == {"p": "7",
                                                                           "n_epochs": "10"}
    assert (sweep["done"], sweep["total"], sweep["analyze"]) == (0, 2, False)
    assert [(m["position"], m["variant"], m["state"], m["job"]) for m in sweep["members"]] == [
        (p.position, p.variant, "pending", None) for p in points]
    assert _json(capsys, "--store", str(store.root), "sweep", "status", str(record.id),
                 "--json") == listed
    err = _fails(capsys, "--store", str(store.root), "sweep", FAMILY, "--grid", "p=7",
                 "--json")
    assert "tdw sweep status [ID] --json" in err


def test_views_json_lists_every_view_and_with_a_variant_its_selector_sizes(
        store, variant, capsys):
    listed = _json(capsys, "views", "--json")
    assert [(v["family"], v["name"]) for v in listed] == [
        (fam.name, view.name) for fam in families().values() for view in fam.views]
    assert all(s["size"] is None for v in listed for s in v["selectors"])
    sized = {v["name"]: v for v in _json(capsys, "--store", str(store.root), "views",
                                         "--variant", variant, "--json")}
    assert {v["family"] for v in sized.values()} == {FAMILY}
    (neuron,) = sized["neuron_activations"]["selectors"]
    assert neuron == {"name": "neuron", "analyzer": "neuron_activations", "array": "maps",
                      "axis": 0, "labels": "neurons", "size": NEURONS}
    assert sized["attention_patterns"]["selectors"][0]["size"] is None  # not analysed


def test_families_json_matches_the_registry(capsys):
    listed = {f["name"]: f for f in _json(capsys, "families", "--json")}
    assert list(listed) == list(families())
    fam = get_family(FAMILY)
    ours = listed[FAMILY]
    assert [(p["name"], p["default"], p["identity"]) for p in ours["params"]] == [
        (p.name, p.default, p.identity) for p in fam.params]
    assert ours["default_schedule"] == fam.default_schedule(fam.resolve())
    assert ours["training"]["n_epochs"] == fam.train_config(fam.resolve()).n_epochs
    assert ours["views"] == [v.name for v in fam.views] and ours["imported_by"] is None
    imported = [f for f in listed.values() if f["imported_by"]]
    assert imported and all(f["architecture"] is None for f in imported)


# --------------------------------------------------------------------------- export --data


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_metrics_round_trip_exactly(store, variant, tmp_path, capsys, suffix):
    out = tmp_path / f"metrics{suffix}"
    assert main(["--store", str(store.root), "export", variant, str(out), "--data"]) == 0
    assert "11 rows" in capsys.readouterr().out
    table = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    stored = store.load_metrics(variant)
    assert list(table.columns) == ["epoch", "train_loss", "test_loss", "train_acc", "test_acc"]
    np.testing.assert_array_equal(table["epoch"], np.arange(11))
    for name, values in stored.items():  # float32 text reads back to the same float32
        np.testing.assert_array_equal(table[name].to_numpy(np.float32), values)


def test_epochs_not_trained_yet_are_left_out(store, variant, tmp_path, capsys):
    metrics = store.load_metrics(variant)
    for values in metrics.values():
        values[7:] = np.nan  # a run still at epoch 6
    store.write_metrics(variant, metrics)
    out = tmp_path / "m.csv"
    assert main(["--store", str(store.root), "export", variant, str(out), "--data"]) == 0
    assert pd.read_csv(out)["epoch"].tolist() == list(range(7))


@pytest.mark.parametrize("epoch", [None, 10])
def test_a_per_checkpoint_view_is_its_artifact_cell_by_cell(store, variant, tmp_path, capsys,
                                                            epoch):
    out = tmp_path / "grid.csv"
    args = ["--store", str(store.root), "export", variant, str(out), "--data", "--view",
            "neuron_activations", "--select", "neuron=2"]
    assert main(args + ([] if epoch is None else ["--epoch", str(epoch)])) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == ["checkpoint", "source", "item", "grid_row", "grid_col",
                                   "image", "dw", "dh"]
    assert sorted(set(table["checkpoint"])) == ([0, 10] if epoch is None else [10])
    for checkpoint, rows in table.groupby("checkpoint"):
        grid = np.full((7, 7), np.nan, np.float32)
        grid[rows["grid_row"], rows["grid_col"]] = rows["image"]
        # independent of the view: the stored artifact's map of the third stored neuron
        np.testing.assert_array_equal(grid, _maps(int(checkpoint))[2].astype(np.float32))
        assert set(rows["source"]) == {"grid"} and set(rows["dw"]) == {7}


def test_a_control_exports_the_view_at_that_threshold(store, variant, tmp_path, capsys):
    from tdw.family.artifacts import Artifact

    fam = get_family(FAMILY)
    clusters = next(a for a in fam.analyzers if a.name == "neuron_freq_clusters")
    rng = np.random.default_rng(3)
    fraction = rng.dirichlet(np.ones(4), size=12)[:, :3].astype(np.float32)  # (neuron, freq)
    dominant = (fraction.argmax(-1) + 1).astype(np.int32)
    for epoch in (0, 10):
        store.write_artifact(variant, Artifact(clusters.schema, epoch, {
            "fraction": fraction, "dominant": dominant,
            "specialised_count": np.zeros(3, np.int32),
            "variance": np.ones(12, np.float32)}, {"threshold": 0.85}))
    out = tmp_path / "clusters.csv"
    assert main(["--store", str(store.root), "export", variant, str(out), "--data", "--view",
                 "neuron_freq_clusters", "--epoch", "10", "--control", "min_share=0.5"]) == 0
    cells = pd.read_csv(out)
    cells = cells[cells["source"] == "grid"]
    grid = np.full((12, 3), -1.0)
    grid[cells["grid_row"], cells["grid_col"]] = cells["image"]
    # independent of the view: a row is blank (NaN) where the neuron's top share is < 0.5
    assert np.isnan(grid).all(axis=1).sum() == int((fraction.max(-1) < 0.5).sum()) > 0
    for args, said in [(["--control", "min_share=lots"], "a control's value is a decimal"),
                       (["--control", "min_share=1.5"], "min_share"),
                       (["--control", "min_shar=0.5"], "control of view")]:
        assert said in _fails(capsys, "--store", str(store.root), "export", variant,
                              str(tmp_path / "x.csv"), "--data", "--view",
                              "neuron_freq_clusters", *args)
    assert not (tmp_path / "x.csv").exists()


def test_a_switch_takes_true_and_false_as_well_as_1_and_0(store, variant, tmp_path, capsys):
    def export(value: str) -> str:
        out = tmp_path / f"loss-{value}.csv"
        assert main(["--store", str(store.root), "export", variant, str(out), "--data",
                     "--view", "loss_curves", "--control", f"log_y={value}", "--control",
                     "smoothing=0.5"]) == 0
        return out.read_text()

    assert export("true") == export("1") == export("On")
    assert export("false") == export("0")
    from tdw.cli.export import _controls
    assert _controls(["log_y=true", "smoothing=0.5"]) == {"log_y": True, "smoothing": 0.5}
    assert _controls(["log_y=Off"]) == {"log_y": False}
    assert "smoothing=False is out of range" in _fails(  # a decimal takes no word
        capsys, "--store", str(store.root), "export", variant, str(tmp_path / "x.csv"),
        "--data", "--view", "loss_curves", "--control", "smoothing=no")
    said = _fails(capsys, "--store", str(store.root), "export", variant,
                  str(tmp_path / "x.csv"), "--data", "--view", "loss_curves", "--control",
                  "log_y=maybe")
    assert "a control's value is a decimal, or true/false for a switch" in said


def test_a_view_table_is_the_views_own_columns(store, variant):
    """The table against the view's data functions, source by source and column by column."""
    v = Variant(variant, store)
    view = next(x for x in v.family.views if x.name == "loss_curves")
    table = view_table(v, "loss_curves", 10, {})
    ctx = v.context(10)
    drawn = [(None, s, c) for s, c in view.data(ctx).items()] + [
        (10, s, c) for s, c in view.epoch_data(ctx).items()]
    assert "transition" in [s for _, s, _ in drawn]  # no transition marked: a source, no rows
    drawn = [(e, s, c) for e, s, c in drawn if len(next(iter(c.values())))]
    assert [s for _, s, _ in drawn] == list(dict.fromkeys(table["source"]))
    for checkpoint, source, columns in drawn:
        rows = table[table["source"] == source]
        assert rows["checkpoint"].isna().all() if checkpoint is None else (
            rows["checkpoint"] == checkpoint).all()
        assert rows["item"].tolist() == list(range(len(rows)))
        for name, values in columns.items():
            assert rows[name].tolist() == pytest.approx(list(values), nan_ok=True), name
    metrics = store.load_metrics(variant)  # and, independently, the stored metrics
    curves = table[table["source"] == "curves"]
    np.testing.assert_array_equal(curves["test"].to_numpy(np.float32), metrics["test_loss"])


def test_a_summary_view_is_exported_once_and_its_marker_only_at_a_named_epoch(
        store, variant, tmp_path):
    v = Variant(variant, store)
    plain = view_table(v, "loss_curves", None, {})
    assert plain["checkpoint"].isna().all() and "current" not in set(plain["source"])
    marked = view_table(v, "loss_curves", 0, {})
    current = marked[marked["source"] == "current"]
    assert current["checkpoint"].tolist() == [0] and current["x"].tolist() == [0]


def test_lines_give_a_row_per_point_and_clashing_names_an_underscore():
    from tdw.cli.data_export import _frame
    from tdw.family.views import View

    view = View("lines", "Lines", "", (), "summary", build=lambda sources, ctx: None)
    rows = _frame(view, None, "lines", {"xs": [[0, 1, 2], [0, 1]], "ys": [[5., 6., 7.], [8., 9.]],
                                        "name": ["a", "b"], "source": ["x", "y"]})
    assert rows["item"].tolist() == [0, 0, 0, 1, 1]
    assert rows["point"].tolist() == [0, 1, 2, 0, 1]
    assert rows["ys"].tolist() == [5., 6., 7., 8., 9.]
    assert rows["name"].tolist() == ["a", "a", "a", "b", "b"]
    assert rows["source_"].tolist() == ["x", "x", "x", "y", "y"]  # the view's own column
    assert set(rows["source"]) == {"lines"} and set(INDEX) >= {"source", "point"}


@pytest.mark.parametrize("args, message", [
    (["out.xlsx", "--data"], "writes a table to a .csv or .parquet file"),
    (["out.csv", "--data", "--view", "los_curves"], "unknown view of modulo_addition_1l"),
    (["out.csv", "--data", "--view", "attention_patterns"], "tdw analyze"),
    (["out.csv", "--data", "--epoch", "10"], "drop them, or name a view"),
    (["out.csv", "--data", "--view", "neuron_activations", "--epoch", "5"],
     "unknown checkpoint epoch"),
    (["out.csv", "--data", "--view", "neuron_activations", "--select", "neuron=9"],
     "out of range"),
    (["out.csv", "--view", "loss_curves"], "a table of numbers needs --data"),
])
def test_refused_exports_say_why_and_leave_the_file_as_it_was(store, variant, tmp_path,
                                                              capsys, args, message):
    out = tmp_path / args[0]
    err = _fails(capsys, "--store", str(store.root), "export", variant, str(out), *args[1:])
    assert message in err
    assert list(tmp_path.glob("out*")) == [] and not list(tmp_path.glob(".out*"))
    out.write_text("old")  # an existing file is not touched either
    _fails(capsys, "--store", str(store.root), "export", variant, str(out), *args[1:])
    assert out.read_text() == "old"


def test_an_unknown_variant_is_refused(store, variant, tmp_path, capsys):
    err = _fails(capsys, "--store", str(store.root), "export", "p11-nothing",
                 str(tmp_path / "m.csv"), "--data")
    assert "unknown variant" in err and not (tmp_path / "m.csv").exists()


def test_parquet_without_pyarrow_names_the_install(store, variant, tmp_path, capsys,
                                                   monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # `import pyarrow` now fails
    out = tmp_path / "m.parquet"
    err = _fails(capsys, "--store", str(store.root), "export", variant, str(out), "--data")
    assert "pip install pyarrow" in err and not out.exists()


# ------------------------------------------------------------------- --store, --version


def test_store_after_the_command_is_the_store_before_it(store, variant, capsys, tmp_path):
    before = _json(capsys, "--store", str(store.root), "variants", "--json")
    after = _json(capsys, "variants", "--store", str(store.root), "--json")
    assert after == before and after[0]["id"] == variant
    assert _json(capsys, "--store", str(store.root), "variants", "--store",
                 str(store.root / "." / ""), "--json") == before  # the same folder twice
    err = _fails(capsys, "--store", str(store.root), "variants", "--store",
                 str(tmp_path / "other"))
    assert "--store is given twice" in err and "give it once" in err
    assert not (tmp_path / "other").exists()


def test_version_prints_the_installed_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"tdw {importlib.metadata.version('tdw')}"
