"""Start a sweep from the Sweeps page: what ``tdw sweep FAMILY ... --background`` does.

The form holds a family, a preset, a grid editor (one row per swept parameter: its name
and comma-separated values), optional fixed values (``--set`` style, ``NAME=VALUE`` separated
by spaces), the executor (any text ``tdw sweep --executor`` takes) and the analyse toggle.
Every change is checked as the command line checks it (:meth:`SweepSpec.from_cli` and
:func:`tdw.sweeps.coordinator.check`), so the form refuses exactly what ``tdw sweep``
refuses, in the same words; Start then records the sweep and coordinates it in the
background (:func:`tdw.sweeps.coordinator.start_sweep`).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import panel as pn

from tdw.errors import TdwError
from tdw.family.registry import families
from tdw.store.store import Store
from tdw.sweeps import coordinator
from tdw.sweeps.sweep import SweepRecord, SweepSpec, sweeps

__all__ = ["SweepForm", "GridRow"]

_NO_PRESET = "(defaults)"
_EXECUTORS = "local, local:N, dask-local, dask-local:N or dask://HOST:PORT"


def _usual_family(store: Store, names: list[str]) -> str:
    """The family of the store's last sweep, else of its first variant, else the first."""
    last = [r.family for r in sweeps(store, limit=1) if r.family in names]
    mine = [v.family for v in store.variants() if v.family in names]
    return (last or mine or names)[0]


class GridRow(pn.viewable.Viewer):
    """One swept parameter: its name and its values (``53,59,61``), and a remove button."""

    def __init__(self, names: list[str], name: str, values: str,
                 on_change: Callable[[], None], on_remove: Callable[[GridRow], None]):
        super().__init__()
        self.parameter = pn.widgets.Select(label="swept parameter", options=names, value=name,
                                      width=200)
        self.values = pn.widgets.TextInput(label="values", value=values, value_input=values,
                                           width=260,
                                           placeholder="comma-separated, e.g. 1,2,3")
        self.remove = pn.widgets.Button(label="✕", width=40, margin=(23, 5, 5, 5))
        self.parameter.param.watch(lambda e: on_change(), "value")
        self.values.param.watch(lambda e: on_change(), "value_input")
        self.remove.on_click(lambda e: on_remove(self))

    def item(self) -> str:
        """The row as a ``--grid`` argument, ``NAME=V1,V2``."""
        return f"{self.parameter.value}={self.values.value_input or ''}"

    def __panel__(self):
        return pn.Row(self.parameter, self.values, self.remove)


