"""The LLC estimator (tdw.library.llc) on losses whose learning coefficient is known, against
devinterp on a tiny model, and as an analyzer on a Modulo Addition checkpoint."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tdw.library.llc import SGLDConfig, default_nbeta, make_llc, sample_llc

# nbeta = 100 on unit curvature: eps * curvature = 0.2 for the quadratic terms (SGLD's
# discretisation inflates their variance by 1 / (1 - eps * a / 4), 5%, corrected for below);
# the quartic terms, flat at 0, need a step this large to mix within the draws.
PLANTED = SGLDConfig(lr=2e-3, localization=0.0, nbeta=100.0, chains=4, draws=2000,
                     burnin=300, seed=0)


def _planted(quadratic: int, quartic: int):
    """A loss with ``quadratic`` regular and ``quartic`` w**4 directions at w* = 0: its
    learning coefficient is quadratic / 2 + quartic / 4 (Watanabe; Lau et al. 2023)."""
    w = torch.zeros(quadratic + quartic, requires_grad=True)

    def loss(indices):
        return 0.5 * (w[:quadratic] ** 2).sum() + (w[quadratic:] ** 4).sum()

    return loss, [w]


@pytest.mark.parametrize(("quadratic", "quartic"), [(6, 0), (0, 2), (2, 2)])
def test_recovers_the_learning_coefficient_of_planted_minima(quadratic, quartic):
    estimate = sample_llc(*_planted(quadratic, quartic), 1, PLANTED)
    expected = quadratic / 2 / (1 - PLANTED.lr * PLANTED.nbeta / 4) + quartic / 4
    assert estimate.llc_mean == pytest.approx(expected, rel=0.08)
    assert estimate.diverged == 0


def test_a_degenerate_minimum_has_a_smaller_coefficient_than_a_regular_one():
    regular = sample_llc(*_planted(2, 0), 1, PLANTED)
    degenerate = sample_llc(*_planted(0, 2), 1, PLANTED)  # same dimension, w**4
    assert degenerate.llc_mean < 0.6 * regular.llc_mean


def test_localization_shrinks_the_estimate_as_the_gaussian_posterior_predicts():
    # Localised posterior of 0.5 * a * w^2: variance 1 / (nbeta + gamma) per coordinate, so
    # nbeta * E[L] = d / 2 * nbeta / (nbeta + gamma).
    config = SGLDConfig(lr=5e-4, localization=100.0, nbeta=100.0, chains=4, draws=2000,
                        burnin=200)
    estimate = sample_llc(*_planted(4, 0), 1, config)
    assert estimate.llc_mean == pytest.approx(2 * 0.5 / (1 - 5e-4 * 200 / 4), rel=0.08)


def test_deterministic_given_the_seed_and_restores_the_weights():
    loss, [w] = _planted(3, 1)
    with torch.no_grad():
        w.copy_(torch.tensor([0.1, -0.2, 0.3, 0.05]))
    before = w.detach().clone()
    config = SGLDConfig(lr=1e-3, localization=10.0, nbeta=50.0, chains=2, draws=50, burnin=10,
                        seed=7)
    first = sample_llc(loss, [w], 1, config)
    assert torch.equal(w.detach(), before)
    second = sample_llc(loss, [w], 1, config)
    other = sample_llc(loss, [w], 1, SGLDConfig(**{**config.__dict__, "seed": 8}))
    np.testing.assert_array_equal(first.loss_trace, second.loss_trace)
    assert first.llc_mean == second.llc_mean
    assert not np.array_equal(first.loss_trace, other.loss_trace)
    assert first.loss_trace.shape == (2, 60)
    assert first.loss_trace[0, 0] == pytest.approx(first.init_loss)  # step 0 is at w*


def test_minibatches_are_drawn_from_all_n_examples_and_seeded():
    seen: list[torch.Tensor] = []
    w = torch.zeros(1, requires_grad=True)

    def loss(indices):
        if indices is not None:
            seen.append(indices.clone())
        return (w ** 2).sum()

    sample_llc(loss, [w], 40, SGLDConfig(chains=1, draws=20, burnin=0, batch_size=8))
    assert all(len(i) == 8 and len(set(i.tolist())) == 8 for i in seen)
    assert set(torch.cat(seen).tolist()) == set(range(40))
    assert default_nbeta(40) == pytest.approx(40 / math.log(40))


def test_a_diverging_chain_is_reported_not_raised():
    loss, [w] = _planted(0, 2)
    with torch.no_grad():
        w.fill_(1.0)
    estimate = sample_llc(loss, [w], 1, SGLDConfig(lr=10.0, nbeta=100.0, chains=2, draws=20,
                                                   burnin=0))
    assert estimate.diverged == 2 and math.isnan(estimate.llc_mean)
    assert torch.equal(w.detach(), torch.ones(2))


@pytest.mark.slow  # devinterp writes every step to zarr: ~15 s
def test_agrees_with_devinterp_on_a_tiny_language_model():
    """Same model, data and hyperparameters through devinterp 2's ``llc`` (its own SGLD
    loop, seeding and loss): the two estimates agree within their chain noise."""
    pytest.importorskip("devinterp")
    import warnings

    from datasets import Dataset
    from devinterp.slt.llc import llc

    torch.manual_seed(0)
    vocab, n, length = 5, 64, 6
    model = torch.nn.Sequential(torch.nn.Embedding(vocab, 8), torch.nn.Linear(8, vocab))
    ids = torch.randint(vocab, (n, length))
    config = SGLDConfig(lr=2e-3, localization=20.0, nbeta=30.0, chains=4, draws=200, burnin=0,
                        seed=0)

    def loss(indices):
        logits = model(ids)  # (n, pos, vocab): full batch, as devinterp with batch_size n
        return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, vocab),
                                                 ids[:, 1:].reshape(-1))

    ours = sample_llc(loss, list(model.parameters()), n, config)
    dataset = Dataset.from_dict({"input_ids": ids.tolist()}).with_format("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = llc(model, dataset, {}, lr=config.lr, n_beta=config.nbeta,
                     localization=config.localization, num_chains=config.chains,
                     num_draws=config.draws, batch_size=n, num_init_loss_batches=1,
                     init_seed=0, device="cpu")
    their_mean, their_std = float(theirs["llc_mean"]), float(theirs["llc_std"])
    assert float(theirs["init_loss"]) == pytest.approx(ours.init_loss, rel=1e-5)
    spread = 3 * max(ours.llc_std, their_std) / math.sqrt(config.chains) + 0.05 * their_mean
    assert abs(ours.llc_mean - their_mean) < spread, (ours.llc_mean, their_mean)


def test_the_analyzer_declares_its_hyperparameters_and_leaves_the_model_alone():
    from tdw.family.analyzer import CheckpointInputs
    from tdw.family.model import boot_model, weights_of
    from tdw.family.registry import get_family

    family = get_family("modulo_addition_1l")
    values = family.resolve({"p": 7, "train_fraction": 0.5})
    model = boot_model(family.model_config(values))
    before = weights_of(model)
    config = SGLDConfig(lr=1e-4, localization=100.0, chains=2, draws=20, burnin=5,
                        batch_size=8, seed=3)
    analyzer = make_llc(family.readout, family.dataset, config)
    inputs = CheckpointInputs(values=values, epoch=0, weights=before, final_weights=before,
                              probe=family.probe(values), model=model)
    arrays, attrs = analyzer.run(inputs)
    assert attrs["sgld"] == {"lr": 1e-4, "localization": 100.0, "nbeta": None, "chains": 2,
                             "draws": 20, "burnin": 5, "batch_size": 8, "seed": 3}
    n = int(family.dataset(values).train_tokens.shape[0])
    assert attrs["n_train"] == n and attrs["nbeta"] == pytest.approx(default_nbeta(n))
    assert arrays["loss_trace"].shape == (2, 25)
    assert np.isfinite(attrs["llc_mean"]) and attrs["diverged_chains"] == 0
    assert all(torch.equal(before[k], v) for k, v in weights_of(model).items())
    again, _ = analyzer.run(inputs)
    np.testing.assert_array_equal(arrays["loss_trace"], again["loss_trace"])


# --- in the phase-change detector and the view -------------------------------------------


def _sigmoid(x: np.ndarray, centre: float, width: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(x - centre) / width))


def _modulo_phase(test_loss, restricted, llc) -> tuple[dict, dict]:
    from tdw.families.modulo_addition_1l import SIGNALS

    from tdw.family.analyzer import CrossEpochInputs
    from tdw.family.artifacts import Artifact, ArtifactSchema
    from tdw.library.phase import make_phase_change

    epochs = np.arange(len(test_loss)) * 10
    progress = [Artifact(ArtifactSchema("progress_measures", 1), int(e), {},
                         {"test_loss": float(t), "restricted_loss": float(r)})
                for e, t, r in zip(epochs, test_loss, restricted, strict=True)]
    llcs = [Artifact(ArtifactSchema("llc", 1), int(e), {}, {"llc_mean": float(v)})
            for e, v in zip(epochs, llc, strict=True)]
    return make_phase_change(SIGNALS).run(CrossEpochInputs(
        {}, epochs, {"progress_measures": progress, "llc": llcs}, {}))


def test_the_llc_is_a_signal_of_the_grokking_phase_change():
    x = np.arange(80, dtype=np.float64)
    restricted = 10 ** (0.5 - 3.0 * _sigmoid(x, 40, 2.0))  # falls 3 decades at epoch 400
    test_loss = 10 ** (0.6 - 4.0 * _sigmoid(x, 41, 2.0))
    together = 40.0 - 25.0 * _sigmoid(x, 41, 2.0)  # the LLC falls with them
    arrays, attrs = _modulo_phase(test_loss, restricted, together)
    assert attrs["signals"] == ["restricted loss", "test loss", "LLC"]
    assert attrs["agreeing"] == ["restricted loss", "test loss", "LLC"]
    assert 330 <= attrs["transition_epoch"] <= 400
    with_llc = attrs["confidence"]
    early = 40.0 - 25.0 * _sigmoid(x, 10, 2.0)  # falls long before the test loss
    arrays, attrs = _modulo_phase(test_loss, restricted, early)
    assert attrs["agreeing"] == ["restricted loss", "test loss"]
    assert arrays["detected"][2] == 1 and arrays["agrees"][2] == 0
    assert attrs["confidence"] == pytest.approx(with_llc * 2 / 3, rel=0.05)
    flat = 40.0 + 0.3 * np.sin(x)  # no fall: detected nowhere
    arrays, attrs = _modulo_phase(test_loss, restricted, flat)
    assert arrays["detected"][2] == 0 and attrs["transition_epoch"] is not None


def test_the_llc_view_shares_its_epoch_axis_with_the_losses_and_marks_the_checkpoint():
    from tdw.family.artifacts import Artifact, ArtifactSchema
    from tdw.family.views import ViewContext
    from tdw.library.views import LLC

    epochs = (0, 10, 20, 30)
    schema = ArtifactSchema("llc", 1)
    arts = {e: Artifact(schema, e, {}, {"llc_mean": 5.0 + e, "llc_std": 1.0,
                                        "sgld": {"chains": 2}}) for e in epochs}
    losses = np.linspace(4.0, 0.01, 31)
    ctx = ViewContext("v", {}, 20, epochs, lambda name, e: arts[e],
                      lambda: {"train_loss": losses / 10, "test_loss": losses},
                      transition=(10, 0.9))
    data = LLC.data(ctx)
    assert list(data["llc"]["epoch"]) == list(epochs)
    np.testing.assert_allclose(data["llc"]["llc"], [5, 15, 25, 35])
    np.testing.assert_allclose(data["llc"]["high"] - data["llc"]["low"], 2.0)
    assert len(data["losses"]["epoch"]) == 31 and data["transition"]["x"] == [10]
    assert LLC.epoch_data(ctx) == {"current": {"x": [20]}}
    fig = LLC.figure(ctx)
    assert "loss" in fig.extra_y_ranges
    assert {r.y_range_name for r in fig.renderers} >= {"default", "loss"}
