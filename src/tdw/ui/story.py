"""The story bar above Explore: a variant's failure-mode label, phase windows and reasons.

It shows what the family's ``story`` analyzer (:mod:`tdw.library.story`) found: the label as
a coloured badge, the phase windows as a strip drawn to scale on the epoch axis (each
segment's tooltip gives its epochs), the first mover when the family reports one, and the
reasons behind the label. Plain HTML with its own style sheet: nothing to fetch, nothing
for the player to move.
"""

from __future__ import annotations

import html
from typing import Any

import panel as pn

from tdw.explore.variant import Variant
from tdw.library.story import first_mover_text, windows_text
from tdw.library.story_views import PHASE_COLOURS

__all__ = ["StoryBar", "story_html"]

_LABEL_COLOURS = {"healthy": "#2e7d32", "late": "#b26a00", "degraded": "#c62828",
                  "degraded and recovered": "#8e5b00", "no grokking": "#616161"}

_STYLE = """
<style>
.tdw-story { font: 13px/1.45 system-ui, sans-serif; margin: 2px 10px 6px; }
.tdw-story-badge { display: inline-block; padding: 1px 9px; border-radius: 10px;
  color: white; font-weight: 600; margin-right: 8px; }
.tdw-story-strip { display: flex; height: 18px; margin: 5px 0 3px; border-radius: 3px;
  overflow: hidden; background: #f5f5f5; }
.tdw-story-strip > div { font-size: 11px; line-height: 18px; text-align: center;
  white-space: nowrap; overflow: hidden; color: #263238; }
.tdw-story-reasons { color: #455a64; margin: 0; padding-left: 18px; }
</style>
"""


def _fmt(epoch: int) -> str:
    return f"{epoch:,}"


def story_html(story: dict[str, Any]) -> str:
    """The bar's HTML for :meth:`Variant.story`'s dict."""
    last = max(int(story["last_epoch"]), 1)
    label = story["label"]
    segments, cursor = [], 0
    for phase, window in story["windows"].items():
        if window is None:
            continue
        first, end = window
        if first > cursor:  # an epoch range no phase covers
            segments.append(f'<div style="flex: {first - cursor}"></div>')
        title = f"{phase}: epochs {_fmt(first)}-{_fmt(end)}"
        segments.append(f'<div title="{html.escape(title)}" style="flex: {max(end - first, 1)};'
                        f' background: {PHASE_COLOURS.get(phase, "#e0e0e0")}">'
                        f'{html.escape(phase)}</div>')
        cursor = end
    if cursor < last:
        segments.append(f'<div style="flex: {last - cursor}"></div>')
    phases = html.escape(windows_text(story["windows"]))
    mover = html.escape(first_mover_text(story))
    reasons = "".join(f"<li>{html.escape(r)}</li>" for r in story["reasons"])
    colour = _LABEL_COLOURS.get(label, "#616161")
    return (f'{_STYLE}<div class="tdw-story" data-label="{html.escape(label)}">'
            f'<span class="tdw-story-badge" style="background: {colour}">{html.escape(label)}'
            f'</span><span>{phases}</span>'
            f'<div class="tdw-story-strip">{"".join(segments)}</div>'
            + (f"<div>{mover}</div>" if mover else "")
            + f'<ul class="tdw-story-reasons">{reasons}</ul></div>')


class StoryBar(pn.viewable.Viewer):
    """The story of ``variant`` as a bar; empty when its family tells none.

    When the family tells a story that is not analysed yet, the bar says so and names the
    command that analyses it.
    """

    def __init__(self, variant: Variant, **params: Any):
        super().__init__(**params)
        self.variant = variant
        self.story = variant.story()
        if self.story is not None:
            text = story_html(self.story)
        elif variant.family.story is not None:
            text = (f'<div class="tdw-story" style="color: #607d8b; margin: 0 10px">The story '
                    f"of this run ({html.escape(variant.family.story)}) is not analysed yet: "
                    f"<code>tdw analyze {html.escape(variant.id)}</code></div>")
        else:
            text = ""
        self.pane = pn.pane.HTML(text, sizing_mode="stretch_width", visible=bool(text),
                                 margin=0, css_classes=["tdw-story-bar"])

    def __panel__(self):
        return self.pane
