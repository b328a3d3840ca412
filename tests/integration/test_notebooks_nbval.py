"""nbval runs the notebooks a researcher opens: the tour (``examples/tour.ipynb``), which
trains and analyses a tiny variant of its own, and the three dashboard notebooks on the
session's store of two analysed variants.

nbval runs in a subprocess (``python -m pytest --nbval-lax``) on copies of the notebooks in
a temporary folder with a configuration of its own, so this suite's options and conftest do
not reach it, and the tour's store lands in that folder. Its kernel is this interpreter.
``--nbval-lax`` runs every code cell and compares the outputs only of the cells marked
``# NBVAL_CHECK_OUTPUT``, whose expected outputs the tour stores (and no other outputs).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tdw.serve import dashboards_dir

TOUR = Path(__file__).parents[2] / "examples" / "tour.ipynb"
DASHBOARDS = ("workbench.ipynb", "explore.ipynb", "compare.ipynb")
CHECK = "# NBVAL_CHECK_OUTPUT"


def _code_cells(path: Path) -> list[nbformat.NotebookNode]:
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def _nbval(folder: Path, notebooks: list[str], tdw_home: Path) -> dict[str, int]:
    """Run nbval on ``notebooks`` (in ``folder``, which is also the kernels' working
    folder); return the counts of its summary line, e.g. ``{"passed": 14}`` (warnings are
    not counted). A failed run raises with nbval's whole output."""
    (folder / "pytest.ini").write_text("[pytest]\n")  # its own rootdir and configuration
    env = {**os.environ, "TDW_HOME": str(tdw_home),
           "PATH": os.pathsep.join([str(Path(sys.executable).parent),
                                    os.environ.get("PATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--nbval-lax",
         "--nbval-current-env", "--nbval-cell-timeout=300", *notebooks],
        cwd=folder, env=env, capture_output=True, text=True, timeout=900)
    output = f"{proc.stdout}\n{proc.stderr}"
    assert proc.returncode == 0, f"nbval exited {proc.returncode}:\n{output}"
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    summary = lines[-1] if lines else ""
    counts = {kind: int(n) for n, kind in re.findall(
        r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected)\b", summary)}
    assert counts, f"no summary line in nbval's output:\n{output}"
    print(summary)
    return counts


@pytest.mark.slow
def test_the_tour_runs_under_nbval_and_again_on_its_own_store(tmp_path):
    shutil.copy(TOUR, tmp_path / TOUR.name)
    cells = len(_code_cells(TOUR))
    # the first run trains and analyses; the second finds both done and only reads
    for _ in range(2):
        assert _nbval(tmp_path, [TOUR.name], tmp_path / "home-store") == {"passed": cells}
    store = tmp_path / "tour-store"
    assert (store / "catalog.sqlite").is_file()
    assert len(list(store.glob("variants/*/*/checkpoints/*.safetensors"))) == 7


@pytest.mark.slow
def test_the_dashboard_notebooks_run_under_nbval_on_tdw_home(ui_store, tmp_path):
    root, _ = ui_store
    cells = 0
    for name in DASHBOARDS:
        source = dashboards_dir() / name
        parameters, *rest = _code_cells(source)
        # their store parameter defaults to empty, which opens $TDW_HOME
        assert parameters.metadata.get("tags") == ["parameters"]
        assert 'store = ""' in parameters.source
        shutil.copy(source, tmp_path / name)
        cells += 1 + len(rest)
    assert _nbval(tmp_path, list(DASHBOARDS), root) == {"passed": cells}


def test_the_tour_is_stored_without_outputs_but_those_nbval_checks():
    nb = nbformat.read(TOUR, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    for cell in (c for c in nb.cells if c.cell_type == "code"):
        if cell.source.startswith(CHECK):
            # nbval compares a cell's outputs only if it has run; plain text only
            assert cell.execution_count is not None and cell.outputs, cell.source
            assert all(o.output_type == "stream" or set(o.get("data", {})) == {"text/plain"}
                       for o in cell.outputs), cell.source
        else:
            assert CHECK not in cell.source, f"put {CHECK} on the cell's first line"
            assert cell.execution_count is None and cell.outputs == [], cell.source
