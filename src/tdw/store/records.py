"""What the catalog's rows of a variant are, as Python values: the variant itself, its
checkpoints and artifacts (the files the catalog indexes), and its loaded probe.

:class:`tdw.store.store.Store` builds them; every layer above reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tdw.family.analyzer import OPTIONS, options_json

if TYPE_CHECKING:  # the records themselves need no torch
    import torch

__all__ = ["VariantRecord", "CheckpointRecord", "ArtifactRecord", "Probe", "row_options"]


@dataclass(frozen=True)
class VariantRecord:
    """A variant as the catalog knows it."""

    id: str
    family: str
    params: dict[str, Any]
    schedule: str
    n_epochs: int
    state: str
    epochs_done: int
    final_train_acc: float | None
    final_test_acc: float | None
    final_train_loss: float | None
    final_test_loss: float | None
    created: float
    updated: float

    @property
    def folder(self) -> Path:
        """Path of the variant's files relative to the store root."""
        family, slug = self.id.split("/", 1)
        return Path("variants") / family / slug


@dataclass(frozen=True)
class CheckpointRecord:
    variant: str
    epoch: int
    sha256: str
    path: str
    bytes: int


@dataclass(frozen=True)
class ArtifactRecord:
    """An artifact as the catalog indexes it: what it was computed from, and its file."""

    variant: str
    analyzer: str
    epoch: int  # -1 for a cross-epoch artifact
    version: int
    probe_sha256: str
    checkpoint_sha256: str  # the checkpoint's sha256; a digest of the inputs if cross-epoch
    sha256: str
    path: str
    bytes: int
    options: str | None = None  # the options it was made with (options_json); None if none

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ArtifactRecord:
        """The record of a catalog row (``SELECT *``; columns it does not hold are ignored)."""
        keys = set(row.keys())
        return cls(**{f.name: row[f.name] for f in fields(cls) if f.name in keys})


def row_options(attrs: Mapping[str, Any]) -> str | None:
    """What an artifact's catalog row records of its options: the canonical text of its
    ``options`` attribute, or None if it has none."""
    return options_json(attrs.get(OPTIONS))


@dataclass(frozen=True)
class Probe:
    """A variant's fixed analysis inputs and the sha256 of their stored file."""

    tensors: dict[str, torch.Tensor]
    sha256: str
