"""The benchmark suite's smoke mode: tiny sizes, one run each. It times nothing worth
reporting; it proves that every benchmark runs and that tdw and each reference
implementation agree (each benchmark raises when they do not)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow  # trains, analyses and serves tiny variants (about 2 minutes)


def test_every_benchmark_agrees_with_its_reference_in_smoke_mode(tmp_path):
    if not (ROOT / "benchmarks").is_dir():
        pytest.skip("benchmarks/ is not in this checkout")
    out = tmp_path / "bench.md"
    run = subprocess.run([sys.executable, "-m", "benchmarks", "--smoke", "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=1500)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    for name in ("training", "analysis", "catalog", "dashboard"):
        assert f"== {name}" in run.stdout
    assert "tdw >= 2x faster" in run.stdout and "< 50 ms" in run.stdout
    assert not out.exists(), "smoke mode must not write a report"
