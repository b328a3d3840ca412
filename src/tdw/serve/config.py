"""What ``tdw serve`` serves, where and to whom: :class:`ServeConfig` and its checks.

Binding to anything but a loopback address needs a token: a dashboard can start jobs, so it
must not be open to the network.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
from dataclasses import dataclass, field
from pathlib import Path

from tdw.errors import TdwError

__all__ = ["ServeConfig", "dashboards_dir", "new_token"]


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
    ``preheat`` keeps one kernel per dashboard waiting with tdw imported, so a page opens
    in seconds rather than waiting for a kernel to start; the next kernel is heated as soon
    as one is taken. ``page_grace`` is how long a kernel whose page has gone (no open
    connection, not busy) lives on before it is shut down (see docs/serving.md).
    """

    store: Path
    port: int = 8866
    ip: str = "127.0.0.1"
    token: str = ""
    directory: Path = field(default_factory=dashboards_dir)
    public_host: str = ""
    preheat: bool = True
    page_grace: float = 30.0
    prefix: str = ""

    def __post_init__(self) -> None:
        if self.prefix and not (self.prefix.startswith("/") and self.prefix.endswith("/")):
            raise TdwError(f"--prefix {self.prefix!r} must be a path that starts and ends "
                           "with '/', e.g. /tdw/ (the path a proxy serves tdw under)")
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
        """The address browsers use: a path when served behind a proxy."""
        return self.prefix or _http_root(self.host, self.port)

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


def new_token() -> str:
    return secrets.token_urlsafe(24)
