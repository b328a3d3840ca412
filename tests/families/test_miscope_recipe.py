"""The ``miscope`` recipe of Modulo Addition: the user's earlier tool's split and initial
weights, checked bit for bit against a fixture written from a real TransformerLens 2.x
``HookedTransformer`` (``families/modulo_addition_1l/tools/miscope_fixture.py``)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from tdw.families.modulo_addition_1l import data, recipes

from tdw.family.family import variant_id
from tdw.family.model import boot_model, boot_variant, weights_of
from tdw.family.registry import get_family
from tdw.store.store import Store, probe_sha256

FAMILY = get_family("modulo_addition_1l")
FIXTURE = json.loads((Path(__file__).parents[1] / "fixtures" / "miscope_recipe.json").read_text())


def _sha256(tensor: torch.Tensor) -> str:
    return hashlib.sha256(tensor.detach().contiguous().numpy().tobytes()).hexdigest()


def _values(p: int, seed: int = 999, **more):
    return FAMILY.resolve({"p": p, "model_seed": seed, "recipe": "miscope", **more})


@pytest.mark.parametrize("record", FIXTURE["models"],
                         ids=lambda r: f"p{r['p']}-ms{r['model_seed']}")
def test_hooked_init_equals_a_real_hooked_transformer_bit_for_bit(record):
    values = _values(record["p"], record["model_seed"])
    weights = recipes.hooked_init(FAMILY.model_config(values), values["model_seed"])
    assert list(weights) == record["order"] == list(recipes.HOOKED_ORDER)
    for name, expected in record["params"].items():
        tensor = weights[name]
        assert list(tensor.shape) == expected["shape"], name
        assert tensor.dtype == torch.float32
        flat = tensor.reshape(-1)
        assert [float(flat[i]) for i in (0, 1, 2, 3, -1)] == expected["samples"], name
        assert _sha256(tensor) == expected["sha256"], name


@pytest.mark.parametrize("record", FIXTURE["models"],
                         ids=lambda r: f"p{r['p']}-ms{r['model_seed']}")
def test_the_bridge_with_the_recipe_computes_the_hooked_transformers_logits(record, tmp_path):
    """The layout mapping is right: the booted bridge reproduces HookedTransformer's
    logits (up to float rounding of a differently ordered matmul), through the bridge's
    forward and through the family's fast readout."""
    values = _values(record["p"], record["model_seed"])
    model = FAMILY.boot(values, tmp_path, torch.device("cpu"))
    hooked = recipes.hooked_init(FAMILY.model_config(values), values["model_seed"])
    expected_weights = recipes.hooked_to_bridge(hooked)
    got_weights = weights_of(model)
    assert got_weights.keys() == expected_weights.keys()
    for name, tensor in expected_weights.items():
        assert torch.equal(got_weights[name], tensor), name
    tokens = torch.tensor(record["logit_tokens"])
    expected = torch.tensor(record["logits"])
    with torch.no_grad():
        torch.testing.assert_close(model(tokens)[:, -1, :], expected, rtol=0, atol=1e-5)
        torch.testing.assert_close(FAMILY.readout(model, tokens), expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("record", FIXTURE["splits"], ids=lambda r: f"p{r['p']}")
def test_split_equals_torch_randperm_bit_for_bit(record):
    values = _values(record["p"], data_seed=record["data_seed"],
                     train_fraction=record["train_fraction"])
    train, test = data.split(values)
    assert len(train) == record["n_train"]  # int(), not round(): 3830 at p = 113, not 3831
    assert _sha256(torch.cat([train, test]).to(torch.int64)) == record["randperm_sha256"]
    assert train[:10].tolist() == record["head"]
    tokens, labels = data.grid_tokens(record["p"])
    dataset = FAMILY.dataset(values)  # trained in the permutation's order, as MIScope did
    assert torch.equal(dataset.train_tokens, tokens[train])
    assert torch.equal(dataset.test_labels, labels[test])
    probe = FAMILY.probe(values)
    assert torch.equal(probe["is_train"].nonzero().flatten(), train.sort().values)


def test_the_recipe_leaves_the_global_rng_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    values = _values(7)
    recipes.hooked_init(FAMILY.model_config(values), 999)
    data.split(values)
    assert torch.equal(torch.rand(3), expected)


def test_tdw_recipe_is_unchanged_and_differs_from_miscope(tmp_path):
    tdw = FAMILY.resolve({"p": 7})
    assert tdw["recipe"] == "tdw"
    legacy = data.train_mask(7, tdw["data_seed"], tdw["train_fraction"])
    tokens, _ = data.grid_tokens(7)
    assert torch.equal(FAMILY.dataset(tdw).train_tokens, tokens[legacy])
    assert torch.equal(FAMILY.probe(tdw)["is_train"].bool(), legacy)
    booted = weights_of(FAMILY.boot(tdw, tmp_path, torch.device("cpu")))
    native = weights_of(boot_model(FAMILY.model_config(tdw)))
    assert all(torch.equal(booted[k], native[k]) for k in native)
    miscope = weights_of(FAMILY.boot(_values(7), tmp_path, torch.device("cpu")))
    differ = {k for k in native if not torch.equal(miscope[k], native[k])}
    assert {"blocks.0.attn.o.weight", "blocks.0.mlp.out.weight"} <= differ
    assert not torch.equal(FAMILY.probe(_values(7))["is_train"].bool(), legacy)


def test_records_without_a_recipe_are_tdw_and_keep_their_ids(tmp_path):
    """Variants stored before the parameter existed lack it: resolving fills ``tdw``, the
    id stays the same, and booting or splitting their raw stored params works."""
    old = {k: v for k, v in FAMILY.resolve().items() if k != "recipe"}
    resolved = FAMILY.resolve(old)
    assert resolved["recipe"] == "tdw"
    assert variant_id(FAMILY, resolved) == "modulo_addition_1l/p113-ms999-ds598"
    miscope = variant_id(FAMILY, FAMILY.resolve({**old, "recipe": "miscope"}))
    assert miscope.startswith("modulo_addition_1l/p113-ms999-ds598-")
    small = {k: v for k, v in FAMILY.resolve({"p": 7}).items() if k != "recipe"}
    booted = weights_of(boot_variant(FAMILY, small, tmp_path))
    native = weights_of(boot_model(FAMILY.model_config(small)))
    assert all(torch.equal(booted[k], native[k]) for k in native)
    assert torch.equal(FAMILY.dataset(small).train_labels,
                       FAMILY.dataset(FAMILY.resolve(small)).train_labels)
    before = replace(FAMILY, params=tuple(p for p in FAMILY.params if p.name != "recipe"))
    store = Store(tmp_path / "store")  # a record written before the parameter existed
    record = store.ensure_variant(before, small, "0-3/1", 3)
    assert "recipe" not in record.params
    assert record.id == variant_id(FAMILY, FAMILY.resolve(record.params))
    assert store.ensure_variant(FAMILY, FAMILY.resolve(small), "0-3/1", 3).id == record.id
    assert probe_sha256(FAMILY.probe(record.params)) == probe_sha256(
        FAMILY.probe(FAMILY.resolve(record.params)))  # resuming keeps the stored probe


def test_an_unknown_recipe_or_an_empty_split_is_refused():
    from tdw.errors import ParameterError
    with pytest.raises(ParameterError, match="not one of"):
        FAMILY.resolve({"recipe": "hooked"})
    with pytest.raises(ParameterError, match="raise train_fraction"):
        FAMILY.dataset(FAMILY.resolve({"p": 3, "train_fraction": 0.05, "recipe": "miscope"}))


def test_training_a_miscope_variant_starts_from_the_recipe(tmp_path):
    from tdw.training.run import TrainingRun

    params = {"p": 7, "n_epochs": 3, "train_fraction": 0.5, "recipe": "miscope"}
    result = TrainingRun.prepare(family=FAMILY.name, params=params, schedule="0-3/1",
                                 store=tmp_path, device="cpu").execute()
    values = FAMILY.resolve(params)
    assert result.variant == variant_id(FAMILY, values) != variant_id(
        FAMILY, FAMILY.resolve({**params, "recipe": "tdw"}))
    store = Store(tmp_path)
    start = store.load_checkpoint(result.variant, 0)
    expected = recipes.recipe_weights(FAMILY.model_config(values), values)
    assert start.keys() == expected.keys()
    for name, tensor in expected.items():
        assert torch.equal(start[name], tensor), name
    end = store.load_checkpoint(result.variant, 3)
    moved = {k for k in end if not torch.equal(end[k], start[k])}
    biases = {k for k in end if k.endswith(".bias")}
    assert moved == set(end) - biases  # every weight trained; MIScope froze the biases
    assert all(not end[k].any() for k in biases)
    assert torch.equal(store.load_probe(result.variant).tensors["is_train"].bool(),
                       data.split_mask(values))
