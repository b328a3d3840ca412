"""The analysis engine on a test family: planning, gap filling, staleness, the shared
forward pass, and the probe invariant. (Parallel workers and kills: test_analysis_jobs.py.)"""

from __future__ import annotations

import shutil
from dataclasses import replace

import numpy as np
import pytest
import torch

from tdw.analysis.engine import AnalysisRunConfig, execute, make_plan
from tdw.analysis.run import AnalysisRun
from tdw.errors import IntegrityError, UnknownNameError
from tdw.family import registry
from tdw.family.analyzer import Analyzer, CrossEpochAnalyzer
from tdw.family.artifacts import ArraySpec, AttrSpec
from tdw.family.registry import families, get_family, register
from tdw.store.store import Store
from tdw.training.run import TrainingRun

SEEN: list[tuple[str, int, tuple[str, ...]]] = []  # (analyzer, epoch, activation names)


def _embed_norm(inputs):
    SEEN.append(("embed_norm", inputs.epoch, tuple(inputs.activations)))
    norm = inputs.weights["embed.weight"].norm(dim=1).numpy().astype(np.float32)
    return {"norm": norm}, {"total": float(norm.sum())}


def _mlp_mean(inputs):
    SEEN.append(("mlp_mean", inputs.epoch, tuple(inputs.activations)))
    post = inputs.activations["blocks.0.mlp.hook_post"][:, -1]  # (batch, d_mlp)
    return {"mean": post.mean(0).numpy().astype(np.float32)}, {}


def _accuracy(inputs):
    SEEN.append(("accuracy", inputs.epoch, tuple(inputs.activations)))
    logits = inputs.activations["logits"][:, -1]
    correct = (logits.argmax(-1) == inputs.probe["labels"]).float().mean().item()
    return {}, {"accuracy": correct}


def _norm_trajectory(inputs):
    totals = [a.attrs["total"] for a in inputs.artifacts["embed_norm"]]
    return {"epochs": inputs.epochs, "total": np.asarray(totals, np.float32)}, {}


def make_analyzers(version: int = 1):
    return (
        Analyzer("embed_norm", version, "norm of each embedding row",
                 (ArraySpec("norm", "float32", ("token",)),), (AttrSpec("total", "float"),),
                 _embed_norm),
        Analyzer("mlp_mean", 1, "mean MLP activation at the answer",
                 (ArraySpec("mean", "float32", ("neuron",)),), (), _mlp_mean,
                 hooks=("blocks.0.mlp.hook_post",)),
        Analyzer("accuracy", 1, "probe accuracy", (), (AttrSpec("accuracy", "float"),),
                 _accuracy, hooks=("logits",)),
    )


CROSS = CrossEpochAnalyzer(
    "norm_trajectory", 1, "embedding norm over training",
    (ArraySpec("epochs", "int64", ("checkpoint",)), ArraySpec("total", "float32", ("checkpoint",))),
    (), _norm_trajectory, inputs=("embed_norm",))

NAME = "engine_test_family"


def _family(version: int = 1):
    base = get_family("modulo_addition_1l")
    # probe_forward=None: these tests watch the bridge's pass (a family's own forward is
    # tested with it, in tests/families/test_grid_forward.py)
    return replace(base, name=NAME, title="Engine test", analyzers=make_analyzers(version),
                   cross_epoch=(CROSS,), transition=None, story=None, probe_forward=None)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    if NAME not in families():
        register(_family(), origin="tests/unit/test_engine.py")
    root = tmp_path_factory.mktemp("engine") / "store"
    result = TrainingRun.prepare(family=NAME, params={"p": 7, "n_epochs": 30},
                                 schedule="0-30/5", store=root, device="cpu").execute()
    yield root, result.variant
    registry._REGISTRY.pop(NAME, None)  # other modules see only the real families


@pytest.fixture
def store(trained, tmp_path):
    root, _ = trained
    shutil.copytree(root, tmp_path / "copy")
    SEEN.clear()
    return Store(tmp_path / "copy")


def _config(variant, **kw):
    return AnalysisRunConfig(variant, workers=1, **kw)


def test_first_run_computes_everything_then_a_rerun_has_nothing_to_do(trained, store,
                                                                       monkeypatch):
    _, vid = trained
    plan = make_plan(store, _config(vid))
    assert len(plan.items) == 3 * 7 + 1 and plan.up_to_date == 0
    report = execute(store, plan, workers=1)
    assert report.computed == 22 and report.checkpoints == 7

    def no_file_reads(*args, **kwargs):
        raise AssertionError("planning must read the catalog only")

    for method in ("load_checkpoint", "load_artifact", "load_probe"):
        monkeypatch.setattr(Store, method, no_file_reads)
    again = make_plan(store, _config(vid))  # fast because it only queries the catalog
    assert again.empty and again.up_to_date == 22
    assert "nothing to do" in again.describe()


