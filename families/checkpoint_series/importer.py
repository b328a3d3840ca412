"""``tdw import``: a pretrained causal LM's checkpoint series becomes one variant.

:func:`plan_import` checks everything that can be wrong, writing nothing: the prompt file,
every revision (exists, causal LM, one architecture) and the probe's tokenization.
:func:`run_import` then writes the variant into a staging store inside the store (the
probe, the architecture in ``model/``, one checkpoint per revision, each loaded by
``TransformerBridge.boot_transformers`` and hashed like a trained checkpoint) and adopts
it in one catalog transaction (:mod:`tdw.store.staging`). A failure at any
point removes the staging store: the store is left exactly as it was. A staging store left
by a killed import (no live process holds its lock) is removed by the next import.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tdw.errors import TdwError
from tdw.family.family import variant_id
from tdw.family.registry import get_family
from tdw.store.staging import STAGING, staging_store
from tdw.store.store import Store, probe_sha256

from .probe import ProbeSpec, probe_tensors, read_probe_file
from .series import (
    Revision,
    SeriesError,
    architecture_sha256,
    check_series,
    load_tokenizer,
    load_weights,
    resolve_series,
)

if TYPE_CHECKING:
    import torch

__all__ = ["ImportRequest", "ImportPlan", "ImportResult", "AlreadyImported", "plan_import",
           "run_import", "STAGING"]

FAMILY = "checkpoint_series"
MODEL_FOLDER = "model"
"""Subfolder of the variant holding the series' config.json and tokenizer."""


class AlreadyImported(TdwError):
    """The same series with the same probe is in the store already (nothing to do)."""


@dataclass(frozen=True)
class ImportRequest:
    """What to import.

    Attributes:
        sources: one Hub id or local folder with ``revisions``; else one directory per
            checkpoint.
        probe: path of the prompt file (format: :mod:`.probe`).
        revisions: Hub revisions (``step1000``) or subfolders of the one local folder.
        steps: the training step of each revision (default: parsed from ``stepN`` names).
        name: the series' label in the variant id (default: the model's name).
    """

    sources: tuple[str, ...]
    probe: str
    revisions: tuple[str, ...] = ()
    steps: tuple[int, ...] = ()
    name: str = ""


@dataclass(frozen=True)
class ImportPlan:
    """A checked import: the variant's parameters, its revisions and its probe."""

    variant: str
    values: dict[str, Any]
    revisions: tuple[Revision, ...]
    spec: ProbeSpec
    probe: dict[str, torch.Tensor]
    config: Any
    tokenizer: Any

    def describe(self) -> str:
        steps = ", ".join(str(r.step) for r in self.revisions)
        return (f"{self.variant}: {len(self.revisions)} checkpoints of {self.values['source']} "
                f"(steps {steps}); probe {self.spec.name!r}, {len(self.spec.items)} prompts, "
                f"metric {self.spec.metric}")


@dataclass(frozen=True)
class ImportResult:
    variant: str
    checkpoints: int
    seconds: float

    def summary(self) -> str:
        return (f"imported {self.variant}: {self.checkpoints} checkpoints in {self.seconds:.1f} s;"
                f" analyse it with: tdw analyze {self.variant}")


def _label(source: str, revisions: Sequence[Revision]) -> str:
    """The model's name (``pythia_160m``), or the folder holding the directories, spelled
    with the characters a variant id keeps as they are."""
    if source != "local":
        name = source.rstrip("/").split("/")[-1]
    else:
        parents = {Path(r.model).parent for r in revisions}
        name = parents.pop().name if len(parents) == 1 else "series"
    return re.sub(r"[^A-Za-z0-9._]", "_", name) or "series"


def plan_import(store: Store, request: ImportRequest) -> ImportPlan:
    """Check the import end to end without writing anything.

    Raises:
        AlreadyImported: the same series and probe are in the store.
        TdwError: a bad prompt file, a missing revision, a model that is not a causal LM,
            revisions of different architectures, or the series imported with another probe.
    """
    spec = read_probe_file(request.probe)
    source, revisions = resolve_series(request.sources, request.revisions, request.steps)
    config = check_series(revisions)
    tokenizer = load_tokenizer(revisions[0])
    probe = probe_tensors(spec, tokenizer, int(config.num_attention_heads))
    family = get_family(FAMILY)
    values = family.resolve({
        "model": request.name or _label(source, revisions), "source": source,
        "revisions": ",".join(r.revision or r.model for r in revisions),
        "steps": ",".join(str(r.step) for r in revisions),
        "config_sha256": architecture_sha256(config)})
    vid = variant_id(family, values)
    existing = store.stored_probe_sha256(vid)
    if existing is not None:
        if existing == probe_sha256(probe):
            raise AlreadyImported(f"{vid} is already imported with this probe; analyse it: "
                                  f"tdw analyze {vid}")
        raise TdwError(f"{vid} was imported with another prompt set (probe sha256 "
                       f"{existing[:16]}...); a variant's probe is fixed: import the "
                       "series again under another name (--name LABEL) to use this one")
    return ImportPlan(vid, values, revisions, spec, probe, config, tokenizer)


def run_import(store: Store, plan: ImportPlan,
               progress: Callable[[int, int], None] | None = None) -> ImportResult:
    """Write the planned variant into the store, all or nothing (see the module docstring)."""
    began = time.perf_counter()
    family = get_family(FAMILY)
    with staging_store(store) as staging:
        steps = [r.step for r in plan.revisions]
        staging.ensure_variant(family, plan.values, ",".join(map(str, steps)), steps[-1])
        staging.ensure_probe(plan.variant, plan.probe)
        model_folder = staging.path(staging.variant(plan.variant).folder / MODEL_FOLDER)
        plan.config.save_pretrained(model_folder)
        plan.tokenizer.save_pretrained(model_folder)
        shapes: dict[str, tuple[int, ...]] | None = None
        for i, rev in enumerate(plan.revisions):
            weights = load_weights(rev)
            mine = {k: tuple(v.shape) for k, v in weights.items()}
            if shapes is not None and mine != shapes:
                differ = sorted(k for k in set(shapes) | set(mine) if shapes.get(k) != mine.get(k))
                raise SeriesError(f"{rev.label}'s weights do not fit {plan.revisions[0].label}'s "
                                  f"({', '.join(differ[:3])}); a series must be one model")
            shapes = mine
            staging.write_checkpoint(plan.variant, rev.step, weights)
            del weights
            if progress:
                progress(i + 1, len(plan.revisions))
        staging.update_variant(plan.variant, state="trained", epochs_done=steps[-1])
        store.adopt_variant(staging, plan.variant)
    return ImportResult(plan.variant, len(plan.revisions), time.perf_counter() - began)
