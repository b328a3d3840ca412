"""``singular_values`` on the Modulo Addition bridge, and the ``multistream`` view on
planted ``weight_fourier`` artifacts.

The multistream shares are checked two ways: on hand-written artifacts whose shares have a
closed form (all energy at the key frequencies gives 1), and end to end on weights planted
so that W_E, every head and every neuron read only the key frequencies, through the real
``weight_fourier``, ``dominant_frequencies`` and ``effective_dimensionality`` analyzers.
The effective dimensions are checked against numpy's SVD of the weights.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tdw.families.modulo_addition_1l.embedding import ANALYZERS as EMBEDDING
from tdw.families.modulo_addition_1l.multistream_views import (
    MULTISTREAM,
    STREAMS,
    run_key_frequencies,
    stream_dimensions,
    stream_shares,
)
from tdw.families.modulo_addition_1l.weight_fourier import ANALYZERS as WEIGHT_FOURIER

from tdw.family.analyzer import CheckpointInputs
from tdw.family.artifacts import Artifact
from tdw.family.model import boot_model, weights_of
from tdw.family.registry import get_family
from tdw.family.views import ViewContext
from tdw.library.spectrum import singular_values
from tdw.library.weights import effective_dimensionality

FAMILY = get_family("modulo_addition_1l")
P = 23
KEYS = (3, 7)
D_MODEL, N_HEADS, D_HEAD, D_MLP = 128, 4, 32, 512
BRIDGE_WEIGHTS = weights_of(boot_model(FAMILY.model_config(FAMILY.resolve({"p": P}))))
"""The bridge's state dict at p = 23: the names and shapes every test builds on."""


def _inputs(weights, p=P) -> CheckpointInputs:
    tensors = {n: torch.as_tensor(w, dtype=torch.float64) for n, w in weights.items()}
    return CheckpointInputs(values=FAMILY.resolve({"p": p}), epoch=0, weights=tensors,
                            final_weights=tensors, probe={})  # weight-only: no probe read


def _artifacts(weights, epoch: int) -> dict[str, Artifact]:
    """The three artifacts the multistream view reads, from the real analyzers."""
    inputs = _inputs(weights)
    return {a.name: Artifact(a.schema, epoch, *a.run(inputs))
            for a in (WEIGHT_FOURIER[0], EMBEDDING[0], effective_dimensionality)}


def _random_weights(seed: int) -> dict[str, np.ndarray]:
    """The family's state dict at p = 23, random, from the bridge's own names and shapes."""
    rng = np.random.default_rng(seed)
    return {n: 0.1 * rng.standard_normal(tuple(t.shape)) for n, t in BRIDGE_WEIGHTS.items()}


def _keyed_weights(seed: int) -> dict[str, np.ndarray]:
    """W_E carries cos and sin of the key frequencies in columns 0-3 over a weak full-rank
    rest (columns 32 .. 32 + p - 1, which set the median the key frequencies stand above);
    q, k, v read only columns 0-3 and each neuron the (cos, sin) pair of one key."""
    rng = np.random.default_rng(seed)
    x = np.arange(P)
    w = _random_weights(seed)
    w_e = np.zeros((P + 1, D_MODEL))
    for i, k in enumerate(KEYS):
        w_e[:P, 2 * i] = np.cos(2 * np.pi * k * x / P)
        w_e[:P, 2 * i + 1] = np.sin(2 * np.pi * k * x / P)
    w_e[:P, 32:32 + P] = 1e-3 * np.linalg.qr(rng.standard_normal((P, P)))[0]
    w_e[P] = 0.01 * rng.standard_normal(D_MODEL)  # '=': small, so W_E has four directions
    w["embed.weight"] = w_e
    for part in "qkv":
        weight = np.zeros((N_HEADS * D_HEAD, D_MODEL))
        weight[:, :4] = rng.standard_normal((N_HEADS * D_HEAD, 4))
        w[f"blocks.0.attn.{part}.weight"] = weight
    w_in = np.zeros((D_MLP, D_MODEL))
    pair = 2 * (np.arange(D_MLP) % 2)  # neuron m reads key m % 2
    w_in[np.arange(D_MLP), pair] = rng.standard_normal(D_MLP)
    w_in[np.arange(D_MLP), pair + 1] = rng.standard_normal(D_MLP)
    w["blocks.0.mlp.in.weight"] = w_in
    return w


