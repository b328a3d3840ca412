"""``weight_groups`` and its views, against independent computations on planted signals.

Planted weights: an embedding (and an unembedding) whose first p columns are an orthogonal
basis, so that any token (answer) function can be planted exactly as a neuron's input
(output) weights. Two groups are planted as rings, neurons whose functions are exact
cosines of one frequency with phases spread evenly round the circle (and a constant each,
which the points leave out); every other neuron is a random function with no power at
those two frequencies. References are formed explicitly: ``numpy.fft`` per neuron for the
groups, ``numpy.linalg.svd`` of the centred functions for the PCA, and the bridge's own
hooks for the weight names and orientations.
"""

from __future__ import annotations

import doctest
import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from tdw.families.modulo_addition_1l import weight_groups
from tdw.families.modulo_addition_1l.weight_groups import ANALYZERS, MAX_GROUPS
from tdw.families.modulo_addition_1l.weight_groups_views import SIDE_PLANES, VIEWS

from tdw.family.analyzer import CheckpointInputs
from tdw.family.artifacts import Artifact
from tdw.family.model import boot_model, weights_of
from tdw.family.registry import get_family
from tdw.family.views import ViewContext
from tdw.store.serialisation import array_bytes

FAMILY = get_family("modulo_addition_1l")
(ANALYZER,) = ANALYZERS
D_MODEL, D_MLP = 128, 512
P = 23
RINGS = {3: 90, 5: 70}
"""Planted ring groups: frequency -> neurons (the first 90, then the next 70)."""


def _orthogonal(p, seed):
    return np.linalg.qr(np.random.default_rng(seed).standard_normal((p, p)))[0]


def _planted(p=P, seed=0, rings=RINGS):
    """float64 weights whose neurons' input (and output) functions are planted: rings of
    exact cosines for ``rings``, random functions without those frequencies for the rest.
    Returns the weights and the ``(x, neuron)`` planted input and output functions."""
    rng = np.random.default_rng(seed)
    x = np.arange(p)
    tokens, answers = _orthogonal(p, seed + 1), _orthogonal(p, seed + 2)
    functions = []
    for phase_sign in (1, -1):  # inputs, then outputs with the opposite turn
        f = np.zeros((p, D_MLP))
        start = 0
        for k, n in rings.items():
            phases = 2 * np.pi * np.arange(n) / n
            f[:, start:start + n] = (np.cos(2 * np.pi * k * x[:, None] / p
                                            + phase_sign * phases) + rng.normal(size=n))
            start += n
        # the rest: random Fourier coefficients with no power at the planted frequencies
        coefficients = rng.standard_normal((p, D_MLP - start))  # (row, neuron)
        for k in rings:
            coefficients[[2 * k - 1, 2 * k]] = 0.0
        f[:, start:] = weight_groups.fourier.basis(p).T @ coefficients
        functions.append(f)
    w = {"embed.weight": np.zeros((p + 1, D_MODEL)), "unembed.weight": np.zeros((p, D_MODEL)),
         "blocks.0.mlp.in.weight": np.zeros((D_MLP, D_MODEL)),
         "blocks.0.mlp.out.weight": np.zeros((D_MODEL, D_MLP))}
    w["embed.weight"][:p, :p] = tokens
    w["embed.weight"][p] = rng.standard_normal(D_MODEL)  # '=': not a token function
    w["unembed.weight"][:, :p] = answers
    w["blocks.0.mlp.in.weight"][:, :p] = functions[0].T @ tokens  # rows r: tokens @ r = f
    w["blocks.0.mlp.out.weight"][:p] = answers.T @ functions[1]
    return w, functions


def _random_weights(p, seed, scale=0.1):
    rng = np.random.default_rng(seed)
    shapes = {"embed.weight": (p + 1, D_MODEL), "unembed.weight": (p, D_MODEL),
              "blocks.0.mlp.in.weight": (D_MLP, D_MODEL),
              "blocks.0.mlp.out.weight": (D_MODEL, D_MLP)}
    return {name: scale * rng.standard_normal(shape) for name, shape in shapes.items()}


