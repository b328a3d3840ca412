"""The wheel a user installs holds everything the source tree does: every family folder
(discovered, never listed), the templates, the dashboards and the UI's static files, plus
one ``tdw.families`` entry point per family. Installed on its own and run from a foreign
folder, it lists every family."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

_SKIP = shutil.ignore_patterns(".git", ".venv", "test-artifacts", "build", "dist", "*.egg-info",
                               "__pycache__", ".pytest_cache", ".ruff_cache")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the checkout (the build leaves nothing in the tree)."""
    work = tmp_path_factory.mktemp("wheel")
    shutil.copytree(REPO, work / "src", ignore=_SKIP)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                           str(work / "dist"), str(work / "src")],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (built,) = (work / "dist").glob("tdw-*.whl")
    return built


def _families_in_tree() -> list[str]:
    return sorted(p.parent.name for p in (REPO / "families").glob("*/__init__.py"))


def test_the_wheel_holds_every_family_template_dashboard_and_static_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for family in _families_in_tree():
        assert f"tdw/families/{family}/__init__.py" in names, family
        assert f"tdw/families/{family}/README.md" in names, family
    for folder, suffix in (("templates", ".ipynb"), ("dashboards", ".ipynb")):
        for path in (REPO / folder).glob(f"*{suffix}"):
            assert f"tdw/{folder}/{path.name}" in names, path
    shipped = (".py", ".js", ".j2", ".json", ".html")
    for path in (REPO / "src/tdw").rglob("*"):
        if path.suffix in shipped and "__pycache__" not in path.parts:
            assert str(path.relative_to(REPO / "src")) in names, path


def test_the_wheel_registers_every_family_and_the_command(wheel):
    (entry_points,) = [n for n in zipfile.ZipFile(wheel).namelist()
                       if n.endswith(".dist-info/entry_points.txt")]
    parser = configparser.ConfigParser()
    parser.read_string(zipfile.ZipFile(wheel).read(entry_points).decode())
    assert parser["console_scripts"]["tdw"] == "tdw.cli:main"
    assert dict(parser["tdw.families"]) == {
        name: f"tdw.families.{name}:FAMILY" for name in _families_in_tree()}


def test_the_installed_wheel_lists_every_family_from_a_foreign_folder(wheel, tmp_path):
    """Installed on its own (its dependencies come from this environment), run from a
    folder that is not the checkout: the package imported is the wheel's."""
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q",
                           "--target", str(site), str(wheel)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    env = {**os.environ, "PYTHONPATH": str(site), "TDW_HOME": str(tmp_path / "store")}
    where = subprocess.run([sys.executable, "-c", "import tdw; print(tdw.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert where.stdout.strip() == str(site / "tdw" / "__init__.py"), where.stderr
    out = subprocess.run([sys.executable, "-m", "tdw.cli", "families"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    listed = {line.split()[0] for line in out.stdout.splitlines()
              if line and not line.startswith(" ")}
    assert set(_families_in_tree()) <= listed
