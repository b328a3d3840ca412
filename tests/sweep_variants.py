"""A recorded sweep over stored-as-trained variants, for the sweep map's tests (importable:
pytest puts tests/ on sys.path). Nothing is trained and no coordinator runs: the variants
come from :func:`table_variants.table_variant`, the sweep row from
:func:`tdw.sweeps.sweep.create`, and each member is marked done."""

from __future__ import annotations

import os

from table_variants import table_variant


def plant_keys(store, vid: str, keys: list[int]) -> None:
    """Store ``keys`` as the variant's key frequencies at its last checkpoint (epoch 10)."""
    import numpy as np
    from tdw.families.modulo_addition_1l.embedding import ANALYZERS as EMBEDDING

    from tdw.family.artifacts import Artifact

    sha = store.checkpoint(vid, 10).sha256
    store.write_artifact(vid, Artifact(EMBEDDING[0].schema, 10, {"norms": np.ones(
        5, np.float32)}, {"key_frequencies": keys, "key_share": 0.9}, "probe", sha))


def recorded_sweep(store, grid: list[str], *, keys: dict[tuple, list[int]] | None = None):
    """Sweep ``grid`` (``--grid`` items over p and model_seed, e.g. ``["p=7,11",
    "model_seed=1,2,3"]``) of 10-epoch Modulo Addition variants, all stored as trained
    (``final_test_acc`` = 0.5 + model_seed / 100); ``keys``: key frequencies to plant, by
    ``(p, model_seed)``. Returns the sweep's record."""
    from tdw.store import sweeps as sweep_table
    from tdw.sweeps import sweep as sweep_mod

    spec = sweep_mod.SweepSpec.from_cli("modulo_addition_1l", grid, ["n_epochs=10"])
    points = sweep_mod.plan(spec)
    for point in points:
        p, seed = point.params.get("p", 113), point.params.get("model_seed", 999)
        vid = table_variant(store, p, seed)
        assert vid == point.variant, (vid, point.variant)
        if keys and (p, seed) in keys:
            plant_keys(store, vid, keys[p, seed])
    record = sweep_mod.create(store, spec, points, "local")
    for point in points:
        sweep_table.set_member(store.catalog, record.id, point.position, state="done")
    sweep_table.start_run(store.catalog, record.id, os.getpid(), "local")
    sweep_table.settle(store.catalog, record.id, "succeeded")
    return sweep_mod.sweep(store, record.id)
