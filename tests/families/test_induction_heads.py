"""The Induction Heads family and the core pieces it brought: the sequence loss, the
Hessian spectrum, the phase-change detector, and its analyzers on planted signals."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tdw.errors import ParameterError
from tdw.family.analyzer import CrossEpochInputs
from tdw.family.artifacts import Artifact, ArtifactSchema
from tdw.family.model import IGNORE_LABEL, boot_model, live_tensors, loss_and_accuracy
from tdw.family.registry import get_family
from tdw.library.hessian import hessian_operator, make_hessian_spectrum, top_eigenvalues
from tdw.library.phase import Signal, detect_jump, make_phase_change

FAMILY = get_family("induction_heads")
TINY = {"n_heads": 2, "d_head": 4, "d_vocab": 7, "n_ctx": 8, "segment_length": 3,
        "n_train": 64, "batch_size": 16, "n_epochs": 2}


def _model(values, bias_seed: int | None = 0):
    model = boot_model(FAMILY.model_config(values))
    if bias_seed is not None:
        generator = torch.Generator().manual_seed(bias_seed)
        with torch.no_grad():  # biases start at zero; make every term of the forward count
            for name, tensor in live_tensors(model).items():
                if name.endswith("bias"):
                    tensor.copy_(0.1 * torch.randn(tensor.shape, generator=generator))
    return model


# --- the sequence loss ----------------------------------------------------------------


def test_sequence_loss_is_the_mean_cross_entropy_over_scored_positions():
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(3, 5, 4, generator=generator)
    labels = torch.randint(0, 4, (3, 5), generator=generator)
    labels[:, -1] = IGNORE_LABEL
    labels[1, 0] = IGNORE_LABEL
    loss, accuracy = loss_and_accuracy(logits, labels)
    terms, hits = [], []
    for b in range(3):
        for t in range(5):
            label = int(labels[b, t])
            if label == IGNORE_LABEL:
                continue
            row = logits[b, t].double().tolist()
            log_z = math.log(sum(math.exp(v) for v in row))
            terms.append(log_z - row[label])
            hits.append(max(range(4), key=row.__getitem__) == label)
    assert len(terms) == 11
    assert loss.item() == pytest.approx(sum(terms) / len(terms), rel=1e-12)
    assert accuracy.item() == pytest.approx(sum(hits) / len(hits), abs=1e-12)


def test_sequence_loss_refuses_labels_of_another_shape():
    with pytest.raises(ValueError, match=r"\(batch, pos\)"):
        loss_and_accuracy(torch.zeros(2, 3, 4), torch.zeros(2, 4, dtype=torch.long))


def test_answer_loss_path_is_unchanged():
    generator = torch.Generator().manual_seed(2)
    logits = torch.randn(6, 5, generator=generator)
    labels = torch.randint(0, 5, (6,), generator=generator)
    loss, accuracy = loss_and_accuracy(logits, labels)
    assert torch.equal(loss, torch.nn.functional.cross_entropy(logits.double(), labels))
    assert torch.equal(accuracy, (logits.argmax(-1) == labels).double().mean())


# --- data, parameters, forward --------------------------------------------------------


def test_training_sequences_repeat_a_segment_at_random_places():
    values = FAMILY.resolve({**TINY, "n_train": 200})
    data = FAMILY.dataset(values)
    k, offsets = values["segment_length"], set()
    for row in data.train_tokens.tolist():
        found = [(i, j) for i in range(8) for j in range(i + k, 8 - k + 1)
                 if row[i:i + k] == row[j:j + k]]
        assert found, "every sequence holds a repeat when repeat_fraction = 1"
        offsets.add(found[0][1] - found[0][0])
    assert len(offsets) > 1  # not a fixed offset a positional head could copy from
    assert torch.equal(data.train_labels[:, :-1], data.train_tokens[:, 1:])
    assert (data.train_labels[:, -1] == IGNORE_LABEL).all()


def test_probe_is_repeated_then_random():
    values = FAMILY.resolve(TINY)
    probe = FAMILY.probe(values)
    tokens, repeated = probe["tokens"], probe["repeated"].bool()
    assert torch.equal(tokens[repeated][:, :4], tokens[repeated][:, 4:])
    assert repeated.sum() == len(tokens) // 2 and repeated[: len(tokens) // 2].all()
    assert torch.equal(FAMILY.probe(values)["tokens"], tokens)  # deterministic


def test_parameters_that_do_not_fit_together_are_refused():
    with pytest.raises(ParameterError, match="segment_length <= 4"):
        FAMILY.train_config(FAMILY.resolve({**TINY, "segment_length": 5}))
    with pytest.raises(ParameterError, match="n_train"):
        FAMILY.train_config(FAMILY.resolve({**TINY, "batch_size": 128}))


def test_forward_equals_the_bridge_in_values_patterns_and_gradients():
    from tdw.families.induction_heads.forward import forward

    values = FAMILY.resolve(TINY)
    model = _model(values)
    tokens = FAMILY.probe(values)["tokens"]
    logits, cache = model.run_with_cache(tokens)
    patterns: list[torch.Tensor] = []
    fast = forward(live_tensors(model), tokens, 2, patterns)
    torch.testing.assert_close(fast, logits, rtol=0, atol=2e-6)
    for layer, pattern in enumerate(patterns):
        torch.testing.assert_close(pattern, cache[f"blocks.{layer}.attn.hook_pattern"],
                                   rtol=0, atol=1e-6)
    labels = FAMILY.probe(values)["labels"]

    def grads(logits_fn):
        model.zero_grad()
        loss_and_accuracy(logits_fn(tokens), labels)[0].backward()
        return {n: p.grad.clone() for n, p in model.named_parameters()}

    slow, quick = grads(model), grads(lambda t: FAMILY.readout(model, t))
    for name in slow:
        torch.testing.assert_close(quick[name], slow[name], rtol=1e-4, atol=1e-7)


# --- head scores and in-context learning on planted patterns ----------------------------


def _uniform_causal(n_seq: int, n_heads: int, n_pos: int) -> np.ndarray:
    causal = np.tril(np.ones((n_pos, n_pos)))
    return np.broadcast_to(causal / causal.sum(-1, keepdims=True),
                           (n_seq, n_heads, n_pos, n_pos)).copy()


def test_planted_induction_and_previous_token_heads_score_one():
    from tdw.families.induction_heads.analyzers import induction_scores, previous_token_scores

    n_pos, half = 10, 5
    patterns = _uniform_causal(3, 3, n_pos)
    for q in range(half, n_pos):  # head 0: the token after the previous occurrence
        patterns[:, 0, q] = 0.0
        patterns[:, 0, q, q - half + 1] = 1.0
    for q in range(1, n_pos):  # head 1: the previous token
        patterns[:, 1, q] = 0.0
        patterns[:, 1, q, q - 1] = 1.0
    induction = induction_scores(patterns)
    previous = previous_token_scores(patterns)
    assert induction[0] == pytest.approx(1.0) and previous[1] == pytest.approx(1.0)
    # a uniform head gives each key 1 / (q + 1)
    uniform_induction = np.mean([1 / (q + 1) for q in range(half, n_pos)])
    assert induction[2] == pytest.approx(uniform_induction)
    assert previous[2] == pytest.approx(np.mean([1 / (q + 1) for q in range(1, n_pos)]))


def test_prefix_matching_counts_keys_that_follow_a_copy_of_the_query_token():
    from tdw.families.induction_heads.analyzers import prefix_matching_scores

    tokens = np.array([[3, 1, 4, 1, 5, 9, 2, 6, 5, 3],
                       [2, 7, 1, 8, 2, 8, 1, 8, 2, 8]])
    n_seq, n_pos = tokens.shape
    patterns = _uniform_causal(n_seq, 2, n_pos)
    expected_uniform, hits = [], []
    for s in range(n_seq):
        for q in range(n_pos):
            keys = [k for k in range(1, q + 1) if tokens[s, k - 1] == tokens[s, q]]
            if keys:
                expected_uniform.append(len(keys) / (q + 1))
                patterns[s, 0, q] = 0.0  # head 0 spreads its attention over exactly those keys
                patterns[s, 0, q, keys] = 1.0 / len(keys)
                hits.append(1)
    scores = prefix_matching_scores(patterns, tokens)
    assert scores[0] == pytest.approx(1.0)
    assert scores[1] == pytest.approx(np.mean(expected_uniform))
    assert len(hits) > 5


def test_loss_by_position_and_in_context_score_match_a_direct_computation():
    from tdw.families.induction_heads.analyzers import in_context_score, loss_by_position

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 8, 5))
    labels = rng.integers(0, 5, size=(4, 8))
    labels[:, -1] = IGNORE_LABEL
    per_position = loss_by_position(logits, labels)
    for t in range(7):
        direct = [-(logits[s, t, labels[s, t]] - np.log(np.exp(logits[s, t]).sum()))
                  for s in range(4)]
        assert per_position[t] == pytest.approx(np.mean(direct))
    assert np.isnan(per_position[7])
    # half = 4: late positions 4..6 predict the second copy's tokens 2..4, early 0..2
    assert in_context_score(per_position, 4) == pytest.approx(
        per_position[4:7].mean() - per_position[0:3].mean())


# --- circuits ---------------------------------------------------------------------------


def test_ov_copying_score_is_the_positive_share_of_chosen_eigenvalues():
    from tdw.families.induction_heads.circuits import copying_scores

    rng = np.random.default_rng(3)
    basis = rng.normal(size=(4, 4))
    real = basis @ np.diag([3.0, 1.0, -1.0, -0.5]) @ np.linalg.inv(basis)
    rotation = np.zeros((4, 4))
    rotation[:2, :2] = [[0.5, -2.0], [2.0, 0.5]]  # eigenvalues 0.5 +- 2i
    rotation[2, 2], rotation[3, 3] = 1.0, -1.0
    eye = torch.eye(4, dtype=torch.float64)
    h = {"W_E": eye, "W_U": eye, "W_O": torch.stack([eye, eye]),
         "W_V": torch.tensor(np.stack([real, rotation]))}
    scores = copying_scores(h)
    assert scores[0] == pytest.approx(2.5 / 5.5)
    assert scores[1] == pytest.approx(1.0 / (2 * math.hypot(0.5, 2.0) + 2))


def test_composition_and_qk_matching_equal_dense_computations():
    from tdw.families.induction_heads.circuits import (
        composition_scores,
        head_weights,
        qk_matching_scores,
    )

    values = FAMILY.resolve(TINY)
    w = {n: t.detach() for n, t in live_tensors(_model(values)).items()}
    h = head_weights(w, 2)
    dense = {k: v.numpy() for k, v in h.items()}
    comp, matching = composition_scores(h, 2), qk_matching_scores(h, 2)
    fro = np.linalg.norm
    for dest in range(4):
        for src in range(4):
            if src // 2 >= dest // 2:
                assert np.isnan(comp["k"][dest, src]) and np.isnan(matching[dest, src])
                continue
            qk = dense["W_Q"][dest] @ dense["W_K"][dest].T  # (d_model, d_model)
            ov = dense["W_V"][src] @ dense["W_O"][src]
            assert comp["k"][dest, src] == pytest.approx(fro(qk @ ov.T) / (fro(qk) * fro(ov)))
            assert comp["q"][dest, src] == pytest.approx(fro(ov @ qk) / (fro(qk) * fro(ov)))
            full = dense["W_E"] @ qk @ (dense["W_E"] @ ov).T  # (vocab, vocab)
            eig = np.linalg.eigvals(full)
            assert matching[dest, src] == pytest.approx(eig.real.sum() / np.abs(eig).sum(),
                                                        abs=1e-9)
    # the weights are read as the bridge lays them out (heads are contiguous blocks of
    # the q/k/v output rows and of the o input columns), in both layers
    x = torch.randn(3, 8, dtype=torch.float64)  # (batch, d_model)
    z = torch.randn(3, 2, 4, dtype=torch.float64)  # (batch, head, d_head)
    for layer in range(2):
        prefix, heads = f"blocks.{layer}.attn", slice(2 * layer, 2 * layer + 2)
        for key, part in (("W_Q", "q"), ("W_K", "k"), ("W_V", "v")):
            whole = x @ w[f"{prefix}.{part}.weight"].double().T  # (batch, head * d_head)
            per_head = torch.einsum("bm,hmd->bhd", x, h[key][heads])
            torch.testing.assert_close(per_head.reshape(3, -1), whole)
        whole = z.reshape(3, -1) @ w[f"{prefix}.o.weight"].double().T  # (batch, d_model)
        torch.testing.assert_close(torch.einsum("bhd,hdm->bm", z, h["W_O"][heads]), whole)


# --- Hessian ----------------------------------------------------------------------------


def test_hessian_top_eigenvalues_match_the_full_hessian():
    from tdw.families.induction_heads.analyzers import probe_loss

    from tdw.library.weights import trainable_parameters

    values = FAMILY.resolve({**TINY, "n_layers": 1, "d_head": 2, "d_vocab": 5})
    model = _model(values)
    probe = FAMILY.probe(values)
    params = trainable_parameters(model)
    names = list(params)
    shapes = [params[n].shape for n in names]
    sizes = [params[n].numel() for n in names]
    flat0 = torch.cat([params[n].detach().reshape(-1) for n in names]).double()

    def loss_of(flat):
        from tdw.families.induction_heads.forward import forward

        pieces = dict(zip(names, (p.reshape(s) for p, s in
                                  zip(flat.split(sizes), shapes, strict=True)), strict=True))
        weights = {**{n: t.double() for n, t in live_tensors(model).items()}, **pieces}
        logits = forward(weights, probe["tokens"], values["n_heads"])
        return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                 probe["labels"].reshape(-1))

    full = torch.autograd.functional.hessian(loss_of, flat0).numpy()
    exact = np.sort(np.linalg.eigvalsh((full + full.T) / 2))[::-1][:3]
    operator, _ = hessian_operator(probe_loss(model, probe), list(params.values()))
    found, converged = top_eigenvalues(operator, 3, iterations=200)
    assert converged
    np.testing.assert_allclose(found, exact, rtol=1e-4)

    analyzer = make_hessian_spectrum(probe_loss, k=3, iterations=200, tol=1e-8)
    from tdw.family.analyzer import CheckpointInputs

    arrays, attrs = analyzer.run(CheckpointInputs(values, 0, {}, {}, probe, model=model))
    np.testing.assert_allclose(arrays["eigenvalues"], exact, rtol=1e-4)
    gradient = torch.autograd.functional.jacobian(loss_of, flat0)
    assert attrs["gradient_norm"] == pytest.approx(float(gradient.norm()), rel=1e-4)
    assert attrs["n_params"] == full.shape[0]


def test_lanczos_refuses_too_many_eigenvalues():
    from scipy.sparse.linalg import aslinearoperator

    with pytest.raises(ValueError, match="k < n - 1"):
        top_eigenvalues(aslinearoperator(np.eye(4)), 3, iterations=10)


# --- the phase-change detector ----------------------------------------------------------


def _sigmoid(epochs: np.ndarray, centre: float, width: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(epochs - centre) / width))


def test_a_planted_jump_is_found_where_it_is():
    epochs = np.arange(0, 61)
    rng = np.random.default_rng(0)
    values = 0.05 + 0.6 * _sigmoid(epochs, 30, 1.5) + rng.normal(0, 0.01, epochs.size)
    jump = detect_jump(values, epochs, min_change=0.2)
    assert jump.detected
    assert 24 <= jump.onset <= 29 and 28 <= jump.steepest <= 31 and 31 <= jump.end <= 36
    assert jump.change == pytest.approx(0.6, abs=0.1)
    assert jump.confidence > 0.7
    falling = detect_jump(-values, epochs, direction=-1, min_change=0.2)
    assert falling.detected and falling.onset == jump.onset


@pytest.mark.parametrize("kind", ["flat noise", "slow drift", "small step"])
def test_curves_without_a_jump_have_none(kind):
    epochs = np.arange(0, 61)
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 0.02, epochs.size)
    curve = {"flat noise": 0.1 + noise,
             "slow drift": 0.1 + 0.6 * epochs / 60 + noise,
             "small step": 0.1 + 0.1 * _sigmoid(epochs, 30, 1.0) + noise}[kind]
    jump = detect_jump(curve, epochs, min_change=0.2)
    assert not jump.detected and jump.confidence == 0.0


def _artifacts(name: str, attr: str, values: np.ndarray) -> list[Artifact]:
    schema = ArtifactSchema(name, 1)
    return [Artifact(schema, i, {}, {attr: float(v)}) for i, v in enumerate(values)]


def _phase(signals, series) -> tuple[dict, dict]:
    analyzer = make_phase_change(signals)
    epochs = np.arange(len(series[0]))
    artifacts = {s.analyzer: _artifacts(s.analyzer, "v", v)
                 for s, v in zip(signals, series, strict=True)}
    return analyzer.run(CrossEpochInputs({}, epochs, artifacts, {}))


def _signals():
    return (Signal("induction", "a", lambda a: a.attrs["v"], 1, 0.2),
            Signal("icl", "b", lambda a: a.attrs["v"], -1, 0.5),
            Signal("curvature", "c", lambda a: a.attrs["v"], 1, 0.1, log=True))


def test_signals_that_jump_together_agree_and_one_elsewhere_does_not():
    epochs = np.arange(0, 81)
    induction = 0.05 + 0.6 * _sigmoid(epochs, 40, 1.5)
    icl = -0.1 - 2.0 * _sigmoid(epochs, 41, 1.5)
    curvature_with = 1.0 + 4.0 * _sigmoid(epochs, 39, 1.0)
    curvature_late = 1.0 + 4.0 * _sigmoid(epochs, 70, 1.0)
    arrays, attrs = _phase(_signals(), [induction, icl, curvature_with])
    assert 34 <= attrs["transition_epoch"] <= 39
    assert attrs["agreeing"] == ["induction", "icl", "curvature"]
    assert 38 <= attrs["consensus_epoch"] <= 42
    both = attrs["confidence"]
    arrays, attrs = _phase(_signals(), [induction, icl, curvature_late])
    assert attrs["agreeing"] == ["induction", "icl"]
    assert list(arrays["detected"]) == [1, 1, 1] and list(arrays["agrees"]) == [1, 1, 0]
    assert attrs["confidence"] == pytest.approx(both * 2 / 3, rel=0.05)


def test_no_jump_in_the_primary_signal_means_no_phase_change():
    epochs = np.arange(0, 61)
    rng = np.random.default_rng(2)
    flat = 0.04 + rng.normal(0, 0.005, epochs.size)
    icl = -0.1 - 2.0 * _sigmoid(epochs, 30, 1.5)
    arrays, attrs = _phase(_signals(), [flat, icl, 1.0 + 0 * flat])
    assert attrs["transition_epoch"] is None and attrs["confidence"] == 0.0
    assert attrs["summary"].startswith("no phase change")
    assert arrays["detected"][0] == 0 and not arrays["agrees"].any()


# --- end to end -------------------------------------------------------------------------


@pytest.mark.slow
def test_train_and_analyse_through_papermill(cli_env):
    from helpers import tdw

    from tdw.explore.variant import Variant
    from tdw.store.store import Store

    sets = [arg for key, value in {**TINY, "n_epochs": 3}.items()
            for arg in ("--set", f"{key}={value}")]
    assert "succeeded" in tdw(cli_env, "train", "induction_heads", *sets).stdout
    store = Store(cli_env["TDW_HOME"])
    (record,) = store.variants("induction_heads")
    # the transition and what it reads (every view of every family: test_every_family.py)
    assert "succeeded" in tdw(cli_env, "analyze", record.id, "--workers", "1",
                              "--analyzers", "phase_change").stdout
    variant = Variant(record.id, store)
    assert variant.epochs == (0, 1, 2, 3)
    metrics = variant.metrics()
    assert metrics["train_loss"][3] < metrics["train_loss"][0]  # the sequence loss trains
    phase = variant.artifact("phase_change").attrs
    assert phase["signals"][0] == "induction score"
    # three epochs of a tiny model form no induction head: the transition says so
    assert phase["transition_epoch"] is None and variant.transition() is None
    for view in ("loss_curves", "phase_change", "induction_scores", "in_context_learning"):
        variant.at(variant.epochs[-1]).view(view)


# --- the family in the workbench ----------------------------------------------------------


def test_the_transition_is_the_familys_phase_change(monkeypatch):
    from tdw.explore.variant import Variant
    from tdw.family.family import analyzers_of

    assert FAMILY.transition == "phase_change"
    assert FAMILY.transition in {a.name for a in FAMILY.cross_epoch}
    variant = Variant.__new__(Variant)  # no store: only transition()'s reading is under test
    variant.family, variant._analyzers = FAMILY, analyzers_of(FAMILY)
    found = {"transition_epoch": 9, "confidence": 0.4}
    monkeypatch.setattr(variant, "artifact", lambda name, epoch=None: Artifact(
        ArtifactSchema(name, 2), None, {}, found if name == "phase_change" else {}))
    assert variant.transition() == (9, 0.4)
    found["transition_epoch"] = None
    assert variant.transition() is None


def test_tdw_families_calls_the_model_attention_only(capsys):
    from tdw.cli.main import main

    assert main(["families"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines()
                if "attention only" in line)
    assert "n_layers=2" in line and "d_mlp" not in line


@pytest.mark.slow
def test_a_one_layer_variant_analyses_and_draws_every_view(tmp_path):
    from tdw.analysis.run import AnalysisRun
    from tdw.explore.variant import Variant
    from tdw.training.run import TrainingRun

    result = TrainingRun.prepare(family="induction_heads", params={**TINY, "n_layers": 1},
                                 schedule="0-2/1", store=tmp_path, device="cpu").execute()
    AnalysisRun.prepare(variant=result.variant, workers=1, store=tmp_path).execute()
    variant = Variant(result.variant, tmp_path)
    circuits = variant.artifact("circuits", 2)
    assert np.isnan(circuits["k_composition"]).all()  # nothing to compose with
    assert circuits.attrs["max_k_composition"] is None
    for view in variant.views():
        variant.at(2).view(view)
