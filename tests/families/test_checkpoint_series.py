"""Checkpoint Series: ``tdw import`` of a tiny local GPT-NeoX series, checked against
independent computations.

The series (``tests/local_series.py``) is three random 2-layer, 4-head GPT-NeoX models saved
as ``step0``, ``step1000`` and ``step2000``. The analyzers run on the TransformerLens bridge;
the checks run the plain Hugging Face model with PyTorch hooks on its attention output
projection (``attention.dense``, whose input is the heads' outputs side by side), so they
share no code with what they check. Nothing touches the network.
"""

from __future__ import annotations

import shutil
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import snapshot
from local_series import PROBE, STEPS, make_series, write_probe

from tdw.analysis.run import AnalysisRun
from tdw.cli.main import main
from tdw.explore.variant import Variant
from tdw.family.analyzer import CheckpointInputs
from tdw.store.atomic import sha256_file
from tdw.store.store import Store

N_HEADS, D_HEAD = 4, 8


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny forward passes are fastest on one thread, and the machine is shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def series(tmp_path_factory) -> tuple[list[Path], Path]:
    root = tmp_path_factory.mktemp("series")
    return make_series(root / "pythia-tiny"), write_probe(root / "probe.json")


@pytest.fixture(scope="module")
def analysed(series, tmp_path_factory) -> tuple[Store, str]:
    dirs, probe = series
    store = Store(tmp_path_factory.mktemp("imported") / "store")
    assert main(["--store", str(store.root), "import", *map(str, dirs), "--probe",
                 str(probe)]) == 0
    (variant,) = store.variants()
    AnalysisRun.prepare(variant=variant.id, workers=1, store=store).execute()
    return store, variant.id


# ------------------------------------------------------------ independent runs
def _hf(folder: Path):
    from transformers import GPTNeoXForCausalLM

    return GPTNeoXForCausalLM.from_pretrained(folder).eval()


def _metric(model, tokens, last, probe, dense_hooks=()) -> np.ndarray:
    """Logit(correct) - logit(wrong) at each prompt's last token, with forward pre-hooks
    ``(layer, fn(heads_output) -> heads_output)`` on ``attention.dense``."""
    handles = [model.gpt_neox.layers[layer].attention.dense.register_forward_pre_hook(
        lambda module, args, fn=fn: (fn(args[0].clone()),)) for layer, fn in dense_hooks]
    try:
        with torch.no_grad():
            logits = model(tokens).logits[torch.arange(len(tokens)), last].double()
    finally:
        for h in handles:
            h.remove()
    rows = torch.arange(len(tokens))
    return (logits[rows, probe["correct"]] - logits[rows, probe["wrong"]]).numpy()


def _head(h: int) -> slice:
    return slice(h * D_HEAD, (h + 1) * D_HEAD)


# ----------------------------------------------------------------------- import
def test_import_stores_every_revision_hashed_with_its_steps(analysed, series):
    store, vid = analysed
    record = store.variant(vid)
    assert record.state == "trained" and record.n_epochs == STEPS[-1]
    assert record.params["steps"] == "0,1000,2000" and record.params["source"] == "local"
    checkpoints = store.checkpoints(vid)
    assert [c.epoch for c in checkpoints] == list(STEPS)
    for c in checkpoints:
        assert sha256_file(store.path(c.path)) == c.sha256
    probe_row = store.catalog.one("SELECT sha256, path, n_items FROM probes WHERE variant = ?",
                                  (vid,))
    assert sha256_file(store.path(probe_row["path"])) == probe_row["sha256"]
    assert probe_row["n_items"] == len(PROBE["items"])
    # the stored weights are the directory's, under TransformerLens names
    for folder, c in zip(series[0], checkpoints, strict=True):
        hf = _hf(folder).state_dict()
        weights = store.load_checkpoint(vid, c.epoch)
        assert torch.equal(weights["embed.weight"], hf["gpt_neox.embed_in.weight"])
        assert torch.equal(weights["unembed.weight"], hf["lm_head.weight"])
    assert not store.path(".staging").exists()


def test_answer_metric_matches_the_hugging_face_model(analysed, series):
    store, vid = analysed
    probe = store.load_probe(vid).tensors
    for folder, step in zip(series[0], STEPS, strict=True):
        art = Variant(vid, store).artifact("answer_metric", step)
        model = _hf(folder)
        expected = _metric(model, probe["tokens"], probe["last"], probe)
        source = _metric(model, probe["source_tokens"], probe["last"], probe)
        np.testing.assert_allclose(art["metric"], expected, atol=1e-4)
        np.testing.assert_allclose(art["source_metric"], source, atol=1e-4)
        assert art.attrs["accuracy"] == pytest.approx(float(np.mean(expected > 0)))


