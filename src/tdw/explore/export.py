"""Offline image export of Bokeh figures and layouts: PNG, SVG and animated GIF.

The browser work runs in a headless Chromium without network access
(:mod:`tdw.explore.browser`).

* :func:`export_png` screenshots exactly the model's element, ``scale`` times the CSS size.
* :func:`export_svg` writes one vector SVG, also for a layout of several figures (Bokeh
  composes the plots of a row/column/grid into one SVG; widgets in it stay blank). The
  caller's figure is never mutated: the SVG is drawn from a private copy whose plots are
  switched to ``output_backend="svg"``.
* :func:`export_gif` renders one figure per checkpoint and animates them
  (:mod:`tdw.explore.gif`). Identical consecutive frames merge into one longer frame, so
  the file may hold fewer frames than requested; the playback time is still
  ``n_frames / fps``.

Everything is written through :func:`tdw.store.atomic.atomic_write_bytes` after the output has
been validated, so a failed export leaves no file behind.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tdw.errors import ExportError
from tdw.explore.browser import off_event_loop, offline_page, standalone_html
from tdw.explore.gif import assemble_gif, validate_gif
from tdw.store.atomic import atomic_write_bytes

__all__ = ["ExportError", "export_gif", "export_png", "export_svg"]

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_SVG_TAG = "{http://www.w3.org/2000/svg}svg"


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
    html = standalone_html(obj)

    def shoot() -> bytes:
        with offline_page(scale=scale, timeout=timeout) as view:
            return view.screenshot(view.load_html(html))

    data = off_event_loop(shoot)
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
    html = standalone_html(_svg_copy(obj))

    def draw() -> str:
        with offline_page(timeout=timeout) as view:
            view.load_html(html)
            return view.svg()

    text = off_event_loop(draw)
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

    shots = off_event_loop(shoot_all)
    data, expected = assemble_gif(shots, fps)
    validate_gif(data, expected)
    atomic_write_bytes(path, data)
    return path


# -- checks --------------------------------------------------------------------------------


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
