"""Offline image export of Bokeh figures and layouts: PNG, SVG and animated GIF.

Bokeh's own ``bokeh.io.export_*`` drive Selenium; tdw drives a headless Chromium through
Playwright instead, and fully offline: the figure is embedded with INLINE resources and
every request that is not to ``file:``, ``data:``, ``blob:`` or the local machine
(127.0.0.1, localhost, ::1) is aborted, so an export never touches the network and never
hangs on a CDN or a remote image (blocked URLs are logged as warnings).

* :func:`export_png` screenshots exactly the model's element, ``scale`` times the CSS size.
* :func:`export_svg` writes one vector SVG, also for a layout of several figures (Bokeh
  composes the plots of a row/column/grid into one SVG; widgets in it stay blank). The
  caller's figure is never mutated: the SVG is drawn from a private copy whose plots are
  switched to ``output_backend="svg"``.
* :func:`export_gif` renders one figure per checkpoint and animates them. Pillow merges
  consecutive *identical* frames into one longer frame, so the file may hold fewer frames
  than requested; the playback time is still ``n_frames / fps``.

Everything is written through :func:`tdw.store.atomic.atomic_write_bytes` after the output has
been validated, so a failed export leaves no file behind. The browser work runs in a
worker thread when the caller is inside a running asyncio loop (Jupyter, a Panel server),
because Playwright's sync API refuses to run there.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import io
import logging
import math
import os
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from tdw.errors import ExportError
from tdw.store.atomic import atomic_write_bytes

__all__ = [
    "ExportError",
    "OfflinePage",
    "export_gif",
    "export_png",
    "export_svg",
    "find_chromium",
    "offline_page",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking")
"""Flags for headless Chromium: runs as root in containers, no GPU, no phoning home."""

_BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome")
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_LOCAL_SCHEMES = frozenset({"file", "data", "blob", "about"})
_VIEWPORT = {"width": 1280, "height": 800}
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_SVG_TAG = "{http://www.w3.org/2000/svg}svg"
_PALETTE_PIXELS = 4_000_000  # pixels sampled to choose a GIF's shared palette


# -- browser -------------------------------------------------------------------------------


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
        return self.load_html(_standalone_html(model))

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


def _off_event_loop(fn: Callable[[], T]) -> T:
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


# -- models --------------------------------------------------------------------------------


def _check_model(obj: Any, func: str) -> None:
    from bokeh.models import UIElement

    if not isinstance(obj, UIElement):
        raise ExportError(f"{func} needs a Bokeh figure or layout, got {type(obj).__name__}; "
                          "pass e.g. view_result.figure")


def _check_path(path: str | Path, suffix: str, func: str) -> Path:
    path = Path(path)
    if path.suffix.lower() != suffix:
        raise ExportError(f"{func} writes {suffix} files, not {path.name!r}; use a path "
                          f"ending in {suffix} (PNG: export_png, SVG: export_svg, "
                          "GIF: export_gif, HTML: ViewResult.export)")
    return path


def _standalone_html(obj: Any) -> str:
    """The model as a self-contained HTML page (BokehJS inline, nothing from a CDN)."""
    from bokeh.embed import file_html
    from bokeh.resources import INLINE

    return file_html(obj, INLINE, title="tdw export", suppress_callback_warning=True)


def _svg_copy(obj: Any) -> Any:
    """A private deep copy of ``obj`` whose plots all draw with ``output_backend="svg"``.

    The copy goes through Bokeh's document JSON, so the caller's models (possibly live in
    a Panel session) see no property change at all.
    """
    from bokeh.document import Document
    from bokeh.models import Plot

    if obj.document is not None:
        doc_json = obj.document.to_json(deferred=False)
    else:
        scratch = Document()
        scratch.add_root(obj)
        try:
            doc_json = scratch.to_json(deferred=False)
        finally:
            scratch.remove_root(obj)
    copy_doc = Document.from_json(doc_json)
    if obj.document is not None:
        copy_doc.theme = obj.document.theme  # the theme is not part of the JSON
    copy = copy_doc.get_model_by_id(obj.id)
    plots = list(copy.select({"type": Plot}))
    if not plots:
        raise ExportError(f"export_svg found no figure in {type(obj).__name__}: only plots "
                          "have an SVG form; export widgets with export_png")
    for plot in plots:
        plot.output_backend = "svg"
    return copy


# -- exports -------------------------------------------------------------------------------


def export_png(obj: Any, path: str | Path, *, scale: float = 2, timeout: float = 15.0) -> Path:
    """Write a PNG screenshot of a Bokeh figure or layout, tightly cropped to it.

    Args:
        obj: a Bokeh figure or layout (fixed size; a stretching one takes the 1280x800
            viewport's size).
        path: destination, ending in ``.png``.
        scale: device pixel ratio; the image is ``scale`` times the figure's CSS size.
        timeout: seconds to wait for Bokeh to render.

    Returns:
        ``path``.
    """
    path = _check_path(path, ".png", "export_png")
    _check_model(obj, "export_png")
    _check_positive(scale=scale, timeout=timeout)
    html = _standalone_html(obj)

    def shoot() -> bytes:
        with offline_page(scale=scale, timeout=timeout) as view:
            return view.screenshot(view.load_html(html))

    data = _off_event_loop(shoot)
    _validate_png(data)
    atomic_write_bytes(path, data)
    return path


def export_svg(obj: Any, path: str | Path, *, timeout: float = 15.0) -> Path:
    """Write a vector SVG of a Bokeh figure or of a layout of figures (one combined file).

    Glyphs, axes, text and legends become SVG elements; raster glyphs (``image``,
    ``image_rgba``) are embedded as ``<image>`` data; widgets and the toolbar are not drawn.
    The caller's figure is left untouched (a private copy is switched to the SVG backend).

    Args:
        obj: a Bokeh figure or layout containing at least one figure.
        path: destination, ending in ``.svg``.
        timeout: seconds to wait for Bokeh to render.

    Returns:
        ``path``.
    """
    path = _check_path(path, ".svg", "export_svg")
    _check_model(obj, "export_svg")
    _check_positive(timeout=timeout)
    html = _standalone_html(_svg_copy(obj))

    def draw() -> str:
        with offline_page(timeout=timeout) as view:
            view.load_html(html)
            return view.svg()

    text = _off_event_loop(draw)
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ExportError(f"export_svg produced malformed SVG ({exc}); nothing was "
                          "written. Try export_png for this model") from exc
    if root.tag != _SVG_TAG:
        raise ExportError(f"export_svg produced <{root.tag}> instead of <svg>; nothing was "
                          "written. Try export_png for this model")
    atomic_write_bytes(path, text.encode("utf-8"))
    return path


def export_gif(render_frame: Callable[[int], Any], n_frames: int, path: str | Path, *,
               fps: float = 4, scale: float = 1, timeout: float = 15.0) -> Path:
    """Write an animated GIF of ``render_frame(0) .. render_frame(n_frames - 1)``, looping.

    Typically ``render_frame(i)`` builds a view's figure at the i-th checkpoint. All frames
    are rendered in one browser page (the first loads BokehJS, the rest only swap the
    document), share one palette chosen from all frames, and are padded with white to the
    largest frame. ``render_frame`` is called in the caller's thread unless the caller
    runs an asyncio loop (then in a worker thread; it should only build new models).

    Consecutive identical frames are merged by the GIF encoder into one frame shown
    correspondingly longer, so the file can hold fewer than ``n_frames`` frames.

    Args:
        render_frame: frame index -> Bokeh figure or layout.
        n_frames: how many frames to render (at least 1).
        path: destination, ending in ``.gif``.
        fps: frames per second of playback.
        scale: device pixel ratio of the screenshots.
        timeout: seconds to wait for each frame to render.

    Returns:
        ``path``.
    """
    path = _check_path(path, ".gif", "export_gif")
    if not isinstance(n_frames, int) or n_frames < 1:
        raise ExportError(f"export_gif needs n_frames >= 1, got {n_frames!r}")
    _check_positive(fps=fps, scale=scale, timeout=timeout)

    def shoot_all() -> list[bytes]:
        shots = []
        with offline_page(scale=scale, timeout=timeout) as view:
            for i in range(n_frames):
                model = render_frame(i)
                _check_model(model, f"export_gif (render_frame({i}))")
                shots.append(view.screenshot(view.show(model)))
        return shots

    shots = _off_event_loop(shoot_all)
    data, expected = _assemble_gif(shots, fps)
    _validate_gif(data, expected)
    atomic_write_bytes(path, data)
    return path


# -- images --------------------------------------------------------------------------------


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not value > 0:
            raise ExportError(f"{name} must be positive, got {value!r}")


def _validate_png(data: bytes) -> None:
    from PIL import Image

    if not data.startswith(_PNG_MAGIC):
        raise ExportError("the browser returned no PNG; nothing was written")
    with Image.open(io.BytesIO(data)) as img:
        img.verify()


def _assemble_gif(shots: list[bytes], fps: float) -> tuple[bytes, int]:
    """Encode PNG screenshots as a looping GIF; also return how many frames it must hold.

    Frames are flattened on white, padded to a common size and quantised with one shared
    palette (exact when the frames use at most 255 colours, else median cut, no dithering),
    so identical pictures get identical indices and the encoder can merge them.
    """
    from PIL import Image

    frames = []
    for shot in shots:
        with Image.open(io.BytesIO(shot)) as img:
            frames.append(_on_white(img.convert("RGBA"), None))
    size = (max(f.width for f in frames), max(f.height for f in frames))
    frames = [_on_white(f, size) if f.size != size else f for f in frames]
    palette = _shared_palette(frames)
    indexed = [f.quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
    distinct = 1 + sum(a.tobytes() != b.tobytes() for a, b in zip(indexed, indexed[1:],
                                                                  strict=False))
    buf = io.BytesIO()
    indexed[0].save(buf, format="GIF", save_all=True, append_images=indexed[1:],
                    duration=1000 / fps, loop=0, optimize=True)
    return buf.getvalue(), distinct


def _on_white(img: Any, size: tuple[int, int] | None) -> Any:
    """``img`` composited on an opaque white canvas of ``size`` (default: its own), RGB."""
    from PIL import Image

    canvas = Image.new("RGB", size or img.size, "white")
    canvas.paste(img, (0, 0), img if img.mode == "RGBA" else None)
    return canvas


def _shared_palette(frames: list[Any]) -> Any:
    """A P-mode image whose palette (<= 255 colours, one left for transparency) fits all
    frames: the exact colours when few enough, otherwise median cut of a sample."""
    from PIL import Image

    width, height = frames[0].size
    factor = max(1, math.ceil(math.sqrt(width * height * len(frames) / _PALETTE_PIXELS)))
    small = [f.resize((max(1, width // factor), max(1, height // factor)),
                      Image.Resampling.NEAREST) for f in frames]
    montage = Image.new("RGB", (small[0].width, small[0].height * len(small)), "white")
    for i, f in enumerate(small):
        montage.paste(f, (0, i * small[0].height))
    colors = montage.getcolors(255)
    if colors is not None:  # few colours: keep them exactly
        palette = Image.new("P", (1, 1))
        flat = [channel for _, rgb in colors for channel in rgb]
        palette.putpalette(flat + flat[:3] * (256 - len(colors)))
        return palette
    return montage.quantize(colors=255, method=Image.Quantize.MEDIANCUT,
                            dither=Image.Dither.NONE)


def _validate_gif(data: bytes, expected: int) -> None:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        frames = getattr(img, "n_frames", 1)
        if img.format != "GIF" or frames != expected:
            raise ExportError(f"the GIF encoder wrote {frames} frame(s), expected {expected}; "
                              "nothing was written")
