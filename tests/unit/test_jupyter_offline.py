"""In a Jupyter kernel without tdw serve's mirror, Panel's stylesheets come in the page
(tdw.explore.jupyter): for an app as it is displayed, and for every model Panel makes for it
afterwards (a card added from a cell, a rebuilt player)."""

from __future__ import annotations

import base64

import pytest

pn = pytest.importorskip("panel")


def _linked(root) -> dict[str, str]:
    """Each stylesheet URL of ``root``'s models: data URLs decoded to their text."""
    from bokeh.models import ImportedStyleSheet, UIElement

    found = {}
    for model in root.select({"type": UIElement}):
        for sheet in model.stylesheets:
            if isinstance(sheet, ImportedStyleSheet):
                url = sheet.url
                if url.startswith("data:text/css;base64,"):
                    found[url[:60]] = base64.b64decode(url.split(",", 1)[1]).decode()
                else:
                    found[url] = ""
    return found


def test_panels_stylesheets_come_inline_before_and_after_display(monkeypatch):
    from bokeh.document import Document
    from panel.io.resources import CDN_DIST, DIST_DIR
    from panel.viewable import Viewable

    from tdw.explore.jupyter import _inline_cdn_stylesheets

    monkeypatch.setattr(Viewable, "_preprocessing_hooks",
                        [*Viewable._preprocessing_hooks, _inline_cdn_stylesheets])
    layout = pn.Column(pn.widgets.Player(start=0, end=3))
    root = layout.get_root(doc=Document())
    shown = _linked(root)
    assert shown and not [url for url in shown if url.startswith("http")], shown
    player_css = (DIST_DIR / "css" / "player.css").read_text(encoding="utf-8")
    assert player_css in shown.values()  # the file's own text

    layout.append(pn.Card(pn.widgets.IntSlider(start=0, end=3), pn.pane.Alert("an error")))
    added = _linked(root)
    assert not [url for url in added if url.startswith(CDN_DIST) or url.startswith("http")]
    assert (DIST_DIR / "css" / "listpanel.css").read_text(encoding="utf-8") in added.values()
    # one stylesheet model per document and file, shared by every model that uses it
    from bokeh.models import ImportedStyleSheet, UIElement
    sheets = [s for m in root.select({"type": UIElement}) for s in m.stylesheets
              if isinstance(s, ImportedStyleSheet)]
    assert len({s.url for s in sheets}) == len({id(s) for s in sheets})