# --- registration and the analyzer on the bridge ----------------------------------------------


def test_the_family_runs_singular_values_after_effective_dimensionality_and_shows_them():
    names = [a.name for a in FAMILY.analyzers]
    assert names[names.index("effective_dimensionality") + 1] == "singular_values"
    views = {v.name: v for v in FAMILY.views}
    assert {"singular_value_spectrum", "spectral_concentration", "multistream"} <= set(views)
    assert views["multistream"].group == "Fourier"
    assert views["singular_value_spectrum"].group == "Trajectory"


def test_singular_values_covers_the_bridges_matrices_as_effective_dimensionality_does():
    inputs = _inputs({n: t.double() for n, t in BRIDGE_WEIGHTS.items()})
    arrays, attrs = singular_values.run(inputs)
    pr, pr_attrs = effective_dimensionality.run(inputs)
    assert attrs["matrices"] == pr_attrs["matrices"]
    assert len(attrs["matrices"]) == 9  # embed, pos_embed, q, k, v, o, in, out, unembed
    assert arrays["singular_values"].shape == (9, D_MODEL)  # padded to the largest rank
    np.testing.assert_allclose(arrays["participation_ratio"], pr["participation_ratio"],
                               rtol=1e-5)
    shapes = [tuple(BRIDGE_WEIGHTS[n].shape) for n in attrs["matrices"]]
    np.testing.assert_array_equal(arrays["rank"], [min(s) for s in shapes])
    for row, rank in enumerate(arrays["rank"]):
        assert not np.isnan(arrays["singular_values"][row, :rank]).any()
        assert np.isnan(arrays["singular_values"][row, rank:]).all()


# --- multistream: closed forms on hand-written artifacts ---------------------------------------


def _written(embed_power, ov, answer_qk, in_freq, in_share, in_amplitude) -> Artifact:
    """A weight_fourier artifact with these arrays, the rest from a random run."""
    arrays, attrs = WEIGHT_FOURIER[0].run(_inputs(_random_weights(0)))
    arrays = {**arrays, "embed_norm": np.sqrt(np.asarray(embed_power, np.float32)),
              "ov_share": np.asarray(ov, np.float32),
              "answer_qk_share": np.asarray(answer_qk, np.float32),
              "in_freq": np.asarray(in_freq, np.int32),
              "in_share": np.asarray(in_share, np.float32),
              "in_amplitude": np.asarray(in_amplitude, np.float32)}
    WEIGHT_FOURIER[0].schema.validate(arrays, attrs)
    return Artifact(WEIGHT_FOURIER[0].schema, 0, arrays, attrs)


