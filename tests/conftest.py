"""Shared fixtures: an isolated store per test, fixed seeds, tiny training parameters.

The folder is the tier: every test is marked with the name of the folder it lives in
(``unit``, ``families``, ``integration``, ``browser``), so ``pytest -m unit`` and
``pytest tests/unit`` select the same tests.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from tdw.store.store import Store

TIERS = ("unit", "families", "integration", "browser")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests = Path(__file__).parent
    for item in items:
        tier = item.path.relative_to(tests).parts[0]
        if tier not in TIERS:
            raise pytest.UsageError(f"{item.nodeid}: a test lives in one of the tier folders "
                                    f"{', '.join(TIERS)} under tests/")
        item.add_marker(tier)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test touches the user's store, and every test starts from the same seeds."""
    monkeypatch.setenv("TDW_HOME", str(tmp_path / "home-store"))
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "store")


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["TDW_HOME"] = str(tmp_path / "cli-store")
    (tmp_path / "cli-store-cwd").mkdir()
    return env


@pytest.fixture(scope="session")
def ui_store(tmp_path_factory) -> tuple[Path, list[str]]:
    """A store with two tiny analysed variants (seeds 999 and 1), shared by the UI tests.

    Tests must not change it; they train anything else into a store of their own.
    """
    from helpers import train_and_analyse

    root = tmp_path_factory.mktemp("ui") / "store"
    ids = [train_and_analyse(root, model_seed=seed) for seed in (999, 1)]
    return root, ids
