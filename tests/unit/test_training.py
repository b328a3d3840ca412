"""The training loop and resume, in process (no papermill): fast and exact."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from tdw.errors import TdwError
from tdw.family.model import boot_model, load_weights, loss_and_accuracy
from tdw.family.registry import get_family
from tdw.store.store import Store
from tdw.training.loop import train
from tdw.training.run import AlreadyTrained, TrainingRun

FAMILY = "modulo_addition_1l"
TINY = {"p": 7, "n_epochs": 30}


def _run(store: Store, **kwargs) -> TrainingRun:
    return TrainingRun.prepare(family=FAMILY, params=TINY, schedule="0-30/5", store=store,
                               device="cpu", **kwargs)


def test_every_checkpoint_reproduces_its_recorded_metrics(store: Store):
    result = _run(store).execute()
    fam = get_family(FAMILY)
    values = fam.resolve(TINY)
    data = fam.dataset(values)
    metrics = store.load_metrics(result.variant)
    epochs = [c.epoch for c in store.checkpoints(result.variant)]
    assert epochs == [0, 5, 10, 15, 20, 25, 30]
    model = boot_model(fam.model_config(values))
    for epoch in epochs:
        load_weights(model, store.load_checkpoint(result.variant, epoch))
        with torch.inference_mode():
            # the bridge's own full forward, not the family's fast readout used in training
            logits = model(data.test_tokens)[:, -1, :]
            loss, acc = loss_and_accuracy(logits, data.test_labels)
        assert acc.item() == pytest.approx(metrics["test_acc"][epoch], abs=1e-6)
        assert loss.item() == pytest.approx(metrics["test_loss"][epoch], rel=1e-5)
    assert metrics["train_acc"][-1] > metrics["train_acc"][0]  # it learned something
    assert store.variant(result.variant).state == "trained"
    assert not store.resume_path(result.variant).exists()


class _Crash(Exception):
    pass


def _crash_at(epoch: int):
    def callback(state):
        if state.epoch == epoch:
            raise _Crash()
    return callback


def test_resume_after_a_crash_is_bitwise_identical(tmp_path):
    straight = Store(tmp_path / "a")
    vid = _run(straight).execute().variant

    crashed = Store(tmp_path / "b")
    with pytest.raises(_Crash):
        _run(crashed).execute(callbacks=[_crash_at(17)])
    assert crashed.variant(vid).state == "interrupted"
    assert crashed.variant(vid).epochs_done == 15
    result = _run(crashed).execute()
    assert result.start_epoch == 15
    for epoch in (20, 25, 30):
        a = straight.load_checkpoint(vid, epoch)
        b = crashed.load_checkpoint(vid, epoch)
        assert all(torch.equal(a[k], b[k]) for k in a), f"epoch {epoch} differs"
        assert straight.checkpoint(vid, epoch).sha256 == crashed.checkpoint(vid, epoch).sha256
    for name, values in straight.load_metrics(vid).items():
        resumed = crashed.load_metrics(vid)[name]
        assert torch.equal(torch.from_numpy(values), torch.from_numpy(resumed))


def test_finished_variant_is_not_retrained_without_force(store: Store):
    vid = _run(store).execute().variant
    with pytest.raises(AlreadyTrained, match="--force"):
        _run(store)
    sha = store.checkpoint(vid, 30).sha256
    again = _run(store, force=True).execute()
    assert again.start_epoch == 0 and store.checkpoint(vid, 30).sha256 == sha


def test_interrupted_run_refuses_a_different_schedule(store: Store):
    with pytest.raises(_Crash):
        _run(store).execute(callbacks=[_crash_at(12)])
    with pytest.raises(TdwError, match="keeps it"):
        TrainingRun.prepare(family=FAMILY, params=TINY, schedule="0-30/10", store=store)


def test_minibatch_epochs_replay_identically():
    fam = get_family(FAMILY)
    values = fam.resolve({"p": 7, "n_epochs": 3})
    data = fam.dataset(values)
    config = replace(fam.train_config(values), batch_size=4, shuffle_seed=3)

    def weights_after() -> dict:
        model = boot_model(fam.model_config(values))
        train(model, config, data, readout=fam.readout)
        return {k: v.clone() for k, v in model.state_dict().items()}

    a, b = weights_after(), weights_after()
    assert all(torch.equal(a[k], b[k]) for k in a)
