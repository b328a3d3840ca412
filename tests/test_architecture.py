"""The tree is the architecture: layers point one way, nothing imports in a circle, and an
image export stays light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import pytest

import tdw

REPO = Path(__file__).resolve().parents[1]
PACKAGE = Path(tdw.__file__).parent


def _modules(graph, prefix: str) -> list[str]:
    return sorted(m for m in graph.modules if m == prefix or m.startswith(prefix + "."))


def test_import_linter_contracts_hold():
    """The layer contract and the families contract in pyproject.toml (`lint-imports`)."""
    lint = Path(sys.executable).parent / "lint-imports"
    proc = subprocess.run([str(lint), "--config", str(REPO / "pyproject.toml"), "--no-cache"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def _cycles(edges: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(edges[w])))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    component = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.append(w)
                        if w == v:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_no_import_cycles():
    """Runtime imports (typing-only imports excluded) form no cycle inside tdw."""
    graph = grimp.build_graph("tdw", exclude_type_checking_imports=True)
    modules = set(_modules(graph, "tdw"))
    edges = {m: sorted(x for x in graph.find_modules_directly_imported_by(m) if x in modules)
             for m in sorted(modules)}
    assert _cycles(edges) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]


@pytest.mark.parametrize("statement", [
    "import tdw",
    "from tdw.explore.export import export_png",
])
def test_the_read_path_does_not_import_torch(statement):
    """A dashboard kernel and an image export never load torch (hundreds of MB)."""
    code = f"{statement}\nimport sys\nprint('torch' in sys.modules, 'panel' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, cwd=PACKAGE.parent)
    assert out.returncode == 0, out.stderr
    torch_loaded, panel_loaded = out.stdout.split()
    assert torch_loaded == "False", f"{statement!r} imports torch"
    if "export" in statement:
        assert panel_loaded == "False", f"{statement!r} imports Panel"
