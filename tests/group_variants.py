"""Variants for the group comparison's tests, stored as if trained and analysed, with no
training (importable: pytest puts tests/ on sys.path).

Each is a Modulo Addition variant (p = 7, 10 epochs, checkpoints at 0, 5 and 10) whose
test loss falls two decades at a chosen epoch, with that epoch stored as its detected
transition and a ``neuron_activations`` artifact at each checkpoint, so the curves, the
transition alignment and the per-checkpoint small multiples all have data."""

from __future__ import annotations

EPOCHS = (0, 5, 10)


def loss_curve(turn: int, scale: float):
    """The test loss: ``scale`` until ``turn``, ``scale / 100`` after (11 epochs)."""
    import numpy as np

    return np.where(np.arange(11) < turn, scale, scale / 100).astype(np.float32)


def group_variant(store, data_seed: int, model_seed: int, turn: int | None, *,
                  analysed: bool = True) -> str:
    """Store the variant (``data_seed``, ``model_seed``) whose transition is ``turn`` (None:
    its loss falls at epoch 6 but no transition is stored; ``analysed`` False: no
    per-checkpoint artifact either); its id."""
    import numpy as np
    import torch

    from tdw.family.artifacts import Artifact
    from tdw.family.family import analyzers_of
    from tdw.family.registry import get_family

    family = get_family("modulo_addition_1l")
    values = family.resolve({"p": 7, "data_seed": data_seed, "model_seed": model_seed,
                             "n_epochs": 10})
    vid = store.ensure_variant(family, values, "0-10/5", 10).id
    store.ensure_probe(vid, {"tokens": torch.zeros(3, 3, dtype=torch.long)})
    for epoch in EPOCHS:
        store.write_checkpoint(vid, epoch, {"embed.W_E": torch.full((2, 2), epoch)})
    test_loss = loss_curve(6 if turn is None else turn, 1.0 + model_seed)
    train_loss = np.full(11, 0.01, dtype=np.float32)
    store.write_metrics(vid, {"train_loss": train_loss, "test_loss": test_loss,
                              "train_acc": np.ones(11, dtype=np.float32),
                              "test_acc": (test_loss < 0.1).astype(np.float32)})
    analyzers = analyzers_of(family)
    for epoch in EPOCHS if analysed else ():
        maps = np.full((2, 7, 7), epoch + model_seed, dtype=np.float16)
        store.write_artifact(vid, Artifact(analyzers["neuron_activations"].schema, epoch, {
            "maps": maps, "neurons": np.arange(2, dtype=np.int32)}, {"n_neurons_total": 512}))
    smoothed = np.log10(test_loss)
    if turn is not None:
        store.write_artifact(vid, Artifact(analyzers["grokking_transition"].schema, None, {
            "smoothed": smoothed, "derivative": np.gradient(smoothed).astype(np.float32)},
            {"transition_epoch": turn, "steepest_epoch": turn, "confidence": 0.5, "sigma": 1.0}))
    store.update_variant(vid, state="trained", epochs_done=10, final_train_acc=1.0,
                         final_test_acc=1.0)
    return vid
