"""``python -m benchmarks.gpu`` on a machine without CUDA: one line saying so and what it
would measure, exit 0 (issue 19: the GPU check is ready before a GPU is)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the check runs")
def test_the_gpu_check_says_no_gpu_was_found_and_exits_0():
    if not (ROOT / "benchmarks").is_dir():
        pytest.skip("benchmarks/ is not in this checkout")
    run = subprocess.run([sys.executable, "-m", "benchmarks.gpu"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.strip().splitlines()
    assert len(lines) == 1 and "no CUDA GPU was found" in lines[0]
    for measured in ("training ms per epoch at p = 113", "analysis seconds per checkpoint",
                     "LLC seconds per checkpoint", "SIGKILLed CUDA training resumes bitwise"):
        assert measured in lines[0]
