"""The workbench from JupyterLab's launcher, through ``jupyter-server-proxy``.

tdw registers a server process under the ``jupyter_serverproxy_servers`` entry point, so a
JupyterLab whose environment has tdw shows a **tdw workbench** tile in its launcher. The
first click starts ``tdw serve`` on a free port, on the store the Lab's environment names
(``$TDW_HOME``, else the default; see :func:`tdw.store.store.default_root`), and opens the
workbench in a Lab tab at ``<lab>/tdw/voila/render/workbench.ipynb``. The server lives as
long as the Lab; JupyterLab's own authentication guards the proxy, so the server needs no
token of its own and binds to loopback only.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

__all__ = ["NAME", "server_proxy"]

NAME = "tdw"
"""The proxy's name: the workbench is at ``<lab base url>tdw/``."""

ICON = Path(__file__).with_name("tdw.svg")


def server_proxy() -> dict[str, Any]:
    """The ``jupyter-server-proxy`` server process of the workbench (the entry point)."""
    return {
        # {base_url} is the Lab's; the proxy strips "<base_url>tdw" before it forwards.
        "command": [sys.executable, "-m", "tdw.cli", "serve", "--port", "{port}",
                    "--prefix", "{base_url}" + NAME + "/"],
        # Voila starts in a few seconds; the first start after an install builds the
        # offline template too.
        "timeout": 120,
        "new_browser_tab": False,
        "launcher_entry": {"title": "tdw workbench", "icon_path": str(ICON),
                           "path_info": f"{NAME}/voila/render/workbench.ipynb"},
    }
