"""Load Panel once per process, offline-safe, in whichever front end is running.

Resources are inline (no CDN), so pages work with no internet. Inside Voila and Jupyter,
widget changes reach Python through ipywidgets comms (``jupyter_bokeh``); under
``panel serve`` or a plain script, Panel's own transport is used.

Panel's stylesheets are links to its CDN. Under ``tdw serve`` they point at the server's
own mirror (:mod:`tdw.serve.offline`, through ``PANEL_CDN_ROOT``). In any other Jupyter
kernel (JupyterLab, Notebook, ``tdw serve`` behind JupyterLab's proxy), which has no such
mirror, each stylesheet comes in the page itself, as its text in a ``data:`` URL: one per
document and stylesheet, kept in Panel's own per-document stylesheet cache
(:class:`_InlineSheets`), which Panel consults whenever it makes a model. A preprocessing
hook swaps them into an app as it is displayed; models Panel makes later for the page on
screen (a view added from a cell, a rebuilt player) find them in the cache.
"""

from __future__ import annotations

import base64
import os

__all__ = ["ensure_extension", "in_jupyter_kernel", "served_by_voila"]

_READY = [False]


def in_jupyter_kernel() -> bool:
    """True inside a Jupyter kernel (JupyterLab, Voila, papermill)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with ipykernel
        return False
    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


def served_by_voila() -> bool:
    """Whether this kernel serves a Voila page: Voila gives its kernels, preheated or not,
    the port it listens on."""
    return "VOILA_APP_PORT" in os.environ


def _local_css(url: str):
    """The file of Panel's own dist folder that ``url`` on Panel's CDN names, or None."""
    from panel.io.resources import CDN_DIST, DIST_DIR

    if not url.startswith(CDN_DIST):
        return None
    path = DIST_DIR / url[len(CDN_DIST):].split("?")[0]
    return path if path.is_file() else None


class _InlineSheets(dict):
    """Panel's stylesheet cache of one document (``state._stylesheets[doc]``, URL to
    stylesheet model) in which every stylesheet on Panel's CDN is already present, as an
    ``ImportedStyleSheet`` of its own text in a ``data:`` URL (made on first use)."""

    def __contains__(self, url: object) -> bool:
        return dict.__contains__(self, url) or (isinstance(url, str) and
                                                _local_css(url) is not None)

    def __missing__(self, url: str):
        from bokeh.models import ImportedStyleSheet

        path = _local_css(url)
        if path is None:
            raise KeyError(url)
        text = base64.b64encode(path.read_bytes()).decode("ascii")
        self[url] = sheet = ImportedStyleSheet(url=f"data:text/css;base64,{text}")
        return sheet


def _document_of(root, caches: dict) -> object | None:
    """The document ``root`` is made for. Hooks run before the root joins it, but Panel
    gave its models stylesheets from that document's cache (``caches``: document to cache),
    the very objects."""
    from bokeh.models import UIElement

    used = {id(sheet) for model in root.select({"type": UIElement})
            for sheet in model.stylesheets}
    return next((doc for doc, cache in list(caches.items())
                 if any(id(sheet) in used for sheet in cache.values())), None)


def _inline_cdn_stylesheets(viewable, root) -> None:
    """A Panel preprocessing hook: give ``root``'s document an :class:`_InlineSheets` cache,
    and swap each of ``root``'s stylesheets linked from Panel's CDN for the cache's."""
    from bokeh.models import ImportedStyleSheet, UIElement
    from panel.io.state import state

    doc = root.document or _document_of(root, state._stylesheets)
    cache = state._stylesheets.get(doc) if doc is not None else None
    if not isinstance(cache, _InlineSheets):
        # Panel's own entries for CDN URLs link the CDN: only the others carry over.
        cache = _InlineSheets({url: sheet for url, sheet in (cache or {}).items()
                               if _local_css(url) is None})
        if doc is not None:
            state._stylesheets[doc] = cache
    for model in root.select({"type": UIElement}):
        sheets = [cache[sheet.url] if isinstance(sheet, ImportedStyleSheet)
                  and _local_css(sheet.url) is not None else sheet
                  for sheet in model.stylesheets]
        if sheets != list(model.stylesheets):
            model.stylesheets = sheets


def ensure_extension() -> None:
    """Call ``pn.extension`` once with tdw's settings (idempotent)."""
    if _READY[0]:
        return
    import panel as pn

    os.environ.setdefault("BOKEH_RESOURCES", "inline")
    pn.config.inline = True
    kwargs = {"comms": "ipywidgets"} if in_jupyter_kernel() else {}
    pn.extension(inline=True, **kwargs)
    if in_jupyter_kernel() and not os.environ.get("PANEL_CDN_ROOT"):
        from panel.viewable import Viewable

        if _inline_cdn_stylesheets not in Viewable._preprocessing_hooks:
            Viewable._preprocessing_hooks.append(_inline_cdn_stylesheets)
    _READY[0] = True
