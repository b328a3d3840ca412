"""Views: named visualisations of stored artifacts, for dashboards and notebooks alike.

A :class:`View` never runs a model. It turns artifacts into plain column data
(``data`` once per variant and selection, ``epoch_data`` on every checkpoint change) and
builds a Bokeh figure *around* named ``ColumnDataSource`` objects once. Moving a
checkpoint slider therefore only replaces the data of the sources ``epoch_data`` returns:
for a per-checkpoint view the plot itself, for a summary view just its current-epoch
marker. :mod:`tdw.explore.render` renders one inline in a notebook or to a file.

Besides the checkpoint, a page may let the reader choose what a view shows
(:mod:`tdw.family.controls`): selectors (an entry of an artifact's axis, named by
:class:`Labels`), decimal :class:`Control` values such as thresholds, and a
:class:`TapLink` by which a click on this view picks an entry of another view's selector.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tdw.errors import UnknownNameError
from tdw.family.artifacts import Artifact
from tdw.family.controls import Control, Labels, TapLink
from tdw.family.schedule import ScheduleRecord

__all__ = ["View", "ViewContext", "Trace", "Columns", "Control", "Labels", "TapLink"]

Columns = dict[str, dict[str, Any]]
"""Source name -> column name -> values (lists or 1-D arrays; 2-D images as [array])."""


@dataclass(frozen=True)
class ViewContext:
    """What a view may read: artifacts and metrics of one variant, at one checkpoint.

    Attributes:
        variant: the variant id.
        values: the variant's parameters.
        epoch: the current checkpoint epoch.
        epochs: every analysed checkpoint epoch, increasing.
        load: ``(analyzer, epoch) -> Artifact``; the epoch is ignored for cross-epoch
            analyzers. Cached by the caller.
        metrics: ``() -> per-epoch metric arrays``.
        selection: current selector values, e.g. ``{"neuron": 3}``.
        transition: ``(transition_epoch, confidence)`` of the detected transition, or None.
        schedule: ``() -> ScheduleRecord | None``: the checkpoints the run wrote and why
            (scheduled or adaptive); None for a variant without a record.
        controls: the values of the view's :class:`Control` decimals chosen on the page,
            e.g. ``{"min_share": 0.5}``; read them with :meth:`Control.value`, which falls
            back to the default.
    """

    variant: str
    values: Mapping[str, Any]
    epoch: int
    epochs: tuple[int, ...]
    load: Callable[[str, int], Artifact]
    metrics: Callable[[], Mapping[str, np.ndarray]]
    selection: Mapping[str, int] = field(default_factory=dict)
    transition: tuple[int, float] | None = None
    schedule: Callable[[], ScheduleRecord | None] = lambda: None
    controls: Mapping[str, float] = field(default_factory=dict)

    def at(self, epoch: int) -> ViewContext:
        return ViewContext(self.variant, self.values, epoch, self.epochs, self.load,
                           self.metrics, self.selection, self.transition, self.schedule,
                           self.controls)


@dataclass(frozen=True)
class Trace:
    """One curve that summarises a view across training, to overlay variants in Compare.

    Attributes:
        label: y-axis label, e.g. "test loss".
        values: context -> ``(epochs, values)``.
        log: draw on a log y axis.
    """

    label: str
    values: Callable[[ViewContext], tuple[Any, Any]]
    log: bool = False


@dataclass(frozen=True)
class View:
    """A named visualisation.

    Attributes:
        name: registry key (``tdw views`` lists them).
        title: figure title.
        description: what it shows and how to read it.
        reads: analyzer names whose artifacts it needs ("metrics" for the loss curves).
        scope: ``"checkpoint"`` (drawn from one checkpoint's artifact) or ``"summary"``
            (drawn across training, with a marker at the current checkpoint).
        data: context -> columns that do not change with the checkpoint.
        epoch_data: context -> columns that do (replaced on every slider move).
        build: (sources, context) -> Bokeh figure, called once.
        selectors: selector name -> (artifact analyzer, array, axis) giving its range,
            e.g. ``{"neuron": ("neuron_activations", "neurons", 0)}``.
        group: heading under which dashboards place it.
        trace: the curve Compare overlays across variants, if any.
        labels: selector name -> how its values are named on the page (default
            ``"<name> <i>"``), e.g. ``{"neuron": Labels("neurons", "neuron {value}")}``.
        controls: the decimals its data depends on (thresholds), shown beside the
            selectors; ``data`` and ``epoch_data`` read them with :meth:`Control.value`.
        on_tap: what a click on one of its rows selects in another view, if anything.
    """

    name: str
    title: str
    description: str
    reads: tuple[str, ...]
    scope: str
    build: Callable[[Mapping[str, Any], ViewContext], Any]
    data: Callable[[ViewContext], Columns] = lambda ctx: {}
    epoch_data: Callable[[ViewContext], Columns] = lambda ctx: {}
    selectors: Mapping[str, tuple[str, str, int]] = field(default_factory=dict)
    group: str = "Analyses"
    trace: Trace | None = None
    labels: Mapping[str, Labels] = field(default_factory=dict)
    controls: tuple[Control, ...] = ()
    on_tap: TapLink | None = None

    def __post_init__(self) -> None:
        if self.scope not in ("checkpoint", "summary"):
            raise ValueError(f"view {self.name}: scope must be 'checkpoint' or 'summary'")
        if unknown := set(self.labels) - set(self.selectors):
            raise ValueError(f"view {self.name}: labels for no selector: {sorted(unknown)}")
        names = [c.name for c in self.controls]
        if len(set(names)) < len(names) or set(names) & set(self.selectors):
            raise ValueError(f"view {self.name}: control names must be unique and differ "
                             f"from its selectors; got {names}")
        if self.on_tap is not None and self.on_tap.target == self.name:
            raise ValueError(f"view {self.name}: on_tap must name another view")

    def control(self, name: str) -> Control:
        """The control called ``name``; an unknown name lists the view's controls."""
        for control in self.controls:
            if control.name == name:
                return control
        raise UnknownNameError(f"control of view {self.name}", name,
                               [c.name for c in self.controls])

    def selector_range(self, ctx: ViewContext, name: str) -> int:
        """How many values selector ``name`` can take (e.g. the number of stored neurons)."""
        analyzer, array, axis = self.selectors[name]
        return int(ctx.load(analyzer, ctx.epoch)[array].shape[axis])

    def selector_values(self, ctx: ViewContext, name: str) -> np.ndarray:
        """What each value of selector ``name`` stands for: its :class:`Labels` entries
        (e.g. the MLP index of each stored neuron), else its positions ``0 .. n - 1``."""
        if name not in self.labels:
            return np.arange(self.selector_range(ctx, name))
        art = ctx.load(self.selectors[name][0], ctx.epoch)
        source = self.labels[name].array
        values = np.asarray(art.arrays[source] if source in art.arrays else art.attrs[source])
        # a list of names may cover more than the selected axis holds (e.g. the sites of a
        # geometry artifact whose distance matrices keep only the first three), never less
        n = self.selector_range(ctx, name)
        if len(values) < n:
            raise ValueError(f"view {self.name}: selector {name} has {n} entries but its "
                             f"labels {source!r} name only {len(values)}; label it with an "
                             "array or list of at least as many")
        return values[:n]

    def selector_label(self, name: str, value: Any) -> str:
        """The name the page gives entry ``value`` (a :meth:`selector_values` entry)."""
        return self.labels.get(name, Labels("")).name(name, value)

    def selector_labels(self, ctx: ViewContext, name: str) -> list[str]:
        """One distinct name per value of selector ``name``, in order (``"neuron 312"``); a
        name that repeats gets its position too, so a dropdown tells them apart."""
        names = [self.selector_label(name, v) for v in self.selector_values(ctx, name)]
        count = Counter(names)
        return [f"{n} [{i}]" if count[n] > 1 else n for i, n in enumerate(names)]

    def sources(self, ctx: ViewContext, epoch_columns: Columns | None = None
                ) -> dict[str, Any]:
        """Fresh ColumnDataSources holding both the static and the per-epoch columns.

        ``epoch_columns`` is ``epoch_data(ctx)`` when the caller has it already.
        """
        from bokeh.models import ColumnDataSource

        if epoch_columns is None:
            epoch_columns = self.epoch_data(ctx)
        columns = {**self.data(ctx), **epoch_columns}
        return {name: ColumnDataSource(data=cols) for name, cols in columns.items()}

    def figure(self, ctx: ViewContext):
        return self.build(self.sources(ctx), ctx)
