"""The training loop: a function, not a class hierarchy.

``train`` runs AdamW over a :class:`~tdw.family.family.Dataset` and records, for every epoch
``e`` in ``0..n_epochs``, the train and test loss and accuracy *of the weights at epoch
e* (before update e+1). A checkpoint at epoch e therefore reproduces exactly the metrics
recorded for e. Callbacks see the state after each epoch's metrics and before its
update; checkpointing and progress reporting are callbacks.

Metrics stay on the model's device until a callback asks for them, so a GPU run does not
synchronise with the host every epoch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from tdw.family.family import Dataset, TrainConfig
from tdw.family.model import loss_and_accuracy

if TYPE_CHECKING:
    import torch

__all__ = ["TrainState", "Callback", "train", "make_optimizer"]

Readout = Callable[[Any, "torch.Tensor"], "torch.Tensor"]
_COLUMNS = ("train_loss", "test_loss", "train_acc", "test_acc")


@dataclass
class TrainState:
    """The live state of a run, handed to callbacks (mutable: it is the run)."""

    model: Any
    optimizer: torch.optim.Optimizer
    config: TrainConfig
    epoch: int
    _metrics: torch.Tensor  # (n_epochs + 1, 4) on the model's device; NaN = not yet

    def metrics(self) -> dict[str, np.ndarray]:
        """Per-epoch arrays (length n_epochs + 1, NaN beyond the current epoch)."""
        import torch
        table = self._metrics.detach().to("cpu", torch.float32).numpy()
        return {name: table[:, i].copy() for i, name in enumerate(_COLUMNS)}

    def metrics_at(self, epoch: int) -> dict[str, float]:
        row = self._metrics[epoch].tolist()
        return dict(zip(_COLUMNS, row, strict=True))


class Callback(Protocol):
    def __call__(self, state: TrainState) -> None: ...


def make_optimizer(model, config: TrainConfig) -> torch.optim.Optimizer:
    import torch
    return torch.optim.AdamW(model.parameters(), lr=config.lr,
                             weight_decay=config.weight_decay, betas=config.betas)


def _evaluate(model, readout: Readout, tokens: torch.Tensor, labels: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor]:
    import torch
    with torch.inference_mode():
        return loss_and_accuracy(readout(model, tokens), labels)


def train(model, config: TrainConfig, data: Dataset, *, readout: Readout,
          optimizer: torch.optim.Optimizer | None = None, start_epoch: int = 0,
          metrics: dict[str, np.ndarray] | None = None,
          callbacks: Sequence[Callback] = ()) -> TrainState:
    """Train ``model`` from ``start_epoch`` to ``config.n_epochs``.

    Args:
        model: a TransformerLens bridge (or any module ``readout`` understands).
        config: optimiser settings and run length.
        data: tokens and labels, already on the model's device.
        readout: (model, tokens) -> ``(batch, vocab)`` logits at the answer position, or
            ``(batch, pos, vocab)`` logits scored against ``(batch, pos)`` labels (see
            :func:`loss_and_accuracy`).
        optimizer: an optimizer whose state was restored for a resumed run; a new AdamW
            otherwise.
        start_epoch: the epoch the model's weights are at.
        metrics: arrays recorded before ``start_epoch`` (for a resumed run).
        callbacks: called once per epoch, after its metrics and before its update.

    Returns:
        The final state: the model at epoch ``n_epochs`` with every epoch's metrics.

    Training runs with PyTorch's deterministic algorithms, so equal inputs and an equal
    number of CPU threads give bitwise equal weights whatever the load of the machine (see
    :func:`deterministic`).
    """
    with deterministic():
        return _train(model, config, data, readout, optimizer, start_epoch, metrics, callbacks)


@contextlib.contextmanager
def deterministic() -> Iterator[None]:
    """Run with ``torch.use_deterministic_algorithms(True)``, restoring the caller's setting.

    Without it, a CPU run with more than one intra-op thread is not reproducible: the
    backward of the embedding lookup accumulates gradients of repeated tokens
    (``index_put_`` with ``accumulate=True``) in a thread-dependent order, so the float
    sums differ in their last bits from run to run, and over thousands of epochs of a
    grokking run the difference grows into visibly different curves (two trainings of one
    quick variant found turns at epochs 908 and 873). Measured on p = 23, 100 epochs, 2
    threads: two plain runs gave different final checkpoints, two deterministic runs the
    same bytes. The thread count still matters: a matrix product may split its sum
    differently over 1 and 2 threads (at p = 7 the unembedding's gradient differs by 4e-9),
    so a run is repeatable at a given count, not across counts. On CUDA, bitwise
    reproducibility also needs ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` in the environment; ops
    without a deterministic kernel warn (``warn_only``) rather than stop a run.
    """
    import torch
    previous = (torch.are_deterministic_algorithms_enabled(),
                torch.is_deterministic_algorithms_warn_only_enabled())
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])


def _train(model, config: TrainConfig, data: Dataset, readout: Readout,
           optimizer: torch.optim.Optimizer | None, start_epoch: int,
           metrics: dict[str, np.ndarray] | None, callbacks: Sequence[Callback]) -> TrainState:
    import torch
    n = config.n_epochs
    device = data.train_tokens.device
    table = torch.full((n + 1, len(_COLUMNS)), float("nan"), dtype=torch.float64, device=device)
    if metrics is not None:
        prior = np.stack([metrics[c] for c in _COLUMNS], axis=1)[: start_epoch]
        table[: len(prior)] = torch.from_numpy(prior.astype(np.float64)).to(device)
    state = TrainState(model, optimizer or make_optimizer(model, config), config, start_epoch,
                       table)
    full_batch = config.batch_size is None or config.batch_size >= len(data.train_labels)
    model.train()
    for epoch in range(start_epoch, n + 1):
        state.epoch = epoch
        updating = epoch < n
        if full_batch and updating:
            logits = readout(model, data.train_tokens)
            loss, train_acc = loss_and_accuracy(logits, data.train_labels)
            train_loss = loss.detach()
        else:
            train_loss, train_acc = _evaluate(model, readout, data.train_tokens, data.train_labels)
        test_loss, test_acc = _evaluate(model, readout, data.test_tokens, data.test_labels)
        table[epoch] = torch.stack([train_loss, test_loss, train_acc, test_acc])
        for callback in callbacks:
            callback(state)
        if not updating:
            break
        if full_batch:
            state.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            state.optimizer.step()
        else:
            _minibatch_epoch(model, state.optimizer, config, data, readout, epoch)
    return state


def _minibatch_epoch(model, optimizer, config: TrainConfig, data: Dataset, readout: Readout,
                     epoch: int) -> None:
    # The order is a pure function of (shuffle_seed, epoch): a resumed run replays it.
    import torch
    generator = torch.Generator().manual_seed(config.shuffle_seed * 1_000_003 + epoch)
    order = torch.randperm(len(data.train_labels), generator=generator).to(
        data.train_tokens.device)
    for batch in order.split(config.batch_size):
        loss, _ = loss_and_accuracy(readout(model, data.train_tokens[batch]),
                                    data.train_labels[batch])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
