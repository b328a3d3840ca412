"""``weight_fourier`` and its views, proven on planted weights and on the bridge itself.

Each test plants weights whose frequency structure is known (difference kernels in the
QK form, neurons whose input or output is an exact wave, embeddings and readers on chosen
frequencies) or checks the analyzer against an independent computation: ``numpy.fft`` on
products of the weights formed explicitly, and the bridge's own hooks for the weight
names and the head layout.
"""

from __future__ import annotations

import doctest
from itertools import combinations

import numpy as np
import pytest
import torch
from tdw.families.modulo_addition_1l import weight_fourier
from tdw.families.modulo_addition_1l.embedding import ANALYZERS as EMBEDDING
from tdw.families.modulo_addition_1l.weight_fourier import ANALYZERS, LOCKED, PROFILES
from tdw.families.modulo_addition_1l.weight_views import VIEWS

from tdw.family.analyzer import CheckpointInputs
from tdw.family.artifacts import Artifact
from tdw.family.model import boot_model, load_weights, weights_of
from tdw.family.registry import get_family
from tdw.family.views import ViewContext

FAMILY = get_family("modulo_addition_1l")
ANALYZER = ANALYZERS[0]
D_MODEL, N_HEADS, D_HEAD, D_MLP = 128, 4, 32, 512
SHAPES = {
    "embed.weight": ("p+1", D_MODEL), "pos_embed.weight": (3, D_MODEL),
    **{f"blocks.0.attn.{x}.weight": (N_HEADS * D_HEAD, D_MODEL) for x in "qkvo"},
    **{f"blocks.0.attn.{x}.bias": (D_MODEL,) for x in "qkvo"},
    "blocks.0.mlp.in.weight": (D_MLP, D_MODEL), "blocks.0.mlp.in.bias": (D_MLP,),
    "blocks.0.mlp.out.weight": (D_MODEL, D_MLP), "blocks.0.mlp.out.bias": (D_MODEL,),
    "unembed.weight": ("p", D_MODEL), "unembed.bias": ("p",),
}
"""The state dict as these tests build it; checked against the bridge's below."""


