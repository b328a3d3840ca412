"""Rendering a view: inline in Jupyter, or to a file (HTML, PNG, SVG).

A :class:`~tdw.family.views.View` declares its data and builds its figure; this module
turns one, at one :class:`~tdw.family.views.ViewContext`, into a :class:`ViewResult` that
displays itself in a notebook and exports itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tdw.errors import TdwError
from tdw.family.views import View, ViewContext
from tdw.store.atomic import atomic_write_bytes

__all__ = ["ViewResult", "render", "bare"]


@dataclass
class ViewResult:
    """A rendered view: shows itself inline in Jupyter and exports standalone HTML."""

    view: View
    figure: Any
    context: ViewContext

    def export(self, path: str | Path) -> Path:
        """Write the figure to ``path``, by suffix: ``.html`` (self-contained, no CDN),
        ``.png`` or ``.svg`` (rendered in headless Chromium; see :mod:`tdw.explore.export`)."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".png":
            from tdw.explore.export import export_png

            return export_png(self.bare_figure(), path)
        if suffix == ".svg":
            from tdw.explore.export import export_svg

            return export_svg(self.bare_figure(), path)
        if suffix != ".html":
            raise TdwError(f"cannot export {path.name}: a view exports to .html, .png or .svg "
                           "(an animation across checkpoints: variant.animate(view, 'x.gif'))")
        from bokeh.embed import file_html
        from bokeh.resources import INLINE

        html = file_html(self.figure, INLINE, title=f"{self.view.title}: {self.context.variant}")
        atomic_write_bytes(path, html.encode())
        return path

    def bare_figure(self):
        """A fresh copy of the figure without its toolbar, for images."""
        return bare(self.view.figure(self.context))

    def _repr_mimebundle_(self, include=None, exclude=None):
        import panel as pn

        _ensure_panel()
        return pn.pane.Bokeh(self.figure)._repr_mimebundle_(include, exclude)


def _ensure_panel() -> None:
    """Load Panel's JS (inline, no CDN) once per kernel before the first view is shown."""
    from tdw.explore.jupyter import ensure_extension

    ensure_extension()


def bare(figure):
    """``figure`` without its toolbar (what an exported image should show)."""
    figure.toolbar_location = None
    return figure


def render(view: View, ctx: ViewContext) -> ViewResult:
    return ViewResult(view, view.figure(ctx), ctx)
