"""The initialisation sweep of Modulo Addition (``init_sweep``) and ``tdw init-gradients``.

A seed's energies are checked against the ``gradient_sites`` analyzer itself, run on a
freshly booted model of that seed; the ranking statistics against hand counts on planted
spectra and against enumerating every set; the command end to end through ``tdw``'s entry
point, against a store holding one analysed variant (planted: nothing is trained).
"""

from __future__ import annotations

import dataclasses
import doctest
import itertools
import json

import numpy as np
import pytest
import torch
from helpers import snapshot
from scipy.stats import rankdata
from tdw.families.modulo_addition_1l import init_sweep
from tdw.families.modulo_addition_1l.embedding import ANALYZERS as EMBEDDING
from tdw.families.modulo_addition_1l.gradients import ANALYZERS as GRADIENTS
from tdw.families.modulo_addition_1l.gradients import SITES, energy_shares
from tdw.families.modulo_addition_1l.init_sweep import (
    COMMAND,
    init_gradient_sweep,
    parse_seeds,
    set_p_value,
)

from tdw.cli import family_commands
from tdw.cli.main import main
from tdw.family.analyzer import CheckpointInputs
from tdw.family.artifacts import Artifact
from tdw.family.model import boot_model, weights_of
from tdw.family.registry import families, get_family

FAMILY = get_family("modulo_addition_1l")
VARIANT = "modulo_addition_1l/p11-ms1-ds598"


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny forward passes are fastest on one thread, and the machine is shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_docstring_examples():
    result = doctest.testmod(init_sweep)
    assert result.attempted >= 3 and result.failed == 0


# --- the energies are the analyzer's, at a fresh initialisation -------------------------


def test_each_seed_is_the_gradient_sites_analyzer_on_its_untrained_model():
    values = FAMILY.resolve({"p": 11})  # model_seed 999: replaced by each seed
    result = init_gradient_sweep(values, (0, 1))
    assert result.rms.shape == (2, len(SITES), 5) and result.seeds == (0, 1)
    for i, seed in enumerate((0, 1)):
        seeded = {**values, "model_seed": seed}
        model = boot_model(FAMILY.model_config(seeded))
        weights = weights_of(model)
        arrays, attrs = GRADIENTS[0].run(CheckpointInputs(
            values=seeded, epoch=0, weights=weights, final_weights=weights,
            probe=FAMILY.probe(seeded), model=model))
        np.testing.assert_allclose(result.rms[i], arrays["rms"], rtol=1e-6)
        np.testing.assert_allclose(result.shares[i], energy_shares(arrays["rms"]), atol=1e-6)
        assert result.train_loss[i] == pytest.approx(attrs["train_loss"], rel=1e-12)
        top = {s: int(np.argmax(result.shares[i, j])) + 1 for j, s in enumerate(SITES)}
        assert top == attrs["top_frequency"]
    assert not np.allclose(result.rms[0], result.rms[1])  # each seed is its own model
    np.testing.assert_allclose(result.mean, result.shares.mean(0))
    np.testing.assert_allclose(result.spread, result.shares.std(0))
    assert result.keys == () and np.isnan(result.key_p_value).all()
    assert "model_seed" not in result.values and result.values["p"] == 11


# --- ranks, percentiles and p-values on planted spectra ---------------------------------

# W_E's energy per frequency 1..5 (p = 11): 3 is largest, then 5, 2, 4, 1.
_W_E = np.array([0.05, 0.15, 0.5, 0.1, 0.2])


@pytest.fixture
def planted(monkeypatch):
    """Three seeds of planted rms: W_E as ``_W_E`` with a small seed-dependent ripple that
    keeps its order, the other sites flat but for frequency 1 (which ranks first there)."""
    def energies(values, seed):
        w_e = _W_E + 0.01 * seed * np.array([1.0, -1.0, 0.0, 1.0, -1.0])
        others = np.tile([4.0, 1.0, 1.0, 1.0, 1.0], (len(SITES) - 1, 1))
        return np.sqrt(np.vstack([w_e, others])), 0.5 + seed

    monkeypatch.setattr(init_sweep, "seed_energies", energies)
    return FAMILY.resolve({"p": 11})


