"""The Explorer's export controls: any view as PNG, SVG, HTML or a GIF across checkpoints,
and the standalone explorer of the variant.

Rendering is a separate step from downloading: PNG, SVG and GIF go through headless
Chromium (seconds; a GIF of every checkpoint takes tens of seconds), and a failure must show
as a message rather than as a broken download. Render writes the file into a temporary
folder, keeps its bytes and removes the folder; the download button serves those bytes.
"""

from __future__ import annotations

import io
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import panel as pn

from tdw.errors import TdwError

if TYPE_CHECKING:
    from tdw.ui.explorer import Explorer

__all__ = ["ExportBar", "FORMATS"]

FORMATS = {
    "PNG image": ".png",
    "SVG (vector)": ".svg",
    "HTML (interactive)": ".html",
    "GIF across checkpoints": ".gif",
}
"""Format label shown to the user -> file suffix."""


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")


class ExportBar(pn.viewable.Viewer):
    """Export controls bound to one :class:`~tdw.ui.explorer.Explorer`.

    The view is exported at the explorer's current checkpoint and with its pane's current
    selectors (e.g. the chosen neuron).
    """

    def __init__(self, explorer: Explorer):
        super().__init__()
        self.explorer = explorer
        names = [p.name for p in explorer.panes]
        self.view = pn.widgets.Select(label="view", options=names, width=220)
        self.format = pn.widgets.Select(label="format", options=list(FORMATS), width=200)
        self.render_button = pn.widgets.Button(label="Render", color="primary",
                                               width=110, align="end",
                                               css_classes=["tdw-export-render"])
        self.download = pn.widgets.FileDownload(label="Download", visible=False, width=170,
                                                color="success",
                                                css_classes=["tdw-export-download"])
        self.rendered = pn.pane.Markdown("", margin=(12, 10), visible=False)
        self.explorer_download = pn.widgets.FileDownload(
            callback=self._standalone_bytes, filename=f"{_slug(explorer.variant.id)}.html",
            label="Standalone explorer (HTML)", width=240, align="end",
            css_classes=["tdw-export-standalone"])
        self.status = pn.pane.Alert("", alert_type="danger", visible=False,
                                    sizing_mode="stretch_width")
        self.render_button.on_click(lambda _: self.render())
        self.view.param.watch(lambda _: self._stale(), "value")
        self.format.param.watch(lambda _: self._stale(), "value")

    def filename(self) -> str:
        suffix = FORMATS[self.format.value]
        pane = self.explorer.pane(self.view.value)
        chosen = "".join(f"-{k}{v}" for k, v in {**pane.selection, **pane.controls}.items()
                         if k in pane.selection or v != pane.view.control(k).default)
        at = "" if suffix == ".gif" else f"-epoch{self.explorer.epoch}"
        return _slug(f"{self.explorer.variant.id.split('/')[-1]}-{pane.name}{chosen}{at}") \
            + suffix

    def render(self) -> bytes | None:
        """Write the chosen view in the chosen format and offer it for download.

        Returns the file's bytes, or None after showing the error.
        """
        self._stale()
        pane = self.explorer.pane(self.view.value)
        name = self.filename()
        self.render_button.loading = True
        try:
            with tempfile.TemporaryDirectory(prefix="tdw-export-") as tmp:
                out = Path(tmp) / name
                variant = self.explorer.variant
                if out.suffix == ".gif":
                    variant.animate(pane.name, out, controls=pane.controls, **pane.selection)
                else:
                    variant.at(self.explorer.epoch).view(pane.name, controls=pane.controls,
                                                         **pane.selection).export(out)
                data = out.read_bytes()
        except TdwError as exc:
            self.status.object = f"Export failed: {exc}"
            self.status.visible = True
            return None
        finally:
            self.render_button.loading = False
        self.download.file = io.BytesIO(data)
        self.download.filename = name
        self.download.label = f"Download ({len(data) / 1e3:,.0f} kB)"
        self.rendered.object = f"`{name}`"
        self.download.visible = self.rendered.visible = True
        return data

    def _stale(self) -> None:
        self.download.visible = self.rendered.visible = False
        self.status.visible = False

    def _standalone_bytes(self) -> io.BytesIO:
        with tempfile.TemporaryDirectory(prefix="tdw-export-") as tmp:
            out = self.explorer.variant.export_explorer(Path(tmp) / "explorer.html")
            return io.BytesIO(out.read_bytes())

    def __panel__(self):
        return pn.Column(
            pn.Row(self.view, self.format, self.render_button, self.explorer_download),
            pn.Row(self.download, self.rendered), self.status,
            sizing_mode="stretch_width", css_classes=["tdw-export"])
