"""An analysis run of one variant: what the ``analyze.ipynb`` template calls.

:meth:`AnalysisRun.prepare` plans the analysis (raising on unknown analyzers or checkpoints
before any work); :meth:`AnalysisRun.execute` fills the gaps under the variant's lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tdw.analysis.engine import (
    AnalysisReport,
    AnalysisRunConfig,
    Plan,
    Progress,
    execute,
    make_plan,
)
from tdw.store.locks import exclusive
from tdw.store.store import Store

__all__ = ["AnalysisRun"]


@dataclass(frozen=True)
class AnalysisRun:
    """A validated analysis of one variant: the plan, then its execution (``analyze.ipynb``)."""

    store: Store
    config: AnalysisRunConfig
    plan: Plan

    @classmethod
    def prepare(cls, *, variant: str, analyzers: str | Sequence[str] = (),
                checkpoints: str = "", force: bool = False, workers: int = 0,
                device: str = "auto", store: str | Store | None = None) -> AnalysisRun:
        """Plan the analysis; unknown analyzers or checkpoints, or a device this machine
        lacks, raise before any work."""
        store = store if isinstance(store, Store) else Store(store or None)
        names = tuple(n.strip() for n in (analyzers.split(",") if isinstance(analyzers, str)
                                          else analyzers) if n.strip())
        config = AnalysisRunConfig(store.variant(variant).id, names, checkpoints, force, workers,
                                   device)
        return cls(store, config, make_plan(store, config))

    def describe(self) -> str:
        return self.plan.describe()

    def execute(self, progress: Progress | None = None) -> AnalysisReport:
        """Fill the gaps. One analysis of a variant runs at a time: a second one waits for
        the first, then plans again and computes only what the first did not."""
        folder = self.store.path(self.store.variant(self.config.variant).folder / "artifacts")
        with exclusive(folder):
            plan = make_plan(self.store, self.config)
            return execute(self.store, plan, workers=self.config.workers,
                           device=self.config.device, progress=progress)