@pytest.mark.parametrize(("keys", "percentile", "p_value"), [
    ((3,), 1.0, 1 / 5),  # the top of 5: 1 of the 5 single frequencies ranks as high
    ((3, 5), (1.0 + 0.75) / 2, 1 / 10),  # the top two: only itself among C(5, 2) = 10 pairs
    # ascending ranks 5 and 1 sum to 6, as do 1+5, 2+4; more: 2+5, 3+4, 3+5, 4+5
    ((1, 3), (1.0 + 0.0) / 2, 6 / 10),
])
def test_planted_keys_rank_as_counted_by_hand(planted, keys, percentile, p_value):
    result = init_gradient_sweep(planted, (0, 1, 2), keys=keys)
    # the ripple sums to 0, so every seed's W_E energies already sum to 1: they are shares
    shares = [_W_E + 0.01 * s * np.array([1, -1, 0, 1, -1]) for s in range(3)]
    np.testing.assert_allclose(result.mean[0], np.mean(shares, 0))
    np.testing.assert_allclose(result.spread[0], np.std(shares, 0))
    assert result.rank[0].tolist() == [5, 3, 1, 4, 2]
    np.testing.assert_allclose(result.percentile[0], [0.0, 0.5, 1.0, 0.25, 0.75])
    assert result.key_percentile[0] == pytest.approx(percentile)
    assert result.key_p_value[0] == pytest.approx(p_value)
    # every seed keeps W_E's order, so each seed ranks the keys the same
    np.testing.assert_allclose(result.key_percentile_by_seed[:, 0], percentile)
    np.testing.assert_allclose(result.key_p_value_by_seed[:, 0], p_value)
    # the other sites tie frequencies 2..5 (mid-rank 2.5 of 4) below frequency 1
    assert result.rank[1].tolist() == [1, 2, 2, 2, 2]
    np.testing.assert_allclose(result.percentile[1], [1.0, 0.375, 0.375, 0.375, 0.375])
    assert result.train_loss.tolist() == [0.5, 1.5, 2.5]


def test_keys_outside_the_frequencies_are_refused(planted):
    with pytest.raises(init_sweep.ParameterError, match=r"not all in 1 \.\. 5"):
        init_gradient_sweep(planted, (0,), keys=(2, 6))


@pytest.mark.parametrize("seed", range(4))
def test_the_p_value_counts_every_set_of_the_same_size(seed):
    rng = np.random.default_rng(seed)
    shares = rng.integers(0, 6, size=13).astype(float)  # ties on purpose
    ranks = rankdata(shares)
    for size in (1, 2, 4):
        members = list(rng.choice(13, size, replace=False))
        observed = ranks[members].sum()
        sums = [ranks[list(c)].sum() for c in itertools.combinations(range(13), size)]
        expected = np.mean(np.asarray(sums) >= observed - 1e-9)
        assert set_p_value(shares, members) == pytest.approx(expected, rel=1e-12)


def test_seed_specs_are_unioned_and_sorted():
    assert parse_seeds("0-3") == (0, 1, 2, 3)
    assert parse_seeds(" 7, 2-3 ,3") == (2, 3, 7)


# --- tdw init-gradients ------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch):
    """``tdw``'s entry point with the command declared by the family (patched in until the
    family's ``commands`` lists it)."""
    if COMMAND not in FAMILY.commands:
        registered = {**families(), FAMILY.name: dataclasses.replace(
            FAMILY, commands=(*FAMILY.commands, COMMAND))}
        monkeypatch.setattr(family_commands, "families", lambda: registered)
    return main


@pytest.fixture
def analysed(store):
    """A store with p = 11, model seed 1, 'trained' to epoch 3 with key frequencies 2, 4."""
    values = FAMILY.resolve({"p": 11, "model_seed": 1, "n_epochs": 3})
    vid = store.ensure_variant(FAMILY, values, "0-3/1", 3).id
    assert vid.startswith(VARIANT)
    record = store.write_checkpoint(vid, 3, weights_of(boot_model(FAMILY.model_config(values))))
    store.write_artifact(vid, Artifact(EMBEDDING[0].schema, 3, {"norms": np.ones(5, np.float32)},
                                       {"key_frequencies": [2, 4], "key_share": 0.9},
                                       "probe", record.sha256))
    store.update_variant(vid, state="trained", epochs_done=3)
    return store, vid


