"""Running Voila on the dashboards: the command line, its environment, the process.

Every visit gets its own kernel, and the kernel lives only as long as its page
(:mod:`tdw.serve.kernels`); one kernel per dashboard waits preheated with tdw imported. The
dashboards read the store when the page is requested (``voila.utils.wait_for_request``), so a
preheated kernel never shows the store as it was when it was heated.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

from tdw.errors import TdwError
from tdw.serve.config import ServeConfig
from tdw.serve.offline import TEMPLATE, voila_share

__all__ = ["Server", "check_port_free", "resident_megabytes", "serve", "voila_command",
           "voila_env"]

# JupyterLab extensions that fail to load inside Voila (a console error) and that Voila does
# not need: pyviz's (jupyter_bokeh renders Panel there) and jupyter-server-proxy's launcher.
_DENY_EXTENSIONS = ("@pyviz/jupyterlab_pyviz", "@jupyterhub/jupyter-server-proxy")


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
        *(f"--VoilaConfiguration.extension_denylist={name}" for name in _DENY_EXTENSIONS),
        f"--token={config.token}",
        f"--VoilaConfiguration.preheat_kernel={config.preheat}",
        "--VoilaConfiguration.default_pool_size=1",
        # A kernel lives as long as its page: released page_grace seconds after its last
        # connection closed (tdw.serve.kernels). The idle cull stays as a backstop.
        "--VoilaConfiguration.multi_kernel_manager_class="
        "tdw.serve.kernels.PageKernelManager",
        f"--PageKernelManager.page_grace={config.page_grace}",
        "--MappingKernelManager.cull_idle_timeout=600",
        "--MappingKernelManager.cull_interval=60",
        *(_proxied(config) if config.prefix else []),
    ]


def _proxied(config: ServeConfig) -> list[str]:
    """Voila's flags behind a proxy that strips ``config.prefix``: pages ask for prefixed
    URLs and Voila answers at its root. The browser sends Voila the proxy's cookies, whose
    login cookie Voila would clear as invalid (logging the user out of JupyterLab) unless
    its own is named apart."""
    return [f"--Voila.base_url={config.prefix}", "--Voila.server_url=/",
            f"--IdentityProvider.cookie_name=tdw-serve-{config.port}"]


def voila_env(config: ServeConfig, share: Path) -> dict[str, str]:
    env = dict(os.environ)
    # Voila starts "python3" kernels by looking up `python` on PATH: make it this one, so
    # the kernels import this tdw even when its environment is not activated.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(share), env.get("JUPYTER_PATH")]))
    if config.prefix:
        # Panel's stylesheet URLs must be absolute, and only the proxy knows the host the
        # browser uses: the kernels inline the stylesheets instead (tdw.explore.jupyter).
        env.pop("PANEL_CDN_ROOT", None)
    else:
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

    def kernels(self) -> list[psutil.Process]:
        """The kernel processes Voila runs now: the preheated pool and one per open page
        (or page within its grace period; see docs/serving.md)."""
        found = []
        for child in psutil.Process(self.process.pid).children(recursive=True):
            try:
                if "ipykernel" in " ".join(child.cmdline()):
                    found.append(child)
            except psutil.Error:  # exited meanwhile
                pass
        return found

    def kernel_megabytes(self) -> float:
        """Resident memory of :meth:`kernels` together, in MiB."""
        return resident_megabytes(self.kernels())

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


def resident_megabytes(processes: list[psutil.Process]) -> float:
    """Resident memory of ``processes`` together, in MiB (those that exited count 0)."""
    total = 0
    for proc in processes:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


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