def _one_hot(rows: int, k: int) -> np.ndarray:
    out = np.zeros((rows, P // 2))
    out[:, k - 1] = 1.0
    return out


def test_all_energy_at_the_key_frequency_gives_share_one_and_none_gives_zero():
    full = _written(_one_hot(1, 5)[0] * 4.0, _one_hot(N_HEADS, 5), _one_hot(N_HEADS, 5),
                    np.full(D_MLP, 5), np.ones(D_MLP), np.linspace(0.1, 2.0, D_MLP))
    np.testing.assert_allclose(stream_shares(full, [5]), [1.0, 1.0, 1.0], rtol=1e-6)
    np.testing.assert_allclose(stream_shares(full, [4, 6]), [0.0, 0.0, 0.0], atol=1e-7)


def test_mixed_streams_give_their_closed_form_shares():
    embed = np.ones(P // 2)  # flat: |K| / (p // 2)
    ov = np.zeros((N_HEADS, P // 2))
    ov[0, 2], ov[1, 4] = 1.0, 1.0  # head 0 at key 3, head 1 off-key, heads 2-3 constant
    answer = np.full((N_HEADS, P // 2), 1.0 / (P // 2))  # flat for every head
    # neuron 0: key 3, half its power in that wave (power 1 of 2); neuron 1: off-key, pure
    # (power 1); neuron 2: constant (share 0, no power); the rest: off-key, no amplitude
    freq = np.zeros(D_MLP, np.int32)
    share = np.zeros(D_MLP)
    amplitude = np.zeros(D_MLP)
    freq[:3], share[:3], amplitude[:3] = (3, 9, 0), (0.5, 1.0, 0.0), (1.0, 1.0, 0.0)
    freq[3:], share[3:] = 9, 1.0
    art = _written(embed, ov, answer, freq, share, amplitude)
    attention = np.mean([(1 + 1 / 11) / 2, (0 + 1 / 11) / 2, (1 / 11) / 2, (1 / 11) / 2])
    np.testing.assert_allclose(stream_shares(art, [3]), [1 / 11, attention, 1 / 3],
                               rtol=1e-6)


# --- multistream: end to end on planted weights -----------------------------------------------


@pytest.fixture(scope="module")
def context() -> ViewContext:
    """Two checkpoints: random weights, then weights locked onto the key frequencies."""
    weights = {0: _random_weights(1), 40: _keyed_weights(2)}
    arts = {epoch: _artifacts(w, epoch) for epoch, w in weights.items()}
    ctx = ViewContext("v", FAMILY.resolve({"p": P}), 0, (0, 40),
                      lambda name, epoch: arts[epoch][name], lambda: {}, transition=(20, 0.5))
    return ctx


def test_planted_key_weights_have_every_stream_at_share_one(context):
    assert run_key_frequencies(context) == (list(KEYS), True)
    shares = stream_shares(context.load("weight_fourier", 40), KEYS)
    np.testing.assert_allclose(shares, [1.0, 1.0, 1.0], atol=1e-4)
    random = stream_shares(context.load("weight_fourier", 0), KEYS)
    assert (random < 0.6).all()  # a random run spreads its energy over all 11 frequencies


def test_stream_dimensions_are_the_mean_participation_ratios_of_their_matrices(context):
    weights = _keyed_weights(2)

    def pr(name: str) -> float:
        e = np.linalg.svd(weights[name], compute_uv=False) ** 2
        return e.sum() ** 2 / (e ** 2).sum()

    expected = [pr("embed.weight"),
                np.mean([pr(f"blocks.0.attn.{x}.weight") for x in "qkvo"]),
                np.mean([pr("blocks.0.mlp.in.weight"), pr("blocks.0.mlp.out.weight")])]
    np.testing.assert_allclose(stream_dimensions(context.load("effective_dimensionality", 40)),
                               expected, rtol=1e-5)
    assert expected[0] == pytest.approx(4.0, rel=1e-3)  # four unit waves over a 1e-3 rest


def test_the_multistream_view_builds_draws_both_axes_and_moves_its_marker(context):
    from bokeh.models import ColumnDataSource, LogAxis

    fig = MULTISTREAM.figure(context)
    assert "key frequencies 3, 7" in fig.title.text
    assert fig.select_one(LogAxis) is not None and "dimension" in fig.extra_y_ranges
    sources = fig.select({"type": ColumnDataSource})
    assert any(len(s.data.get("epoch", [])) == 2 for s in sources)
    columns = MULTISTREAM.data(context)["streams"]
    assert columns["epoch"] == [0, 40] and columns["flat"] == [2 / 11, 2 / 11]
    for i, stream in enumerate(STREAMS):
        assert columns[f"{stream}_share"][1] == pytest.approx(1.0, abs=1e-4)
        assert columns[f"{stream}_dim"][1] == pytest.approx(
            stream_dimensions(context.load("effective_dimensionality", 40))[i])
    assert MULTISTREAM.data(context)["transition"] == {"x": [20]}
    assert MULTISTREAM.epoch_data(context) == {"current": {"x": [0]}}
    assert MULTISTREAM.epoch_data(context.at(40)) == {"current": {"x": [40]}}
    epochs, values = MULTISTREAM.trace.values(context)
    assert list(epochs) == [0, 40] and values[1] == pytest.approx(1.0, abs=1e-4)


def test_without_key_frequencies_the_view_uses_the_top_embedding_frequency(context):
    def load(name: str, epoch: int) -> Artifact:
        art = context.load(name, epoch)
        if name == "dominant_frequencies":
            return Artifact(art.schema, epoch, art.arrays, {**art.attrs, "key_frequencies": []})
        return art

    ctx = ViewContext("v", context.values, 0, context.epochs, load, lambda: {})
    top = int(np.argmax(context.load("weight_fourier", 40)["embed_norm"])) + 1
    assert top in KEYS and run_key_frequencies(ctx) == ([top], False)
    assert "no key frequencies" in MULTISTREAM.figure(ctx).title.text
