"""``tdw import-miscope``: the user's MIScope runs become Modulo Addition variants.

Each folder (format and epoch mapping: :mod:`.miscope_folder`) becomes the variant of
``recipe=miscope`` with the run's p, seeds, train_fraction, n_epochs, lr and weight decay,
with the family's probe (the full grid, ``is_train`` from MIScope's split). Every checkpoint
is mapped from HookedTransformer names onto the bridge's layout
(:func:`.recipes.hooked_to_bridge`), loaded into the family's model (so a tensor that does
not fit is refused) and stored from it, hashed exactly as a trained checkpoint.

Metrics: metadata.json's per-epoch losses, and at each checkpoint the train and test loss
and accuracy measured on its weights (the family's readout, float64 cross-entropy, as
training records them). MIScope recorded no accuracy, so the accuracy arrays are NaN
between checkpoints (the accuracy view draws its checkpoint markers there, and no line).
A checkpoint whose measured losses disagree with the recorded ones is refused: it is not
the run's.

All or nothing, like ``tdw import``: the variant is written into a staging store inside the
store and adopted in one catalog transaction (:mod:`tdw.store.staging`); any failure
removes the staging store and leaves the store as it was.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from tdw.errors import TdwError
from tdw.family.commands import Command, CommandResult
from tdw.family.family import Dataset
from tdw.family.model import load_weights, loss_and_accuracy, weights_of
from tdw.family.registry import get_family
from tdw.store.staging import staging_store
from tdw.store.store import Store

from . import data
from .miscope_folder import BUFFERS, MiscopeRun, metrics_table, read_folder, recorded_losses
from .readout import answer_logits
from .recipes import hooked_init, hooked_to_bridge

if TYPE_CHECKING:
    import torch

__all__ = ["AlreadyImported", "check_new", "import_run", "COMMAND", "LOSS_RTOL",
           "LOSS_ATOL"]

LOSS_RTOL, LOSS_ATOL = 1e-3, 1e-5
"""How close a checkpoint's measured loss must be to metadata.json's: float32 forward passes
that sum in another order agree far closer; a checkpoint of another epoch or run does not."""


class AlreadyImported(TdwError):
    """The run's variant is in the store already (nothing to do)."""


def check_new(store: Store, run: MiscopeRun) -> None:
    """Raise :class:`AlreadyImported` if the run's variant id is taken in ``store``."""
    if any(v.id == run.variant for v in store.variants("modulo_addition_1l")):
        raise AlreadyImported(f"{run.folder}: its variant {run.variant} is already in the "
                              f"store; analyse it: tdw analyze {run.variant}")