def test_the_command_prints_the_table(cli, store, capsys, tmp_path):
    out_file = tmp_path / "sweep.json"
    assert cli(["--store", str(store.root), "init-gradients", "--seeds", "0-2",
                "--set", "p=11", "--json", str(out_file)]) == 0
    out = capsys.readouterr().out
    assert "p=11 data_seed=598 train_fraction=0.3 (36 training pairs), 3 model seeds (0-2)" in out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("freq"))
    assert lines[header].split() == ["freq", *SITES]
    assert [line.split()[0] for line in lines[header + 2:header + 7]] == list("12345")
    assert "No trained variant to compare with: name one with --against" in out
    document = json.loads(out_file.read_text())
    assert document["seeds"] == [0, 1, 2] and document["variant"] is None
    assert np.asarray(document["mean"]).shape == (len(SITES), 5)
    assert document["keys"] == [] and document["key_p_value"] == [None] * len(SITES)


def test_the_command_ranks_a_variants_keys(cli, analysed, capsys, tmp_path):
    store, vid = analysed
    out_file = tmp_path / "sweep.json"
    assert cli(["--store", str(store.root), "init-gradients", "--seeds", "0-2",
                "--against", "p11-ms1", "--json", str(out_file)]) == 0
    out = capsys.readouterr().out
    assert f"Key frequencies (*) of {vid} at epoch 3, its last checkpoint: 2, 4." in out
    assert any(line.startswith("2*") for line in out.splitlines())
    assert "seed 1: percentile" in out  # its own seed is among those swept
    document = json.loads(out_file.read_text())
    assert document["variant"] == vid and document["keys"] == [2, 4]
    expected = init_gradient_sweep(FAMILY.resolve({"p": 11}), (0, 1, 2), keys=(2, 4))
    np.testing.assert_allclose(document["key_p_value"], expected.key_p_value)
    np.testing.assert_allclose(document["key_percentile_by_seed"][1],
                               expected.key_percentile_by_seed[1])
    for site, p_value in zip(SITES, expected.key_p_value, strict=True):
        assert f"{p_value:.3g}" in next(line for line in out.splitlines()
                                        if line.startswith(site + " "))

    # the --set values name the same variant: it is compared without --against
    assert cli(["--store", str(store.root), "init-gradients", "--seeds", "0,2", "--set",
                "p=11", "--set", "model_seed=1", "--set", "n_epochs=3"]) == 0
    out = capsys.readouterr().out
    assert f"of {vid} at epoch 3" in out
    assert "add it (--seeds 0,2,1)" in out


@pytest.mark.parametrize(("args", "words"), [
    (["--seeds", "0-x"], "'0-x' is not a seed or a range; write comma-separated seeds and "
                         "ranges (both ends included), e.g. --seeds 0-63"),
    (["--seeds", "9-3"], "the range 9-3 runs downward; write it upward, e.g. 3-9"),
    (["--seeds", "4294967296"], "the largest model_seed; choose seeds in 0-4294967295"),
    (["--against", "nope"], f"unknown variant 'nope'; choose one of: {VARIANT}"),
    (["--against", "p11-ms1", "--set", "p=13"], "are of p = 11; drop --set p"),
    (["--against", "p11-ms1", "--preset", "quick"], "give one of them"),
    (["--set", "q=3"], "unknown parameter of family modulo_addition_1l 'q'"),
    (["--json", "/no/such/folder/sweep.json"], "name a file in a folder you can write"),
])
def test_bad_input_is_refused_with_its_fix(cli, analysed, capsys, args, words):
    store, _ = analysed
    before = snapshot(store.root)
    assert cli(["--store", str(store.root), "init-gradients", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and words in captured.err
    assert captured.err.startswith("tdw: ") and captured.err.count("\n") == 1
    assert snapshot(store.root) == before
