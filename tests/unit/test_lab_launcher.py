"""JupyterLab's launcher entry: tdw serve behind jupyter-server-proxy, under a prefix."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest

from tdw.errors import TdwError
from tdw.serve import ServeConfig
from tdw.serve.lab import server_proxy
from tdw.serve.server import voila_command, voila_env


def test_the_launcher_entry_is_registered_and_starts_tdw_serve_under_the_proxys_prefix():
    (entry,) = [e for e in entry_points(group="jupyter_serverproxy_servers") if e.name == "tdw"]
    config = entry.load()()
    assert config == server_proxy()
    command = config["command"]
    assert command[1:4] == ["-m", "tdw.cli", "serve"]
    assert command[command.index("--port") + 1] == "{port}"
    assert command[command.index("--prefix") + 1] == "{base_url}tdw/"
    assert config["new_browser_tab"] is False  # a Lab tab, not a browser tab
    launcher = config["launcher_entry"]
    assert launcher["path_info"] == "tdw/voila/render/workbench.ipynb"
    assert Path(launcher["icon_path"]).read_text().startswith("<svg")


def test_jupyter_server_proxy_accepts_the_entry():
    from jupyter_server_proxy.config import ServerProcess

    process = ServerProcess(name="tdw", **server_proxy())
    assert process.launcher_entry.title == "tdw workbench"
    assert process.launcher_entry.path_info == "tdw/voila/render/workbench.ipynb"


def test_behind_a_prefix_voila_answers_at_its_root_and_the_kernels_inline_panels_css(tmp_path):
    config = ServeConfig(store=tmp_path, port=9999, prefix="/user/ada/tdw/")
    command = voila_command(config)
    assert "--Voila.base_url=/user/ada/tdw/" in command
    assert "--Voila.server_url=/" in command
    # Voila must not clear the Lab's login cookie, which the proxy hands it
    assert "--IdentityProvider.cookie_name=tdw-serve-9999" in command
    env = voila_env(config, tmp_path)
    assert "PANEL_CDN_ROOT" not in env  # tdw.explore.jupyter inlines the stylesheets
    assert config.base_url == "/user/ada/tdw/"
    assert config.local_base_url == "http://127.0.0.1:9999/"
    plain = ServeConfig(store=tmp_path, port=9999)
    assert not any(flag.startswith("--Voila.base_url") for flag in voila_command(plain))
    assert voila_env(plain, tmp_path)["PANEL_CDN_ROOT"] == \
        "http://127.0.0.1:9999/voila/static/panel-cdn/"


@pytest.mark.parametrize("prefix", ["tdw/", "/tdw", "http://host/tdw/"])
def test_a_prefix_that_is_not_a_path_is_refused_clearly(tmp_path, prefix):
    with pytest.raises(TdwError, match="must be a path that starts and ends with '/'"):
        ServeConfig(store=tmp_path, prefix=prefix)
