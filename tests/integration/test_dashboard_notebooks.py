"""The dashboard notebooks run headless under papermill, as Voila runs them.

Each must execute without an error, show no stream output (warnings, prints), and display
exactly one widget: the app. Outputs are sanitised before comparing (widget model ids and
execution counts vary from run to run).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest

from tdw.serve import dashboards_dir

pytestmark = pytest.mark.slow

WIDGET = "application/vnd.jupyter.widget-view+json"


def sanitised(nb: nbformat.NotebookNode) -> list[list[tuple[str, ...]]]:
    """Per code cell, each output reduced to its type and MIME types (no ids, no counts,
    no payloads: Panel inlines megabytes of JS that differ by version)."""
    return [[(o["output_type"], *sorted(o.get("data", {}))) for o in cell.get("outputs", [])]
            for cell in nb.cells if cell.cell_type == "code"]


@pytest.mark.parametrize("name, parameters", [
    ("workbench.ipynb", {"tab": "Variants"}),
    ("explore.ipynb", {}),
    ("compare.ipynb", {"align": "epoch"}),
])
def test_a_dashboard_notebook_runs_and_displays_its_app(ui_store, tmp_path, monkeypatch, name,
                                                        parameters):
    import papermill

    root, _ = ui_store
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent),
                                                os.environ.get("PATH", "")]))
    out = tmp_path / name
    papermill.execute_notebook(str(dashboards_dir() / name), str(out),
                               parameters={"store": str(root), **parameters},
                               kernel_name="python3", cwd=str(tmp_path), progress_bar=False)
    cells = sanitised(nbformat.read(out, as_version=4))
    # the parameters cell and papermill's injected one print nothing
    assert cells[:-1] == [[]] * (len(cells) - 1)
    *loading, app = cells[-1]
    # Panel's resource loading (inline JS and HTML), then the app itself as one widget
    assert all(kind == "display_data" and not {"text/plain"} & set(mimes)
               for kind, *mimes in loading), loading
    assert app[0] == "execute_result" and WIDGET in app[1:], app
    assert not [o for cell in cells for o in cell if o[0] in ("stream", "error")]


def test_a_dashboard_notebook_states_a_bad_store_clearly(tmp_path, monkeypatch):
    import papermill
    from papermill.exceptions import PapermillExecutionError

    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent),
                                                os.environ.get("PATH", "")]))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(PapermillExecutionError, match="is a file, not a folder"):
        papermill.execute_notebook(str(dashboards_dir() / "explore.ipynb"),
                                   str(tmp_path / "out.ipynb"),
                                   parameters={"store": str(blocker)}, kernel_name="python3",
                                   progress_bar=False)
