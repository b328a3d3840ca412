"""Checkpoint Series: a pretrained causal LM's training checkpoints, imported as one variant.

EleutherAI's Pythia models publish their training checkpoints as Hub revisions
(``step1000``, ``step2000``, ...; Biderman et al. 2023, "Pythia: a suite for analyzing large
language models across training and scaling"). ``tdw import`` turns such a series, or a
list of local ``save_pretrained`` directories, into a variant whose "epochs" are the
training steps; the probe is the user's prompt set with its metric. The analyzers ask the
questions of the user's own studies: which heads carry a behaviour (ablation, head-group
patching, e.g. even vs odd heads on 9.8 vs 9.11), when the heads' weights cluster, and
whether the weight clusters match the behavioural groups.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tdw.family.family import Dataset, Family, TrainConfig
from tdw.family.params import Param

from .analyzers import ANALYZERS, CROSS_EPOCH
from .command import COMMAND
from .importer import MODEL_FOLDER
from .series import boot_stored
from .tiny import tiny_variant
from .views import VIEWS

if TYPE_CHECKING:
    import torch

__all__ = ["FAMILY"]

IMPORT_COMMAND = ("tdw import MODEL --revisions step1000,step2000,... --probe prompts.json, "
                  "or tdw import DIR1 DIR2 ... --probe prompts.json")


def _increasing_steps(text: str) -> str | None:
    """Why ``text`` is not a list of training steps, or None when it is one."""
    parts = [s.strip() for s in text.split(",") if s.strip()]
    # isdecimal, not isdigit: '²' is a digit that int() refuses
    if not all(s.isascii() and s.isdecimal() for s in parts):
        return "write the steps as whole numbers separated by commas, e.g. 0,1000,2000"
    steps = [int(s) for s in parts]
    if any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
        return "the steps must increase, one per revision, e.g. 0,1000,2000"
    return None


PARAMS = (
    Param("model", "str", "series", "label of the series in the variant id (default: the "
          "model's name; tdw import --name sets it)", identity=True, short="m"),
    Param("source", "str", "", "Hugging Face model id the revisions come from, or 'local'"),
    Param("revisions", "str", "", "comma-separated Hub revisions, or the checkpoint directories"),
    Param("steps", "str", "", "comma-separated training step of each revision (the 'epochs')",
          check=_increasing_steps),
    Param("config_sha256", "str", "", "sha256 of the architecture stored with the variant"),
)
"""Written by ``tdw import``; the variant id is the model label plus a hash of the rest."""


def _steps(values: Mapping[str, Any]) -> list[int]:
    return [int(s) for s in values["steps"].split(",") if s.strip()]


def model_config(values: Mapping[str, Any]) -> None:
    """None: an imported series boots from its stored Hugging Face config (``boot``)."""
    return None


def boot(values: Mapping[str, Any], folder: Path, device: torch.device):
    """The series' architecture from ``model/`` in the variant folder via boot_transformers."""
    return boot_stored(folder / MODEL_FOLDER, device, values["config_sha256"])


def dataset(values: Mapping[str, Any]) -> Dataset:
    """None: the series was trained elsewhere, on its authors' data (this raises)."""
    raise NotImplementedError(f"an imported series has no training data; {IMPORT_COMMAND}")


def probe(values: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The user's prompt file, tokenized at import (see the family README)."""
    raise NotImplementedError(f"the probe of an imported series is given at import; "
                              f"{IMPORT_COMMAND}")


def train_config(values: Mapping[str, Any]) -> TrainConfig:
    """The span of the series (its last step, at least 1); the optimiser was its authors'
    (unknown: NaN). Forms that plan training read it; ``tdw train`` refuses the family."""
    steps = _steps(values)
    return TrainConfig(n_epochs=max(steps[-1] if steps else 1, 1), lr=float("nan"),
                       weight_decay=float("nan"))


def default_schedule(values: Mapping[str, Any]) -> str:
    """Every imported revision's step."""
    return ",".join(map(str, _steps(values))) or "end"


FAMILY = Family(
    name="checkpoint_series",
    title="Checkpoint Series (imported)",
    description=(
        "A pretrained causal LM's training checkpoints (Pythia-style step revisions on the "
        "Hugging Face Hub, or local save_pretrained directories) imported as one variant; the "
        "probe is your prompt set with a logit- or probability-difference metric. Per-head "
        "ablation, head-group activation patching (e.g. even vs odd heads), head weight "
        "clustering, and when the clustering emerges."
    ),
    params=PARAMS,
    model_config=model_config,
    dataset=dataset,
    probe=probe,
    train_config=train_config,
    default_schedule=default_schedule,
    # The generic parameter sketch (tdw.library.weights) is left out: at Pythia-160M's size
    # (162M parameters) its float64 DCT was killed for want of memory on a 24 GB machine.
    analyzers=ANALYZERS,
    cross_epoch=CROSS_EPOCH,
    views=VIEWS,
    transition="clustering_emergence",
    boot=boot,
    imported_by=IMPORT_COMMAND,
    commands=(COMMAND,),
    # No parameters to shrink: the tiny variant is a tiny random series, imported.
    tiny_variant=tiny_variant,
    summaries=(("clustering emerges at step", "clustering_emergence", "transition_epoch"),
               ("probe metric (last)", "answer_metric", "mean")),
)
