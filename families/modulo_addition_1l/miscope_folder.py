"""Reading a MIScope variant folder: what the user's earlier tool wrote, checked, as tdw's values.

MIScope (``Variant.train`` and ``ModuloAddition1LayerFamily``) writes one folder per run::

    config.json      HookedTransformerConfig fields (n_layers, n_heads, d_model, d_head,
                     d_mlp, act_fn, normalization_type, d_vocab, d_vocab_out, n_ctx, seed),
                     the domain parameters (prime, seed, data_seed), model_seed, data_seed and
                     training_fraction. Not the optimiser: MIScope's family fixes AdamW at
                     lr 1e-3, weight decay 1.0, betas (0.9, 0.98).
    metadata.json    train_losses, test_losses (one per epoch), train_indices, test_indices,
                     checkpoint_epochs, num_epochs. No accuracies (no MIScope version wrote any).
    checkpoints/checkpoint_epoch_NNNNN.safetensors
                     ``HookedTransformer.state_dict()`` (parameters under HookedTransformer
                     names, plus the attention's ``mask`` and ``IGNORE`` buffers). Its
                     first version (``origins/ModuloAdditionSpecification.py``) saved the
                     final weights as ``<run name>.safetensors`` beside checkpoints/ instead.

Its loop, for ``epoch`` in ``range(num_epochs)``: forward on the training pairs, record the
training loss, step AdamW, then record the test loss and save the checkpoint named
``epoch``. So in tdw's convention (epoch E = the weights after E full-batch updates):

- MIScope checkpoint E holds tdw epoch **E + 1** (its last, ``num_epochs - 1``, is tdw's
  final epoch ``n_epochs``); MIScope never saves the initial weights (tdw epoch 0);
- ``train_losses[e]`` is tdw's ``train_loss[e]`` (before the step of epoch e);
- ``test_losses[e]`` is tdw's ``test_loss[e + 1]`` (after it).

:func:`read_folder` checks all of this without writing anything; the checkpoints' tensors are
checked as they are imported (:mod:`.miscope_import`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tdw.errors import TdwError
from tdw.family.family import variant_id
from tdw.family.registry import get_family

from .grid import D_HEAD, D_MLP, D_MODEL, N_HEADS
from .recipes import miscope_split

__all__ = ["MiscopeRun", "read_folder", "recorded_losses", "metrics_table", "CHECKPOINT", "LR",
           "WEIGHT_DECAY", "BUFFERS"]

CHECKPOINT = re.compile(r"checkpoint_epoch_(\d+)\.safetensors")
"""A checkpoint's file name in ``checkpoints/``; the number is MIScope's epoch."""
LR, WEIGHT_DECAY = 1e-3, 1.0
"""MIScope's fixed AdamW settings (``get_training_config``), used unless config.json names
``learning_rate``/``lr`` or ``weight_decay``."""
BUFFERS = ("blocks.0.attn.mask", "blocks.0.attn.IGNORE")
"""Buffers of a HookedTransformer state dict that are not weights (the causal mask and the
masked score); a checkpoint may hold them, they are not imported."""
_FOLDER_FIX = ("point at a MIScope variant folder: the one holding config.json, "
               "metadata.json and checkpoints/checkpoint_epoch_NNNNN.safetensors")
_ARCHITECTURE = {"n_layers": 1, "n_heads": N_HEADS, "d_model": D_MODEL, "d_head": D_HEAD,
                 "d_mlp": D_MLP, "act_fn": "relu", "normalization_type": None, "n_ctx": 3}
"""config.json fields this family's model fixes (one layer, no LayerNorm, Nanda's sizes)."""


@dataclass(frozen=True)
class MiscopeRun:
    """A checked MIScope folder.

    Attributes:
        folder: the variant folder.
        values: the Modulo Addition parameters (``recipe=miscope``), resolved.
        variant: the variant id those values give.
        checkpoints: ``(tdw epoch, file)`` per checkpoint, by epoch (tdw epoch = MIScope's + 1).
        train_losses, test_losses: metadata.json's per-epoch lists (MIScope's indexing).
    """

    folder: Path
    values: dict[str, Any]
    variant: str
    checkpoints: tuple[tuple[int, Path], ...]
    train_losses: np.ndarray
    test_losses: np.ndarray

    @property
    def n_epochs(self) -> int:
        return int(self.values["n_epochs"])

    def describe(self) -> str:
        epochs = [e for e, _ in self.checkpoints]
        return (f"{self.variant}: {len(epochs)} checkpoints of {self.folder} (tdw epochs "
                f"{epochs[0]}-{epochs[-1]}), {self.n_epochs} epochs of losses")


def _json(folder: Path, name: str) -> dict[str, Any]:
    path = folder / name
    if not path.is_file():
        raise TdwError(f"{path} does not exist; {_FOLDER_FIX}")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TdwError(f"{path} is not readable JSON ({exc}); restore it from MIScope's "
                       "output, or retrain the run there") from None
    if not isinstance(data, dict):
        raise TdwError(f"{path} holds a {type(data).__name__}, not an object; {_FOLDER_FIX}")
    return data


def _field(data: Mapping[str, Any], path: Path, *names: str) -> Any:
    for name in names:
        if name in data:
            return data[name]
    raise TdwError(f"{path} has no {' or '.join(names)}; this is not a MIScope Modulo "
                   f"Addition run (or one written before MIScope recorded it): {_FOLDER_FIX}")


def _check_architecture(config: Mapping[str, Any], path: Path, p: int) -> None:
    expected = {**_ARCHITECTURE, "d_vocab": p + 1, "d_vocab_out": p}
    for key, want in expected.items():
        if key in config and config[key] != want:
            raise TdwError(
                f"{path} has {key} = {config[key]!r}; Modulo Addition 1-Layer is the model "
                f"with {key} = {want!r} (1 layer, {N_HEADS} heads of {D_HEAD}, d_model "
                f"{D_MODEL}, d_mlp {D_MLP}, ReLU, no LayerNorm, tokens a b =), so this run "
                "cannot be imported as one of its variants")


def _values(config: Mapping[str, Any], metadata: Mapping[str, Any], folder: Path
            ) -> dict[str, Any]:
    cpath, mpath = folder / "config.json", folder / "metadata.json"
    if "intervention" in config:
        raise TdwError(f"{cpath} describes an intervention run (its training hooked the "
                       "forward pass), which no Modulo Addition variant reproduces; import "
                       "its parent run, the folder above interventions/")
    p = _field(config, cpath, "prime", "p")
    if isinstance(p, bool) or not isinstance(p, int):
        raise TdwError(f"{cpath}: 'prime' is {p!r}, not a whole number; write the modulus "
                       "the run used, e.g. 113")
    _check_architecture(config, cpath, p)
    train = _field(metadata, mpath, "train_losses")
    given = {
        "p": p, "recipe": "miscope",
        "model_seed": _field(config, cpath, "model_seed", "seed"),
        "data_seed": _field(config, cpath, "data_seed"),
        "train_fraction": _field(config, cpath, "training_fraction", "train_fraction"),
        "n_epochs": metadata.get("num_epochs", len(train) if isinstance(train, list) else 0),
        "lr": config.get("learning_rate", config.get("lr", LR)),
        "weight_decay": config.get("weight_decay", WEIGHT_DECAY),
    }
    try:
        return get_family("modulo_addition_1l").resolve(given)
    except TdwError as exc:
        raise TdwError(f"{folder}: {exc}") from None


def _losses(metadata: Mapping[str, Any], key: str, n: int, path: Path) -> np.ndarray:
    raw = _field(metadata, path, key)
    try:
        losses = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        losses = np.zeros(0)
    if losses.shape != (n,):
        raise TdwError(f"{path}: {key} holds {len(raw) if isinstance(raw, list) else '?'} "
                       f"numbers, not one per epoch ({n}, num_epochs); the file is cut or "
                       "edited: restore it from MIScope's output")
    return losses


def _check_split(metadata: Mapping[str, Any], values: Mapping[str, Any], path: Path) -> None:
    train, test = miscope_split(values["p"], values["data_seed"], values["train_fraction"])
    for key, expected in (("train_indices", train), ("test_indices", test)):
        if [int(i) for i in _field(metadata, path, key)] != expected.tolist():
            raise TdwError(
                f"{path}: {key} is not MIScope's split for data_seed {values['data_seed']} "
                f"(torch.manual_seed; randperm({values['p']}*{values['p']}), cut at "
                f"train_fraction {values['train_fraction']}); the variant id would name "
                "another split. Import only runs trained with MIScope's own split")


def _checkpoints(folder: Path, n_epochs: int, metadata: Mapping[str, Any]
                 ) -> tuple[tuple[int, Path], ...]:
    where = folder / "checkpoints"
    if not where.is_dir():
        raise TdwError(f"{where} does not exist; {_FOLDER_FIX}")
    found: dict[int, Path] = {}
    for path in sorted(where.iterdir()):
        match = CHECKPOINT.fullmatch(path.name)
        if match is None or not path.is_file():
            raise TdwError(f"{path} is not a MIScope checkpoint (checkpoint_epoch_NNNNN."
                           "safetensors); move it out of checkpoints/ and import again")
        epoch = int(match.group(1))
        if epoch >= n_epochs:
            raise TdwError(f"{path} is past the run's last epoch ({n_epochs - 1}, num_epochs "
                           f"{n_epochs}); the folder mixes runs: {_FOLDER_FIX}")
        found[epoch] = path
    listed = metadata.get("checkpoint_epochs")
    if listed is not None and sorted(int(e) for e in listed) != sorted(found):
        missing = sorted(set(map(int, listed)) - set(found))
        extra = sorted(set(found) - set(map(int, listed)))
        raise TdwError(f"{where} does not hold the checkpoints metadata.json lists "
                       f"(missing epochs {missing[:5]}, unlisted {extra[:5]}); restore them "
                       "from MIScope's output")
    if n_epochs - 1 not in found:
        # MIScope's first version saved the final weights beside checkpoints/, as
        # <run name>.safetensors, and only the scheduled epochs inside it.
        final = sorted(folder.glob("*.safetensors"))
        if len(final) != 1:
            raise TdwError(f"{where} has no checkpoint_epoch_{n_epochs - 1:05d}.safetensors "
                           f"and {folder} no one final <run>.safetensors (found {len(final)}): "
                           f"the final weights of a {n_epochs}-epoch run; restore them from "
                           "MIScope's output")
        found[n_epochs - 1] = final[0]
    # MIScope's checkpoint E holds the weights after E + 1 updates: tdw epoch E + 1.
    return tuple((epoch + 1, found[epoch]) for epoch in sorted(found))


def read_folder(folder: str | Path) -> MiscopeRun:
    """Check a MIScope variant folder end to end (files, architecture, parameters, split,
    checkpoint names) without writing anything.

    Raises:
        TdwError: naming the file and the problem, and what to do.
    """
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise TdwError(f"{root} is not a folder; {_FOLDER_FIX}")
    config, metadata = _json(root, "config.json"), _json(root, "metadata.json")
    values = _values(config, metadata, root)
    mpath = root / "metadata.json"
    n = values["n_epochs"]
    train, test = _losses(metadata, "train_losses", n, mpath), _losses(
        metadata, "test_losses", n, mpath)
    if not (np.isfinite(train).all() and np.isfinite(test).all()):
        raise TdwError(f"{mpath}: the losses hold NaN or infinity; the run diverged or the "
                       "file is damaged: import another run")
    _check_split(metadata, values, mpath)
    checkpoints = _checkpoints(root, n, metadata)
    vid = variant_id(get_family("modulo_addition_1l"), values)
    return MiscopeRun(root, values, vid, checkpoints, train, test)


def recorded_losses(run: MiscopeRun, epoch: int) -> dict[str, float]:
    """metadata.json's losses at tdw ``epoch`` (those it has: no test loss at 0, no train
    loss at the final epoch)."""
    out = {}
    if epoch < run.n_epochs:
        out["train_loss"] = float(run.train_losses[epoch])
    if epoch >= 1:
        out["test_loss"] = float(run.test_losses[epoch - 1])
    return out


def metrics_table(run: MiscopeRun, measured: Mapping[int, Mapping[str, float]]
                  ) -> dict[str, np.ndarray]:
    """Per-epoch metrics (length ``n_epochs + 1``, NaN where unknown): the recorded losses at
    every epoch they cover, and ``measured`` (losses and accuracies computed from the
    checkpoints, by tdw epoch) where metadata.json has nothing."""
    n = run.n_epochs
    table = {k: np.full(n + 1, math.nan) for k in ("train_loss", "test_loss", "train_acc",
                                                   "test_acc")}
    table["train_loss"][:n] = run.train_losses
    table["test_loss"][1:] = run.test_losses
    for epoch, row in measured.items():
        for key, value in row.items():
            if math.isnan(table[key][epoch]):
                table[key][epoch] = value
    return table
