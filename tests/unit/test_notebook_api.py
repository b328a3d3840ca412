"""The notebook API displays every view inside a real Jupyter kernel (executed with
nbclient, as JupyterLab would run the cells), each as a Panel widget (jupyter_bokeh, the
path Voila uses too), with no errors."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from tdw.analysis.run import AnalysisRun
from tdw.family.registry import get_family
from tdw.training.run import TrainingRun

pytestmark = pytest.mark.slow


def test_every_view_displays_in_a_kernel(tmp_path):
    root = tmp_path / "store"
    result = TrainingRun.prepare(family="modulo_addition_1l", params={"p": 7, "n_epochs": 20},
                                 schedule="0-20/10", store=root, device="cpu").execute()
    AnalysisRun.prepare(variant=result.variant, workers=1, store=root).execute()
    views = get_family("modulo_addition_1l").views
    cells = [new_code_cell(f"import tdw\nv = tdw.Variant({result.variant!r}, {str(root)!r})")]
    cells += [new_code_cell(f"v.at(10).view({view.name!r})") for view in views]
    cells += [new_code_cell("v.view('loss_curves')")]
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    for cell in notebook.cells[1:]:
        kinds = {o.output_type for o in cell.outputs}
        assert "error" not in kinds, cell.source
        mimes = {m for o in cell.outputs if o.output_type in ("execute_result", "display_data")
                 for m in o.get("data", {})}
        # Panel displays through ipywidgets in a kernel (jupyter_bokeh), as in Voila
        assert "application/vnd.jupyter.widget-view+json" in mimes, (cell.source, mimes)
    nbformat.write(notebook, tmp_path / "views.ipynb")
