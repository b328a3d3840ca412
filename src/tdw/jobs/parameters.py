"""The job boundary: which template a job runs, and which parameters may reach it.

papermill writes each parameter into the notebook as Python source (``name = value``), so a
job's parameters are checked against its template before the job is recorded
(:func:`check_parameters`): names the template declares, values of the declared type, and
for a training or analysis job values that pass the same validation as the CLI's.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any

from tdw.errors import JobError
from tdw.store.store import Store

__all__ = ["template_path", "check_parameters"]

_RUNNER_SET = ("store", "job_id")  # the runner sets these; a caller may not
_TYPES: dict[str, tuple[type, ...]] = {"str": (str,), "int": (int,), "float": (int, float),
                                       "bool": (bool,), "dict": (dict,), "list": (list,)}


def template_path(name: str) -> Path:
    """Path of an installed template notebook (``train`` -> ``.../templates/train.ipynb``)."""
    path = Path(str(files("tdw.templates") / f"{name}.ipynb"))
    # a plain name only: "../dashboards/x" must not turn another notebook into a job
    if not name.isidentifier() or not path.exists():
        raise JobError(f"template {name}.ipynb is not installed with tdw (looked in "
                       f"{path.parent}); reinstall tdw")
    return path


def check_parameters(store: Store, kind: str, variant: str, parameters: Mapping[str, Any]
                     ) -> None:
    """Refuse a job whose parameters its template does not declare, or that do not validate.

    papermill writes each parameter into the notebook as Python source (``name = value``),
    so only names the template's ``parameters`` cell declares, with values of the declared
    type, may reach it. A training job's values must also pass the family's typed schema
    and an analysis must plan, for the variant the job is recorded under.

    Raises:
        JobError: an unknown, runner-owned or ill-typed parameter, or another variant.
        TdwError: the family, parameters, schedule, device or analysis plan is invalid.
    """
    import papermill

    declared = papermill.inspect_notebook(str(template_path(kind)))
    settable = [name for name in declared if name not in _RUNNER_SET]
    values = {name: ast.literal_eval(info["default"]) for name, info in declared.items()}
    try:
        json.dumps(dict(parameters), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise JobError(f"{kind} job parameters must be plain JSON values ({exc})") from None
    for name, value in parameters.items():
        if name not in settable:
            raise JobError(f"the {kind} template has no parameter {name!r}; it takes "
                           f"{', '.join(settable)}")
        expected = declared[name]["inferred_type_name"]
        types = _TYPES.get(expected, (object,))
        if not isinstance(value, types) or (isinstance(value, bool) and expected != "bool"):
            raise JobError(f"{kind} job parameter {name!r} must be of type {expected}, got "
                           f"{value!r}")
        values[name] = value
    if kind == "train":
        from tdw.family.family import variant_id
        from tdw.family.model import pick_device
        from tdw.training.run import plan_training

        fam, resolved, _ = plan_training(values["family"], values["params"],
                                         values["preset"] or None, values["schedule"])
        pick_device(values["device"])
        expected_variant = variant_id(fam, resolved)
    elif kind == "analyze":
        from tdw.analysis.run import AnalysisRun

        expected_variant = AnalysisRun.prepare(
            variant=values["variant"], analyzers=values["analyzers"],
            checkpoints=values["checkpoints"], force=values["force"],
            workers=values["workers"], device=values["device"],
            store=store).config.variant
    else:
        return
    if variant != expected_variant:
        raise JobError(f"a {kind} job for {variant!r} has the parameters of "
                       f"{expected_variant!r}; submit it under that variant")
