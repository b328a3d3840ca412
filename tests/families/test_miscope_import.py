"""``tdw import-miscope``: a run folder in MIScope's exact format becomes a Modulo Addition
variant (recipe miscope) that analyses like a trained one, all or nothing.

The folder is made here the way MIScope makes one: the HookedTransformer initial weights of
the recipe (``recipes.hooked_init``, verified against a real HookedTransformer), AdamW 1e-3,
weight decay 1, betas (0.9, 0.98), biases frozen; at each epoch the training loss before the
step, the test loss after it, and checkpoint E saved after the step, under HookedTransformer
names with the attention's buffers, as ``HookedTransformer.state_dict()`` has them.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import snapshot
from safetensors.torch import load_file, save_file
from tdw.families.modulo_addition_1l import data, recipes

from tdw.analysis.run import AnalysisRun
from tdw.cli.main import main
from tdw.family.analyzer import CheckpointInputs
from tdw.family.family import variant_id
from tdw.family.model import loss_and_accuracy, weights_of
from tdw.family.registry import get_family
from tdw.store.store import Store

FAMILY = get_family("modulo_addition_1l")
P, MODEL_SEED, DATA_SEED, FRACTION, N_EPOCHS = 11, 7, 5, 0.5, 6
SAVED = (0, 2, N_EPOCHS - 1)  # MIScope's checkpoint epochs (the last is always saved)
ANALYZERS = ("dominant_frequencies", "weight_fourier", "progress_measures")


def bridge_to_hooked(bridge: dict[str, torch.Tensor], n_heads: int) -> dict[str, torch.Tensor]:
    """The inverse of ``recipes.hooked_to_bridge`` (checked by a test below)."""
    a, m = "blocks.0.attn.", "blocks.0.mlp."
    out = {"embed.W_E": bridge["embed.weight"], "pos_embed.W_pos": bridge["pos_embed.weight"]}
    for x in "qkv":
        w = bridge[f"{a}{x}.weight"]  # (h d, d_model)
        out[f"{a}W_{x.upper()}"] = w.reshape(n_heads, -1, w.shape[1]).permute(0, 2, 1)
        out[f"{a}b_{x.upper()}"] = bridge[f"{a}{x}.bias"].reshape(n_heads, -1)
    w = bridge[f"{a}o.weight"]  # (d_model, h d)
    out[f"{a}W_O"] = w.T.reshape(n_heads, -1, w.shape[0])
    out[f"{a}b_O"] = bridge[f"{a}o.bias"]
    out[f"{m}W_in"], out[f"{m}b_in"] = bridge[f"{m}in.weight"].T, bridge[f"{m}in.bias"]
    out[f"{m}W_out"], out[f"{m}b_out"] = bridge[f"{m}out.weight"].T, bridge[f"{m}out.bias"]
    out["unembed.W_U"], out["unembed.b_U"] = bridge["unembed.weight"].T, bridge["unembed.bias"]
    return {k: v.detach().clone().contiguous() for k, v in out.items()}


def _values(**more):
    return FAMILY.resolve({"p": P, "model_seed": MODEL_SEED, "data_seed": DATA_SEED,
                           "train_fraction": FRACTION, "n_epochs": N_EPOCHS,
                           "recipe": "miscope", **more})


def write_miscope_folder(folder: Path) -> Path:
    """A MIScope variant folder: config.json, metadata.json, checkpoints/ (module docstring)."""
    values = _values()
    model = FAMILY.boot(values, folder, torch.device("cpu"))  # the recipe's weights, biases frozen
    split = data.dataset(values)
    train_idx, test_idx = recipes.miscope_split(P, DATA_SEED, FRACTION)
    optimizer = torch.optim.AdamW([t for t in model.parameters() if t.requires_grad], lr=1e-3,
                                  weight_decay=1.0, betas=(0.9, 0.98))
    (folder / "checkpoints").mkdir(parents=True)
    train_losses, test_losses = [], []
    for epoch in range(N_EPOCHS):
        loss, _ = loss_and_accuracy(FAMILY.readout(model, split.train_tokens), split.train_labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        train_losses.append(loss.item())
        with torch.no_grad():
            test_loss, _ = loss_and_accuracy(FAMILY.readout(model, split.test_tokens),
                                             split.test_labels)
        test_losses.append(test_loss.item())
        if epoch in SAVED:
            hooked = bridge_to_hooked(weights_of(model), model.cfg.n_heads)
            hooked["blocks.0.attn.mask"] = torch.tril(torch.ones(3, 3, dtype=torch.bool))
            hooked["blocks.0.attn.IGNORE"] = torch.tensor(-math.inf)
            save_file(hooked, str(folder / "checkpoints" / f"checkpoint_epoch_{epoch:05d}"
                                  ".safetensors"))
    cfg = FAMILY.model_config(values)
    config = {"n_layers": 1, "n_heads": cfg.n_heads, "d_model": cfg.d_model,
              "d_head": cfg.d_head, "d_mlp": cfg.d_mlp, "act_fn": "relu",
              "normalization_type": None, "d_vocab": P + 1, "d_vocab_out": P, "n_ctx": 3,
              "seed": MODEL_SEED, "prime": P, "model_seed": MODEL_SEED,
              "data_seed": DATA_SEED, "training_fraction": FRACTION}
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    (folder / "metadata.json").write_text(json.dumps({
        "train_losses": train_losses, "test_losses": test_losses,
        "train_indices": train_idx.tolist(), "test_indices": test_idx.tolist(),
        "checkpoint_epochs": list(SAVED), "num_epochs": N_EPOCHS}))
    return folder


def _import(root: Path, *folders: Path) -> int:
    return main(["--store", str(root), "import-miscope", *map(str, folders)])


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return write_miscope_folder(tmp_path_factory.mktemp("miscope") / "p11_seed7_dseed5")


@pytest.fixture(scope="module")
def imported(folder, tmp_path_factory) -> tuple[Store, str]:
    store = Store(tmp_path_factory.mktemp("imported") / "store")
    assert _import(store.root, folder) == 0
    (variant,) = store.variants()
    AnalysisRun.prepare(variant=variant.id, analyzers=ANALYZERS, workers=1,
                        store=store).execute()
    return store, variant.id


def _mapped(folder: Path, epoch: int) -> dict[str, torch.Tensor]:
    hooked = load_file(str(folder / "checkpoints" / f"checkpoint_epoch_{epoch:05d}.safetensors"))
    return recipes.hooked_to_bridge({k: v for k, v in hooked.items()
                                     if k not in ("blocks.0.attn.mask", "blocks.0.attn.IGNORE")})


def test_the_test_writes_hooked_names_that_map_back_exactly():
    values = _values()
    hooked = recipes.hooked_init(FAMILY.model_config(values), MODEL_SEED)
    back = bridge_to_hooked(recipes.hooked_to_bridge(hooked), 4)
    assert back.keys() == hooked.keys()
    assert all(torch.equal(back[k], hooked[k]) for k in hooked)


def test_the_variant_has_the_runs_parameters_probe_and_mapped_checkpoints(imported, folder):
    store, vid = imported
    values = _values()
    assert vid == variant_id(FAMILY, values)
    record = store.variant(vid)
    assert record.params == values and record.state == "trained"
    assert record.epochs_done == N_EPOCHS
    # MIScope's checkpoint E holds the weights after E + 1 updates: tdw epoch E + 1.
    assert [c.epoch for c in store.checkpoints(vid)] == [e + 1 for e in SAVED]
    for epoch in SAVED:
        stored, mapped = store.load_checkpoint(vid, epoch + 1), _mapped(folder, epoch)
        assert stored.keys() == mapped.keys()
        assert all(torch.equal(stored[k], mapped[k]) for k in mapped), epoch
    probe = store.load_probe(vid).tensors
    meta = json.loads((folder / "metadata.json").read_text())
    assert sorted(torch.nonzero(probe["is_train"]).flatten().tolist()) == sorted(
        meta["train_indices"])
    expected = data.probe(values)
    assert all(torch.equal(probe[k], expected[k]) for k in expected)


def test_metrics_are_the_recorded_losses_and_the_measured_accuracies(imported, folder):
    store, vid = imported
    meta = json.loads((folder / "metadata.json").read_text())
    metrics = store.load_metrics(vid)
    assert all(len(v) == N_EPOCHS + 1 for v in metrics.values())
    np.testing.assert_array_equal(metrics["train_loss"][:N_EPOCHS], meta["train_losses"])
    np.testing.assert_array_equal(metrics["test_loss"][1:], meta["test_losses"])
    assert math.isnan(metrics["test_loss"][0])  # MIScope never saw the initial weights
    split = data.dataset(_values())
    model = FAMILY.boot(_values(), store.root, torch.device("cpu"))
    for epoch in range(N_EPOCHS + 1):
        if epoch - 1 not in SAVED:
            assert math.isnan(metrics["train_acc"][epoch])
            assert math.isnan(metrics["test_acc"][epoch])
            continue
        model.load_state_dict(_mapped(folder, epoch - 1))
        with torch.no_grad():
            for side, tokens, labels in (("train", split.train_tokens, split.train_labels),
                                         ("test", split.test_tokens, split.test_labels)):
                loss, acc = loss_and_accuracy(FAMILY.readout(model, tokens), labels)
                assert metrics[f"{side}_acc"][epoch] == float(acc)
                assert math.isclose(metrics[f"{side}_loss"][epoch], float(loss), rel_tol=1e-5)
    record = store.variant(vid)
    assert record.final_test_acc == metrics["test_acc"][N_EPOCHS]
    assert record.final_train_loss == metrics["train_loss"][N_EPOCHS]


def test_analysis_equals_the_analyzers_on_the_folders_weights(imported, folder):
    store, vid = imported
    values = _values()
    probe = store.load_probe(vid).tensors
    by_name = {a.name: a for a in FAMILY.analyzers}
    final = _mapped(folder, SAVED[-1])
    for epoch in SAVED:
        weights = _mapped(folder, epoch)
        for name in ("dominant_frequencies", "weight_fourier"):
            analyzer = by_name[name]
            arrays, attrs = analyzer.run(CheckpointInputs(values, epoch + 1, weights, final,
                                                          probe))
            stored = store.load_artifact(vid, analyzer.schema, epoch + 1)
            assert stored.arrays.keys() == arrays.keys()
            for key, array in arrays.items():
                np.testing.assert_array_equal(stored.arrays[key], array, err_msg=name)
            assert stored.attrs == json.loads(json.dumps(attrs))
        # progress_measures runs the family's forward on the imported weights: its test
        # loss is the one measured at import (the same pairs, the same readout).
        progress = store.load_artifact(vid, by_name["progress_measures"].schema, epoch + 1)
        assert math.isclose(progress.attrs["test_loss"],
                            store.load_metrics(vid)["test_loss"][epoch + 1], rel_tol=1e-4)


def test_reimporting_is_a_no_op(imported, folder, capsys):
    store, vid = imported
    before = snapshot(store.root)
    assert _import(store.root, folder) == 0
    assert "already in the store" in capsys.readouterr().err
    assert snapshot(store.root) == before


def test_the_first_miscope_versions_final_file_is_the_last_checkpoint(imported, folder,
                                                                     tmp_path):
    """MIScope's first version saved the final weights as ``<run>.safetensors`` beside
    checkpoints/ (and listed only the scheduled checkpoints): the same variant results."""
    store, vid = imported
    old = tmp_path / "old_run"
    shutil.copytree(folder, old)
    (old / "checkpoints" / "checkpoint_epoch_00005.safetensors").rename(
        old / "modulo_addition_p11_seed7.safetensors")
    _edit_json("metadata.json", checkpoint_epochs=[0, 2])(old)
    root = tmp_path / "store"
    assert _import(root, old) == 0
    other = Store(root)
    assert [c.epoch for c in other.checkpoints(vid)] == [c.epoch for c in store.checkpoints(vid)]
    assert [c.sha256 for c in other.checkpoints(vid)] == [c.sha256 for c in store.checkpoints(vid)]
    np.testing.assert_array_equal(other.load_metrics(vid)["test_acc"],
                                  store.load_metrics(vid)["test_acc"])


def _edit_json(name: str, **changes):
    def edit(folder: Path) -> None:
        path = folder / name
        content = json.loads(path.read_text())
        content.update(changes)
        path.write_text(json.dumps(content))
    return edit


def _swap_checkpoints(folder: Path) -> None:
    ck = folder / "checkpoints"
    shutil.copy(ck / "checkpoint_epoch_00000.safetensors",
                ck / "checkpoint_epoch_00005.safetensors")


def _corrupt_last(folder: Path) -> None:
    path = folder / "checkpoints" / "checkpoint_epoch_00005.safetensors"
    path.write_bytes(path.read_bytes()[:200])


def _rename_tensor(folder: Path) -> None:
    path = folder / "checkpoints" / "checkpoint_epoch_00005.safetensors"
    tensors = load_file(str(path))
    tensors["blocks.0.ln1.w"] = tensors.pop("blocks.0.mlp.b_out")
    save_file(tensors, str(path))


BAD = {
    "no_config": (lambda f: (f / "config.json").unlink(), ("config.json", "does not exist")),
    "stray_file": (lambda f: (f / "checkpoints" / "notes.txt").write_text("x"),
                   ("notes.txt", "not a MIScope checkpoint", "move it out")),
    "two_layers": (_edit_json("config.json", n_layers=2), ("n_layers = 2", "cannot be imported")),
    "layer_norm": (_edit_json("config.json", normalization_type="LN"),
                   ("normalization_type = 'LN'", "no LayerNorm")),
    "other_split": (_edit_json("metadata.json", train_indices=list(range(60))),
                    ("train_indices", "not MIScope's split", "data_seed 5")),
    "short_losses": (_edit_json("metadata.json", test_losses=[1.0]),
                     ("test_losses", "one per epoch")),
    "missing_checkpoint": (lambda f: (f / "checkpoints" / "checkpoint_epoch_00002.safetensors"
                                      ).unlink(), ("missing epochs [2]",)),
    "intervention": (_edit_json("config.json", intervention={"label": "v1"}),
                     ("intervention run", "parent run")),
    "corrupt_last": (_corrupt_last, ("checkpoint_epoch_00005", "not a readable safetensors")),
    "other_weights": (_rename_tensor, ("blocks.0.ln1.w", "another MIScope family")),
    "wrong_epoch": (_swap_checkpoints, ("checkpoint_epoch_00005", "metadata.json records",
                                        "not this run's")),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_folder_is_refused_and_the_store_is_unchanged(imported, folder, tmp_path, case,
                                                            capsys):
    """Every refusal names the problem; the store keeps every byte, with no staging left."""
    edit, words = BAD[case]
    bad = tmp_path / "run"
    shutil.copytree(folder, bad)
    edit(bad)
    root = tmp_path / "store"
    Store(root)
    before = snapshot(root)
    assert _import(root, bad) == 2
    err = capsys.readouterr().err
    for word in words:
        assert word in err, (case, err)
    assert snapshot(root) == before
    assert not (root / ".staging").exists()


def test_every_folder_is_checked_before_any_is_imported(folder, tmp_path, capsys):
    """A bad folder after a good one: refused before the good one is written; the same run
    twice: refused, naming both folders."""
    bad = tmp_path / "bad"
    shutil.copytree(folder, bad)
    _edit_json("config.json", n_layers=2)(bad)
    root = tmp_path / "store"
    Store(root)
    before = snapshot(root)
    assert _import(root, folder, bad) == 2
    assert "n_layers = 2" in capsys.readouterr().err
    twin = tmp_path / "twin"
    shutil.copytree(folder, twin)
    assert _import(root, folder, twin) == 2
    err = capsys.readouterr().err
    assert "same variant" in err and str(twin) in err
    assert snapshot(root) == before


def test_a_killed_imports_staging_store_is_swept_by_the_next_import(folder, tmp_path):
    """What a killed import leaves (a staging store no live process holds) goes with the
    next import, of either kind (the staging code is shared: ``tdw.store.staging``)."""
    root = tmp_path / "store"
    debris = root / ".staging" / "killed" / "variants" / "modulo_addition_1l" / "half"
    debris.mkdir(parents=True)
    (debris / "checkpoint.tmp").write_bytes(b"\0" * 64)
    assert _import(root, folder) == 0
    assert not (root / ".staging").exists()
    assert len(Store(root).variants("modulo_addition_1l")) == 1
