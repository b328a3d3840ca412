"""tdw, the Training Dynamics Workbench: how does behaviour X change across training?

Train registered model families as papermill jobs, analyse every checkpoint against a
fixed probe, and explore the results. The public API:

>>> import tdw
>>> tdw.get_family("modulo_addition_1l").title
'Modulo Addition 1-Layer'

The package is layered; each subpackage imports only the ones below it (checked by
``lint-imports``; see ``docs/architecture.md``)::

    cli                          the tdw command
    ui | serve                   Panel dashboards | Voila serving
    sweeps                       parameter grids of jobs
    jobs                         papermill jobs, executors
    training | analysis | explore   the loop and runs | the engine | the read path (Bokeh)
    library | store              generic analyzers and views | catalog and files
    family                       the SDK every family imports
    errors

Names are resolved on first use, so ``import tdw`` (and ``import tdw.ui``) costs only what
is used: the dashboards' read path never imports torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "tdw.family.analyzer": ("Analyzer", "CrossEpochAnalyzer", "CheckpointInputs",
                            "CrossEpochInputs", "LOGITS"),
    "tdw.family.artifacts": ("Artifact", "ArraySpec", "ArtifactSchema", "AttrSpec"),
    "tdw.family.commands": ("Command", "CommandResult"),
    "tdw.family.family": ("Dataset", "Family", "TrainConfig"),
    "tdw.family.params": ("Param",),
    "tdw.family.registry": ("families", "get_family", "register"),
    "tdw.family.schedule": ("Schedule", "parse_schedule"),
    "tdw.family.views": ("View", "ViewContext", "Trace"),
    "tdw.store.store": ("Store",),
    "tdw.training.run": ("TrainingRun", "AlreadyTrained"),
    "tdw.analysis.run": ("AnalysisRun",),
    "tdw.explore.variant": ("Variant", "Checkpoint"),
    "tdw.explore.render": ("ViewResult",),
    "tdw.errors": ("TdwError", "UnknownNameError", "ParameterError", "ScheduleError",
                   "StoreError", "IntegrityError", "ProbeMismatchError", "SchemaError"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [name for names in _EXPORTS.values() for name in names]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'tdw' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # resolved once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
