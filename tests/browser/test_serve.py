"""tdw serve: what it refuses, the offline template it builds, and the token it enforces."""

from __future__ import annotations

import http.client
import socket
from pathlib import Path

import pytest
from headless import free_port

from tdw.cli.main import main
from tdw.errors import TdwError
from tdw.serve import ServeConfig, dashboards_dir, serve, voila_command, voila_share


def test_binding_beyond_loopback_needs_a_token(tmp_path):
    with pytest.raises(TdwError, match="refusing to serve on 0.0.0.0 without a token"):
        ServeConfig(store=tmp_path, ip="0.0.0.0")
    config = ServeConfig(store=tmp_path, ip="0.0.0.0", token="s3cret", public_host="lab1")
    assert config.url() == "http://lab1:8866/?token=s3cret"
    assert ServeConfig(store=tmp_path, ip="::1").base_url == "http://[::1]:8866/"


@pytest.mark.parametrize("kwargs, message", [
    ({"port": 0}, "out of range"),
    ({"port": 70000}, "out of range"),
    ({"ip": "my-laptop"}, "is not an IP address"),
    ({"directory": Path("/nonexistent/dashboards")}, "does not exist"),
])
def test_bad_options_are_refused_with_the_fix(tmp_path, kwargs, message):
    with pytest.raises(TdwError, match=message):
        ServeConfig(store=tmp_path, **kwargs)


def test_a_folder_without_notebooks_is_refused(tmp_path, capsys):
    assert main(["serve", "--dir", str(tmp_path)]) == 2
    assert "holds no notebooks" in capsys.readouterr().err


def test_the_cli_refuses_a_public_ip_without_a_token_before_starting_anything(tmp_path, capsys):
    assert main(["--store", str(tmp_path / "s"), "serve", "--ip", "0.0.0.0"]) == 2
    assert "--token" in capsys.readouterr().err


def test_a_busy_port_is_named(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(TdwError, match=f"cannot listen on 127.0.0.1:{port}.*--port"):
            serve(ServeConfig(store=tmp_path, port=port))
        # quickstart checks the port before it trains anything
        assert main(["--store", str(tmp_path / "s"), "quickstart", "--port", str(port)]) == 2
    assert not list((tmp_path / "s").glob("variants/*"))


def test_the_offline_template_is_built_once_with_local_fonts_and_panel_styles(tmp_path):
    share = voila_share(tmp_path)
    template = share / "voila" / "templates" / "tdw_offline"
    assert (template / "conf.json").is_file() and (template / "index.html.j2").is_file()
    assert (template / "static" / "fontawesome" / "css" / "all.min.css").is_file()
    styles = list((template / "static" / "panel-cdn").rglob("*.css"))
    assert len(styles) > 20 and not [p for p in styles if p.is_symlink()]
    assert "https://" not in (template / "page.html").read_text()
    assert voila_share(tmp_path) == share  # cached
    assert not [p for p in share.parent.iterdir() if p.name.startswith(".building-")]


def test_the_voila_command_hides_code_and_denies_the_broken_extension(tmp_path):
    argv = voila_command(ServeConfig(store=tmp_path))
    assert str(dashboards_dir()) in argv and "--Voila.ip=127.0.0.1" in argv
    assert "--VoilaConfiguration.strip_sources=True" in argv
    assert "--template=tdw_offline" in argv and "--classic-tree" in argv


def _get(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        conn.close()


@pytest.mark.slow
def test_a_token_keeps_strangers_out(tmp_path):
    config = ServeConfig(store=tmp_path / "store", port=free_port(), token="s3cret")
    with serve(config) as server:
        for path in ("/", "/voila/render/explore.ipynb", "/?token=guess"):
            status, _ = _get(config.port, path)
            assert status == 302, path  # to the login page, never the dashboard
        status, listing = _get(config.port, "/?token=s3cret")
        assert status == 200 and "explore.ipynb" in listing and "workbench.ipynb" in listing
        assert server.url.endswith("?token=s3cret")
    assert not server.running()
