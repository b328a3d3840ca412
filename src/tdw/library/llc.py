"""The local learning coefficient (LLC) of the training loss at each checkpoint, by SGLD.

Singular learning theory measures a minimum's effective complexity by its learning
coefficient: near a minimum ``w*`` the volume of weights with loss below ``L(w*) + eps``
scales as ``eps ** lambda``. A regular minimum of ``d`` parameters has ``lambda = d / 2``;
degenerate directions lower it (``w ** 4`` contributes 1/4, a flat one 0). Lau et al. 2023
("Quantifying degeneracy in singular models via the learning coefficient",
arXiv:2308.12108) estimate the *local* coefficient by sampling a tempered posterior
localised at ``w*``::

    p(w) ~ exp(-n beta L_n(w) - gamma / 2 |w - w*|^2)
    lambda_hat = n beta (E_p[L_n(w)] - L_n(w*))

with ``n beta = n / log n`` (Watanabe's WBIC temperature), sampled by stochastic-gradient
Langevin dynamics (Welling & Teh 2011) from ``w*``::

    w <- w - eps / 2 (n beta grad L_m(w) + gamma (w - w*)) + N(0, eps)

on minibatches ``L_m`` of the training set. The expectation is the mean minibatch loss over
the draws after a burn-in, per chain; the estimate is the mean over chains, and its spread
over chains the ``std``. This is the update and estimator of the ``devinterp`` library
(Timaeus; ``SGLD`` / ``SGMCMC.sgld`` and ``llc``), written here on the model's live
parameters so it runs on a TransformerLens bridge and a family's own loss, with no
dataset adaptors. ``tests/unit/test_library_llc.py`` checks it against devinterp on a tiny model
and against the known coefficients of planted quadratic and quartic losses.

Hyperparameters matter (Lau et al. Appendix; devinterp's calibration notebook): too large
a step ``eps`` diverges, too small a one does not mix within the draws, and the
localisation ``gamma`` must hold the chain near ``w*`` without dominating the loss. They
are a :class:`SGLDConfig`, the analyzer's declared options: stored with every estimate,
and a change makes the estimates made with other settings stale. The per-step loss trace
is kept so a reader can check that each chain rose to a plateau (burn-in) and stayed there
(:mod:`tdw.library.llc_views`); :mod:`tdw.library.llc_calibration` picks the settings.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tdw.family.analyzer import Analyzer, CheckpointInputs, Output
from tdw.family.artifacts import ArraySpec, AttrSpec
from tdw.family.family import Dataset
from tdw.library.weights import trainable_parameters

if TYPE_CHECKING:
    import torch

__all__ = ["SGLDConfig", "LLCEstimate", "BatchLoss", "sample_llc", "make_llc", "default_nbeta",
           "verdict", "VERDICTS", "chain_loss", "minibatch_loss"]

BatchLoss = Callable[["torch.Tensor | None"], "torch.Tensor"]
"""``(indices,) int64 of training examples, or None for all -> scalar mean loss``,
differentiable in the parameters being sampled."""


@dataclass(frozen=True)
class SGLDConfig:
    """SGLD hyperparameters of an LLC estimate (Lau et al. 2023).

    Attributes:
        lr: step size epsilon; the noise has variance ``lr`` per coordinate.
        localization: gamma, the pull back to the checkpoint's weights.
        nbeta: inverse temperature n * beta; None for ``n / log n`` of the training set.
        chains: independent chains, each started at the checkpoint.
        draws: steps per chain whose loss enters the estimate.
        burnin: steps per chain before the draws (recorded in the trace, not averaged).
        batch_size: training examples per SGLD step; None (or >= n) for the full batch.
        seed: seed of the noise and of the minibatches; chain ``c`` uses stream
            ``(seed, c)``, so an estimate is reproducible on the same machine.
    """

    lr: float = 1e-3
    localization: float = 100.0
    nbeta: float | None = None
    chains: int = 2
    draws: int = 100
    burnin: int = 50
    batch_size: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.lr > 0 or not self.localization >= 0:
            raise ValueError(f"SGLD needs lr > 0 and localization >= 0, got {self.lr}, "
                             f"{self.localization}")
        if self.nbeta is not None and not self.nbeta > 0:
            raise ValueError(f"SGLD nbeta must be positive (or None), got {self.nbeta}")
        if self.chains < 1 or self.draws < 1 or self.burnin < 0:
            raise ValueError(f"SGLD needs chains >= 1, draws >= 1 and burnin >= 0, got "
                             f"{self.chains}, {self.draws}, {self.burnin}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"SGLD batch_size must be positive (or None), got "
                             f"{self.batch_size}")

    @property
    def steps(self) -> int:
        """SGLD steps per chain."""
        return self.burnin + self.draws


def default_nbeta(n: int) -> float:
    """``n / log n``: the inverse temperature of Watanabe's WBIC (beta = 1 / log n), which
    Lau et al. use; 1 for ``n < 3``."""
    return n / math.log(n) if n >= 3 else 1.0


@dataclass(frozen=True, eq=False)
class LLCEstimate:
    """An LLC estimate and the chains behind it.

    Attributes:
        llc_mean: mean of the per-chain estimates over the chains that stayed finite (NaN
            if none did).
        llc_std: their standard deviation over chains (ddof 0, as devinterp reports it).
        llc_per_chain: ``(chain,)`` ``nbeta * (mean draw loss - init_loss)``; NaN for a
            chain whose loss became non-finite.
        loss_trace: ``(chain, step)`` the minibatch loss at each step, burn-in included,
            before the step's update; NaN after a chain diverged.
        init_loss: the full training loss at the starting weights.
        nbeta: the inverse temperature used.
        n: number of training examples.
        drift: the LLC of the second half of the draws minus that of the first half,
            averaged over chains: near 0 (against ``llc_std``) when the chains had reached
            their plateau by the end of burn-in.
    """

    llc_mean: float
    llc_std: float
    llc_per_chain: np.ndarray
    loss_trace: np.ndarray
    init_loss: float
    nbeta: float
    n: int
    drift: float

    @property
    def diverged(self) -> int:
        """How many chains became non-finite."""
        return int(np.sum(~np.isfinite(self.llc_per_chain)))

    @property
    def verdict(self) -> str:
        """:func:`verdict` of this estimate."""
        return verdict(self.llc_mean, self.llc_std, self.drift, self.diverged)


VERDICTS = ("diverged", "negative", "not converged", "ok")
"""What :func:`verdict` may say, worst first."""


def verdict(llc_mean: float, llc_std: float, drift: float | None, diverged: int) -> str:
    """Whether an estimate's chains can be trusted, by the checks of devinterp's
    calibration guide, in this order:

    * ``"diverged"``: a chain's loss became non-finite (the step is too large);
    * ``"negative"``: the chains sat below the checkpoint's loss on average (the step is
      too large for the localisation, or the checkpoint is not at a minimum);
    * ``"not converged"``: the drift (the LLC of the second half of the draws minus the
      first half) exceeds both twice the spread over chains and a fifth of the estimate:
      the chains were still rising or falling (the step is too small, or the burn-in too
      short), or swinging (the step too large for the localisation). Short chains are
      noisy: half of a few dozen correlated draws easily differ by a tenth;
    * ``"ok"`` otherwise.

    >>> verdict(20.0, 1.0, 0.5, 0), verdict(20.0, 1.0, 5.0, 0), verdict(-3.0, 1.0, 0.0, 0)
    ('ok', 'not converged', 'negative')
    """
    if diverged or not math.isfinite(llc_mean):
        return "diverged"
    if llc_mean < 0:
        return "negative"
    if drift is None or not math.isfinite(drift) \
            or abs(drift) > max(2 * llc_std, 0.2 * abs(llc_mean)):
        return "not converged"
    return "ok"


def chain_loss(trace: np.ndarray, burnin: int) -> np.ndarray:
    """``(chain,)`` the mean loss of each chain over its draws (NaN once it diverged)."""
    return np.asarray(trace, dtype=np.float64)[:, burnin:].mean(axis=1)


def _generator(seed: int, chain: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A generator on ``device`` for stream ``(seed, chain)`` (mixed by numpy's
    SeedSequence)."""
    import torch
    state = np.random.SeedSequence([seed, chain]).generate_state(1, np.uint64)[0]
    return torch.Generator(device=device).manual_seed(int(state))


