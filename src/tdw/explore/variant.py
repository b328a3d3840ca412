"""The notebook API: open a variant, step to a checkpoint, show any view inline.

>>> v = Variant("p59")                          # doctest: +SKIP
>>> v.at(1500).view("dominant_frequencies")     # doctest: +SKIP
>>> v.view("loss_curves").export("loss.html")   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from tdw.errors import ParameterError, TdwError, UnknownNameError
from tdw.explore.render import ViewResult, bare, render
from tdw.family.analyzer import CrossEpochAnalyzer
from tdw.family.artifacts import Artifact
from tdw.family.family import analyzers_of
from tdw.family.registry import get_family
from tdw.family.schedule import ScheduleRecord
from tdw.family.views import View, ViewContext
from tdw.store.listing import artifact_versions
from tdw.store.store import Store

__all__ = ["Variant", "Checkpoint"]


class Variant:
    """One trained variant, read from the store: its checkpoints, artifacts and views."""

    def __init__(self, ref: str, store: Store | str | None = None):
        self.store = store if isinstance(store, Store) else Store(store)
        self.record = self.store.variant(ref)
        self.id = self.record.id
        self.family = get_family(self.record.family)
        self.params = self.family.complete(self.record.params)
        self.epochs = tuple(c.epoch for c in self.store.checkpoints(self.id))
        self._analyzers = analyzers_of(self.family)
        # Every artifact of a variant fits easily (0.25 MB per checkpoint at p = 59), and a
        # slider that plays through training revisits all of them.
        self._load = lru_cache(maxsize=8192)(self._load_uncached)
        self._metrics = lru_cache(maxsize=1)(lambda: self.store.load_metrics(self.id))
        self._schedule = lru_cache(maxsize=1)(lambda: self.store.load_schedule_record(self.id))

    def __repr__(self) -> str:
        return f"Variant({self.id!r}, {len(self.epochs)} checkpoints)"

    # ------------------------------------------------------------------ data
    def artifact(self, analyzer: str, epoch: int | None = None) -> Artifact:
        """The stored artifact of ``analyzer`` at ``epoch`` (None for cross-epoch ones)."""
        return self._load(analyzer, epoch)

    def _load_uncached(self, analyzer: str, epoch: int | None) -> Artifact:
        if analyzer not in self._analyzers:
            raise UnknownNameError(f"analyzer of {self.family.name}", analyzer,
                                   list(self._analyzers))
        spec = self._analyzers[analyzer]
        if isinstance(spec, CrossEpochAnalyzer):
            epoch = None
        elif epoch is None:
            raise TdwError(f"{analyzer} is computed per checkpoint: pass an epoch")
        return self.store.load_artifact(self.id, spec.schema, epoch)

    def metrics(self) -> dict[str, np.ndarray]:
        return dict(self._metrics())

    def schedule(self) -> ScheduleRecord | None:
        """The checkpoints the run wrote and why (scheduled or adaptive), with the adaptive
        policy's signal and thresholds; None for a variant trained before records existed."""
        return self._schedule()

    def transition(self) -> tuple[int, float] | None:
        """The detected transition ``(epoch, confidence)``, if analysed and found: the
        ``transition_epoch`` and ``confidence`` of the family's ``transition`` analyzer."""
        name = self.family.transition
        if name is None or not isinstance(self._analyzers.get(name), CrossEpochAnalyzer):
            return None
        try:
            attrs = self.artifact(name).attrs
        except TdwError:
            return None
        if attrs.get("transition_epoch") is None:
            return None
        return int(attrs["transition_epoch"]), float(attrs["confidence"])

    def story(self) -> dict[str, Any] | None:
        """The attributes of the family's ``story`` analyzer (:mod:`tdw.library.story`:
        ``label``, ``reasons``, ``phases``, ...) with ``windows``, phase name -> inclusive
        ``(first, last)`` epochs or None; None when the family tells no story or the
        variant's is not analysed yet."""
        name = self.family.story
        if name is None or not isinstance(self._analyzers.get(name), CrossEpochAnalyzer):
            return None
        try:
            artifact = self.artifact(name)
        except TdwError:
            return None
        windows = {phase: None if first < 0 else (int(first), int(last))
                   for phase, (first, last) in zip(artifact.attrs["phases"],
                                                   artifact["bounds"], strict=True)}
        return {**artifact.attrs, "windows": windows}

    # ----------------------------------------------------------------- views
    def views(self) -> list[str]:
        return [v.name for v in self.family.views]

    def missing(self, view: View | str) -> list[str]:
        """What ``view`` still needs, e.g. ``["coarseness: 12 of 95 checkpoints"]``; empty
        when every artifact it reads is stored."""
        view = self._view(view) if isinstance(view, str) else view
        return self._needs(view, self.store.artifact_epochs(self.id))

    def analysed(self) -> tuple[int, int]:
        """(artifacts stored and current, artifacts the family's analyzers make for these
        checkpoints). An artifact is current when the family still declares its analyzer,
        at the version and options that made it: a stale one, or one of an analyzer the
        family dropped or renamed, is not counted (``tdw analyze`` recomputes the first)."""
        fam = self.family
        current = {a.name: (a.version, a.options_json) for a in self._analyzers.values()}
        epochs = {*self.epochs, -1}
        rows = artifact_versions(self.store.catalog, self.id)
        have = sum(1 for name, epoch, version, options in rows
                   if epoch in epochs and current.get(name) == (version, options))
        return have, len(fam.analyzers) * len(self.epochs) + len(fam.cross_epoch)

    def waiting(self) -> dict[str, list[str]]:
        """Every view that still needs artifacts, with what it needs (one catalog query)."""
        coverage = self.store.artifact_epochs(self.id)
        return {v.name: needs for v in self.family.views if (needs := self._needs(v, coverage))}

    def needs(self, view: View) -> list[str]:
        """What ``view`` (any view, e.g. one written in a notebook) still needs of this
        variant's artifacts; empty when it can be drawn."""
        unknown = [n for n in view.reads if n != "metrics" and n not in self._analyzers]
        if unknown:
            return [f"{name}: not an analyzer of {self.family.name} (its analyzers: "
                    f"{', '.join(sorted(self._analyzers))})" for name in unknown]
        return self._needs(view, self.store.artifact_epochs(self.id))

    def _needs(self, view: View, coverage: Mapping[str, set[int]]) -> list[str]:
        needs = []
        for name in view.reads:
            if name == "metrics":
                continue
            have = coverage.get(name, set())
            if isinstance(self._analyzers.get(name), CrossEpochAnalyzer):
                if -1 not in have:
                    needs.append(f"{name}: not computed")
            elif missing := [e for e in self.epochs if e not in have]:
                needs.append(f"{name}: {len(self.epochs) - len(missing)} of "
                             f"{len(self.epochs)} checkpoints")
        return needs

    def _view(self, name: str) -> View:
        for view in self.family.views:
            if view.name == name:
                return view
        raise UnknownNameError(f"view of {self.family.name}", name, self.views())

    def check_selection(self, view: View, epoch: int, selection: Mapping[str, Any]) -> None:
        """Refuse a selector ``view`` does not have, or an index outside its range: a typo
        must never silently draw selector 0, nor wrap around to the last neuron."""
        for name, index in selection.items():
            if not view.selectors:
                raise TdwError(f"view {view.name} has no selectors; drop {name}={index!r}")
            if name not in view.selectors:
                raise UnknownNameError(f"selector of view {view.name}", name,
                                       list(view.selectors))
            n = view.selector_range(self.context(epoch), name)
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n:
                raise ParameterError(f"{name}={index!r} is out of range for view {view.name}"
                                     f": choose a whole number from 0 to {n - 1}")

    def context(self, epoch: int, *, controls: Mapping[str, float] | None = None,
                **selection: int) -> ViewContext:
        """What a view reads at checkpoint ``epoch``, with its selectors and its decimal
        ``controls`` (e.g. ``{"min_share": 0.5}``; unchecked here: see :meth:`controls_of`)."""
        if epoch not in self.epochs:
            raise UnknownNameError(f"checkpoint epoch of {self.id}", str(epoch),
                                   [str(e) for e in self.epochs])
        return ViewContext(self.id, self.params, epoch, self.epochs,
                           lambda a, e: self._load(a, e), self._metrics, dict(selection),
                           self.transition(), self._schedule, dict(controls or {}))

    @staticmethod
    def controls_of(view: View, controls: Mapping[str, float] | None) -> dict[str, float]:
        """``controls`` checked against ``view``'s: an unknown name or a value outside its
        range raises an error naming the range."""
        return {name: view.control(name).check(value)
                for name, value in (controls or {}).items()}

    def at(self, epoch: int) -> Checkpoint:
        """The variant at one checkpoint, for per-checkpoint views."""
        self.context(epoch)
        return Checkpoint(self, epoch)

    def view(self, name: str, *, controls: Mapping[str, float] | None = None,
             **selection: int) -> ViewResult:
        """Show a summary view (across training); the marker sits at the last checkpoint.
        ``controls`` sets its decimal controls, e.g. ``controls={"min_share": 0.5}``."""
        view = self._view(name)
        if view.scope != "summary":
            raise TdwError(f"{name} is drawn per checkpoint: use variant.at(epoch).view({name!r})")
        self.check_selection(view, self.last, selection)
        return render(view, self.context(self.last, controls=self.controls_of(view, controls),
                                         **selection))

    @property
    def last(self) -> int:
        """The last checkpoint epoch; a variant without checkpoints is an error."""
        if not self.epochs:
            raise TdwError(f"variant {self.id} has no checkpoints yet; train it first "
                           f"(tdw train {self.family.name} ...)")
        return self.epochs[-1]


    # ---------------------------------------------------------------- export
    def animate(self, name: str, path: str | Path, *, fps: float = 4,
                epochs: Sequence[int] | None = None,
                controls: Mapping[str, float] | None = None, **selection: int) -> Path:
        """Write a GIF of view ``name`` stepping through ``epochs`` (default: every
        checkpoint), e.g. ``v.animate("dominant_frequencies", "freqs.gif")``."""
        from tdw.explore.export import export_gif

        view = self._view(name)
        epochs = list(self.epochs if epochs is None else epochs) or [self.last]
        chosen = self.controls_of(view, controls)
        contexts = [self.context(e, controls=chosen, **selection)  # bad epochs raise first
                    for e in epochs]
        self.check_selection(view, epochs[0], selection)
        return export_gif(lambda i: bare(view.figure(contexts[i])), len(contexts), path, fps=fps)

    def export_explorer(self, path: str | Path) -> Path:
        """Write a self-contained HTML explorer of this variant (scrubs offline)."""
        from tdw.explore.standalone import export_standalone

        return export_standalone(self, path)


class Checkpoint:
    """A variant at one checkpoint epoch."""

    def __init__(self, variant: Variant, epoch: int):
        self.variant, self.epoch = variant, epoch

    def __repr__(self) -> str:
        return f"Checkpoint({self.variant.id!r}, epoch={self.epoch})"

    def view(self, name: str, *, controls: Mapping[str, float] | None = None,
             **selection: Any) -> ViewResult:
        """Show any view at this checkpoint (summary views mark it), with its decimal
        ``controls`` if given."""
        view = self.variant._view(name)
        self.variant.check_selection(view, self.epoch, selection)
        return render(view, self.variant.context(
            self.epoch, controls=self.variant.controls_of(view, controls), **selection))