class SweepForm(pn.viewable.Viewer):
    """The form; ``on_started(record)`` is called once a sweep has been started.

    Args:
        store: where the sweep is recorded.
        on_started: called with the new sweep's record (the page then shows its card).
    """

    def __init__(self, store: Store, *,
                 on_started: Callable[[SweepRecord], None] | None = None, **params: Any):
        super().__init__(**params)
        self.store, self.on_started = store, on_started
        names = [name for name, fam in families().items() if not fam.imported_by]
        self.family = pn.widgets.Select(label="family", options=names,
                                        value=_usual_family(store, names), width=260)
        self.preset = pn.widgets.Select(label="preset", width=160)
        self.grid: list[GridRow] = []
        self.rows = pn.Column()
        self.add = pn.widgets.Button(label="+ swept parameter", width=160)
        self.fixed = pn.widgets.TextInput(label="fixed values (optional)", width=420,
                                          placeholder="NAME=VALUE NAME=VALUE, e.g. n_epochs=100")
        self.executor = pn.widgets.TextInput(label="executor", value="local",
                                             value_input="local", width=200,
                                             description=f"where jobs run: {_EXECUTORS}")
        self.analyze = pn.widgets.Checkbox(label="analyse each variant once trained", value=True,
                                           css_classes=["tdw-sweep-analyze"])
        self.start = pn.widgets.Button(label="Start sweep", color="primary", width=160)
        self.plan = pn.pane.HTML("", margin=(0, 10), sizing_mode="stretch_width",
                                 css_classes=["tdw-sweep-plan"])
        self.feedback = pn.pane.Alert("", alert_type="info", visible=False, margin=(5, 10))
        self.family.param.watch(lambda e: self._load_family(), "value")
        self.add.on_click(lambda e: self.add_row())
        for widget, prop in ((self.preset, "value"), (self.fixed, "value_input"),
                             (self.executor, "value_input"), (self.analyze, "value")):
            widget.param.watch(lambda e: self.check(), prop)
        self.start.on_click(lambda e: self.submit())
        self._load_family()

    # ---------------------------------------------------------------- rows
    def _load_family(self) -> None:
        fam = families()[self.family.value]
        presets = [_NO_PRESET, *fam.presets]
        self.preset.param.update(options=presets,
                                 value="quick" if "quick" in presets else _NO_PRESET)
        self.grid = []
        self.add_row("model_seed" if "model_seed" in self._names() else self._names()[0], "1,2")

    def _names(self) -> list[str]:
        return [p.name for p in families()[self.family.value].params]

    def add_row(self, name: str | None = None, values: str = "") -> GridRow:
        """Another swept parameter (by default the first not swept yet)."""
        taken = {row.parameter.value for row in self.grid}
        free = [n for n in self._names() if n not in taken] or self._names()
        row = GridRow(self._names(), name or free[0], values, self.check, self._remove)
        self.grid.append(row)
        self.rows.objects = list(self.grid)
        self.check()
        return row

    def _remove(self, row: GridRow) -> None:
        self.grid = [r for r in self.grid if r is not row]
        self.rows.objects = list(self.grid)
        self.check()

    # --------------------------------------------------------------- logic
    def spec(self) -> SweepSpec:
        """The sweep the form describes, checked as ``tdw sweep`` checks its arguments."""
        return SweepSpec.from_cli(
            self.family.value, [row.item() for row in self.grid],
            (self.fixed.value_input or "").split(),
            preset="" if self.preset.value == _NO_PRESET else self.preset.value or "",
            analyze=self.analyze.value)

    def _problem(self) -> str | None:
        """What the form's own layout gets wrong, in the form's terms (the checks behind
        :meth:`spec` word the same faults in the command line's)."""
        if not self.grid:
            return "add a swept parameter (+ swept parameter): a sweep varies at least one"
        rows: dict[str, list[int]] = {}
        for number, row in enumerate(self.grid, start=1):
            rows.setdefault(row.parameter.value, []).append(number)
        for name, numbers in rows.items():
            if len(numbers) > 1:
                return (f"rows {' and '.join(map(str, numbers))} both sweep {name}: give one "
                        "row all its values, or pick another parameter")
        fixed = {item.split("=", 1)[0].strip() for item in (self.fixed.value_input or "").split()}
        if both := sorted(set(rows) & fixed):
            return (f"{', '.join(both)} {'is' if len(both) == 1 else 'are'} swept and also "
                    "fixed: remove it from the fixed values")
        return None

    def _checked(self) -> tuple[SweepSpec, str, list]:
        """The sweep, its executor and its points, or the refusal (a TdwError)."""
        if problem := self._problem():
            raise TdwError(problem)
        spec = self.spec()
        executor, points = coordinator.check(self.store, spec, self.executor.value_input or "")
        return spec, executor, points

    def check(self) -> bool:
        """Check the form; say what Start would do, or why it would be refused."""
        try:
            spec, executor, points = self._checked()
        except TdwError as exc:
            self.plan.object = f"<span style='color:#b00'>{html.escape(str(exc))}</span>"
            self.start.disabled = True
            return False
        analyse = ", each analysed once trained" if spec.analyze else ""
        self.plan.object = html.escape(f"Will sweep {len(points)} variants of {spec.family} "
                                       f"on {executor}{analyse}.")
        self.start.disabled = False
        return True

    def submit(self) -> SweepRecord | None:
        """Start the sweep in the background, as ``tdw sweep --background`` does."""
        try:
            spec, executor, points = self._checked()
            record, pid = coordinator.start_sweep(self.store, spec, executor, points)
        except TdwError as exc:
            self.feedback.alert_type, self.feedback.object = "danger", str(exc)
            self.feedback.visible = True
            return None
        self.feedback.alert_type = "success"
        self.feedback.object = (f"Started sweep {record.id}: {len(points)} variants of "
                                f"{spec.family} on {executor} (coordinator pid {pid}).")
        self.feedback.visible = True
        self.check()  # now running: starting it again would be refused
        if self.on_started is not None:
            self.on_started(record)
        return record

    def __panel__(self):
        return pn.Column(
            pn.Row(self.family, self.preset), pn.pane.Markdown("Grid (every combination is "
                                                               "one variant)", margin=(0, 10)),
            self.rows, self.add, self.fixed, pn.Row(self.executor, self.analyze),
            pn.Row(self.start, self.plan), self.feedback, sizing_mode="stretch_width",
            css_classes=["tdw-sweep-form"])
