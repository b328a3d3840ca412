"""block_snapshot, block_trajectory and their views, against independent computations.

The name rule is checked against the bridges' own module tree (which submodule holds each
state-dict tensor, matched by storage); the sketches against exact numpy distances of the
blocks' parameters; the trajectories on planted paths (one block moving along a line, two
blocks moving at different times, a block moving on an arc whose PCA numpy computes on the
full parameters) in the shapes of a real Modulo Addition bridge.
"""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch
from bokeh.embed import json_item
from bokeh.models import LogScale, Model

from tdw.family.analyzer import CheckpointInputs, CrossEpochInputs
from tdw.family.artifacts import Artifact
from tdw.family.model import boot_model, weights_of
from tdw.family.registry import get_family
from tdw.family.views import ViewContext
from tdw.library import blocks
from tdw.library.block_views import BLOCK_NORMS, BLOCK_SPEED, BLOCK_TRAJECTORY, BLOCK_VIEWS
from tdw.library.blocks import (
    BLOCK_SKETCH_DIM,
    block_of,
    block_snapshot,
    block_trajectory,
    group_blocks,
)
from tdw.library.trajectory import parameter_trajectory
from tdw.library.weights import parameter_snapshot

FJLT_SIGMA = 1 / np.sqrt(2 * BLOCK_SKETCH_DIM)
"""One standard deviation of a sketch distance's relative error (4.4%)."""
FAMILIES = {"modulo_addition_1l": {"p": 11}, "toy_operations": {}, "induction_heads": {}}


@pytest.fixture(scope="module")
def bridges() -> dict[str, object]:
    """A randomly initialised bridge of each family built on TransformerBridge."""
    out = {}
    for name, values in FAMILIES.items():
        fam = get_family(name)
        out[name] = boot_model(fam.model_config(fam.resolve(values)))
    return out


@pytest.fixture(scope="module")
def shapes(bridges) -> dict[str, tuple[int, ...]]:
    """The Modulo Addition (p = 11) state dict's shapes."""
    return {n: tuple(t.shape) for n, t in weights_of(bridges["modulo_addition_1l"]).items()}


def _random(shapes, seed: int, scale: float = 0.1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: scale * rng.standard_normal(shape) for name, shape in shapes.items()}


def _snapshot(weights: dict[str, np.ndarray], epoch: int = 0, analyzer=block_snapshot
              ) -> Artifact:
    tensors = {n: torch.as_tensor(w, dtype=torch.float32) for n, w in weights.items()}
    inputs = CheckpointInputs(values={}, epoch=epoch, weights=tensors, final_weights=tensors,
                              probe={})  # weight-only: nothing else is read
    arrays, attrs = analyzer.run(inputs)
    return Artifact(analyzer.schema, epoch, arrays, attrs)


def _trajectory(path: list[dict[str, np.ndarray]], epochs: list[int], *, snapshot=block_snapshot,
                trajectory=block_trajectory) -> Artifact:
    arts = [_snapshot(w, e, snapshot) for w, e in zip(path, epochs, strict=True)]
    inputs = CrossEpochInputs(values={}, epochs=np.array(epochs),
                              artifacts={snapshot.name: arts}, metrics={})
    arrays, attrs = trajectory.run(inputs)
    return Artifact(trajectory.schema, None, arrays, attrs)


def _block_vector(weights: dict[str, np.ndarray], block: str) -> np.ndarray:
    """The block's parameters, concatenated in float64 (order does not matter to norms)."""
    return np.concatenate([np.asarray(w, np.float64).ravel() for n, w in weights.items()
                           if block_of(n) == block])


def test_docstring_examples() -> None:
    result = doctest.testmod(blocks)
    assert result.attempted > 0 and result.failed == 0


# --- the name rule ----------------------------------------------------------------------


def _module_blocks(model) -> dict[int, str]:
    """Storage address -> block, read from the bridge's module tree, not from names."""
    owners = {"embedding": [model.embed, getattr(model, "pos_embed", None)],
              "attention": [b.attn for b in model.blocks],
              "mlp": [b.mlp for b in model.blocks if hasattr(b, "mlp")],
              "unembedding": [model.unembed]}
    return {t.data_ptr(): block for block, modules in owners.items() for m in modules
            if m is not None for t in m.state_dict().values()}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_the_name_rule_matches_the_bridges_module_tree(bridges, family) -> None:
    model = bridges[family]
    owner = _module_blocks(model)
    state = model.state_dict()
    for name, tensor in state.items():
        assert block_of(name) == owner.get(tensor.data_ptr(), "other"), name
    groups = group_blocks(state)
    assert sum(len(m) for m in groups.values()) == len(state)  # a partition
    expected = {"modulo_addition_1l": ["embedding", "attention", "mlp", "unembedding"],
                "toy_operations": ["embedding", "attention", "mlp", "unembedding", "other"],
                "induction_heads": ["embedding", "attention", "unembedding"]}[family]
    assert list(groups) == expected  # empty blocks left out, BLOCKS order
    if family == "toy_operations":  # the LayerNorms, and only they, are "other"
        assert groups["other"] and all(".ln" in n or n.startswith("ln_final.")
                                       for n in groups["other"])


