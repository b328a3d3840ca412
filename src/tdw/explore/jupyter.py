"""Load Panel once per process, offline-safe, in whichever front end is running.

Resources are inline (no CDN), so pages work with no internet. Inside Voila and Jupyter,
widget changes reach Python through ipywidgets comms (``jupyter_bokeh``); under
``panel serve`` or a plain script, Panel's own transport is used.

Panel's stylesheets are links to its CDN. Under ``tdw serve`` they point at the server's
own mirror (:mod:`tdw.serve.offline`, through ``PANEL_CDN_ROOT``). In any other Jupyter
kernel (JupyterLab, Notebook, ``tdw serve`` behind JupyterLab's proxy), which has no such
mirror, every stylesheet a displayed app links from the CDN is inlined as it is rendered, as
Panel itself does for its classic notebook output: one ``InlineStyleSheet`` per document and
stylesheet, shared by every model that uses it.
"""

from __future__ import annotations

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


def _inline_cdn_stylesheets(viewable, root) -> None:
    """A Panel preprocessing hook: swap each of ``root``'s stylesheets linked from Panel's
    CDN for its text, one shared ``InlineStyleSheet`` per document and stylesheet."""
    from bokeh.models import ImportedStyleSheet, InlineStyleSheet, UIElement
    from panel.io.resources import CDN_DIST, DIST_DIR

    doc = root.document
    shared = getattr(doc, "_tdw_inline_css", None) if doc is not None else None
    if shared is None:
        shared = {}
        if doc is not None:
            doc._tdw_inline_css = shared
    for model in root.select({"type": UIElement}):
        sheets, changed = [], False
        for sheet in model.stylesheets:
            url = getattr(sheet, "url", "") if isinstance(sheet, ImportedStyleSheet) else ""
            path = DIST_DIR / url[len(CDN_DIST):].split("?")[0] if url.startswith(
                CDN_DIST) else None
            if path is not None and path.is_file():
                if url not in shared:
                    shared[url] = InlineStyleSheet(css=path.read_text(encoding="utf-8"))
                sheet, changed = shared[url], True
            sheets.append(sheet)
        if changed:
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
