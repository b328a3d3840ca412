"""One tiny, fully analysed variant per registered family, for the tests that must cover
every family (every view renders, the explorer shows every view).

``BUILDERS[family_name](root)`` trains (or imports) a variant of that family into the store
at ``root`` in seconds, analyses it fully, and returns its variant id. A family registered
without a builder fails ``test_every_registered_family_has_a_builder``: adding a family means
adding one entry here, and nothing else outside ``families/<name>/`` and its own tests.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

Builder = Callable[[Path], str]


def modulo_addition_1l(root: Path) -> str:
    from helpers import train_and_analyse

    return train_and_analyse(root, p=11, n_epochs=60, train_fraction=0.5)


def toy_operations(root: Path) -> str:
    from tdw.analysis.run import AnalysisRun
    from tdw.training.run import TrainingRun

    # One full-batch step over half the inputs: two checkpoints in seconds.
    params = {"n_epochs": 1, "batch_size": 2500, "train_fraction": 0.5}
    result = TrainingRun.prepare(family="toy_operations", params=params, schedule="0-1/1",
                                 store=root, device="cpu").execute()
    AnalysisRun.prepare(variant=result.variant, workers=1, store=root).execute()
    return result.variant


def checkpoint_series(root: Path) -> str:
    from local_series import make_series, write_probe
    from tdw.families.checkpoint_series.importer import ImportRequest, plan_import, run_import

    from tdw.analysis.run import AnalysisRun
    from tdw.store.store import Store

    # A tiny random GPT-NeoX saved as three local revisions, imported, then analysed.
    dirs = make_series(root.parent / "series")
    probe = write_probe(root.parent / "probe.json")
    store = Store(root)
    plan = plan_import(store, ImportRequest(tuple(map(str, dirs)), str(probe)))
    variant = run_import(store, plan).variant
    AnalysisRun.prepare(variant=variant, workers=1, store=store).execute()
    return variant


def induction_heads(root: Path) -> str:
    from tdw.analysis.run import AnalysisRun
    from tdw.training.run import TrainingRun

    # Two tiny layers on sequences of 8 tokens: three checkpoints in seconds.
    params = {"n_heads": 2, "d_head": 4, "d_vocab": 7, "n_ctx": 8, "segment_length": 3,
              "n_train": 64, "batch_size": 32, "n_epochs": 2}
    result = TrainingRun.prepare(family="induction_heads", params=params, schedule="0-2/1",
                                 store=root, device="cpu").execute()
    AnalysisRun.prepare(variant=result.variant, workers=1, store=root).execute()
    return result.variant


BUILDERS: dict[str, Builder] = {
    "modulo_addition_1l": modulo_addition_1l,
    "checkpoint_series": checkpoint_series,
    "toy_operations": toy_operations,
    "induction_heads": induction_heads,
}