def test_the_name_rule_reads_transformer_lens_aliases_by_whole_components() -> None:
    cases = {"embed.W_E": "embedding", "pos_embed.W_pos": "embedding",
             "blocks.0.attn.W_Q": "attention", "blocks.11.attn.b_O": "attention",
             "blocks.0.mlp.W_in": "mlp", "blocks.3.mlp.b_out": "mlp",
             "unembed.W_U": "unembedding", "unembed.b_U": "unembedding",
             "blocks.0.ln1.w": "other", "ln_final.b": "other", "embed_ln.weight": "other",
             "blocks.attn.W_Q": "other", "my_embed.weight": "other", "blocks.0.mlp_gate": "other"}
    assert {n: block_of(n) for n in cases} == cases
    assert list(group_blocks(["b.x", "unembed.w", "embed.w", "embed.a"])) == \
        ["embedding", "unembedding", "other"]
    assert group_blocks(["embed.w", "embed.a"]) == {"embedding": ["embed.a", "embed.w"]}


# --- the sketch -------------------------------------------------------------------------


def test_block_sketch_distances_estimate_block_distances(shapes) -> None:
    ratios = []
    for seed in range(6):
        w0 = _random(shapes, seed)
        w1 = {n: w + _random({n: w.shape}, 100 + seed, scale=0.01 * (1 + len(n) % 5))[n]
              for n, w in w0.items()}
        # a structured step too: one spike in the MLP, a constant shift of the attention
        w1["blocks.0.mlp.in.weight"][3, 7] += 0.5
        w1["blocks.0.attn.q.bias"] += 0.02
        a0, a1 = _snapshot(w0), _snapshot(w1)
        for b, block in enumerate(a0.attrs["blocks"]):
            true = np.linalg.norm(_block_vector(w1, block) - _block_vector(w0, block))
            ratios.append(np.linalg.norm(a1["sketch"][b] - a0["sketch"][b]) / true)
    errors = np.array(ratios) - 1
    assert len(errors) == 24
    assert np.abs(errors).max() < 4.5 * FJLT_SIGMA
    assert np.sqrt(np.mean(errors ** 2)) < 1.6 * FJLT_SIGMA


def test_snapshot_norms_sizes_attrs_and_the_exact_sketch_of_a_small_block(shapes) -> None:
    w = _random(shapes, 7)
    art = _snapshot(w)
    assert art.attrs["blocks"] == ["embedding", "attention", "mlp", "unembedding"]
    assert art.attrs["tensors"] == group_blocks(shapes) and art.attrs["dim"] == BLOCK_SKETCH_DIM
    assert art["sketch"].shape == (4, BLOCK_SKETCH_DIM)
    for b, block in enumerate(art.attrs["blocks"]):
        vector = _block_vector({n: w[n].astype(np.float32) for n in w}, block)
        assert art["n_params"][b] == vector.size
        assert art["norms"][b] == pytest.approx(np.linalg.norm(vector), rel=1e-6)
    # a block no larger than the sketch is padded, and its sketch is an isometry
    small = {"embed.weight": np.arange(60.0).reshape(6, 10) / 7, "ln_final.w": np.ones(5)}
    other = {"embed.weight": np.cos(np.arange(60.0)).reshape(6, 10), "ln_final.w": -np.ones(5)}
    s0, s1 = _snapshot(small), _snapshot(other)
    assert s0.attrs["blocks"] == ["embedding", "other"]
    for b, block in enumerate(s0.attrs["blocks"]):
        true = np.linalg.norm(_block_vector(other, block) - _block_vector(small, block))
        assert np.linalg.norm(s1["sketch"][b] - s0["sketch"][b]) == pytest.approx(true,
                                                                                 rel=1e-5)


# --- the trajectory ---------------------------------------------------------------------


def _moving(base, block: str, direction, t: float) -> dict[str, np.ndarray]:
    """``base`` with the tensors of ``block`` moved by ``t * direction``."""
    return {n: w + t * direction[n] if block_of(n) == block else w for n, w in base.items()}