_CHECK_EVERY = 16
"""Steps between the sampler's questions to the device whether a chain has diverged."""


def _masked(values: Sequence[torch.Tensor], steps: int) -> torch.Tensor:
    """``(steps,)`` losses of one chain: NaN from its first non-finite loss on, and after
    the last step it ran. Computed on the device, without waiting for it."""
    import torch
    trace = torch.stack(list(values))
    alive = torch.cumprod(torch.isfinite(trace).to(torch.int8), 0).bool()
    trace = torch.where(alive, trace, torch.full_like(trace, math.nan))
    return torch.cat([trace, trace.new_full((steps - len(trace),), math.nan)])


def sample_llc(loss: BatchLoss, params: Sequence[torch.Tensor], n: int,
               config: SGLDConfig) -> LLCEstimate:
    """Estimate the LLC of ``loss`` at the current value of ``params`` by SGLD.

    Args:
        loss: the mean training loss on a minibatch of example indices (None: all ``n``).
        params: the leaf tensors to sample (requires_grad), e.g. a model's live trainable
            parameters. They are moved in place by the chains and restored bit for bit
            afterwards, also when ``loss`` raises.
        n: number of training examples (the ``n`` of ``n beta`` and of the minibatches).
        config: the SGLD hyperparameters.
    """
    import torch
    if n < 1:
        raise ValueError(f"need at least one training example, got n={n}")
    nbeta = config.nbeta if config.nbeta is not None else default_nbeta(n)
    batch = None if config.batch_size is None or config.batch_size >= n else config.batch_size
    device = params[0].device
    start = [p.detach().clone() for p in params]
    chains: list[torch.Tensor] = []  # per chain (step,) losses, on the device
    half_step, noise_scale = config.lr / 2, math.sqrt(config.lr)
    try:
        with torch.no_grad():
            init_loss = float(loss(None))
        for chain in range(config.chains):
            # Minibatch indices from a CPU stream; the noise from the same stream on the CPU
            # (the numbers of every CPU estimate so far) or from one on the parameters'
            # device, so that no step waits for the host.
            generator = _generator(config.seed, chain)
            noise_from = generator if device.type == "cpu" else _generator(
                config.seed, chain, device)
            values: list[torch.Tensor] = []
            alive = torch.ones((), dtype=torch.bool, device=device)
            for step in range(config.steps):
                indices = None if batch is None else torch.randperm(
                    n, generator=generator)[:batch]
                with torch.enable_grad():
                    value = loss(indices)
                    grads = torch.autograd.grad(value, params)
                value = value.detach()
                alive = alive & torch.isfinite(value)
                values.append(value)
                # A diverged chain stops contributing: its trace is NaN from its first
                # non-finite loss on (masked below). Asking the device whether it diverged
                # only every _CHECK_EVERY steps spares the host a wait at every step.
                if (step + 1) % _CHECK_EVERY == 0 and not bool(alive):
                    break
                with torch.no_grad():
                    for p, w0, g in zip(params, start, grads, strict=True):
                        drift = g * nbeta + (p - w0) * config.localization
                        noise = torch.randn(p.shape, generator=noise_from,
                                            device=noise_from.device).to(p.device, p.dtype)
                        p.add_(drift, alpha=-half_step).add_(noise, alpha=noise_scale)
            chains.append(_masked(values, config.steps))
            with torch.no_grad():
                for p, w0 in zip(params, start, strict=True):
                    p.copy_(w0)
    finally:
        with torch.no_grad():
            for p, w0 in zip(params, start, strict=True):
                p.copy_(w0)
    trace = torch.stack(chains).cpu().to(torch.float64).numpy()  # the one wait for the device
    return _estimate(trace, init_loss, nbeta, n, config.burnin)


