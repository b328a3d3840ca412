"""Variants for the Variants table's tests, stored as if trained with nothing trained
(importable: pytest puts tests/ on sys.path): a probe, checkpoints, metrics and results,
no artifacts. Cheap enough to make a store of several in a second."""

from __future__ import annotations


def table_variant(store, p: int, model_seed: int, *, state: str = "trained",
                  epochs_done: int = 10) -> str:
    """A Modulo Addition variant (``p``, ``model_seed``, 10 epochs) in ``state``, with
    checkpoints at 0 and 10 if ``epochs_done`` reaches them (0: none, 10: both) and
    metrics; its id."""
    import numpy as np
    import torch

    from tdw.family.registry import get_family

    family = get_family("modulo_addition_1l")
    values = family.resolve({"p": p, "model_seed": model_seed, "n_epochs": 10})
    vid = store.ensure_variant(family, values, "0-10/10", 10).id
    if epochs_done:
        store.ensure_probe(vid, {"tokens": torch.zeros(3, 3, dtype=torch.long)})
        for epoch in (0, 10):
            if epoch <= epochs_done:
                store.write_checkpoint(vid, epoch, {"embed.W_E": torch.full((2, 2), epoch)})
        curve = np.linspace(1.0, 0.1, 11).astype(np.float32) * (1 + model_seed / 10)
        curve[epochs_done + 1:] = np.nan
        store.write_metrics(vid, {"train_loss": curve, "test_loss": 2 * curve,
                                  "train_acc": 1 - curve / 2, "test_acc": 1 - curve})
    results = ({"final_train_acc": 0.9, "final_test_acc": 0.5 + model_seed / 100}
               if state == "trained" else {})
    store.update_variant(vid, state=state, epochs_done=epochs_done, **results)
    return vid
