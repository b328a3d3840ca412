"""A headless Chromium that renders Bokeh models offline, for image export.

Bokeh's own ``bokeh.io.export_*`` drive Selenium; tdw drives a headless Chromium through
Playwright instead, and fully offline: a model is embedded with INLINE resources
(:func:`standalone_html`) and every request that is not to ``file:``, ``data:``, ``blob:`` or
the local machine (127.0.0.1, localhost, ::1) is aborted, so an export never touches the
network and never hangs on a CDN or a remote image (blocked URLs are logged as warnings).

:func:`offline_page` launches the browser and yields an :class:`OfflinePage`; it uses
Playwright's sync API, which refuses to run inside a running asyncio loop (Jupyter, a Panel
server): :func:`off_event_loop` moves the work to a worker thread there.
:mod:`tdw.explore.export` builds PNG, SVG and GIF files on top of this.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import math
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from tdw.errors import ExportError

__all__ = [
    "CHROMIUM_ARGS",
    "OfflinePage",
    "find_chromium",
    "off_event_loop",
    "offline_page",
    "standalone_html",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking")
"""Flags for headless Chromium: runs as root in containers, no GPU, no phoning home."""

_BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome")
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_LOCAL_SCHEMES = frozenset({"file", "data", "blob", "about"})
_VIEWPORT = {"width": 1280, "height": 800}


def find_chromium() -> str:
    """The Chromium (or Chrome) executable to export with.

    ``TDW_CHROMIUM`` wins when set (it must name an executable file); otherwise the first
    of ``chromium``, ``chromium-browser``, ``google-chrome`` found on ``PATH``.
    """
    override = os.environ.get("TDW_CHROMIUM")
    if override:
        found = shutil.which(override)
        if found is None:
            raise ExportError(f"TDW_CHROMIUM={override!r} is not an executable browser; point it "
                              "at a Chromium or Chrome binary, or unset it to search PATH")
        return found
    for name in _BROWSER_NAMES:
        found = shutil.which(name)
        if found is not None:
            return found
    raise ExportError("no Chromium found for PNG/SVG/GIF export (looked for "
                      f"{', '.join(_BROWSER_NAMES)} on PATH); install one, e.g. "
                      "`apt-get install chromium`, or set TDW_CHROMIUM to a Chrome/Chromium "
                      "executable")


def _is_local(url: str) -> bool:
    """Whether a request may proceed: local files, inline data, or this machine only."""
    parts = urlsplit(url)
    if parts.scheme in _LOCAL_SCHEMES:
        return True
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname in _LOCAL_HOSTS


_WAIT_JS = """
async (ms) => {
  const root = window.__tdw_root;
  const doc = root.model.document;
  if (!doc.is_idle) {
    const idle = await new Promise((resolve) => {
      doc.idle.connect(() => resolve(true));
      setTimeout(() => resolve(false), ms);
    });
    if (!idle) return null;
  }
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const box = root.el.getBoundingClientRect();
  return {x: box.x + window.scrollX, y: box.y + window.scrollY,
          width: box.width, height: box.height};
}
"""

_SWAP_JS = """
async (item) => {
  if (window.__tdw_root) window.__tdw_root.remove();
  document.body.innerHTML = '<div id="tdw-frame"></div>';
  const views = await Bokeh.embed.embed_item(item, "tdw-frame");
  window.__tdw_root = views.roots[0];
}
"""

# Adapted from bokeh/io/export.py (_SVG_SCRIPT): the root view composes its plots into one
# SVG canvas layer; serialise it with named entities fixed.
_SVG_JS = """
() => {
  const {ctx} = window.__tdw_root.export("svg");
  return ctx.get_serialized_svg(true);
}
"""


@dataclass
class OfflinePage:
    """A headless Chromium page that renders Bokeh models without network access.

    Attributes:
        context: the Playwright ``BrowserContext`` (its route blocks the network).
        page: the current Playwright ``Page``.
        timeout: seconds to wait for Bokeh to load and finish rendering.
        blocked: URLs of requests that were aborted (not local).
        errors: JavaScript errors raised in the page, for error messages.
    """

    context: Any
    timeout: float
    page: Any = None
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _loaded: bool = False

    def load_html(self, html: str) -> dict[str, float]:
        """Load a standalone Bokeh HTML document; return the root's box once rendered."""
        from playwright.sync_api import Error as PlaywrightError

        ms = self.timeout * 1000
        try:
            self.page.set_content(html, wait_until="load", timeout=ms)
            self.page.wait_for_function(
                "() => window.Bokeh && Bokeh.index && Bokeh.index.roots.length > 0", timeout=ms)
        except PlaywrightError as exc:
            raise self._failure("BokehJS did not load") from exc
        self.page.evaluate("() => { window.__tdw_root = Bokeh.index.roots[0]; }")
        self._loaded = True
        return self._wait_rendered()

    def show(self, model: Any) -> dict[str, float]:
        """Render ``model``, reusing the loaded BokehJS when possible; return its box.

        The first model loads a full standalone page (slow: BokehJS is parsed); later ones
        replace the root through ``Bokeh.embed.embed_item`` (fast). If that fails, e.g.
        because the model needs a JS bundle the first page did not include, the page is
        reloaded with the model's own standalone HTML.
        """
        from bokeh.embed import json_item
        from playwright.sync_api import Error as PlaywrightError

        if self._loaded:
            try:
                self.page.evaluate(_SWAP_JS, json_item(model))
                return self._wait_rendered()
            except PlaywrightError as exc:
                log.debug("fast frame swap failed (%s); reloading the page", exc)
        self.new_page()  # a fresh window: set_content would keep the old Bokeh global
        return self.load_html(standalone_html(model))

    def new_page(self) -> None:
        """Replace the page by a fresh one (new JS globals, no page errors recorded)."""
        if self.page is not None:
            self.page.close()
        self.errors.clear()
        self._loaded = False
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def screenshot(self, box: dict[str, float]) -> bytes:
        """PNG bytes of ``box`` (CSS pixels, rounded outwards), at the page's pixel ratio."""
        x, y = math.floor(box["x"]), math.floor(box["y"])
        clip = {"x": x, "y": y, "width": math.ceil(box["x"] + box["width"]) - x,
                "height": math.ceil(box["y"] + box["height"]) - y}
        return self.page.screenshot(clip=clip, full_page=True, type="png",
                                    timeout=self.timeout * 1000)

    def svg(self) -> str:
        """The current root as SVG text (one document even for a layout of plots)."""
        return self.page.evaluate(_SVG_JS)

    def _wait_rendered(self) -> dict[str, float]:
        box = self.page.evaluate(_WAIT_JS, self.timeout * 1000)
        if box is None:
            raise self._failure(f"Bokeh did not finish rendering within {self.timeout:g} s")
        if box["width"] < 1 or box["height"] < 1:
            raise self._failure("the model rendered with zero size (give the figure or layout "
                                "a fixed width and height)")
        return box

    def _failure(self, what: str) -> ExportError:
        details = "; page errors: " + " | ".join(self.errors[-3:]) if self.errors else ""
        return ExportError(f"export failed: {what}{details}. Check that the model renders in "
                           f"a browser (e.g. via .export('x.html')) or raise the timeout")


