"""The ``gradient_sites`` analyzer of Modulo Addition and its views.

The energies are checked against an independent computation: a float64 forward written
here (tied to the bridge's own forward), its loss differentiated by plain autograd, each
site's token function evaluated from the model's own quantities (the key and value of a
token, the attention score from '=' to it, the neuron input through W_O) before and after
a gradient step, and the change projected with ``numpy.fft``. Planted single-frequency
functions and embeddings check the projection and the mapping through W_E.
"""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from tdw.families.modulo_addition_1l import gradients
from tdw.families.modulo_addition_1l.gradient_views import VIEWS
from tdw.families.modulo_addition_1l.gradients import (
    ANALYZERS,
    GRADIENT_OF,
    SITES,
    energy_shares,
    frequency_rms,
    profile_cosine,
    site_functions,
)

from tdw.family.analyzer import CheckpointInputs
from tdw.family.artifacts import Artifact, ArtifactSchema
from tdw.family.model import boot_model, weights_of
from tdw.family.registry import get_family
from tdw.family.views import ViewContext

FAMILY = get_family("modulo_addition_1l")
GRADIENT_SITES = ANALYZERS[0]
N_HEADS = 4


def _fft_rms(function: np.ndarray) -> np.ndarray:
    """``(p, m)`` -> ``(p // 2,)`` rms per frequency from the FFT: the orthonormal cos/sin
    pair of frequency k holds ``2 |F_k|^2 / p`` of a column's squared norm."""
    p, m = function.shape
    spectrum = np.abs(np.fft.fft(function, axis=0)) ** 2  # (k, m)
    return np.sqrt(2 * spectrum[1 : p // 2 + 1].sum(-1) / p / (2 * m))


def test_docstring_examples():
    result = doctest.testmod(gradients)
    assert result.attempted > 0 and result.failed == 0


# --- the projection and the mapping through W_E, on planted signals ------------------------


@pytest.mark.parametrize(("p", "k", "phase"), [(11, 1, 0.0), (11, 5, 1.1), (23, 7, -0.4)])
def test_a_single_frequency_token_function_has_all_its_energy_there(p, k, phase):
    rng = np.random.default_rng(k)
    t = np.arange(p)[:, None]  # (token, 1)
    direction = rng.standard_normal((1, 6))  # (1, m)
    planted = np.cos(2 * np.pi * k * t / p + phase) * direction + 3.0  # constant: frequency 0
    rms = frequency_rms(planted)
    expected = np.zeros(p // 2)
    # |cos(w t + phase)|^2 summed over t is p / 2; the pair has 2 * 6 coefficients
    expected[k - 1] = np.sqrt(p / 2 * (direction ** 2).sum() / (2 * 6))
    np.testing.assert_allclose(rms, expected, atol=1e-12)
    noise = rng.standard_normal((p, 6))
    np.testing.assert_allclose(frequency_rms(noise), _fft_rms(noise), rtol=1e-10)
    assert energy_shares(rms)[k - 1] == pytest.approx(1.0)


def _random_weights(p: int, embedding: np.ndarray, seed: int = 0):
    """Random k/v/o weights and gradients of the family's shapes around ``embedding``."""
    rng = np.random.default_rng(seed)
    d = embedding.shape[1]
    weights = {"embed.weight": embedding, "pos_embed.weight": rng.standard_normal((3, d))}
    for name in ("k", "v", "o"):
        weights[f"blocks.0.attn.{name}.weight"] = rng.standard_normal((d, d))
    shapes = {"embed.weight": embedding.shape, "blocks.0.attn.q.weight": (d, d),
              "blocks.0.attn.k.weight": (d, d), "blocks.0.attn.v.weight": (d, d),
              "blocks.0.mlp.in.weight": (4 * d, d)}
    grads = {name: rng.standard_normal(shape) for name, shape in shapes.items()}
    return weights, grads


def test_an_embedding_of_one_frequency_confines_every_site_read_through_it():
    p, k, d = 13, 4, 16
    rng = np.random.default_rng(1)
    t = np.arange(p)[:, None]
    waves = np.cos(2 * np.pi * k * t / p) * rng.standard_normal(d) + np.sin(
        2 * np.pi * k * t / p) * rng.standard_normal(d)  # (token, d_model)
    embedding = np.vstack([waves + rng.standard_normal(d), rng.standard_normal((1, d))])
    weights, grads = _random_weights(p, embedding)
    functions = site_functions(weights, grads, p, N_HEADS)
    assert functions["W_Q"].shape == (p, N_HEADS) and functions["W_in"].shape == (p, 4 * d)
    for site in ("W_Q", "W_K", "W_V", "W_in"):
        shares = energy_shares(frequency_rms(functions[site]))
        assert shares[k - 1] == pytest.approx(1.0, abs=1e-12), site
    # W_E's own site is the gradient itself: a random one spreads, a planted one does not
    assert energy_shares(frequency_rms(functions["W_E"]))[k - 1] < 0.5
    grads["embed.weight"][:p] = np.cos(2 * np.pi * 2 * t / p) * rng.standard_normal(d)
    functions = site_functions(weights, grads, p, N_HEADS)
    assert energy_shares(frequency_rms(functions["W_E"]))[1] == pytest.approx(1.0)


def test_the_query_gradient_has_rank_one_so_the_score_is_what_it_moves():
    # Only '=' queries: dL/dW_Q = g x_=^T, and W_E G_Q^T would be (W_E x_=) g^T whatever g.
    p, d = 11, 16
    weights, grads = _random_weights(p, np.random.default_rng(2).standard_normal((p + 1, d)))
    x_eq = weights["embed.weight"][p] + weights["pos_embed.weight"][2]
    g = np.random.default_rng(3).standard_normal(d)
    grads["blocks.0.attn.q.weight"] = np.outer(g, x_eq)
    head = slice(0, d // N_HEADS)
    keys = weights["embed.weight"][:p] @ weights["blocks.0.attn.k.weight"][head].T
    expected = keys @ g[head] * (x_eq @ x_eq) / np.sqrt(d // N_HEADS)  # (token,)
    np.testing.assert_allclose(site_functions(weights, grads, p, N_HEADS)["W_Q"][:, 0],
                               expected, rtol=1e-12)


def test_shares_and_cosine_follow_their_definitions():
    rms = np.array([[1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 3.0, 4.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(energy_shares(rms)[2], [0.0, 9 / 25, 16 / 25])
    assert energy_shares(rms)[3].tolist() == [0.0, 0.0, 0.0]
    cosine = profile_cosine(rms)
    assert cosine[0, 1] == pytest.approx(1.0) and cosine[0, 2] == 0.0
    assert cosine[3].tolist() == [0.0] * 4  # an all-zero profile is like nothing
    power = np.random.default_rng(0).random((5, 7))
    pairs = [[a @ b / np.linalg.norm(a) / np.linalg.norm(b) for b in power] for a in power]
    np.testing.assert_allclose(profile_cosine(np.sqrt(power)), pairs, rtol=1e-12)


# --- the analyzer on a real model -------------------------------------------------------


def _forward(w: dict[str, torch.Tensor], tokens: torch.Tensor) -> dict[str, torch.Tensor]:
    """The family's model at '=' from a state dict: scores from '=' ``(batch, head, pos)``,
    keys and values ``(batch, pos, head, d_head)``, logits ``(batch, p)``."""
    x = w["embed.weight"][tokens] + w["pos_embed.weight"]  # (batch, pos, d_model)

    def heads(part: str, inputs: torch.Tensor) -> torch.Tensor:
        out = inputs @ w[f"blocks.0.attn.{part}.weight"].T + w[f"blocks.0.attn.{part}.bias"]
        return out.unflatten(-1, (N_HEADS, -1))

    q, k, v = heads("q", x[:, 2]), heads("k", x), heads("v", x)
    scores = torch.einsum("bhd,bphd->bhp", q, k) / q.shape[-1] ** 0.5
    z = torch.einsum("bhp,bphd->bhd", scores.softmax(-1), v).flatten(1)
    mid = x[:, 2] + z @ w["blocks.0.attn.o.weight"].T + w["blocks.0.attn.o.bias"]
    hidden = torch.relu(mid @ w["blocks.0.mlp.in.weight"].T + w["blocks.0.mlp.in.bias"])
    out = mid + hidden @ w["blocks.0.mlp.out.weight"].T + w["blocks.0.mlp.out.bias"]
    return {"scores": scores, "keys": k, "values": v,
            "logits": out @ w["unembed.weight"].T + w["unembed.bias"]}


def _token_functions(w: dict[str, torch.Tensor], p: int) -> dict[str, np.ndarray]:
    """Each site's function of the token t, read off the forward of ``(t, 0, =)``."""
    t = torch.arange(p)
    f = _forward(w, torch.stack([t, torch.zeros_like(t), torch.full_like(t, p)], 1))
    values = f["values"][:, 0].flatten(1)  # (token, head * d_head)
    through_ov = values @ w["blocks.0.attn.o.weight"].T @ w["blocks.0.mlp.in.weight"].T
    return {"W_E": w["embed.weight"][:p], "W_Q": f["scores"][:, :, 0],
            "W_K": f["keys"][:, 0].flatten(1), "W_V": values, "W_in": through_ov}


@pytest.fixture(scope="module")
def checkpoint():
    values = FAMILY.resolve({"p": 11})
    model = boot_model(FAMILY.model_config(values))
    inputs = CheckpointInputs(values=values, epoch=0, weights=weights_of(model),
                              final_weights=weights_of(model), probe=FAMILY.probe(values),
                              model=model)
    return inputs, model


def test_energies_match_an_independent_gradient_step_and_fft(checkpoint):
    inputs, model = checkpoint
    p = inputs.values["p"]
    split = FAMILY.dataset(inputs.values)
    w = {n: t.double().requires_grad_(n in GRADIENT_OF.values())
         for n, t in weights_of(model).items()}
    logits = _forward(w, split.train_tokens)["logits"]
    with torch.no_grad():  # the forward written here is the bridge's
        bridge = model(split.train_tokens)[:, -1].double()
    torch.testing.assert_close(logits.detach(), bridge, rtol=1e-4, atol=1e-5)
    loss = F.cross_entropy(logits, split.train_labels)
    names = list(GRADIENT_OF.values())
    grads = dict(zip(names, torch.autograd.grad(loss, [w[n] for n in names]), strict=True))
    expected = {}
    with torch.no_grad():
        before = _token_functions(w, p)
        for site, name in GRADIENT_OF.items():
            stepped = _token_functions({**w, name: w[name] - grads[name]}, p)
            expected[site] = _fft_rms((stepped[site] - before[site]).numpy())

    arrays, attrs = GRADIENT_SITES.run(inputs)
    assert attrs["sites"] == list(SITES) and arrays["rms"].shape == (5, p // 2)
    for i, site in enumerate(SITES):
        assert expected[site].max() > 0, site
        np.testing.assert_allclose(arrays["rms"][i], expected[site], rtol=2e-4,
                                   atol=1e-6 * expected[site].max(), err_msg=site)
        top = int(np.argmax(expected[site])) + 1
        assert attrs["top_frequency"][site] == top
    np.testing.assert_allclose(arrays["cosine"], profile_cosine(np.stack(
        [expected[s] for s in SITES])), atol=1e-5)
    norms = [grads[GRADIENT_OF[s]][:p].norm() if s == "W_E" else grads[GRADIENT_OF[s]].norm()
             for s in SITES]
    np.testing.assert_allclose(arrays["gradient_norm"], torch.stack(norms).numpy(), rtol=1e-4)
    assert attrs["train_loss"] == pytest.approx(float(loss.detach()), rel=1e-6)


def test_the_analyzer_leaves_the_model_as_it_found_it(checkpoint):
    inputs, model = checkpoint
    assert GRADIENT_SITES.needs_model
    before = weights_of(model)
    some = next(p for p in model.parameters() if p.requires_grad)
    some.grad = torch.ones_like(some)  # an existing gradient is neither added to nor cleared
    try:
        first, _ = GRADIENT_SITES.run(inputs)
        second, _ = GRADIENT_SITES.run(inputs)
        assert torch.equal(some.grad, torch.ones_like(some))
        assert all(p.grad is None for p in model.parameters() if p is not some)
    finally:
        some.grad = None
    assert all(torch.equal(before[k], v) for k, v in weights_of(model).items())
    np.testing.assert_array_equal(first["rms"], second["rms"])


# --- views ------------------------------------------------------------------------------


def _context(keys: list[int], n_freq: int = 5, epoch: int = 20):
    """A ViewContext over three checkpoints of planted rms profiles, with ``keys`` as the
    final checkpoint's key frequencies."""
    epochs = (0, 10, 20)
    rng = np.random.default_rng(4)
    schema = ArtifactSchema("gradient_sites", 1)
    arts = {}
    for e in epochs:
        rms = rng.random((len(SITES), n_freq)).astype(np.float32)
        arts[e] = Artifact(schema, e, {"rms": rms, "cosine": profile_cosine(rms).astype(
            np.float32), "gradient_norm": np.ones(len(SITES), np.float32)},
            {"sites": list(SITES), "top_frequency": {}, "train_loss": 1.0})
    final = Artifact(ArtifactSchema("dominant_frequencies", 1), epochs[-1],
                     {"norms": np.ones(n_freq, np.float32)}, {"key_frequencies": keys})

    def load(name: str, e: int) -> Artifact:
        return final if name == "dominant_frequencies" and e == epochs[-1] else arts[e]

    return ViewContext("v", {"p": 2 * n_freq + 1}, epoch, epochs, load, lambda: {}), arts


def test_views_are_grouped_and_build_figures():
    from bokeh.models import Model

    ctx, _ = _context([2, 5])
    assert [v.name for v in VIEWS] == ["gradient_frequencies", "gradient_site_similarity",
                                      "gradient_key_energy"]
    for view in VIEWS:
        assert view.group == "Gradients"
        assert isinstance(view.figure(ctx), Model), view.name


def test_the_frequency_and_similarity_views_swap_only_their_cells():
    ctx, arts = _context([2, 5])
    frequencies, similarity = VIEWS[0], VIEWS[1]
    for epoch in ctx.epochs:
        cells = frequencies.epoch_data(ctx.at(epoch))["cells"]
        rms = arts[epoch]["rms"].astype(np.float64)
        shares = rms ** 2 / (rms ** 2).sum(-1, keepdims=True)
        np.testing.assert_allclose(cells["value"], shares.ravel(), rtol=1e-6)
        assert cells["y"][:5] == ["W_E"] * 5 and cells["x"][:5] == [1, 2, 3, 4, 5]
        cosine = similarity.epoch_data(ctx.at(epoch))["cells"]
        np.testing.assert_allclose(cosine["value"], arts[epoch]["cosine"].ravel(), rtol=1e-6)
    fig = frequencies.figure(ctx)
    assert list(fig.y_range.factors) == list(reversed(SITES))
    assert frequencies.scope == similarity.scope == "checkpoint"
    assert frequencies.data(ctx) == {} and similarity.data(ctx) == {}


def test_the_key_energy_view_sums_the_shares_of_the_final_key_frequencies():
    ctx, arts = _context([2, 5])
    view = VIEWS[2]
    lines = view.data(ctx)["lines"]
    assert lines["name"] == [*SITES, "flat spectrum"]
    assert lines["xs"][0] == [0, 10, 20]
    for i in range(len(SITES)):
        rms = np.stack([arts[e]["rms"][i] for e in ctx.epochs]).astype(np.float64)
        power = rms ** 2
        expected = (power[:, 1] + power[:, 4]) / power.sum(-1)
        np.testing.assert_allclose(lines["ys"][i], expected, rtol=1e-6)
    assert lines["ys"][-1] == [0.4] * 3
    assert view.epoch_data(ctx) == {"current": {"x": [20]}}
    epochs, values = view.trace.values(ctx)
    np.testing.assert_allclose(values, lines["ys"][0])

    ctx, arts = _context([])  # nothing key: each site's top frequency instead
    lines = view.data(ctx)["lines"]
    assert lines["name"][0] == "W_E (top frequency)" and lines["ys"][-1] == [0.2] * 3
    rms = np.stack([arts[e]["rms"][0] for e in ctx.epochs]).astype(np.float64)
    np.testing.assert_allclose(lines["ys"][0], (rms ** 2).max(-1) / (rms ** 2).sum(-1),
                               rtol=1e-6)