def test_head_ablation_matches_zeroing_the_head_by_hand(analysed, series):
    store, vid = analysed
    probe = store.load_probe(vid).tensors
    step, folder = STEPS[1], series[0][1]
    effect = Variant(vid, store).artifact("head_ablation", step)["effect"]  # (layer, head)
    model = _hf(folder)
    base = _metric(model, probe["tokens"], probe["last"], probe).mean()
    for layer, head in ((0, 1), (1, 3)):
        def zero(x, head=head):
            x[..., _head(head)] = 0
            return x
        ablated = _metric(model, probe["tokens"], probe["last"], probe, [(layer, zero)]).mean()
        assert effect[layer, head] == pytest.approx(ablated - base, abs=1e-4)
    assert np.abs(effect).max() > 1e-3  # random heads do matter: the check can fail


def test_group_patching_matches_a_manual_patch(analysed, series):
    store, vid = analysed
    probe = store.load_probe(vid).tensors
    art = Variant(vid, store).artifact("head_group_patching", STEPS[2])
    assert art.attrs["groups"] == {"even": [0, 2], "odd": [1, 3]}
    model = _hf(series[0][2])
    captured = {}
    handles = [model.gpt_neox.layers[layer].attention.dense.register_forward_pre_hook(
        lambda module, args, layer=layer: captured.__setitem__(layer, args[0].clone()))
        for layer in range(2)]
    with torch.no_grad():
        model(probe["source_tokens"])
    for h in handles:
        h.remove()
    base = _metric(model, probe["tokens"], probe["last"], probe).mean()
    for layer in range(2):
        for g, heads in enumerate(art.attrs["groups"].values()):
            def patch(x, layer=layer, heads=heads):
                for h in heads:
                    x[..., _head(h)] = captured[layer][..., _head(h)]
                return x
            patched = _metric(model, probe["tokens"], probe["last"], probe, [(layer, patch)])
            assert art["effect"][layer, g] == pytest.approx(patched.mean() - base, abs=1e-4)
    source = _metric(model, probe["source_tokens"], probe["last"], probe).mean()
    np.testing.assert_allclose(art["recovered"], art["effect"] / (source - base), rtol=1e-3)


def test_hub_revisions_resolve_to_boot_transformers_arguments_without_the_network(tmp_path):
    """The Hub path up to the first download: a model id with --revisions names
    ``boot_transformers(model, revision=...)`` calls, one per step, in step order."""
    from tdw.families.checkpoint_series.series import SeriesError, resolve_series

    source, revisions = resolve_series(["EleutherAI/pythia-160m"],
                                       ["step2000", "step1000", "step143000"])
    assert source == "EleutherAI/pythia-160m"
    assert [(r.step, r.model, r.revision) for r in revisions] == [
        (1000, "EleutherAI/pythia-160m", "step1000"), (2000, "EleutherAI/pythia-160m", "step2000"),
        (143000, "EleutherAI/pythia-160m", "step143000")]
    (tmp_path / "main").mkdir()
    source, revisions = resolve_series([str(tmp_path)], ["main"], steps=[7])
    assert source == "local" and revisions[0].model == str(tmp_path / "main")
    assert revisions[0].revision is None and revisions[0].step == 7
    for args, words in ((([], ()), "name a model"),
                        ((["a", "b"], ["step1"]), "one model"),
                        ((["m"], ["main"]), "cannot tell the training step"),
                        ((["m"], ["step1", "step_1"]), "both step 1")):
        with pytest.raises(SeriesError, match=words):
            resolve_series(*args)


# ------------------------------------------------------------------- clustering
def _clustering_inputs(weights, groups) -> CheckpointInputs:
    import json

    from tdw.families.checkpoint_series.analyzers import head_weight_clustering

    text = json.dumps({"metric": "logit_diff", "head_groups": groups})
    probe = {"definition": torch.frombuffer(bytearray(text.encode()), dtype=torch.uint8)}
    model = types.SimpleNamespace(cfg=types.SimpleNamespace(n_layers=1, n_heads=8))
    inputs = CheckpointInputs(values={}, epoch=0, weights=weights, final_weights=weights,
                              probe=probe, model=model)
    return head_weight_clustering.run(inputs)


def _layer_weights(vectors: torch.Tensor) -> dict[str, torch.Tensor]:
    """One layer whose 8 heads have the given ``(head, 4 * d_head * d_model)`` weights."""
    d_model, d_head = 16, 4
    q, k, v, o = vectors.reshape(8, 4, d_head, d_model).unbind(1)  # each (head, d_head, d_model)
    return {"blocks.0.attn.q.weight": q.reshape(8 * d_head, d_model),
            "blocks.0.attn.k.weight": k.reshape(8 * d_head, d_model),
            "blocks.0.attn.v.weight": v.reshape(8 * d_head, d_model),
            "blocks.0.attn.o.weight": o.reshape(8 * d_head, d_model).T.contiguous()}