def test_only_the_planted_mlp_moves_along_one_component(shapes) -> None:
    base = _random(shapes, 1)
    direction = _random(shapes, 2)
    epochs = [0, 10, 30, 35, 100, 250]
    t = np.array([0.0, 1.0, 3.0, 2.5, 6.0, 7.0])  # backs up once
    art = _trajectory([_moving(base, "mlp", direction, x) for x in t], epochs)
    assert art.attrs["blocks"] == ["embedding", "attention", "mlp", "unembedding"]
    assert art["pcs"].shape == (4, 6, 6) and art["speed"].shape == (4, 6)
    mlp = 2
    ratio = art["explained_variance_ratio"][mlp]
    assert ratio[0] == pytest.approx(1.0, abs=1e-5) and np.all(ratio[1:] < 1e-5)
    # the sketch maps the line to a line: PC1 is t (centred) times the sketched step length
    length = np.linalg.norm(_block_vector(direction, "mlp"))
    pc1 = art["pcs"][mlp, :, 0]
    scale = np.dot(pc1, t - t.mean()) / np.dot(t - t.mean(), t - t.mean())
    np.testing.assert_allclose(pc1, scale * (t - t.mean()), atol=1e-4 * abs(scale))
    assert scale > 0 and pc1[-1] > pc1[0]  # signed to end above its start
    assert abs(scale / length - 1) < 4 * FJLT_SIGMA
    speed = art["speed"][mlp]
    assert np.isnan(speed[0])
    np.testing.assert_allclose(speed[1:], scale * np.abs(np.diff(t)) / np.diff(epochs),
                               rtol=1e-4)
    for still in (0, 1, 3):  # the other blocks do not move at all
        assert np.all(art["speed"][still, 1:] == 0) and np.all(art["pcs"][still] == 0)
        assert np.all(np.isnan(art["explained_variance_ratio"][still]))


def test_each_block_moves_only_when_it_was_planted_to(shapes) -> None:
    base, d_embed, d_mlp = _random(shapes, 3), _random(shapes, 4), _random(shapes, 5)
    epochs = [0, 50, 100, 150, 200, 300]
    embed_t = [0.0, 1.0, 2.0, 2.0, 2.0, 2.0]  # settles at epoch 100
    mlp_t = [0.0, 0.0, 0.0, 1.0, 3.0, 4.0]  # starts after epoch 100
    path = [_moving(_moving(base, "embedding", d_embed, a), "mlp", d_mlp, m)
            for a, m in zip(embed_t, mlp_t, strict=True)]
    art = _trajectory(path, epochs)
    embedding, mlp = 0, 2
    assert np.all(art["speed"][embedding, 1:3] > 0) and np.all(art["speed"][embedding, 3:] == 0)
    assert np.all(art["speed"][mlp, 1:3] == 0) and np.all(art["speed"][mlp, 3:] > 0)
    assert np.all(art["speed"][[1, 3], 1:] == 0)


def test_a_planted_arc_has_the_pca_of_the_full_parameters(shapes) -> None:
    base = _random(shapes, 6)
    u, v = _random(shapes, 8), _random(shapes, 9)
    angles = np.linspace(0, 1.4 * np.pi, 9)
    path = [{n: w + (np.cos(a) * u[n] + 0.5 * np.sin(a) * v[n] if block_of(n) == "attention"
                     else 0) for n, w in base.items()} for a in angles]
    epochs = [0, 5, 10, 20, 40, 80, 160, 320, 640]
    art = _trajectory(path, epochs)
    points = np.stack([_block_vector({n: w.astype(np.float32) for n, w in p.items()},
                                     "attention") for p in path])  # (checkpoint, n_params)
    centred = points - points.mean(axis=0)
    s = np.linalg.svd(centred, compute_uv=False)
    true = s ** 2 / (s ** 2).sum()
    ratio = art["explained_variance_ratio"][1]
    assert ratio[:2].sum() == pytest.approx(1.0, abs=1e-4)  # a plane stays a plane
    np.testing.assert_allclose(ratio[:2], true[:2], atol=3 * FJLT_SIGMA * true[1])
    steps = np.linalg.norm(np.diff(points, axis=0), axis=1) / np.diff(epochs)
    np.testing.assert_array_less(np.abs(art["speed"][1, 1:] / steps - 1), 4 * FJLT_SIGMA)


def test_checkpoints_with_different_blocks_are_refused(shapes) -> None:
    whole = _random(shapes, 0)
    no_mlp = {n: w for n, w in whole.items() if block_of(n) != "mlp"}
    arts = [_snapshot(whole, 0), _snapshot(no_mlp, 1)]
    inputs = CrossEpochInputs(values={}, epochs=np.array([0, 1]),
                              artifacts={"block_snapshot": arts}, metrics={})
    with pytest.raises(ValueError, match="different blocks across checkpoints"):
        block_trajectory.run(inputs)


