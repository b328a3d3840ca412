"""What an analyzer is: a pure, versioned, declared computation over one checkpoint (or,
for a cross-epoch analyzer, over every checkpoint's artifacts).

A per-checkpoint :class:`Analyzer` receives :class:`CheckpointInputs` (the checkpoint's
weights, the variant's probe, and only the activations it declared in ``hooks``) and
returns ``(arrays, attrs)`` matching its declared schema. The engine runs one forward pass
per checkpoint with the union of the declared hooks (``names_filter``) and gives each
analyzer its slice; an analyzer with no hooks never triggers a forward pass.

A :class:`CrossEpochAnalyzer` reads the per-checkpoint artifacts of the analyzers named in
``inputs`` (and the per-epoch metrics) across all checkpoints, after they exist.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from tdw.family.artifacts import ArraySpec, Artifact, ArtifactSchema, AttrSpec

if TYPE_CHECKING:
    import torch

__all__ = ["Analyzer", "CrossEpochAnalyzer", "CheckpointInputs", "CrossEpochInputs", "Output",
           "LOGITS"]

LOGITS = "logits"
"""Pseudo-hook: an analyzer declaring it receives the model's output logits on the probe."""

Output = tuple[dict[str, np.ndarray], dict[str, Any]]
"""What ``compute`` returns: named arrays and named scalar attributes."""


@dataclass(frozen=True)
class CheckpointInputs:
    """Everything a per-checkpoint analyzer may read. Nothing here may be modified.

    Attributes:
        values: the variant's resolved parameters (e.g. ``values["p"]``).
        epoch: the checkpoint's epoch.
        weights: the checkpoint's tensors under TransformerLens names
            (``blocks.0.attn.q.weight``), CPU float32.
        final_weights: the last checkpoint's tensors (for quantities defined by the end
            of training, such as Nanda's key frequencies).
        probe: the variant's stored probe tensors.
        activations: hook name -> activation on the probe, only for declared hooks.
        model: the TransformerLens bridge holding ``weights``, for analyzers that need
            their own forward passes (e.g. loss under perturbed weights); treat as read-only.
    """

    values: Mapping[str, Any]
    epoch: int
    weights: Mapping[str, torch.Tensor]
    final_weights: Mapping[str, torch.Tensor]
    probe: Mapping[str, torch.Tensor]
    activations: Mapping[str, torch.Tensor] = field(default_factory=dict)
    model: Any = None


@dataclass(frozen=True)
class Analyzer:
    """A per-checkpoint analyzer.

    Attributes:
        name: registry key and artifact folder name (``dominant_frequencies``).
        version: bump when the output's meaning changes; older artifacts become stale.
        description: what it computes and where it comes from (a citation).
        arrays: declared output arrays.
        attrs: declared output scalars.
        compute: ``CheckpointInputs -> (arrays, attrs)``; pure.
        hooks: activation hook names it reads; empty for weight-only analyzers.
        needs_model: whether ``inputs.model`` must be provided.
    """

    name: str
    version: int
    description: str
    arrays: tuple[ArraySpec, ...]
    attrs: tuple[AttrSpec, ...]
    compute: Callable[[CheckpointInputs], Output]
    hooks: tuple[str, ...] = ()
    needs_model: bool = False

    @property
    def schema(self) -> ArtifactSchema:
        return ArtifactSchema(self.name, self.version, self.arrays, self.attrs)

    def run(self, inputs: CheckpointInputs) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays, attrs = self.compute(inputs)
        self.schema.validate(arrays, attrs)
        return arrays, attrs


@dataclass(frozen=True)
class CrossEpochInputs:
    """What a cross-epoch analyzer reads.

    Attributes:
        values: the variant's parameters.
        epochs: ``(n_checkpoints,)`` the analysed checkpoint epochs, increasing.
        artifacts: analyzer name -> its artifacts, one per epoch in ``epochs`` order.
        metrics: per-epoch ``train_loss``, ``test_loss``, ``train_acc``, ``test_acc``
            arrays of length ``n_epochs + 1``; empty for a variant with no training
            metrics (an imported checkpoint series).
    """

    values: Mapping[str, Any]
    epochs: np.ndarray
    artifacts: Mapping[str, Sequence[Artifact]]
    metrics: Mapping[str, np.ndarray]


@dataclass(frozen=True)
class CrossEpochAnalyzer:
    """An analyzer over all checkpoints' artifacts (trajectories, turn detection, ...).

    Attributes:
        inputs: names of the per-checkpoint analyzers whose artifacts it reads (may be
            empty when it reads only the metrics).
    """

    name: str
    version: int
    description: str
    arrays: tuple[ArraySpec, ...]
    attrs: tuple[AttrSpec, ...]
    compute: Callable[[CrossEpochInputs], Output]
    inputs: tuple[str, ...] = ()

    @property
    def schema(self) -> ArtifactSchema:
        return ArtifactSchema(self.name, self.version, self.arrays, self.attrs)

    def run(self, inputs: CrossEpochInputs) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays, attrs = self.compute(inputs)
        self.schema.validate(arrays, attrs)
        return arrays, attrs