def _run(p, weights, final=None, epoch=0):
    """The analyzer on float64 ``weights`` with ``final`` (default: the same) as the final
    checkpoint: ``(arrays, attrs)``."""
    def tensors(w):
        return {n: torch.as_tensor(t, dtype=torch.float64) for n, t in w.items()}
    current = tensors(weights)
    inputs = CheckpointInputs(FAMILY.resolve({"p": p}), epoch, current,
                              current if final is None else tensors(final), probe={})
    return ANALYZER.run(inputs)


def _functions(w, p):
    """``(side, x, neuron)`` the functions formed explicitly, centred over x."""
    f = np.stack([w["embed.weight"][:p] @ w["blocks.0.mlp.in.weight"].T,
                  w["unembed.weight"] @ w["blocks.0.mlp.out.weight"]])
    return f - f.mean(1, keepdims=True)


def _fft_groups(inputs, max_groups=MAX_GROUPS):
    """Groups from the FFT of each neuron's ``(x, neuron)`` input function: frequencies
    by decreasing count (ties: the lower), and each one's neurons."""
    p = inputs.shape[0]
    power = np.abs(np.fft.fft(inputs, axis=0)) ** 2  # (j, neuron)
    k = np.arange(1, p // 2 + 1)
    freq = (power[k] + power[p - k]).argmax(0) + 1  # (neuron,)
    counts = {int(f): int((freq == f).sum()) for f in set(freq.tolist())}
    order = sorted(counts, key=lambda f: (-counts[f], f))[:max_groups]
    return order, [np.flatnonzero(freq == f) for f in order]


def _svd_pca(points):
    """``(member, x)`` -> the top 3 right singular vectors of the centred points and the
    shares of their squared singular values."""
    centred = points - points.mean(0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    return vt[:3], s[:3] ** 2 / (s ** 2).sum()


def test_docstring_examples():
    result = doctest.testmod(weight_groups)
    assert result.attempted > 0 and result.failed == 0


# --- groups ---------------------------------------------------------------------------


def test_groups_are_the_most_populous_final_frequencies_by_a_direct_fft():
    w, planted = _planted()
    current = _random_weights(P, seed=5)
    arrays, attrs = _run(P, current, final=w)  # the groups come from the final weights
    order, members = _fft_groups(planted[0])
    assert order[:2] == [3, 5]  # the planted rings are the two largest groups
    assert arrays["frequency"].tolist() == order
    for g, neurons in enumerate(members):
        assert arrays["size"][g] == len(neurons)
        np.testing.assert_array_equal(arrays["neurons"][g, :len(neurons)], neurons)
        assert (arrays["neurons"][g, len(neurons):] == -1).all()
    assert arrays["neurons"].shape[1] == 90
    assert attrs["n_live"] == D_MLP and attrs["n_grouped"] == sum(map(len, members))


def test_fewer_frequencies_than_groups_leave_empty_padded_groups():
    p = 11  # five frequencies
    arrays, attrs = _run(p, _random_weights(p, seed=6))
    assert (arrays["frequency"][:5] > 0).all() and (arrays["frequency"][5:] == 0).all()
    assert (arrays["size"][5:] == 0).all() and attrs["n_grouped"] == D_MLP
    assert np.isnan(arrays["projections"][:, 5:]).all()
    assert np.isnan(arrays["circularity"][:, 5:]).all()
    assert np.isfinite(arrays["circularity"][:, :5]).all()


# --- rings, PCA and the measures ------------------------------------------------------


def test_planted_rings_lie_on_circles_with_circularity_one():
    w, _ = _planted()
    arrays, _ = _run(P, w)
    x = np.arange(P)
    for g, n in enumerate(RINGS.values()):
        for side in (0, 1):
            points = arrays["projections"][side, g, :n].astype(np.float64)  # (member, pc)
            radius = np.linalg.norm(np.cos(2 * np.pi * x / P))  # sqrt(p / 2)
            np.testing.assert_allclose(np.linalg.norm(points[:, :2], axis=-1), radius,
                                       rtol=2e-3)
            np.testing.assert_allclose(points[:, 2], 0, atol=1e-3)  # flat: no PC 3
            np.testing.assert_allclose(arrays["centroid"][side, g], 0, atol=1e-5)
            np.testing.assert_allclose(arrays["circle"][side, g], [0, 0, radius], atol=1e-4)
            assert arrays["radius"][side, g] == pytest.approx(radius, rel=1e-5)
            np.testing.assert_allclose(arrays["pc_share"][side, g], [0.5, 0.5, 0], atol=1e-6)
            np.testing.assert_allclose(arrays["final_share"][side, g], [0.5, 0.5, 0],
                                       atol=1e-6)
            assert arrays["ring_fit"][side, g] == pytest.approx(1, abs=1e-5)
            assert arrays["circularity"][side, g] == pytest.approx(1, abs=1e-5)
            assert arrays["snr"][side, g] > 1e6  # nothing off the plane (inf or rounding)
            assert arrays["fisher"][side, g] > 10  # a ring about the other neurons
            # the neurons, planted in order of phase, go round the ring in order
            angle = np.unwrap(np.arctan2(points[:, 1], points[:, 0]))
            assert abs(np.sign(np.diff(angle)).mean()) == 1


def test_random_groups_have_low_circularity_and_their_pca_is_numpys_svd():
    w, _ = _planted()
    arrays, _ = _run(P, w)
    functions = _functions(w, P)  # (side, x, neuron)
    for g in range(2, MAX_GROUPS):  # the groups of random functions
        n = arrays["size"][g]
        members = arrays["neurons"][g, :n]
        for side in (0, 1):
            points = functions[side][:, members].T  # (member, x)
            basis, share = _svd_pca(points)
            np.testing.assert_allclose(arrays["pc_share"][side, g], share, rtol=1e-5)
            np.testing.assert_allclose(arrays["final_share"][side, g], share, rtol=1e-5)
            expected = points @ basis.T  # (member, pc), up to the sign of each PC
            got = arrays["projections"][side, g, :n].astype(np.float64)
            signs = np.sign((expected * got).sum(0))
            np.testing.assert_allclose(got, expected * signs, rtol=2e-3,
                                       atol=2e-3 * np.abs(expected).max())
            # at the final checkpoint a random group scores about 0.1 to 0.25 (the floor in
            # the module docstring: its own basis, and neurons picked for power at k)
            assert arrays["circularity"][side, g] < 0.3
            centred = expected[:, :2] - expected[:, :2].mean(0)
            radius_sq = (centred ** 2).sum(-1).mean()
            total = ((points - points.mean(0)) ** 2).sum(-1).mean()
            assert arrays["snr"][side, g] == pytest.approx(radius_sq / (total - radius_sq),
                                                           rel=1e-4)


def test_an_earlier_checkpoint_is_projected_on_the_final_basis():
    final, _ = _planted()
    early = _random_weights(P, seed=7)
    arrays, _ = _run(P, early, final=final)
    now, then = _functions(early, P), _functions(final, P)
    for g in (0, 2):  # a planted ring (degenerate PCs 1-2) and a random group
        n = arrays["size"][g]
        members = arrays["neurons"][g, :n]
        for side in (0, 1):
            basis, _ = _svd_pca(then[side][:, members].T)  # (pc, x) final PCs
            points = now[side][:, members].T  # (member, x)
            got = arrays["projections"][side, g, :n].astype(np.float64)
            # the plane is what the final PCA defines (its PCs 1-2 may turn within it)
            plane = points @ basis[:2].T
            np.testing.assert_allclose(got[:, :2] @ got[:, :2].T, plane @ plane.T,
                                       rtol=5e-3, atol=5e-3 * (plane ** 2).sum(-1).max())
            centred = points - points.mean(0)
            total = (centred ** 2).sum(-1).mean()
            in_plane = ((centred @ basis[:2].T) ** 2).sum(-1).mean()
            assert arrays["final_share"][side, g, :2].sum() == pytest.approx(
                in_plane / total, rel=1e-4)
            _, own = _svd_pca(points)
            np.testing.assert_allclose(arrays["pc_share"][side, g], own, rtol=1e-5)
            assert arrays["circularity"][side, g] < 0.3  # not a ring yet
            assert arrays["fisher"][side, g] < 1


# --- the bridge: names, orientations, and the analyzer end to end ------------------------


@pytest.fixture(scope="module")
def bridge():
    """A p = 11 bridge, its weights, and one forward with the hooks the checks read."""
    values = FAMILY.resolve({"p": 11})
    model = boot_model(FAMILY.model_config(values))
    tokens = FAMILY.probe(values)["tokens"]
    names = ("hook_embed", "blocks.0.hook_resid_mid", "blocks.0.mlp.hook_pre",
             "blocks.0.mlp.hook_post", "blocks.0.hook_mlp_out", "blocks.0.hook_resid_post")
    with torch.inference_mode():
        logits, cache = model.run_with_cache(tokens, names_filter=lambda n: n in names)
    return values, weights_of(model), {n: cache[n].double() for n in names}, logits.double()


def test_the_weight_names_and_orientations_are_the_bridges(bridge):
    values, weights, hooks, logits = bridge
    p = values["p"]
    w = {n: t.double() for n, t in weights.items()}
    assert w["embed.weight"].shape == (p + 1, D_MODEL) and w["unembed.weight"].shape == (
        p, D_MODEL)
    # neuron m reads the row in.weight[m] and writes the column out.weight[:, m];
    # answer c reads the row unembed.weight[c]
    torch.testing.assert_close(hooks["blocks.0.mlp.hook_pre"], hooks["blocks.0.hook_resid_mid"]
                               @ w["blocks.0.mlp.in.weight"].T + w["blocks.0.mlp.in.bias"],
                               rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(hooks["blocks.0.mlp.hook_post"] @ w["blocks.0.mlp.out.weight"].T
                               + w["blocks.0.mlp.out.bias"], hooks["blocks.0.hook_mlp_out"],
                               rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(hooks["blocks.0.hook_resid_post"] @ w["unembed.weight"].T
                               + w["unembed.bias"], logits, rtol=1e-4, atol=1e-5)


def test_the_analyzer_reads_what_the_bridge_computes(bridge):
    values, weights, hooks, _ = bridge
    p = values["p"]
    arrays, attrs = ANALYZER.run(CheckpointInputs(values, 0, weights, weights, {}))
    first = np.arange(p) * p  # the pairs (a, 0): token a at position 0
    w_in = weights["blocks.0.mlp.in.weight"].double().numpy()
    w_out = weights["blocks.0.mlp.out.weight"].double().numpy()
    token_functions = hooks["hook_embed"][first, 0].numpy() @ w_in.T  # (token, neuron)
    answer_functions = weights["unembed.weight"].double().numpy() @ w_out  # (answer, neuron)
    order, members = _fft_groups(token_functions)
    assert arrays["frequency"][:len(order)].tolist() == order
    for side, functions in enumerate((token_functions, answer_functions)):
        centred = functions - functions.mean(0)
        for g, neurons in enumerate(members):
            basis, share = _svd_pca(centred[:, neurons].T)
            np.testing.assert_allclose(arrays["pc_share"][side, g], share, rtol=1e-3)
            plane = centred[:, neurons].T @ basis[:2].T
            got = arrays["projections"][side, g, :len(neurons), :2].astype(np.float64)
            np.testing.assert_allclose(got @ got.T, plane @ plane.T, rtol=1e-2,
                                       atol=1e-2 * (plane ** 2).sum(-1).max())
    assert attrs["n_grouped"] == D_MLP


# --- size and cost --------------------------------------------------------------------


def test_artifacts_stay_small_at_p_113_even_when_one_frequency_holds_every_neuron():
    p = 113
    arrays, attrs = _run(p, _random_weights(p, seed=8))
    assert len(array_bytes(arrays, {"attrs": json.dumps(attrs)})) < 10_000
    w, _ = _planted(p, rings={7: D_MLP})  # the worst case for the padding
    arrays, attrs = _run(p, w)
    assert arrays["neurons"].shape == (MAX_GROUPS, D_MLP) and arrays["size"][1] == 0
    assert len(array_bytes(arrays, {"attrs": json.dumps(attrs)})) < 100_000


# --- views ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def context():
    """A ViewContext over two checkpoints whose final one holds the planted rings."""
    final, _ = _planted()
    arts = {0: _run(P, _random_weights(P, seed=9), final=final, epoch=0),
            50: _run(P, final, epoch=50)}
    arts = {e: Artifact(ANALYZER.schema, e, *out) for e, out in arts.items()}

    def load(name, epoch):
        assert name == "weight_groups"
        return arts[epoch]
    return ViewContext("v", FAMILY.resolve({"p": P}), 0, (0, 50), load, lambda: {})


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind in "fiu" and b.dtype.kind in "fiu":
        return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    return a.tolist() == b.tolist()


def test_every_view_builds_a_figure_with_its_selectors(context):
    from bokeh.embed import json_item
    from bokeh.models import ColumnDataSource, Plot

    assert [v.name for v in VIEWS] == ["weight_group_ring", "weight_group_depth",
                                       "weight_group_circularity"]
    others = {v.name for v in FAMILY.views if v not in VIEWS}
    for view in VIEWS:
        assert view.group == "Weight groups" and view.reads == ("weight_groups",)
        assert view.name not in others
        for selection in ({}, {"group": 1, "side": 1, "plane": 1}, {"group": MAX_GROUPS - 1}):
            fig = view.figure(replace(context, selection=selection))
            assert isinstance(fig, Plot)
            json_item(fig)  # serialises: every column and property is valid
            assert fig.select({"type": ColumnDataSource})
    ranges = {name: VIEWS[1].selector_range(context, name) for name in VIEWS[1].selectors}
    assert ranges == {"group": MAX_GROUPS, "side": 2, "plane": len(SIDE_PLANES)}


def test_per_checkpoint_views_move_with_the_checkpoint(context):
    for view in VIEWS:
        if view.scope != "checkpoint":
            continue
        first, last = view.epoch_data(context), view.epoch_data(context.at(50))
        assert first.keys() == last.keys()
        for name in first:
            assert first[name].keys() == last[name].keys()
        assert any(not _same(first["points"][c], last["points"][c])
                   for c in first["points"] if c != "neuron"), view.name
        assert first["label"]["text"] != last["label"]["text"]


def test_view_columns_hold_the_artifact(context):
    views = {v.name: v for v in VIEWS}
    art = context.load("weight_groups", 50)
    ring = views["weight_group_ring"].epoch_data(context.at(50))
    n = art["size"][0]
    np.testing.assert_array_equal(ring["points"]["neuron"], np.arange(n))
    np.testing.assert_array_equal(ring["points"]["x"], art["projections"][0, 0, :n, 0])
    # at the end the colours run once round the ring, one step of 360 / n degrees
    angles = np.sort(ring["points"]["angle"])
    np.testing.assert_allclose(np.diff(angles), 360 / n, atol=0.2)
    assert ring["circle"]["r"][0] == pytest.approx(art["circle"][0, 0, 2])
    assert "k = 3" in ring["label"]["text"][0] and "circularity 1.00" in ring["label"]["text"][0]
    selection = {"group": 1, "side": 1, "plane": 0}
    ctx = replace(context, epoch=50, selection=selection)
    depth = views["weight_group_depth"].epoch_data(ctx)
    i, j = SIDE_PLANES[0]
    np.testing.assert_array_equal(depth["points"]["y"], art["projections"][1, 1, :70, j])
    assert np.abs(depth["points"]["depth"]).max() <= 1
    lines = views["weight_group_circularity"].data(context)["lines"]
    assert lines["name"][:2] == ["k = 3 (90 neurons)", "k = 5 (70 neurons)"]
    assert lines["xs"][0] == [0, 50] and lines["ys"][0][1] == pytest.approx(1, abs=1e-5)
    assert lines["ys"][0][0] < 0.3
    trace = views["weight_group_circularity"].trace.values(context)
    assert list(trace[0]) == [0, 50] and trace[1][1] == pytest.approx(1, abs=1e-5)


def test_an_empty_group_draws_nothing():
    p = 11  # five frequencies: groups 5 to 7 are empty
    art = Artifact(ANALYZER.schema, 0, *_run(p, _random_weights(p, seed=10)))
    ctx = ViewContext("v", FAMILY.resolve({"p": p}), 0, (0,), lambda name, epoch: art,
                      lambda: {}, selection={"group": MAX_GROUPS - 1})
    for view in VIEWS[:2]:
        columns = view.epoch_data(ctx)
        assert all(len(values) == 0 for values in columns["points"].values())
        assert "empty" in columns["label"]["text"][0]
        view.figure(ctx)
    lines = VIEWS[2].data(ctx)["lines"]
    assert len(lines["name"]) == 5
