"""A family's typed parameters as a form, validated as you type.

Each :class:`~tdw.family.params.Param` becomes a widget of its type (with its bounds and choices);
every change re-runs the family's own validation, so the form accepts exactly what the CLI
and the papermill template accept, and shows the same error messages.
"""

from __future__ import annotations

from typing import Any

import panel as pn
import param

from tdw.errors import TdwError
from tdw.family.family import Family
from tdw.family.params import Param

__all__ = ["ParamForm", "widget_for"]


def widget_for(p: Param, value: Any):
    """A Panel widget editing one parameter."""
    label = f"{p.name}"
    common = {"label": label, "description": p.description, "width": 200}
    if p.choices:
        return pn.widgets.Select(options=list(p.choices), value=value, **common)
    if p.type == "bool":
        return pn.widgets.Checkbox(value=bool(value), label=label, width=200)
    if p.type == "int":
        bounds = {k: int(v) for k, v in (("start", p.minimum), ("end", p.maximum))
                  if v is not None}
        return pn.widgets.IntInput(value=int(value), **bounds, **common)
    if p.type == "float":
        return pn.widgets.FloatInput(value=float(value), format="0[.]0000", **common)
    return pn.widgets.TextInput(value=str(value), **common)


class ParamForm(pn.viewable.Viewer):
    """Widgets for every parameter of ``family``, a preset picker and a live error line.

    ``values`` holds the resolved, typed values while the form is valid, else None;
    ``error`` holds the first problem's message.
    """

    values = param.Dict(default=None, allow_None=True, doc="Resolved values, or None.")
    error = param.String(default="", doc="Why the current input is invalid, or ''.")

    def __init__(self, family: Family, **params: Any):
        super().__init__(**params)
        self.family = family
        defaults = family.resolve()
        self.preset = pn.widgets.Select(label="preset", options=["(defaults)", *family.presets],
                                        width=200)
        self.widgets = {p.name: widget_for(p, defaults[p.name]) for p in family.params}
        for w in self.widgets.values():
            w.param.watch(lambda e: self._validate(), "value")
        self.preset.param.watch(self._apply_preset, "value")
        self.message = pn.pane.Alert("", alert_type="danger", visible=False, margin=(5, 10))
        self._validate()

    def raw(self) -> dict[str, Any]:
        return {name: w.value for name, w in self.widgets.items()}

    def set(self, **values: Any) -> None:
        """Fill widgets from Python (e.g. from a preset)."""
        for name, value in values.items():
            self.widgets[name].value = value

    def _apply_preset(self, event: param.parameterized.Event) -> None:
        preset = None if event.new == "(defaults)" else event.new
        self.set(**self.family.resolve(preset=preset))

    def _validate(self) -> None:
        raw = self.raw()
        if any(v is None for v in raw.values()):
            missing = [n for n, v in raw.items() if v is None]
            problem = f"fill in {', '.join(missing)}"
        else:
            try:
                self.values, self.error = self.family.resolve(raw), ""
            except TdwError as exc:
                problem = str(exc)
            else:
                self.message.visible = False
                return
        self.values, self.error = None, problem
        self.message.object, self.message.visible = problem, True

    def __panel__(self):
        return pn.Column(self.preset, pn.FlexBox(*self.widgets.values()), self.message,
                         sizing_mode="stretch_width")