def test_one_forward_pass_per_checkpoint_with_only_declared_hooks(trained, store, monkeypatch):
    _, vid = trained
    from transformer_lens.model_bridge import TransformerBridge

    calls = []
    original = TransformerBridge.run_with_cache

    def spy(self, *args, names_filter=None, **kwargs):
        logits, cache = original(self, *args, names_filter=names_filter, **kwargs)
        calls.append(sorted(cache.keys()))
        return logits, cache

    monkeypatch.setattr(TransformerBridge, "run_with_cache", spy)
    execute(store, make_plan(store, _config(vid)), workers=1)
    assert calls == [["blocks.0.mlp.hook_post"]] * 7  # one pass, one hook, per checkpoint
    by_analyzer = {name: acts for name, _, acts in SEEN}
    assert by_analyzer == {"embed_norm": (), "mlp_mean": ("blocks.0.mlp.hook_post",),
                           "accuracy": ("logits",)}


def test_weight_only_analyzers_need_no_forward_pass(trained, store, monkeypatch):
    _, vid = trained
    from transformer_lens.model_bridge import TransformerBridge

    def forbidden(*args, **kwargs):
        raise AssertionError("a weight-only analysis ran the model")

    monkeypatch.setattr(TransformerBridge, "run_with_cache", forbidden)
    execute(store, make_plan(store, _config(vid, analyzers=("embed_norm",))), workers=1)


def test_artifacts_match_an_independent_computation(trained, store):
    _, vid = trained
    execute(store, make_plan(store, _config(vid)), workers=1)
    fam = _family()
    weights = store.load_checkpoint(vid, 15)
    art = store.load_artifact(vid, fam.analyzers[0].schema, 15)
    np.testing.assert_allclose(art["norm"], weights["embed.weight"].norm(dim=1).numpy(),
                               rtol=1e-6)
    trajectory = store.load_artifact(vid, CROSS.schema, None)
    assert trajectory["epochs"].tolist() == [0, 5, 10, 15, 20, 25, 30]
    assert trajectory["total"][3] == pytest.approx(art.attrs["total"], rel=1e-6)


def test_a_version_bump_recomputes_only_that_analyzer(trained, store, monkeypatch):
    _, vid = trained
    execute(store, make_plan(store, _config(vid)), workers=1)
    bumped = _family(version=2)
    monkeypatch.setattr("tdw.family.registry._REGISTRY", {**families(), NAME: bumped})
    plan = make_plan(store, _config(vid))
    stale = {(i.analyzer, i.reason) for i in plan.items}
    assert stale == {("embed_norm", "stale: analyzer version 1 -> 2"),
                     ("norm_trajectory", "stale: its inputs are being recomputed")}
    assert len(plan.items) == 8


def test_force_recomputes_the_named_analyzers_not_the_inputs_they_bring_in(trained, store):
    _, vid = trained
    execute(store, make_plan(store, _config(vid)), workers=1)
    plan = make_plan(store, _config(vid, analyzers=("norm_trajectory",), force=True))
    assert [(i.analyzer, i.epoch, i.reason) for i in plan.items] == \
        [("norm_trajectory", -1, "forced")]
    assert plan.up_to_date == 7  # its input, embed_norm, is read as it is
    both = make_plan(store, _config(vid, analyzers=("embed_norm", "norm_trajectory"),
                                    force=True))
    assert {i.analyzer for i in both.items} == {"embed_norm", "norm_trajectory"}
    assert len(both.items) == 8
    everything = make_plan(store, _config(vid, force=True))
    assert len(everything.items) == 22 and everything.up_to_date == 0


def test_a_changed_checkpoint_makes_only_its_artifacts_stale(trained, store):
    _, vid = trained
    execute(store, make_plan(store, _config(vid)), workers=1)
    weights = store.load_checkpoint(vid, 10)
    weights["embed.weight"] = weights["embed.weight"] + 1.0
    store.write_checkpoint(vid, 10, weights)
    plan = make_plan(store, _config(vid))
    assert {(i.analyzer, i.epoch) for i in plan.items if i.epoch >= 0} == {
        ("embed_norm", 10), ("mlp_mean", 10), ("accuracy", 10)}
    assert {i.reason for i in plan.items if i.epoch >= 0} == {"stale: checkpoint changed"}


def test_a_tampered_probe_is_refused_and_nothing_is_written(trained, store):
    _, vid = trained
    probe_path = store.path(store.variant(vid).folder / "probe.safetensors")
    import safetensors.torch

    tensors = safetensors.torch.load(probe_path.read_bytes())
    tensors["labels"] = torch.zeros_like(tensors["labels"])
    probe_path.write_bytes(safetensors.torch.save(tensors))
    with pytest.raises(IntegrityError, match="probe"):
        execute(store, make_plan(store, _config(vid)), workers=1)
    assert store.catalog.one("SELECT COUNT(*) FROM artifacts")[0] == 0


def test_unknown_analyzers_and_checkpoints_are_named(trained, store):
    _, vid = trained
    with pytest.raises(UnknownNameError, match="embed_norm"):
        make_plan(store, _config(vid, analyzers=("embed_nrom",)))
    with pytest.raises(UnknownNameError, match="checkpoint epoch"):
        make_plan(store, _config(vid, checkpoints="0,7"))


def test_a_subset_of_checkpoints_and_the_run_object(trained, store):
    _, vid = trained
    run = AnalysisRun.prepare(variant=vid, analyzers="accuracy", checkpoints="0-10/5",
                              workers=1, store=store)
    assert [(i.analyzer, i.epoch) for i in run.plan.items] == [
        ("accuracy", 0), ("accuracy", 5), ("accuracy", 10)]
    seen = []
    run.execute(progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (3, 3)
