"""A standalone, self-contained HTML explorer of one variant: no server, no internet.

Every view whose per-checkpoint data (all checkpoints together) fits the budget is embedded
with all its frames; a plain Bokeh slider with a play button swaps frames in the browser
with the same JS as the live explorer. The file can be emailed or published as it is.
Views over the budget are listed at the top of the page as left out, never silently dropped.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tdw.errors import TdwError
from tdw.explore.viewpane import (
    ViewPane,
    frame_swap_args,
    frame_swap_code,
    grouped,
)
from tdw.store.atomic import atomic_write_bytes

if TYPE_CHECKING:
    from tdw.explore.variant import Variant

__all__ = ["standalone_html", "export_standalone", "DEFAULT_BUDGET"]

DEFAULT_BUDGET = 8_000_000
"""Bytes of per-checkpoint data one view may embed."""

_PLAY_JS = """
if (toggle.active) {
  toggle.label = "❚❚ pause";
  toggle.tags = [setInterval(() => {
    if (slider.value >= slider.end) { toggle.active = false; return; }
    slider.value = slider.value + 1;
  }, interval)];
} else {
  toggle.label = "▶ play";
  for (const id of toggle.tags) clearInterval(id);
  toggle.tags = [];
}
"""


def standalone_html(variant: Variant, *, budget: int = DEFAULT_BUDGET,
                    interval_ms: int = 400) -> str:
    """The explorer page of ``variant`` as one HTML string with inline resources."""
    from bokeh.embed import file_html
    from bokeh.layouts import column, row
    from bokeh.models import CustomJS, Div, Slider, Toggle
    from bokeh.resources import INLINE

    epochs = variant.epochs
    if not epochs:
        raise TdwError(f"{variant.id} has no checkpoints to export; train it first")
    last = len(epochs) - 1
    panes, left_out = [], []
    waiting = variant.waiting()
    for view in variant.family.views:
        if needs := waiting.get(view.name):
            left_out.append(f"{view.name} (not analysed: {'; '.join(needs)})")
            continue
        pane = ViewPane(variant, view, epochs[last], client_budget=budget)
        if pane.frame_bytes and not pane.client_side:
            size = pane.frame_bytes / 1e6
            left_out.append(f"{view.name} ({size:.1f} MB of frames, over the "
                            f"{budget / 1e6:.0f} MB budget)")
            continue
        panes.append(pane)
    slider = Slider(start=0, end=last, value=last, step=1, title="checkpoint index",
                    sizing_mode="stretch_width", name="checkpoint")
    label = Div(text="", name="epoch-label")
    toggle = Toggle(label="▶ play", active=False, width=90)
    turn = variant.transition()
    label_js = ("label.text = `<b>epoch ${epochs[Math.round(cb_obj.value)]}</b>` + "
                f"`{f' · detected transition at epoch {turn[0]}' if turn else ''}`;")
    slider.js_on_change("value", CustomJS(
        args={**frame_swap_args([panes]), "label": label, "epochs": list(epochs)},
        code=frame_swap_code("cb_obj.value") + label_js))
    toggle.js_on_change("active", CustomJS(args={"toggle": toggle, "slider": slider,
                                                 "interval": interval_ms}, code=_PLAY_JS))
    label.text = f"<b>epoch {epochs[last]}</b>" + (
        f" · detected transition at epoch {turn[0]}" if turn else "")
    parts = [Div(text=f"<h2>{variant.id}</h2><p>{variant.family.title}: "
                      f"{len(epochs)} checkpoints. Drag the slider or press play.</p>"),
             row(toggle, slider, label, sizing_mode="stretch_width")]
    if left_out:
        parts.append(Div(text="<p><i>Left out:</i> " + "; ".join(left_out) + "</p>"))
    for group, members in grouped(panes, lambda p: p.view.group):
        parts.append(Div(text=f"<h3>{group}</h3>"))
        parts.append(row(*[p.figure for p in members], sizing_mode="scale_width")
                     if len(members) <= 3 else _wrap([p.figure for p in members]))
    return file_html(column(*parts, sizing_mode="stretch_width"), INLINE,
                     title=f"tdw explorer: {variant.id}")


def _wrap(figures: list, per_row: int = 3):
    from bokeh.layouts import column, row

    return column(*[row(*figures[i:i + per_row]) for i in range(0, len(figures), per_row)])


def export_standalone(variant: Variant, path: str | Path, *, budget: int = DEFAULT_BUDGET
                      ) -> Path:
    """Write :func:`standalone_html` of ``variant`` to ``path`` (``.html``) atomically."""
    path = Path(path)
    if path.suffix.lower() != ".html":
        raise TdwError(f"cannot write the standalone explorer to {path.name}: it is an HTML "
                       "page; name the file *.html")
    atomic_write_bytes(path, standalone_html(variant, budget=budget).encode())
    return path