def test_clustering_finds_a_planted_partition_and_not_random_weights():
    gen = torch.Generator().manual_seed(0)
    planted = [0, 1, 1, 0, 1, 0, 0, 1]  # two clusters, not the even/odd split
    centres = torch.randn(2, 256, generator=gen)
    clustered = centres[planted] + 0.05 * torch.randn(8, 256, generator=gen)
    groups = {"a": [0, 3, 5, 6], "b": [1, 2, 4, 7]}
    arrays, attrs = _clustering_inputs(_layer_weights(clustered), groups)
    assert attrs["k"] == 2
    for method in ("kmeans", "hierarchical"):
        assert arrays[f"{method}_silhouette"][0] > 0.8
        assert arrays[f"{method}_vs_groups"][0] == pytest.approx(1.0)
        assert arrays[f"{method}_labels"][0].tolist() == planted
    random_arrays, _ = _clustering_inputs(_layer_weights(torch.randn(8, 256, generator=gen)),
                                          groups)
    assert random_arrays["kmeans_silhouette"][0] < 0.2
    even_odd, _ = _clustering_inputs(_layer_weights(clustered),
                                     {"even": [0, 2, 4, 6], "odd": [1, 3, 5, 7]})
    assert even_odd["kmeans_vs_groups"][0] < 0.3  # the weights do not split even/odd


def test_head_similarity_is_of_each_heads_own_weights(analysed, series):
    """The bridge's q/k/v/o slices per head are the Hugging Face model's: GPT-NeoX fuses
    q, k, v per head as (head, 3, d_head, d_model) rows; dense columns are head-major."""
    store, vid = analysed
    art = Variant(vid, store).artifact("head_weight_clustering", STEPS[0])
    hf = _hf(series[0][0]).state_dict()
    for layer in range(2):
        prefix = f"gpt_neox.layers.{layer}.attention."
        qkv = hf[prefix + "query_key_value.weight"].double().reshape(N_HEADS, 3, D_HEAD, -1)
        o = hf[prefix + "dense.weight"].double().T.reshape(N_HEADS, D_HEAD, -1)
        vectors = torch.cat([qkv.reshape(N_HEADS, -1), o.reshape(N_HEADS, -1)], dim=1)
        vectors = vectors / vectors.norm(dim=1, keepdim=True)
        np.testing.assert_allclose(art["similarity"][layer], (vectors @ vectors.T).numpy(),
                                   atol=1e-5)


def test_grouped_query_heads_share_their_key_value_rows():
    from tdw.families.checkpoint_series.clustering import head_vectors

    gen = torch.Generator().manual_seed(1)
    d_model, d_head = 6, 2  # 4 query heads reading 2 key/value heads
    weights = {"blocks.0.attn.q.weight": torch.randn(4 * d_head, d_model, generator=gen),
               "blocks.0.attn.k.weight": torch.randn(2 * d_head, d_model, generator=gen),
               "blocks.0.attn.v.weight": torch.randn(2 * d_head, d_model, generator=gen),
               "blocks.0.attn.o.weight": torch.randn(d_model, 4 * d_head, generator=gen)}
    raw = head_vectors(weights, 0, 4) * np.linalg.norm(
        np.concatenate([weights["blocks.0.attn.q.weight"].reshape(4, -1),
                        weights["blocks.0.attn.k.weight"].reshape(2, -1).repeat_interleave(2, 0),
                        weights["blocks.0.attn.v.weight"].reshape(2, -1).repeat_interleave(2, 0),
                        weights["blocks.0.attn.o.weight"].T.reshape(4, -1)], axis=1),
        axis=1, keepdims=True)
    k = slice(d_head * d_model, 2 * d_head * d_model)
    np.testing.assert_allclose(raw[0, k], raw[1, k])
    np.testing.assert_allclose(raw[2, k], weights["blocks.0.attn.k.weight"][d_head:].reshape(-1),
                               rtol=1e-6)


def test_emergence_is_where_the_curve_rises_for_good():
    from tdw.families.checkpoint_series.analyzers import emergence

    assert emergence(np.array([0.05, 0.1, 0.05, 0.6, 0.7, 0.65])) == (3, pytest.approx(0.583, 1e-2))
    assert emergence(np.array([0.1, 0.12, 0.09, 0.11]))[0] is None


def test_clustering_emergence_reads_the_per_checkpoint_artifacts(analysed):
    store, vid = analysed
    variant = Variant(vid, store)
    art = variant.artifact("clustering_emergence")
    assert art["steps"].tolist() == list(STEPS)
    for i, step in enumerate(STEPS):
        clustering = variant.artifact("head_weight_clustering", step)
        np.testing.assert_array_equal(art["silhouette"][i], clustering["kmeans_silhouette"])
        patching = variant.artifact("head_group_patching", step)
        np.testing.assert_allclose(art["group_gap"][i],
                                   patching["effect"][:, 0] - patching["effect"][:, 1])


