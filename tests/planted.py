"""Planted Modulo Addition variants for the Init gradients page's tests: stored as if
trained, with nothing trained (importable: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import numpy as np


def plant_variant(store, model_seed: int, keys: list[int] | None) -> str:
    """A p = 11 variant 'trained' to epoch 3, its untrained weights as that checkpoint;
    ``keys``: its dominant_frequencies key frequencies there (None: not analysed). Its id."""
    from tdw.families.modulo_addition_1l.embedding import ANALYZERS as EMBEDDING

    from tdw.family.artifacts import Artifact
    from tdw.family.model import boot_model, weights_of
    from tdw.family.registry import get_family

    family = get_family("modulo_addition_1l")
    values = family.resolve({"p": 11, "model_seed": model_seed, "n_epochs": 3})
    vid = store.ensure_variant(family, values, "0-3/1", 3).id
    weights = weights_of(boot_model(family.model_config(values)))
    sha = store.write_checkpoint(vid, 3, weights).sha256
    if keys is not None:
        store.write_artifact(vid, Artifact(EMBEDDING[0].schema, 3, {"norms": np.ones(
            5, np.float32)}, {"key_frequencies": keys, "key_share": 0.9}, "probe", sha))
    store.update_variant(vid, state="trained", epochs_done=3)
    return vid
