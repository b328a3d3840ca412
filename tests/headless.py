"""Shared Playwright helpers for the browser tests: Debian's Chromium, offline and strict.

Every page opened through :func:`guarded_page` aborts (and records) any request that leaves
this machine, and records console errors and uncaught page errors; :meth:`Guard.check`
fails the test on either. Without Chromium the tests skip, except under ``CI`` where a
missing browser is a failure (``.ci/run`` installs it).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

ARTIFACTS = Path(os.environ.get("TDW_TEST_ARTIFACTS", "test-artifacts"))
"""Screenshots land here (relative to the directory pytest runs in)."""

_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def chromium() -> str:
    """The browser to drive, or a skip (a failure under CI) saying why there is none."""
    pytest.importorskip("playwright.sync_api", reason="browser tests need playwright")
    from tdw.errors import TdwError
    from tdw.explore.browser import find_chromium

    try:
        return find_chromium()
    except TdwError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but there is no browser: {exc}", pytrace=False)
        pytest.skip(f"no Chromium: {exc}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def poll(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Call ``check`` until it returns something truthy or ``timeout`` passes; return it."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        result = check()
        if result:
            return result
        time.sleep(interval)
    return check()


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about", "file"):
        return True
    return parts.hostname in _LOCAL_HOSTS


@dataclass
class Guard:
    """What a page did that it must not: console errors, page errors, external requests."""

    console_errors: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)

    def check(self) -> None:
        assert not self.external, f"requests left 127.0.0.1: {self.external}"
        assert not self.console_errors, f"console errors: {self.console_errors}"


@contextmanager
def launched() -> Iterator[Any]:
    """A headless Chromium for the duration of the block."""
    from playwright.sync_api import sync_playwright

    from tdw.explore.browser import CHROMIUM_ARGS

    path = chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()


def guarded_page(browser: Any, width: int = 1400, height: int = 900) -> tuple[Any, Guard]:
    """A new page that aborts non-local requests and records console and page errors."""
    guard = Guard()
    page = browser.new_page(viewport={"width": width, "height": height})

    def route(r: Any) -> None:
        if is_local(r.request.url):
            r.continue_()
        else:
            guard.external.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: m.type == "error" and guard.console_errors.append(m.text))
    page.on("pageerror", lambda e: guard.console_errors.append(str(e)))
    return page, guard


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as a test artifact and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
