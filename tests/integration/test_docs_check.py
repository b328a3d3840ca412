"""The docs' deterministic figures agree with fresh quick runs (issue 21, part 1).

``python -m benchmarks.docs --check`` trains the quick presets of Modulo Addition,
Induction Heads and Toy Operations through ``tdw train`` (bitwise deterministic on this
CPU build), analyses only what their figures read (no LLC sampler), and compares every
deterministic figure in the README, docs/getting_started.md and the family READMEs with
them: accuracies, epochs, key frequencies, artifact counts, the transitions, the story,
the induction heads' scores and the operations' learning order. About 7 minutes on two
cores (the training is most of it). When it fails, the message names each stale figure; rewrite
the blocks with ``python -m benchmarks.docs``. The machinery itself is tested fast in
``tests/unit/test_docs_figures.py``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow  # trains three quick presets (about 7 minutes)


def test_the_docs_figures_agree_with_a_fresh_quick_run():
    if not (ROOT / "benchmarks").is_dir():
        pytest.skip("benchmarks/ is not in this checkout")
    run = subprocess.run([sys.executable, "-m", "benchmarks.docs", "--check"], cwd=ROOT,
                         capture_output=True, text=True, timeout=1500)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    assert "agree with the run" in run.stdout
    assert "not checked without --full" in run.stdout  # the LLC and the other seeds
