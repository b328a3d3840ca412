"""The tree is the architecture: layers point one way, nothing imports in a circle, and an
image export stays light."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

import tdw

REPO = Path(__file__).resolve().parents[2]
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


def test_no_import_cycles(monkeypatch):
    """Runtime imports (typing-only imports excluded) form no cycle inside tdw or a family.

    Under an editable install the built-in families live outside the package folder, so
    they are read as the repository's ``families`` package; a wheel holds them as
    ``tdw.families``."""
    graph = grimp.build_graph("tdw", exclude_type_checking_imports=True)
    roots = ["tdw"]
    if not any(m.startswith("tdw.families.") for m in graph.modules):
        monkeypatch.syspath_prepend(str(REPO))
        graph = grimp.build_graph("tdw", "families", exclude_type_checking_imports=True)
        roots.append("families")
    modules = {m for root in roots for m in _modules(graph, root)}
    assert any(".modulo_addition_1l." in m for m in modules)  # the families were read
    edges = {m: sorted(x for x in graph.find_modules_directly_imported_by(m) if x in modules)
             for m in sorted(modules)}
    assert _cycles(edges) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]


@pytest.mark.parametrize("statement", [
    "import tdw",
    "import tdw.ui",
    "import tdw; tdw.families(); tdw.Variant",
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


# SQL statements, spelled in capitals as the code base writes them (prose says "select").
# A statement may be split over several string literals and lines: SELECT and its FROM
# may be a few hundred characters apart.
_SQL = re.compile(r"\bSELECT\b[\s\S]{0,400}?\bFROM\b|\bINSERT\s+(?:OR\s+[A-Z]+\s+)?INTO\b"
                  r"|\bUPDATE\s+[\w{}.]+\s+SET\b|\bDELETE\s+FROM\b"
                  r"|\bCREATE\s+(?:UNIQUE\s+)?(?:TABLE|INDEX)\b|\bPRAGMA\s+\w+")


def _sql_speakers(files: list[Path]) -> dict[str, str]:
    """File -> the first SQL statement in it, for every file that has one."""
    found = {}
    for path in files:
        if match := _SQL.search(path.read_text(encoding="utf-8")):
            found[str(path)] = " ".join(match.group(0).split())[:80]
    return found


def test_only_the_store_speaks_sql():
    """Every SQL statement lives in tdw.store (issue 15): anywhere else, a query is a call
    to a store function or method, so the catalog's schema and transactions have one home."""
    store = PACKAGE / "store"
    files = [p for root in (PACKAGE, REPO / "families") for p in sorted(root.rglob("*.py"))
             if store not in p.parents]
    assert len(files) > 50  # the scan sees the tree, not an empty folder
    outside = _sql_speakers(files)
    assert outside == {}, ("SQL outside src/tdw/store (move it into a store function):\n"
                           + "\n".join(f"{path}: {sql}" for path, sql in outside.items()))


def test_the_sql_finder_finds_sql(tmp_path):
    samples = {
        "split.py": 'rows = db.query("SELECT id, kind "\n    "FROM jobs WHERE id = ?")',
        "insert.py": 'db.execute(f"INSERT OR REPLACE INTO {table} VALUES (?)")',
        "update.py": 'db.execute(f"UPDATE {table} SET state = ?")',
        "delete.py": 'db.execute("DELETE FROM checkpoints")',
        "prose.py": '"""Select a variant from the list; SELECTIVE neurons; update it."""',
    }
    for name, text in samples.items():
        (tmp_path / name).write_text(text)
    found = _sql_speakers(sorted(tmp_path.glob("*.py")))
    assert sorted(Path(p).name for p in found) == ["delete.py", "insert.py", "split.py",
                                                   "update.py"]
    split = found[str(tmp_path / "split.py")]
    assert split.startswith("SELECT id, kind") and split.endswith("FROM")


MAX_LINES = 400
"""A module longer than this holds more than one concern: split it by what it computes."""


def _long_modules(roots: list[Path], limit: int = MAX_LINES) -> dict[str, int]:
    """Module -> its line count, for every ``.py`` file under ``roots`` over ``limit`` lines
    (a file under two roots, as an installed family is, counts once)."""
    files = {p.resolve() for root in roots for p in root.rglob("*.py")
             if "__pycache__" not in p.parts}
    counts = {p: len(p.read_text(encoding="utf-8").splitlines()) for p in sorted(files)}
    return {str(p): n for p, n in counts.items() if n > limit}


def test_modules_stay_small():
    """No module of the installed package, the built-in families or the example family
    exceeds 400 lines (docs/architecture.md)."""
    roots = [PACKAGE, REPO / "families", REPO / "examples"]
    assert all(root.is_dir() for root in roots)
    long = _long_modules(roots)
    assert long == {}, (f"modules over {MAX_LINES} lines (split them by concern):\n"
                        + "\n".join(f"{path}: {n} lines" for path, n in long.items()))


def test_the_length_check_finds_a_long_module(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "long.py").write_text("x = 1\n" * (MAX_LINES + 1))
    (tmp_path / "pkg" / "limit.py").write_text("x = 1\n" * MAX_LINES)
    (tmp_path / "notes.txt").write_text("x\n" * (MAX_LINES + 1))
    found = _long_modules([tmp_path, tmp_path / "pkg"])
    assert found == {str((tmp_path / "pkg" / "long.py").resolve()): MAX_LINES + 1}