def _random_weights(p, seed=0, scale=0.1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    sizes = {"p+1": p + 1, "p": p}
    return {name: scale * rng.standard_normal([sizes.get(n, n) for n in shape])
            for name, shape in SHAPES.items()}


def _run(p, weights, epoch=0):
    """The analyzer on float64 ``weights`` (numpy or torch): ``(arrays, attrs)``."""
    tensors = {n: torch.as_tensor(w, dtype=torch.float64) for n, w in weights.items()}
    inputs = CheckpointInputs(values=FAMILY.resolve({"p": p}), epoch=epoch, weights=tensors,
                              final_weights=tensors, probe={})  # weight-only: no probe read
    return ANALYZER.run(inputs)


def _wave(p, k, x, phase=0.0, fn=np.cos):
    return fn(2 * np.pi * k * x / p + phase)


def _head(weight, h):
    """Head h's ``(d_head, d_model)`` rows of a q/k/v weight."""
    return weight[h * D_HEAD:(h + 1) * D_HEAD]


# --- independent references: the FFT on explicitly formed products ------------------------


def _fft_power(f):
    """``(p, ...)`` functions along axis 0 -> ``(p // 2, ...)`` power at k = 1 .. p // 2
    (|F_k|^2 + |F_-k|^2; the scale cancels in every share)."""
    p = f.shape[0]
    spectrum = np.abs(np.fft.fft(f, axis=0)) ** 2
    k = np.arange(1, p // 2 + 1)
    return spectrum[k] + spectrum[p - k]


def _fft_shares(f):
    """``(p, n)`` -> ``(p // 2,)`` share of the non-constant power per frequency, summed
    over the n columns."""
    power = _fft_power(f).sum(-1)
    return power / power.sum()


def _fft_blocks(m):
    """``(p, p)`` form -> ``(p // 2, p // 2)`` energy of each (k, l) frequency block."""
    p = m.shape[0]
    spectrum = np.abs(np.fft.fft2(m)) ** 2
    k = np.arange(1, p // 2 + 1)
    return sum(spectrum[np.ix_(s, t)] for s in (k, p - k) for t in (k, p - k))


def _qk_form(w, p, h):
    """M_h = (W_E W_Q^h)(W_E W_K^h)^T formed explicitly, ``(query, key)``."""
    w_e = w["embed.weight"][:p]
    return (w_e @ _head(w["blocks.0.attn.q.weight"], h).T) @ (
        w_e @ _head(w["blocks.0.attn.k.weight"], h).T).T


def test_docstring_examples():
    result = doctest.testmod(weight_fourier)
    assert result.attempted > 0 and result.failed == 0


# --- QK, the '=' query and OV ---------------------------------------------------------


def test_a_planted_difference_kernel_puts_all_qk_energy_in_its_frequency():
    p = 23
    x = np.arange(p)
    w = _random_weights(p)
    w_e = np.zeros((p + 1, D_MODEL))
    for h, k in enumerate((2, 5, 9)):  # columns 2h, 2h + 1: cos and sin of head h's k
        w_e[:p, 2 * h], w_e[:p, 2 * h + 1] = _wave(p, k, x), _wave(p, k, x, fn=np.sin)
    w_e[:p, 6], w_e[:p, 7] = _wave(p, 3, x), _wave(p, 7, x)  # for a cross-frequency head
    w_e[:p, 8] = 1.0  # a constant column
    w_e[:p, 20:] = np.random.default_rng(1).standard_normal((p, D_MODEL - 20))  # unread
    w["embed.weight"] = w_e
    q, k = np.zeros((N_HEADS * D_HEAD, D_MODEL)), np.zeros((N_HEADS * D_HEAD, D_MODEL))
    for h in range(3):  # q = k = the (cos, sin) pair: M_h = cos(w_k (x - y))
        q[h * D_HEAD + np.arange(2), 2 * h + np.arange(2)] = 1.0
        k[h * D_HEAD + np.arange(2), 2 * h + np.arange(2)] = 1.0
    q[2, 8], k[2, 4] = 1.0, 1.0  # head 0 also: constant query x cos(w_9 y), a per-key bias
    q[3 * D_HEAD, 6], k[3 * D_HEAD, 7] = 1.0, 1.0  # head 3: cos(w_3 x) cos(w_7 y)
    w["blocks.0.attn.q.weight"], w["blocks.0.attn.k.weight"] = q, k
    w["blocks.0.attn.v.weight"] = k.copy()  # head h's values: its (cos, sin) pair

    kernel = np.cos(2 * np.pi * 2 * np.subtract.outer(x, x) / p) + _wave(p, 9, x)[None]
    np.testing.assert_allclose(_qk_form(w, p, 0), kernel, atol=1e-12)  # as planted
    arrays, _ = _run(p, w)
    expected = np.zeros((N_HEADS, p // 2))
    expected[[0, 1, 2], [1, 4, 8]] = 1.0
    np.testing.assert_allclose(arrays["qk_share"], expected, atol=1e-6)
    np.testing.assert_allclose(arrays["qk_diagonal"], [1, 1, 1, 0], atol=1e-6)
    ov = expected.copy()
    ov[3, 6] = 1.0  # head 3's values read cos(w_7 x) alone
    ov[0] = 0.0
    ov[0, [1, 8]] = [2 / 3, 1 / 3]  # head 0 also reads the per-key cos(w_9 y)
    np.testing.assert_allclose(arrays["ov_share"], ov, atol=1e-6)


def test_qk_ov_and_answer_query_shares_match_the_fft_of_the_formed_products():
    p = 23
    w = _random_weights(p, seed=3)
    arrays, _ = _run(p, w)
    w_e = w["embed.weight"]
    equals = w_e[p] + w["pos_embed.weight"][2]  # (d_model,) '=' at its position
    for h in range(N_HEADS):
        blocks = _fft_blocks(_qk_form(w, p, h))  # (freq, freq)
        np.testing.assert_allclose(arrays["qk_share"][h], np.diag(blocks) / blocks.sum(),
                                   rtol=1e-5)
        assert arrays["qk_diagonal"][h] == pytest.approx(np.trace(blocks) / blocks.sum(),
                                                         rel=1e-5)
        values = w_e[:p] @ _head(w["blocks.0.attn.v.weight"], h).T  # (token, d_head)
        np.testing.assert_allclose(arrays["ov_share"][h], _fft_shares(values), rtol=1e-5)
        query = _head(w["blocks.0.attn.q.weight"], h) @ equals + w["blocks.0.attn.q.bias"][
            h * D_HEAD:(h + 1) * D_HEAD]  # (d_head,)
        scores = (w_e[:p] @ _head(w["blocks.0.attn.k.weight"], h).T) @ query  # (token,)
        np.testing.assert_allclose(arrays["answer_qk_share"][h],
                                   _fft_shares(scores[:, None]), rtol=1e-5)
    # A random form spreads its energy over all p // 2 squared blocks.
    assert arrays["qk_diagonal"].max() < 0.3


# --- neurons --------------------------------------------------------------------------


def _reader(functions, basis):
    """Rows r with ``basis @ r[:p] = function``: weights that, read through an embedding
    whose first p columns are the orthogonal ``basis``, give exactly these functions."""
    p = basis.shape[0]
    rows = np.zeros((len(functions), D_MODEL))
    rows[:, :p] = np.asarray(functions) @ basis  # basis.T f, row by row
    return rows


def _orthogonal(p, seed):
    return np.linalg.qr(np.random.default_rng(seed).standard_normal((p, p)))[0]


def test_wave_neurons_have_their_frequency_share_amplitude_phase_and_ipr():
    p = 23
    x = np.arange(p)
    w = _random_weights(p, seed=4)
    tokens, answers = _orthogonal(p, 5), _orthogonal(p, 6)
    w["embed.weight"][:p] = 0.0
    w["embed.weight"][:p, :p] = tokens
    w["unembed.weight"] = np.zeros((p, D_MODEL))
    w["unembed.weight"][:, :p] = answers
    inputs = [0.7 + 1.5 * _wave(p, 5, x, phase=0.8),
              np.sqrt(0.75) * _wave(p, 2, x) + np.sqrt(0.25) * _wave(p, 7, x, 0.3, np.sin),
              np.full(p, 2.0),
              0.4 * _wave(p, 11, x, phase=3.0)]
    outputs = [_wave(p, 3, x, phase=-1.0), 2.0 * _wave(p, 9, x, phase=-2.5),
               np.zeros(p), 0.2 + _wave(p, 1, x, phase=0.1)]
    w["blocks.0.mlp.in.weight"][:4] = _reader(inputs, tokens)
    w["blocks.0.mlp.out.weight"][:, :4] = _reader(outputs, answers).T
    np.testing.assert_allclose(w["embed.weight"][:p] @ w["blocks.0.mlp.in.weight"][:4].T,
                               np.transpose(inputs), atol=1e-12)  # planted as meant
    arrays, _ = _run(p, w)
    expected = {
        "in": {"freq": [5, 2, 0, 11], "share": [1, 0.75, 0, 1],
               "amplitude": [1.5, np.sqrt(0.75), 0, 0.4], "phase": [0.8, 0, 0, 3.0],
               "ipr": [1, 0.75 ** 2 + 0.25 ** 2, 0, 1]},
        "out": {"freq": [3, 9, 0, 1], "share": [1, 1, 0, 1], "amplitude": [1, 2, 0, 1],
                "phase": [-1.0, -2.5, 0, 0.1], "ipr": [1, 1, 0, 1]},
    }
    for side, values in expected.items():
        for key, value in values.items():
            np.testing.assert_allclose(arrays[f"{side}_{key}"][:4], value, atol=1e-5,
                                       err_msg=f"{side}_{key}")
    # Random neurons: their shares and IPR from the FFT of W_E W_in, formed explicitly.
    functions = w["embed.weight"][:p] @ w["blocks.0.mlp.in.weight"][4:].T  # (token, neuron)
    shares = _fft_power(functions) / _fft_power(functions).sum(0)  # (freq, neuron)
    np.testing.assert_array_equal(arrays["in_freq"][4:], shares.argmax(0) + 1)
    np.testing.assert_allclose(arrays["in_share"][4:], shares.max(0), rtol=1e-5)
    np.testing.assert_allclose(arrays["in_ipr"][4:], (shares ** 2).sum(0), rtol=1e-5)


# --- norms and the lock ---------------------------------------------------------------


def test_embedding_and_unembedding_norms_match_the_fft():
    p = 23
    w = _random_weights(p, seed=7)
    arrays, _ = _run(p, w)
    # c_k^2 + s_k^2 on the orthonormal basis = 2 |F_k|^2 / p = (|F_k|^2 + |F_-k|^2) / p
    np.testing.assert_allclose(arrays["embed_norm"], np.sqrt(
        _fft_power(w["embed.weight"][:p]).sum(-1) / p), rtol=1e-5)
    np.testing.assert_allclose(arrays["unembed_norm"], np.sqrt(
        _fft_power(w["unembed.weight"]).sum(-1) / p), rtol=1e-5)
    tensors = {n: torch.as_tensor(t) for n, t in w.items()}
    norms, _ = EMBEDDING[0].run(CheckpointInputs(FAMILY.resolve({"p": p}), 0, tensors,
                                                 tensors, {}))
    np.testing.assert_allclose(arrays["embed_norm"], norms["norms"], rtol=1e-6)


def _on_frequencies(p, token_keys, neuron_keys, seed=8):
    """Weights whose W_E carries ``token_keys`` strongly (columns 0 .. 2n - 1) over a weak
    full-rank rest (columns 32 .. 32 + p - 1); heads read the strong columns, neurons
    the rest, planted to be waves at ``neuron_keys`` in turn."""
    rng = np.random.default_rng(seed)
    x = np.arange(p)
    w = _random_weights(p, seed=seed)
    w_e = np.zeros((p + 1, D_MODEL))
    for i, k in enumerate(token_keys):
        w_e[:p, 2 * i] = _wave(p, k, x, phase=rng.uniform(0, 6))
        w_e[:p, 2 * i + 1] = _wave(p, k, x, phase=rng.uniform(0, 6))
    rest = _orthogonal(p, seed)
    w_e[:p, 32:32 + p] = 0.01 * rest
    w["embed.weight"] = w_e
    for part in "qkv":
        weight = np.zeros((N_HEADS * D_HEAD, D_MODEL))
        weight[:, :2 * len(token_keys)] = rng.standard_normal((N_HEADS * D_HEAD,
                                                               2 * len(token_keys)))
        w[f"blocks.0.attn.{part}.weight"] = weight
    waves = [_wave(p, neuron_keys[m % len(neuron_keys)], x, phase=rng.uniform(0, 6))
             for m in range(D_MLP)]
    w_in = np.zeros((D_MLP, D_MODEL))
    w_in[:, 32:32 + p] = _reader(waves, rest)[:, :p] / 0.01
    w["blocks.0.mlp.in.weight"] = w_in
    return w


def test_profiles_overlap_and_lock_follow_their_definitions_and_see_a_mismatch():
    p = 23
    locked, locked_attrs = _run(p, _on_frequencies(p, (3, 7), (3, 7)))
    apart, apart_attrs = _run(p, _on_frequencies(p, (3, 7), (2, 10)))
    i = {name: PROFILES.index(name) for name in PROFILES}
    np.testing.assert_allclose(locked["profiles"][i["neuron_in"], [2, 6]], 0.5)
    np.testing.assert_allclose(apart["profiles"][i["neuron_in"], [1, 9]], 0.5)
    for arrays in (locked, apart):
        assert set(np.flatnonzero(arrays["profiles"][i["embedding"]] > 1e-4)) == {2, 6}
    assert locked_attrs["lock"] > 0.9
    assert apart["overlap"][i["embedding"], i["neuron_in"]] < 0
    assert apart_attrs["lock"] < 0.5

    w = _random_weights(p, seed=9)
    arrays, attrs = _run(p, w)
    profiles = arrays["profiles"].astype(np.float64)  # (profile, freq)
    assert attrs["profile_names"] == list(PROFILES)
    np.testing.assert_allclose(profiles[i["embedding"]],
                               _fft_shares(w["embed.weight"][:p]), rtol=1e-5)
    np.testing.assert_allclose(profiles[i["unembedding"]],
                               _fft_shares(w["unembed.weight"]), rtol=1e-5)
    qk = np.sum([np.diag(_fft_blocks(_qk_form(w, p, h))) for h in range(N_HEADS)], 0)
    np.testing.assert_allclose(profiles[i["qk"]], qk / qk.sum(), rtol=1e-5)
    values = w["embed.weight"][:p] @ w["blocks.0.attn.v.weight"].T  # (token, all heads)
    np.testing.assert_allclose(profiles[i["ov"]], _fft_shares(values), rtol=1e-5)
    for side, name in (("in", "neuron_in"), ("out", "neuron_out")):
        counts = np.bincount(arrays[f"{side}_freq"], minlength=p // 2 + 1)[1:]
        np.testing.assert_allclose(profiles[i[name]], counts / D_MLP, rtol=1e-6)
    np.testing.assert_allclose(arrays["overlap"], np.corrcoef(profiles), atol=1e-5)
    locked_pairs = [np.corrcoef(profiles)[a, b]
                    for a, b in combinations([i[n] for n in LOCKED], 2)]
    assert attrs["lock"] == pytest.approx(np.mean(locked_pairs), abs=1e-5)
    np.testing.assert_allclose(arrays["effective_frequencies"],
                               1 / (profiles ** 2).sum(-1), rtol=1e-5)


def test_a_constant_embedding_gives_zero_shares_not_noise():
    p = 13
    w = _random_weights(p, seed=10)
    w["embed.weight"][:p] = w["embed.weight"][0]  # every token embeds alike
    arrays, attrs = _run(p, w)
    for name in ("qk_share", "qk_diagonal", "ov_share", "answer_qk_share", "in_freq",
                 "in_share", "in_ipr"):
        np.testing.assert_array_equal(arrays[name], 0, err_msg=name)
    assert np.isfinite(attrs["lock"]) and arrays["out_freq"].min() > 0


# --- the bridge: names, layout, and the analyzer end to end --------------------------


@pytest.fixture(scope="module")
def bridge():
    """A p = 11 bridge with random biases, its weights, and one forward with the hooks the
    checks read."""
    values = FAMILY.resolve({"p": 11})
    model = boot_model(FAMILY.model_config(values))
    generator = torch.Generator().manual_seed(0)
    weights = weights_of(model)
    for name in weights:
        if name.endswith("bias"):
            weights[name] = 0.3 * torch.randn(weights[name].shape, generator=generator)
    load_weights(model, weights)
    tokens = FAMILY.probe(values)["tokens"]
    names = ("hook_embed", "hook_pos_embed", "blocks.0.attn.hook_q", "blocks.0.attn.hook_k",
             "blocks.0.attn.hook_v", "blocks.0.mlp.hook_post",
             "blocks.0.hook_mlp_out", "blocks.0.hook_resid_post")
    with torch.inference_mode():
        logits, cache = model.run_with_cache(tokens, names_filter=lambda n: n in names)
    return values, weights, {n: cache[n].double() for n in names}, logits.double()


def test_the_weight_names_and_layout_are_the_bridges(bridge):
    values, weights, hooks, logits = bridge
    p = values["p"]
    assert {n: tuple(t.shape) for n, t in weights.items()} == {
        n: tuple(t.shape) for n, t in _random_weights(p).items()}
    w = {n: t.double() for n, t in weights.items()}
    resid = hooks["hook_embed"] + hooks["hook_pos_embed"]  # (batch, pos, d_model)
    for part in "qkv":  # heads are contiguous blocks of rows of (out, in) weights
        out = resid @ w[f"blocks.0.attn.{part}.weight"].T + w[f"blocks.0.attn.{part}.bias"]
        torch.testing.assert_close(out.view(*out.shape[:2], N_HEADS, D_HEAD),
                                   hooks[f"blocks.0.attn.hook_{part}"], rtol=1e-4, atol=1e-5)
    # neuron m writes the column out.weight[:, m]; answer c reads the row unembed.weight[c]
    torch.testing.assert_close(hooks["blocks.0.mlp.hook_post"] @ w["blocks.0.mlp.out.weight"].T
                               + w["blocks.0.mlp.out.bias"], hooks["blocks.0.hook_mlp_out"],
                               rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(hooks["blocks.0.hook_resid_post"] @ w["unembed.weight"].T
                               + w["unembed.bias"], logits, rtol=1e-4, atol=1e-5)


def test_the_analyzer_reads_what_the_bridge_computes(bridge):
    values, weights, hooks, _ = bridge
    p = values["p"]
    arrays, _ = ANALYZER.run(CheckpointInputs(values, 0, weights, weights, {}))
    first = np.arange(p) * p  # the pairs (a, 0): token a at position 0
    keys = hooks["blocks.0.attn.hook_k"][first, 0].numpy()  # (a, head, d_head) + constants
    queries = hooks["blocks.0.attn.hook_q"][first, 0].numpy()  # (a, head, d_head)
    v = hooks["blocks.0.attn.hook_v"][first, 0].numpy()  # (a, head, d_head)
    answer = hooks["blocks.0.attn.hook_q"][0, 2].numpy()  # (head, d_head) the '=' query
    # (hook_attn_scores holds the softmax pattern in this bridge, so the scores are formed)
    scores = np.einsum("ahd,hd->ah", keys, answer)  # (a, head)
    for h in range(N_HEADS):
        # positions and biases add terms constant in a token, which every share leaves out
        blocks = _fft_blocks(queries[:, h] @ keys[:, h].T)
        np.testing.assert_allclose(arrays["qk_share"][h], np.diag(blocks) / blocks.sum(),
                                   rtol=1e-3, atol=1e-6)
        np.testing.assert_allclose(arrays["ov_share"][h], _fft_shares(v[:, h]), rtol=1e-3)
        np.testing.assert_allclose(arrays["answer_qk_share"][h],
                                   _fft_shares(scores[:, h:h + 1]), rtol=1e-3, atol=1e-6)


def test_artifacts_stay_small_at_p_113():
    arrays, _ = _run(113, _random_weights(113, seed=11))
    assert arrays["qk_share"].shape == (N_HEADS, 56) and arrays["in_freq"].shape == (D_MLP,)
    assert sum(a.nbytes for a in arrays.values()) < 30_000


# --- views ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def context():
    """A ViewContext over two checkpoints: random weights, then the planted lock."""
    p = 23
    arts = {0: _run(p, _random_weights(p, seed=12)), 50: _run(p, _on_frequencies(p, (3, 7),
                                                                                   (3, 7)))}
    arts = {e: Artifact(ANALYZER.schema, e, *out) for e, out in arts.items()}

    def load(name, epoch):
        assert name == "weight_fourier"
        return arts[epoch]
    return ViewContext("v", FAMILY.resolve({"p": p}), 0, (0, 50), load, lambda: {})


def test_every_view_builds_a_figure_under_fourier(context):
    from bokeh.models import ColumnDataSource, Model

    assert [v.name for v in VIEWS] == ["qk_ov_frequencies", "neuron_weight_frequencies",
                                       "unembedding_frequencies", "frequency_lock"]
    others = {v.name for v in FAMILY.views if v not in VIEWS}
    for view in VIEWS:
        assert view.group == "Fourier" and view.reads == ("weight_fourier",)
        assert view.name not in others
        fig = view.figure(context)
        assert isinstance(fig, Model)
        sources = fig.select({"type": ColumnDataSource})
        assert any(len(next(iter(s.data.values()), [])) for s in sources if s.data)


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind in "fiu" and b.dtype.kind in "fiu":
        return np.array_equal(a, b, equal_nan=True)
    return a.tolist() == b.tolist()


def test_per_checkpoint_views_move_with_the_checkpoint(context):
    for view in VIEWS:
        if view.scope != "checkpoint":
            continue
        first, last = view.epoch_data(context), view.epoch_data(context.at(50))
        assert first.keys() == last.keys()
        (name, before), = first.items()
        after = last[name]
        assert before.keys() == after.keys() and len(before["freq"]) == len(after["freq"])
        assert any(not _same(before[c], after[c]) for c in before), view.name


def test_view_columns_hold_the_artifact(context):
    views = {v.name: v for v in VIEWS}
    art = context.load("weight_fourier", 50)
    bars = views["neuron_weight_frequencies"].epoch_data(context.at(50))["bars"]
    np.testing.assert_array_equal(bars["input"], [0, 0, 256, 0, 0, 0, 256, 0, 0, 0, 0])
    np.testing.assert_array_equal(bars["output"],
                                  np.bincount(art["out_freq"], minlength=12)[1:])
    cells = views["qk_ov_frequencies"].epoch_data(context.at(50))["cells"]
    assert len(cells["value"]) == 3 * N_HEADS * 11
    np.testing.assert_allclose(cells["value"][:11], art["qk_share"][0])
    lines = views["frequency_lock"].data(context)["lines"]
    assert lines["name"][0] == "lock" and lines["xs"][0] == [0, 50]
    assert lines["ys"][0][1] == pytest.approx(art.attrs["lock"])
    assert views["frequency_lock"].trace.values(context)[1][1] == art.attrs["lock"]