# --------------------------------------------------------------------- the CLI
def _import(store_root: Path, *args: str) -> int:
    return main(["--store", str(store_root), "import", *args])


def test_reimporting_is_a_no_op_and_another_probe_needs_another_name(analysed, series, tmp_path,
                                                                      capsys):
    store, vid = analysed
    dirs, probe = series
    before = snapshot(store.root)
    assert _import(store.root, *map(str, dirs), "--probe", str(probe)) == 0
    assert "already imported" in capsys.readouterr().err
    other = write_probe(tmp_path / "other.json", metric="prob_diff")
    assert _import(store.root, *map(str, dirs), "--probe", str(other)) == 2
    assert "--name" in capsys.readouterr().err
    assert snapshot(store.root) == before


@pytest.fixture(scope="module")
def bad_series(tmp_path_factory, series) -> dict[str, list[str]]:
    """Series that must be refused, each with the words its error must contain."""
    from transformers import BertConfig

    root = tmp_path_factory.mktemp("bad")
    good = [str(d) for d in series[0]]
    bert = root / "step3000"
    BertConfig(vocab_size=20, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
               intermediate_size=8, architectures=["BertForMaskedLM"]).save_pretrained(bert)
    (deeper,) = make_series(root / "deeper", steps=(3000,), num_hidden_layers=3)
    broken = root / "broken" / "step3000"
    shutil.copytree(series[0][0], broken)
    (broken / "model.safetensors").write_bytes(b"not safetensors")
    return {"missing": [*good, str(root / "step9000")],
            "not_causal": [*good, str(bert)],
            "architecture": [*good, str(deeper)],
            "unreadable_weights": [*good, str(broken)]}


@pytest.mark.parametrize("case, words", [
    ("missing", ("does not exist", "check the path")),
    ("not_causal", ("not a causal language model", "BertForMaskedLM", "ForCausalLM")),
    ("architecture", ("not one architecture", "num_hidden_layers", "import each model")),
    ("unreadable_weights", ("cannot load", "step3000", "save_pretrained")),
])
def test_a_bad_series_is_refused_and_the_store_is_unchanged(analysed, bad_series, series, case,
                                                            words, capsys):
    store, _ = analysed
    before = snapshot(store.root)
    assert _import(store.root, *bad_series[case], "--probe", str(series[1])) == 2
    err = capsys.readouterr().err
    for word in words:
        assert word in err, (case, err)
    assert snapshot(store.root) == before
    assert not store.path(".staging").exists()


@pytest.mark.parametrize("change, words", [
    ({"correct": "9 ."}, ("2 tokens", "one token each")),
    ({"items": [{"prompt": "9 . 8 or 9 . 11", "source": "9 . 8"}]}, ("as many tokens",)),
    ({"metric": "accuracy"}, ("logit_diff", "prob_diff")),
    ({"head_groups": {"a": [0, 1], "b": [1, 2]}}, ("both groups", "disjoint")),
])
def test_a_bad_prompt_file_is_refused_before_anything_is_written(series, tmp_path, change, words,
                                                                 capsys):
    probe = write_probe(tmp_path / "bad.json", **change)
    root = tmp_path / "store"
    Store(root)
    before = snapshot(root)
    assert _import(root, *map(str, series[0]), "--probe", str(probe)) == 2
    err = capsys.readouterr().err
    for word in words:
        assert word in err, err
    assert snapshot(root) == before


def test_an_import_removes_what_a_killed_import_left(series, tmp_path):
    """A killed import leaves only its staging store (no catalog row points into it); the
    next import removes it, since no live process holds its lock."""
    root = tmp_path / "store"
    debris = root / ".staging" / "killed" / "variants" / "checkpoint_series" / "half"
    debris.mkdir(parents=True)
    (debris / "epoch_00001000.safetensors").write_bytes(b"half written")
    assert _import(root, *map(str, series[0]), "--probe", str(series[1])) == 0
    assert not (root / ".staging").exists()
    assert len(Store(root).variants()) == 1


def test_dry_run_names_the_steps_and_writes_nothing(series, tmp_path, capsys):
    root = tmp_path / "store"
    Store(root)
    before = snapshot(root)
    assert _import(root, *map(str, series[0]), "--probe", str(series[1]), "--dry-run",
                   "--name", "tiny") == 0
    out = capsys.readouterr().out
    assert "checkpoint_series/mtiny-" in out and "step 2000:" in out
    assert snapshot(root) == before


def test_an_imported_family_is_not_trained(capsys):
    assert main(["train", "checkpoint_series"]) == 2
    assert "imported, not trained: tdw import" in capsys.readouterr().err