def _estimate(trace: np.ndarray, init_loss: float, nbeta: float, n: int,
              burnin: int) -> LLCEstimate:
    draws = trace[:, burnin:]  # (chain, draw); a diverged chain has NaN in it
    per_chain = nbeta * (chain_loss(trace, burnin) - init_loss)  # (chain,)
    finite = np.isfinite(per_chain)
    mean = float(per_chain[finite].mean()) if finite.any() else math.nan
    std = float(per_chain[finite].std()) if finite.any() else math.nan
    half = draws.shape[1] // 2
    drift = math.nan
    if half and finite.any():
        early, late = draws[finite, :half].mean(axis=1), draws[finite, half:].mean(axis=1)
        drift = float(nbeta * (late - early).mean())
    return LLCEstimate(mean, std, per_chain, trace, init_loss, float(nbeta), n, drift)


# ------------------------------------------------------------------ the analyzer
def minibatch_loss(model: Any, readout: Callable[[Any, torch.Tensor], torch.Tensor],
                    data: Dataset) -> BatchLoss:
    """The training loss of ``model`` on examples ``indices`` (the family's readout and the
    training cross-entropy of :func:`tdw.family.model.loss_and_accuracy`)."""
    from tdw.family.model import loss_and_accuracy

    def loss(indices: torch.Tensor | None) -> torch.Tensor:
        tokens, labels = data.train_tokens, data.train_labels
        if indices is not None:
            tokens, labels = tokens[indices], labels[indices]
        return loss_and_accuracy(readout(model, tokens), labels)[0]

    return loss