# --- the views --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def context(shapes) -> ViewContext:
    """A view context over a planted path: the embedding moves early, the MLP late."""
    base, d_embed, d_mlp = _random(shapes, 10), _random(shapes, 11), _random(shapes, 12)
    epochs = (0, 100, 200, 400, 800)
    path = [_moving(_moving(base, "embedding", d_embed, a), "mlp", d_mlp, m)
            for a, m in zip([0, 2, 3, 3, 3], [0, 0, 1, 3, 4], strict=True)]
    snaps = {e: _snapshot(w, e) for w, e in zip(path, epochs, strict=True)}
    store = {"block_snapshot": snaps,
             "block_trajectory": _trajectory(path, list(epochs)),
             "parameter_trajectory": _trajectory(path, list(epochs), snapshot=parameter_snapshot,
                                                 trajectory=parameter_trajectory)}

    def load(name: str, epoch: int) -> Artifact:
        found = store[name]
        return found[epoch] if isinstance(found, dict) else found

    return ViewContext("v", {}, epochs[0], epochs, load, lambda: {}, transition=(200, 0.9))


def test_every_block_view_builds_and_serialises(context) -> None:
    assert [v.name for v in BLOCK_VIEWS] == ["block_trajectory", "block_speed", "block_norms"]
    for view in BLOCK_VIEWS:
        fig = view.figure(context)
        assert isinstance(fig, Model)
        json_item(fig)  # a document Bokeh can send to the browser


def test_the_block_trajectory_ring_moves_with_the_checkpoint_and_the_selector(context) -> None:
    art = context.load("block_trajectory", 0)
    assert BLOCK_TRAJECTORY.selector_range(context, "block") == 4
    for block in range(4):
        ctx = ViewContext(context.variant, {}, 0, context.epochs, context.load,
                          context.metrics, {"block": block})
        path = BLOCK_TRAJECTORY.data(ctx)["path"]
        np.testing.assert_array_equal(path["pc1"], art["pcs"][block, :, 0])
        np.testing.assert_array_equal(path["pc2"], art["pcs"][block, :, 1])
        for i, epoch in enumerate(context.epochs):
            now = BLOCK_TRAJECTORY.epoch_data(ctx.at(epoch))
            assert now["current"] == {"x": [float(art["pcs"][block, i, 0])],
                                      "y": [float(art["pcs"][block, i, 1])]}
            assert now["label"]["text"][0].startswith(art.attrs["blocks"][block])
            assert f"epoch {epoch}:" in now["label"]["text"][0]
    mlp = {"block": 2}
    early = BLOCK_TRAJECTORY.epoch_data(ViewContext("v", {}, 0, context.epochs, context.load,
                                                    context.metrics, mlp))
    late = BLOCK_TRAJECTORY.epoch_data(ViewContext("v", {}, 800, context.epochs, context.load,
                                                   context.metrics, mlp))
    assert early["current"] != late["current"]


def test_the_speed_view_draws_each_block_beside_the_whole_model(context) -> None:
    art = context.load("block_trajectory", 0)
    whole = context.load("parameter_trajectory", 0)
    data = BLOCK_SPEED.data(context)
    assert data["lines"]["name"] == art.attrs["blocks"] and data["transition"] == {"x": [200]}
    speeds = np.array(data["lines"]["ys"], dtype=np.float64)  # (block, checkpoint)
    # zero speeds (a block standing still) become gaps on the log axis
    np.testing.assert_array_equal(np.isnan(speeds), ~(art["speed"] > 0))
    np.testing.assert_allclose(data["whole"]["speed"][1:], whole["velocity"][1:])
    # the blocks partition the parameters: their squared speeds add up to the whole model's
    quadrature = np.sqrt(np.nansum(art["speed"][:, 1:].astype(np.float64) ** 2, axis=0))
    np.testing.assert_array_less(np.abs(quadrature / whole["velocity"][1:] - 1),
                                 4 * FJLT_SIGMA)
    assert BLOCK_SPEED.epoch_data(context) != BLOCK_SPEED.epoch_data(context.at(800))
    assert isinstance(BLOCK_SPEED.figure(context).y_scale, LogScale)


def test_the_norm_view_draws_each_blocks_norm_across_training(context) -> None:
    lines = BLOCK_NORMS.data(context)["lines"]
    assert lines["name"] == ["embedding", "attention", "mlp", "unembedding"]
    for b in range(4):
        expected = [float(context.load("block_snapshot", e)["norms"][b]) for e in context.epochs]
        np.testing.assert_allclose(lines["ys"][b], expected)
    assert BLOCK_NORMS.epoch_data(context) != BLOCK_NORMS.epoch_data(context.at(400))


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_the_bridge_families_register_the_blocks_beside_the_whole_model(family) -> None:
    fam = get_family(family)
    analyzers = [a.name for a in fam.analyzers]
    cross = [a.name for a in fam.cross_epoch]
    assert analyzers[analyzers.index("parameter_snapshot") + 1] == "block_snapshot"
    assert cross[cross.index("parameter_trajectory") + 1] == "block_trajectory"
    names = [v.name for v in fam.views]
    assert all(v.name in names for v in BLOCK_VIEWS)
