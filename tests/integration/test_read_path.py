"""The dashboards' read path stays light: a kernel that imports tdw.ui and builds the
workbench on a stored variant never loads torch (hundreds of MB per kernel), scipy (the
families' analyzers use it; about 55 MB) or pandas and pyarrow (about 60 MB)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

_BUILD = """
import json, os, sys
import psutil
HEAVY = ("torch", "scipy", "pandas", "pyarrow")
def heavy():
    return [name for name in HEAVY if name in sys.modules]
from tdw.ui import Explorer, Workbench
after_import = heavy()
{build}
print(json.dumps({{"after_import": after_import, "after_build": heavy(),
                  "rss_mb": psutil.Process(os.getpid()).memory_info().rss / 2**20}}))
"""


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> tuple[Path, str]:
    from tdw.analysis.run import AnalysisRun
    from tdw.training.run import TrainingRun

    root = tmp_path_factory.mktemp("read") / "store"
    variant = TrainingRun.prepare(
        family="modulo_addition_1l", params={"p": 7, "n_epochs": 10, "train_fraction": 0.5},
        schedule="0-10/5", store=root, device="cpu").execute().variant
    AnalysisRun.prepare(variant=variant, workers=1, store=root, analyzers=(
        "dominant_frequencies", "neuron_activations", "attention_patterns",
        "parameter_snapshot", "parameter_trajectory", "grokking_transition")).execute()
    return root, variant


@pytest.mark.parametrize("build", [
    "Workbench({root!r}, tab='Explore')",
    "Explorer({variant!r}, {root!r}).goto(0)",
    "Workbench({root!r}, tab='Compare'); Workbench({root!r}, tab='Train')",
])
def test_the_dashboards_never_load_torch_scipy_or_pandas(stored, tmp_path, build):
    root, variant = stored
    code = _BUILD.format(build=build.format(root=str(root), variant=variant))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["after_import"] == [], f"import tdw.ui loads {result['after_import']}"
    assert result["after_build"] == [], f"{build} loads {result['after_build']}"
