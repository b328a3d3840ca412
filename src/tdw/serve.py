"""Serve the dashboards with Voila: no visible code, nothing fetched from the internet.

Voila and Panel both reach for CDNs by default (Font Awesome in Voila's templates, Panel's
stylesheets). tdw builds a small Jupyter data folder once per Panel version (a Voila template
``tdw_offline`` whose static folder holds Font Awesome and a mirror of Panel's non-JS
assets), points ``PANEL_CDN_ROOT`` at that mirror, and asks for inline BokehJS in the
notebooks, so a page loads with nothing but 127.0.0.1.

Binding to anything but a loopback address needs a token: a dashboard can start jobs, so it
must not be open to the network.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tdw.errors import TdwError

__all__ = ["ServeConfig", "Server", "check_port_free", "dashboards_dir", "new_token", "serve",
           "voila_command", "voila_share"]

TEMPLATE = "tdw_offline"
_TEMPLATE_SRC = Path(__file__).parent / "ui" / "voila_template"
# JS comes inline with BokehJS/Panel; only stylesheets, fonts and images are fetched.
_SKIP_SUFFIXES = frozenset({".js", ".mjs", ".map", ".ts", ".json"})
_FONT_AWESOME = ("all.min.css", "v4-shims.min.css", "LICENSE.txt")
# The pyviz JupyterLab extension fails to load inside Voila (a console error) and Voila does
# not need it: jupyter_bokeh renders Panel there.
_DENY_EXTENSIONS = "@pyviz/jupyterlab_pyviz"


def dashboards_dir() -> Path:
    """The installed dashboard notebooks (``dashboards/`` of the source tree)."""
    import tdw.dashboards

    return Path(tdw.dashboards.__file__).parent


def _is_loopback(ip: str) -> bool:
    if ip == "localhost":
        return True
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        raise TdwError(f"--ip {ip!r} is not an IP address; use 127.0.0.1 (the default), "
                       "or an interface address such as 0.0.0.0 together with --token") from None


@dataclass(frozen=True)
class ServeConfig:
    """How to serve: where, to whom, and which notebooks.

    ``public_host`` is the host name browsers use to reach a non-loopback server; Panel's
    stylesheet URLs must name it (they are absolute). It defaults to this machine's name.
    ``preheat`` keeps one kernel per dashboard with the notebook already run, so a page
    opens in seconds rather than waiting for a kernel to start and import torch; the next
    kernel is heated as soon as one is taken.
    """

    store: Path
    port: int = 8866
    ip: str = "127.0.0.1"
    token: str = ""
    directory: Path = field(default_factory=dashboards_dir)
    public_host: str = ""
    preheat: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise TdwError(f"--port {self.port} is out of range; pick a port in 1..65535")
        if not _is_loopback(self.ip) and not self.token:
            raise TdwError(
                f"refusing to serve on {self.ip} without a token: anyone who can reach it "
                "could start jobs. Pass --token SECRET (or --token auto for a random one), or "
                "keep the default --ip 127.0.0.1")
        if not self.directory.is_dir():
            raise TdwError(f"dashboard folder {self.directory} does not exist; pass --dir "
                           "a folder of notebooks, or omit it for tdw's own dashboards")
        if not any(self.directory.glob("*.ipynb")):
            raise TdwError(f"{self.directory} holds no notebooks (.ipynb) to serve; pass "
                           "--dir a folder of dashboard notebooks")

    @property
    def host(self) -> str:
        if _is_loopback(self.ip):
            return "127.0.0.1" if self.ip == "localhost" else self.ip
        if self.public_host:
            return self.public_host
        unspecified = self.ip in ("0.0.0.0", "::")
        return socket.getfqdn() if unspecified else self.ip

    @property
    def base_url(self) -> str:
        """The address browsers use."""
        return _http_root(self.host, self.port)

    @property
    def local_base_url(self) -> str:
        """The address this machine uses: the bound one, loopback when bound to all."""
        ip = {"0.0.0.0": "127.0.0.1", "::": "::1", "localhost": "127.0.0.1"}.get(self.ip,
                                                                                 self.ip)
        return _http_root(ip, self.port)

    def url(self, page: str = "") -> str:
        """The address of ``page`` (e.g. ``voila/render/workbench.ipynb``) with the token."""
        query = f"?token={self.token}" if self.token else ""
        return f"{self.base_url}{page}{query}"


def _http_root(host: str, port: int) -> str:
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


# ---------------------------------------------------------------- the data folder
def _link_or_copy(src: Path, dst: Path) -> None:
    # Hard links or copies, never symlinks: tornado refuses to serve a file whose real path
    # lies outside the static folder (403).
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _mirror(src_root: Path, dst_root: Path, keep: Callable[[Path], bool]) -> None:
    for src in src_root.rglob("*"):
        if src.is_file() and keep(src):
            _link_or_copy(src, dst_root / src.relative_to(src_root))


def _share_key() -> str:
    import panel

    digest = hashlib.sha256()
    for path in sorted(_TEMPLATE_SRC.iterdir()):
        digest.update(path.name.encode() + path.read_bytes())
    return f"panel-{panel.__version__}-{digest.hexdigest()[:12]}"


def voila_share(cache: Path | None = None) -> Path:
    """The Jupyter data folder holding the ``tdw_offline`` Voila template (built once).

    The folder is keyed by the Panel version and the template's own files, and is built in a
    temporary folder then renamed, so a crash never leaves a half-built template behind.
    """
    import panel
    from panel.io.resources import JS_VERSION

    root = cache or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tdw"
    share = root / "voila" / _share_key()
    if (share / "voila" / "templates" / TEMPLATE / "conf.json").exists():
        return share
    share.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=".building-", dir=share.parent))
    try:
        template = building / "voila" / "templates" / TEMPLATE
        template.mkdir(parents=True)
        for src in _TEMPLATE_SRC.iterdir():
            shutil.copy2(src, template / src.name)
        dist = Path(panel.__file__).parent / "dist"
        _mirror(dist / "bundled" / "font-awesome", template / "static" / "fontawesome",
                lambda p: p.parent.name == "webfonts" or p.name in _FONT_AWESOME)
        _mirror(dist, template / "static" / "panel-cdn" / JS_VERSION / "dist",
                lambda p: p.suffix not in _SKIP_SUFFIXES)
        try:
            building.rename(share)
        except OSError:  # another process built it first
            if not (share / "voila").is_dir():
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return share


# ---------------------------------------------------------------------- serving
def check_port_free(ip: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family) as sock:
        try:
            sock.bind((ip, port))
        except OSError as exc:
            raise TdwError(f"cannot listen on {ip}:{port} ({exc.strerror}); is another "
                           "tdw serve running? Pass --port N for another port") from None


def voila_command(config: ServeConfig) -> list[str]:
    """The Voila command line for ``config`` (see the module docstring for why each flag)."""
    return [
        sys.executable, "-m", "voila", str(config.directory),
        "--no-browser", f"--Voila.ip={config.ip}", f"--port={config.port}",
        "--Voila.port_retries=0", f"--template={TEMPLATE}", "--classic-tree",
        "--VoilaConfiguration.strip_sources=True",
        f"--VoilaConfiguration.extension_denylist={_DENY_EXTENSIONS}",
        f"--token={config.token}",
        f"--VoilaConfiguration.preheat_kernel={config.preheat}",
        "--VoilaConfiguration.default_pool_size=1",
        # A kernel whose page went away without saying so (a crashed tab) is shut down
        # after 10 idle minutes; kernels of open pages are left alone.
        "--MappingKernelManager.cull_idle_timeout=600",
        "--MappingKernelManager.cull_interval=60",
    ]


def voila_env(config: ServeConfig, share: Path) -> dict[str, str]:
    env = dict(os.environ)
    # Voila starts "python3" kernels by looking up `python` on PATH: make it this one, so
    # the kernels import this tdw even when its environment is not activated.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(share), env.get("JUPYTER_PATH")]))
    env["PANEL_CDN_ROOT"] = f"{config.base_url}voila/static/panel-cdn/"
    env["PANEL_INLINE"] = "true"
    env["TDW_HOME"] = str(config.store)
    return env


class Server:
    """A running Voila process. Use as a context manager, or call :meth:`stop`."""

    def __init__(self, config: ServeConfig, process: subprocess.Popen, log: Path):
        self.config = config
        self.process = process
        self.log = log

    @property
    def url(self) -> str:
        """The dashboard listing, with the token if there is one."""
        return self.config.url()

    def page(self, notebook: str) -> str:
        """The address of one dashboard, e.g. ``page('workbench.ipynb')``."""
        return self.config.url(f"voila/render/{notebook}")

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _log_tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _wait_until_up(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    probe = f"{server.config.local_base_url}voila/static/fontawesome/css/all.min.css"
    while time.monotonic() < deadline:
        if not server.running():
            raise TdwError(f"voila exited with status {server.process.returncode}:\n"
                           f"{_log_tail(server.log)}\n(full log: {server.log})")
        try:
            with urllib.request.urlopen(probe, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    server.stop()
    raise TdwError(f"voila did not answer on {server.config.base_url} within {timeout:.0f} s; "
                   f"its log: {server.log}")


def serve(config: ServeConfig, *, timeout: float = 60.0) -> Server:
    """Start Voila in the background and return once it answers."""
    from tdw.store.store import Store

    Store(config.store)  # a clear error now, rather than in every dashboard
    check_port_free(config.ip, config.port)
    share = voila_share()
    logs = Path(config.store) / "serve"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"voila-{config.port}.log"
    with log.open("wb") as out:
        os.chmod(log, 0o600)  # Voila logs refused requests' URLs, token included
        process = subprocess.Popen(voila_command(config), env=voila_env(config, share),
                                   stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, cwd=config.directory)
    server = Server(config, process, log)
    try:
        _wait_until_up(server, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def new_token() -> str:
    return secrets.token_urlsafe(24)