def _nan_to_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def make_llc(readout: Callable[[Any, torch.Tensor], torch.Tensor],
             dataset: Callable[[Mapping[str, Any]], Dataset],
             config: SGLDConfig = SGLDConfig(), *, version: int = 2) -> Analyzer:
    """The ``llc`` analyzer for a family: the local learning coefficient of its training
    loss at each checkpoint (:func:`sample_llc` over all trainable parameters).

    Args:
        readout: the family's readout, ``(model, tokens) -> logits``; the loss is the
            training cross-entropy on those logits, exactly as in training.
        dataset: the family's dataset function; its training split is sampled.
        config: the SGLD hyperparameters: the analyzer's ``options``, recorded in every
            artifact (``options``, and ``sgld`` as before) and in its catalog row, so that
            estimates made with other hyperparameters become stale without a version bump.
        version: the analyzer version; bump it when the estimator itself changes.
            (Version 2 records the options; version 1 artifacts are stale.)

    The cost is ``chains * (burnin + draws)`` forward and backward passes over a minibatch,
    plus one forward pass over the training set; the model's weights are restored bit for
    bit afterwards.
    """
    declared = asdict(config)

    def compute(inputs: CheckpointInputs) -> Output:
        params_device = next(inputs.model.parameters()).device
        data = dataset(inputs.values).to(params_device)
        params = list(trainable_parameters(inputs.model).values())
        estimate = sample_llc(minibatch_loss(inputs.model, readout, data), params,
                              int(data.train_tokens.shape[0]), config)
        return ({"loss_trace": estimate.loss_trace.astype(np.float32),
                 "llc_per_chain": estimate.llc_per_chain.astype(np.float32)},
                {"llc_mean": estimate.llc_mean, "llc_std": estimate.llc_std,
                 "init_loss": estimate.init_loss, "drift": _nan_to_none(estimate.drift),
                 "diverged_chains": estimate.diverged, "nbeta": estimate.nbeta,
                 "n_train": estimate.n, "n_params": int(sum(p.numel() for p in params)),
                 "sgld": declared})

    return Analyzer(
        name="llc",
        version=version,
        description=(
            "Local learning coefficient of the training loss (Lau et al. 2023): "
            "n*beta times the rise of the mean loss of SGLD chains localised at the "
            f"checkpoint (step {config.lr:g}, localisation {config.localization:g}, "
            f"n*beta {'n/log n' if config.nbeta is None else format(config.nbeta, 'g')}, "
            f"{config.chains} chains of {config.burnin} burn-in + {config.draws} draws, "
            f"{'full batch' if config.batch_size is None else f'batches of {config.batch_size}'}"
            f", seed {config.seed}) over the loss at the checkpoint. Lower is more degenerate "
            "(a simpler solution)."
        ),
        arrays=(
            ArraySpec("loss_trace", "float32", ("chain", "step"),
                      "minibatch training loss at every SGLD step, burn-in included; NaN "
                      "after a chain diverged"),
            ArraySpec("llc_per_chain", "float32", ("chain",),
                      "n*beta * (mean loss over the draws - init_loss), per chain"),
        ),
        attrs=(
            AttrSpec("llc_mean", "float", "the LLC estimate: mean over finite chains"),
            AttrSpec("llc_std", "float", "standard deviation of the estimate over chains"),
            AttrSpec("init_loss", "float", "training loss at the checkpoint"),
            AttrSpec("drift", "json", "LLC of the second half of the draws minus the first "
                                      "half (near 0 once the chains mixed), or null"),
            AttrSpec("diverged_chains", "int", "chains whose loss became non-finite"),
            AttrSpec("nbeta", "float", "inverse temperature n*beta used"),
            AttrSpec("n_train", "int", "training examples sampled from"),
            AttrSpec("n_params", "int", "parameters sampled (all trainable ones)"),
            AttrSpec("sgld", "json", "the SGLD hyperparameters (SGLDConfig fields)"),
        ),
        compute=compute,
        needs_model=True,
        options=config,
    )
