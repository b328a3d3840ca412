"""The LLC sampler on the parameters' device: the CPU numbers stay those recorded before the
sampler moved its noise and loss trace onto the device, a diverged chain still stops
contributing, and the host waits for the device once per chain check, not once per step."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from tdw.library import llc
from tdw.library.llc import SGLDConfig, sample_llc

# Recorded with the sampler as it was before (noise on the host, a float per step).
GOLDEN = {
    "mlp": ("42b209bc26fa0f28b3030e06b326270277a2e6240443e10b11768fa32432078f",
            0.5820650458547618, [-1, -1, -1]),
    "diverge": ("5bede04b5c3ecf97ef9328d812dd5bdc10c415a910a9e80dca6ab7ed959daf3a",
                0.02693783732743133, [20, -1, 62, 16, 47]),
}


def _mlp():
    """A tiny classifier on minibatches: float32 parameters, a CPU index stream."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(40, 5, generator=g)
    y = torch.randint(0, 3, (40,), generator=g)
    lin1, lin2 = torch.nn.Linear(5, 8), torch.nn.Linear(8, 3)
    params = [*lin1.parameters(), *lin2.parameters()]
    with torch.no_grad():
        for p in params:
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)

    def loss(idx):
        xi, yi = (x, y) if idx is None else (x[idx], y[idx])
        return torch.nn.functional.cross_entropy(lin2(torch.tanh(lin1(xi))), yi)

    config = SGLDConfig(lr=1e-3, localization=20.0, nbeta=None, chains=3, draws=30, burnin=10,
                        batch_size=8, seed=11)
    return loss, params, 40, config


def _diverging():
    """A float64 random walk whose loss becomes infinite past |w| = 0.9: four of five chains
    diverge, each at its own step (some after the first divergence check)."""
    w = torch.zeros(2, dtype=torch.float64, requires_grad=True)

    def loss(idx):
        v = (w ** 2).sum() * 0.01
        return v + float("inf") if w.detach().abs().max() > 0.9 else v

    config = SGLDConfig(lr=1e-2, localization=0.0, nbeta=10.0, chains=5, draws=80, burnin=5,
                        seed=4)
    return loss, [w], 1, config


def _first_nan(trace: np.ndarray) -> list[int]:
    return [int(np.argmax(np.isnan(r))) if np.isnan(r).any() else -1 for r in trace]


@pytest.mark.parametrize("case", ["mlp", "diverge"])
def test_the_cpu_estimate_is_bit_for_bit_what_it_was(case):
    loss, params, n, config = {"mlp": _mlp, "diverge": _diverging}[case]()
    estimate = sample_llc(loss, params, n, config)
    sha, mean, first_nan = GOLDEN[case]
    assert estimate.loss_trace.dtype == np.float64
    assert estimate.loss_trace.shape == (config.chains, config.steps)
    assert hashlib.sha256(np.ascontiguousarray(estimate.loss_trace).tobytes()).hexdigest() == sha
    assert estimate.llc_mean == mean
    assert _first_nan(estimate.loss_trace) == first_nan


def test_a_diverged_chain_is_nan_from_its_first_non_finite_loss_on():
    estimate = sample_llc(*_diverging())
    trace = estimate.loss_trace
    assert estimate.diverged == 4
    for row, start in zip(trace, GOLDEN["diverge"][2], strict=True):
        if start >= 0:
            assert np.isfinite(row[:start]).all() and np.isnan(row[start:]).all()
    assert np.isfinite(estimate.llc_per_chain).sum() == 1
    assert estimate.llc_mean == estimate.llc_per_chain[1]  # only the finite chain counts


def test_the_host_waits_for_the_device_only_at_divergence_checks(monkeypatch):
    loss, params, n, config = _mlp()
    waits = {"count": 0}
    for name in ("__bool__", "__float__", "item", "tolist"):
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _original=original, **kwargs):
            waits["count"] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    sample_llc(loss, params, n, config)
    # init_loss once, then one check per _CHECK_EVERY steps of each chain (the old sampler
    # read every step's loss: 120 waits here).
    assert waits["count"] <= 1 + config.chains * (config.steps // llc._CHECK_EVERY)


def test_each_chain_draws_its_noise_from_a_generator_on_the_parameters_device():
    first = llc._generator(5, 1)
    again = llc._generator(5, 1, torch.device("cpu"))
    assert first.device.type == again.device.type == "cpu"
    assert torch.equal(torch.randn(4, generator=first), torch.randn(4, generator=again))
    assert not torch.equal(torch.randn(4, generator=llc._generator(5, 2)),
                           torch.randn(4, generator=llc._generator(5, 1)))
