"""What pyproject.toml cannot say declaratively: discover the packages and the built-in
families.

tdw's own packages are under ``src/``; every folder of ``families/`` with an
``__init__.py`` becomes ``tdw.families.<name>`` and gets an entry point in the
``tdw.families`` group (``<name> = tdw.families.<name>:FAMILY``), the same group plugins
use. Adding a family is adding its folder: nothing here or in pyproject.toml changes.
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
family_packages = find_packages(str(HERE / "families"))
families = sorted(name for name in family_packages if "." not in name)

setup(
    packages=[*find_packages(str(HERE / "src")), "tdw.families",
              *(f"tdw.families.{name}" for name in family_packages),
              "tdw.templates", "tdw.dashboards"],
    entry_points={
        "console_scripts": ["tdw = tdw.cli:main"],
        "tdw.families": [f"{name} = tdw.families.{name}:FAMILY" for name in families],
        # JupyterLab's launcher opens the workbench through jupyter-server-proxy
        "jupyter_serverproxy_servers": ["tdw = tdw.serve.lab:server_proxy"],
    },
)