@contextlib.contextmanager
def offline_page(*, scale: float = 1.0, timeout: float = 15.0) -> Iterator[OfflinePage]:
    """Launch headless Chromium, yield an :class:`OfflinePage`, and always close it.

    ``scale`` is the device pixel ratio (2 gives PNGs at twice the CSS size). Every request
    not to a local file/data URL or this machine is aborted and recorded in ``blocked``;
    service workers are blocked too. Uses Playwright's sync API, so call it outside a
    running asyncio loop (the ``export_*`` functions take care of that themselves).
    """
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise ExportError("PNG/SVG/GIF export needs Playwright: `pip install playwright` "
                          "(its browser download is not needed; a system Chromium is used)"
                          ) from exc
    executable = find_chromium()
    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=executable, headless=True,
                                         args=list(CHROMIUM_ARGS))
        except PlaywrightError as exc:
            raise ExportError(f"could not start {executable} headless ({exc}); install a "
                              "working Chromium (`apt-get install chromium`) or set "
                              "TDW_CHROMIUM to one") from exc
        try:
            context = browser.new_context(device_scale_factor=scale, viewport=_VIEWPORT,
                                          service_workers="block")
            holder = OfflinePage(context=context, timeout=timeout)

            def guard(route: Any) -> None:
                url = route.request.url
                if _is_local(url):
                    route.continue_()
                else:
                    holder.blocked.append(url)
                    log.warning("export blocked a network request to %s", url)
                    route.abort()

            context.route("**/*", guard)
            holder.new_page()
            try:
                yield holder
            except PlaywrightError as exc:
                raise holder._failure(str(exc).splitlines()[0]) from exc
        finally:
            browser.close()


def off_event_loop(fn: Callable[[], T]) -> T:
    """Run ``fn`` here, or in a worker thread if this thread runs an asyncio loop.

    Playwright's sync API raises inside a running loop (Jupyter kernels, Panel/Bokeh
    servers); a worker thread has none. The caller blocks until the export is done.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn).result()


def standalone_html(obj: Any) -> str:
    """The model as a self-contained HTML page (BokehJS inline, nothing from a CDN)."""
    from bokeh.embed import file_html
    from bokeh.resources import INLINE

    return file_html(obj, INLINE, title="tdw export", suppress_callback_warning=True)
