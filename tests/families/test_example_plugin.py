"""The example plugin (``examples/tdw-example-family``): a family in a package of its own,
registered through its ``tdw.families`` entry point, works like a built-in one.

pip builds and installs the package from a copy (the build leaves ``build/`` and
``*.egg-info`` beside its sources, which must not land in the repository) into a folder of
its own, and only the subprocesses these tests start see it, on ``PYTHONPATH``: installing
it into the shared environment would add a fifth family to every other test process running
meanwhile (and remove it under them afterwards), while a folder on ``PYTHONPATH`` is found
by ``importlib.metadata`` exactly like ``site-packages``, entry points included, and goes
away with ``tmp_path``. In those subprocesses ``tdw families`` lists the plugin, ``tdw train
sequence_reversal --preset tiny`` and ``tdw analyze`` run it as jobs, and
``tests/families/test_every_family.py`` runs its every-family checks on it
(``-k sequence_reversal``).
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tdw-example-family"
PACKAGE = "tdw_example_family"
FAMILY = "sequence_reversal"
EVERY_FAMILY = Path(__file__).with_name("test_every_family.py")


def _run(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 300
         ) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def plugin(tmp_path_factory) -> tuple[dict[str, str], Path]:
    """``(env, cwd)`` for subprocesses that have the example installed, with a store of
    their own (``TDW_HOME``)."""
    root = tmp_path_factory.mktemp("plugin")
    source, site = root / "source", root / "site"
    shutil.copytree(EXAMPLE, source,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    installed = _run([sys.executable, "-m", "pip", "install", "--no-deps",
                      "--no-build-isolation", "--no-input", "--disable-pip-version-check",
                      "--target", str(site), str(source)], dict(os.environ), root)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert (site / PACKAGE / "__init__.py").is_file()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH")) if p)
    env["TDW_HOME"] = str(root / "store")
    work = root / "cwd"  # not the repository: nothing there is imported by accident
    work.mkdir()
    return env, work


def _tdw(plugin, *args: str) -> subprocess.CompletedProcess:
    env, cwd = plugin
    return _run([sys.executable, "-m", "tdw.cli", *args], env, cwd)


@pytest.mark.slow
def test_tdw_lists_the_plugin_beside_the_built_in_families(plugin):
    listed = _tdw(plugin, "families")
    assert listed.returncode == 0, listed.stderr
    assert f"{FAMILY}  (Sequence Reversal (example plugin))" in listed.stdout
    assert "preset tiny: n_train=128, n_epochs=3" in listed.stdout
    for builtin in ("modulo_addition_1l", "induction_heads", "toy_operations",
                    "checkpoint_series"):
        assert f"\n{builtin}  (" in f"\n{listed.stdout}"


@pytest.mark.slow
def test_the_plugin_trains_and_analyses_from_the_command_line(plugin):
    trained = _tdw(plugin, "train", FAMILY, "--preset", "tiny", "--device", "cpu")
    assert trained.returncode == 0, trained.stdout + trained.stderr
    analysed = _tdw(plugin, "analyze", f"{FAMILY}/", "--workers", "1")
    assert analysed.returncode == 0, analysed.stdout + analysed.stderr
    env, cwd = plugin
    check = ("from tdw import Store, Variant\n"
             f"[record] = Store().variants({FAMILY!r})\n"
             "variant = Variant(record.id)\n"
             "assert variant.epochs == (0, 1, 2, 3), variant.epochs\n"
             "assert not variant.waiting(), variant.waiting()\n"
             "print(variant.artifact('mirror_attention', 3).attrs['max_mirror'])\n")
    read = _run([sys.executable, "-c", check], env, cwd)
    assert read.returncode == 0, read.stderr
    assert 0.0 <= float(read.stdout) <= 1.0


@pytest.mark.slow
def test_the_plugin_passes_the_every_family_checks(plugin):
    env, _ = plugin
    # Run from the repository, so that pytest reads its configuration (tests/ on the path).
    result = _run([sys.executable, "-m", "pytest", str(EVERY_FAMILY), "-k", FAMILY, "-q",
                   "-p", "no:cacheprovider"], env, EVERY_FAMILY.parents[1], timeout=900)
    # Exit status 0: tests were collected (5 would mean none) and none failed.
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "skipped" not in result.stdout, result.stdout[-2000:]


def _tdw_imports(path: Path) -> list[tuple[str, tuple[str, ...]]]:
    """``(module, names)`` of every import of a ``tdw`` module in the file at ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and \
                node.module.split(".")[0] == "tdw":
            found.append((node.module, tuple(a.name for a in node.names)))
        elif isinstance(node, ast.Import):
            found.extend((a.name, ()) for a in node.names if a.name.split(".")[0] == "tdw")
    return found


def test_the_example_uses_only_the_public_sdk():
    """What a plugin may rely on: the names ``tdw`` exports, ``tdw.family.*`` and
    ``tdw.library.*``; never the layers that run or serve families."""
    import tdw

    files = sorted((EXAMPLE / PACKAGE).glob("*.py"))
    assert files
    for path in files:
        for module, names in _tdw_imports(path):
            if module == "tdw":
                assert set(names) <= set(tdw.__all__), f"{path.name}: from tdw import {names}"
            else:
                assert module.startswith(("tdw.family.", "tdw.library.")), \
                    f"{path.name} imports {module}, which is not the public SDK"