def _hooked(path: Path, expected: Mapping[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """A checkpoint's HookedTransformer parameters, checked: readable, float32, exactly this
    family's names and shapes (the attention's buffers aside)."""
    import torch
    from safetensors.torch import load_file
    try:
        tensors = load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types
        raise TdwError(f"{path} is not a readable safetensors file ({exc}); restore it from "
                       "MIScope's output, or move it out of checkpoints/") from None
    weights = {k: v for k, v in tensors.items() if k not in BUFFERS}
    shapes = {k: tuple(v.shape) for k, v in weights.items()}
    if shapes != dict(expected):
        differ = sorted(k for k in set(shapes) | set(expected) if shapes.get(k) != expected.get(k))
        raise TdwError(f"{path} does not hold this family's HookedTransformer weights "
                       f"({', '.join(differ[:4])} missing, unexpected or mis-shaped); was it "
                       "saved by another MIScope family or configuration?")
    odd = sorted(k for k, v in weights.items() if v.dtype != torch.float32)
    if odd:
        raise TdwError(f"{path}: {odd[0]} is {weights[odd[0]].dtype}, not float32; a "
                       "float64 run cannot be stored as this family's (float32) weights")
    return weights


def _measure(model, split: Dataset) -> dict[str, float]:
    """Train and test loss and accuracy of ``model``'s weights, as training records them."""
    import torch
    out = {}
    with torch.no_grad():
        for side, tokens, labels in (("train", split.train_tokens, split.train_labels),
                                     ("test", split.test_tokens, split.test_labels)):
            loss, acc = loss_and_accuracy(answer_logits(model, tokens), labels)
            out[f"{side}_loss"], out[f"{side}_acc"] = float(loss), float(acc)
    return out


def _agree(run: MiscopeRun, epoch: int, path: Path, measured: Mapping[str, float]) -> None:
    for key, recorded in recorded_losses(run, epoch).items():
        if not math.isclose(measured[key], recorded, rel_tol=LOSS_RTOL, abs_tol=LOSS_ATOL):
            raise TdwError(
                f"{path}: its weights give {key.replace('_', ' ')} {measured[key]:.6g}, but "
                f"metadata.json records {recorded:.6g} there (MIScope epoch {epoch - 1}); the "
                "checkpoint is not this run's: restore the folder from MIScope's output")


def import_run(store: Store, run: MiscopeRun, progress=None) -> str:
    """Write ``run`` into ``store`` as a variant, all or nothing; returns its id."""
    import torch
    family = get_family("modulo_addition_1l")
    values = run.values
    epochs = [e for e, _ in run.checkpoints]
    with staging_store(store) as staging:
        staging.ensure_variant(family, values, ",".join(map(str, epochs)), run.n_epochs)
        staging.ensure_probe(run.variant, data.probe(values))
        model = family.boot(values, staging.path(staging.variant(run.variant).folder),
                            torch.device("cpu"))
        model.eval()
        # The expected HookedTransformer shapes: the recipe's own initial weights'.
        expected = {k: tuple(v.shape) for k, v in
                    hooked_init(family.model_config(values), 0).items()}
        split = data.dataset(values)
        measured: dict[int, dict[str, float]] = {}
        for i, (epoch, path) in enumerate(run.checkpoints):
            load_weights(model, hooked_to_bridge(_hooked(path, expected)), source=str(path))
            measured[epoch] = _measure(model, split)
            _agree(run, epoch, path, measured[epoch])
            staging.write_checkpoint(run.variant, epoch, weights_of(model))
            if progress:
                progress(i + 1, len(run.checkpoints))
        staging.write_metrics(run.variant, metrics_table(run, measured))
        final = measured[run.n_epochs]
        staging.update_variant(run.variant, state="trained", epochs_done=run.n_epochs,
                               **{f"final_{k}": v for k, v in final.items()})
        store.adopt_variant(staging, run.variant)
    return run.variant


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``tdw import-miscope``."""
    parser.add_argument("folder", nargs="+", help="MIScope variant folders (each holding "
                        "config.json, metadata.json and checkpoints/)")
    parser.add_argument("--analyze", action="store_true",
                        help="analyse the imported variants right after")


def run(args: argparse.Namespace, store: Store) -> CommandResult:
    """Check every folder first (nothing is written unless all of them read), then import
    them one by one; a folder whose variant is in the store already is skipped."""
    from tqdm import tqdm

    runs = [read_folder(folder) for folder in args.folder]
    seen: dict[str, Path] = {}
    for r in runs:
        if r.variant in seen:
            raise TdwError(f"{seen[r.variant]} and {r.folder} are the same variant "
                           f"({r.variant}); import one of them")
        seen[r.variant] = r.folder
    imported = []
    for r in runs:
        try:
            check_new(store, r)
        except AlreadyImported as exc:  # nothing to do is not a failure
            print(f"tdw: {exc}", file=sys.stderr)
            continue
        print(f"importing {r.describe()}")
        with tqdm(total=len(r.checkpoints), unit="checkpoint", dynamic_ncols=True) as bar:
            imported.append(import_run(store, r, lambda done, total: bar.update(done - bar.n)))
        print(f"imported {r.variant}; analyse it with: tdw analyze {r.variant}")
    return CommandResult(analyze=tuple(imported) if args.analyze else ())


COMMAND = Command(
    name="import-miscope",
    help="import MIScope runs (variant folders) as Modulo Addition variants",
    add_arguments=add_arguments,
    run=run,
    description="Import runs of MIScope, the user's earlier tool, as Modulo Addition "
    "variants with recipe=miscope (its split and initialisation): p, seeds, "
    "train_fraction and n_epochs from config.json and metadata.json, lr 1e-3 and weight "
    "decay 1.0 (MIScope's) unless config.json names others. MIScope's checkpoint E holds "
    "the weights after E + 1 updates: it becomes tdw epoch E + 1. Losses come from "
    "metadata.json; accuracies are measured at the checkpoints. A folder is refused if "
    "its model is not this family's, its split is not MIScope's for its data_seed, or a "
    "checkpoint does not match the recorded losses; nothing is written unless a folder "
    "imports completely.",
    epilog="examples:\n  tdw import-miscope results/modulo_addition_1layer/variants/"
    "modulo_addition_1layer_p113_seed999_dseed598\n  tdw import-miscope runs/* --analyze",
)
"""``tdw import-miscope``: MIScope variant folders become Modulo Addition variants."""
