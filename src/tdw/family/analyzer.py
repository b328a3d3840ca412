"""What an analyzer is: a pure, versioned, declared computation over one checkpoint (or,
for a cross-epoch analyzer, over every checkpoint's artifacts).

A per-checkpoint :class:`Analyzer` receives :class:`CheckpointInputs` (the checkpoint's
weights, the variant's probe, and only the activations it declared in ``hooks``) and
returns ``(arrays, attrs)`` matching its declared schema. The engine runs one forward pass
per checkpoint with the union of the declared hooks (``names_filter``) and gives each
analyzer its slice; an analyzer with no hooks never triggers a forward pass.

A :class:`CrossEpochAnalyzer` reads the per-checkpoint artifacts of the analyzers named in
``inputs`` (and the per-epoch metrics) across all checkpoints, after they exist.

Either kind may declare ``options``: a frozen dataclass of settings that change its output
without changing its code (the SGLD step size of the LLC). They are written into every
artifact (the ``options`` attribute) and, as :func:`options_json`, into its catalog row,
so the engine finds an artifact made with other options stale (:func:`options_change`)
without a version bump.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tdw.errors import SchemaError
from tdw.family.artifacts import ArraySpec, Artifact, ArtifactSchema, AttrSpec

if TYPE_CHECKING:
    import torch

__all__ = ["Analyzer", "CrossEpochAnalyzer", "CheckpointInputs", "CrossEpochInputs", "Output",
           "LOGITS", "OPTIONS", "options_json", "options_change"]

LOGITS = "logits"
"""Pseudo-hook: an analyzer declaring it receives the model's output logits on the probe."""

Output = tuple[dict[str, np.ndarray], dict[str, Any]]
"""What ``compute`` returns: named arrays and named scalar attributes."""

OPTIONS = "options"
"""The attribute in which an analyzer with ``options`` records them (reserved)."""


def options_json(values: Mapping[str, Any] | None) -> str | None:
    """The canonical text of an analyzer's options (their field values, as in the
    ``options`` attribute): JSON with sorted keys and no spaces, so equal options give
    equal text and the text is its own digest; None for an analyzer without options.

    >>> options_json({"lr": 3e-05, "chains": 2})
    '{"chains":2,"lr":3e-05}'
    """
    if values is None:
        return None
    return json.dumps(dict(values), sort_keys=True, separators=(",", ":"), allow_nan=False)


def options_change(stored: str | None, current: str | None) -> str:
    """Why an artifact made with options ``stored`` is stale for an analyzer whose options
    are now ``current`` (both :func:`options_json` texts), or ``""`` if it is not.

    A row with no recorded options (made by an analyzer without options, or before a store
    recorded them, catalog schema < 4) matches an analyzer without options, and is stale
    for one that now has options: nothing says which settings made it.

    >>> options_change('{"chains":2,"lr":3e-05}', '{"chains":2,"lr":1e-05}')
    'options changed (lr 3e-05 -> 1e-05)'
    >>> options_change(None, None)
    ''
    """
    if stored == current:
        return ""
    if stored is None:
        return "options not recorded (made before the analyzer had options)"
    if current is None:
        return "options dropped (the analyzer no longer has options)"
    old, new = json.loads(stored), json.loads(current)

    def shown(values: dict[str, Any], key: str) -> str:
        return json.dumps(values[key]) if key in values else "unset"

    changed = [f"{k} {shown(old, k)} -> {shown(new, k)}"
               for k in sorted(old.keys() | new.keys()) if shown(old, k) != shown(new, k)]
    return f"options changed ({', '.join(changed)})"


def _option_values(owner: str, options: Any) -> dict[str, Any] | None:
    """The field values of ``options`` (a frozen dataclass instance), checked to be JSON."""
    if options is None:
        return None
    if not is_dataclass(options) or isinstance(options, type) \
            or not options.__dataclass_params__.frozen:
        raise SchemaError(f"analyzer {owner}: options must be a frozen dataclass instance "
                          f"(e.g. SGLDConfig()), got {options!r}")
    values = asdict(options)
    try:
        options_json(values)
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"analyzer {owner}: options must hold JSON values (numbers, text, "
                          f"lists): {exc}") from None
    return values


class _Declared:
    """What both kinds of analyzer share: the schema (with ``options`` if declared) and
    ``run``, which checks ``compute``'s output and records the options in it."""

    name: str
    version: int
    arrays: tuple[ArraySpec, ...]
    attrs: tuple[AttrSpec, ...]
    options: Any

    def __post_init__(self) -> None:
        if any(a.name == OPTIONS for a in self.attrs):
            raise SchemaError(f"analyzer {self.name}: the attribute name {OPTIONS!r} is "
                              "reserved for declared options; rename it")
        _option_values(self.name, self.options)

    @property
    def option_values(self) -> dict[str, Any] | None:
        """The options' field values (the ``options`` attribute), or None."""
        return _option_values(self.name, self.options)

    @property
    def options_json(self) -> str | None:
        """The options' canonical text (:func:`options_json`), as the catalog records it."""
        return options_json(self.option_values)

    @property
    def schema(self) -> ArtifactSchema:
        attrs = self.attrs
        if self.options is not None:
            attrs = (*attrs, AttrSpec(OPTIONS, "json", f"the {type(self.options).__name__} "
                                                       "options it was computed with"))
        return ArtifactSchema(self.name, self.version, self.arrays, attrs)

    def _checked(self, output: Output) -> Output:
        arrays, attrs = output
        if self.options is not None:
            attrs = {**attrs, OPTIONS: self.option_values}
        self.schema.validate(arrays, attrs)
        return arrays, attrs


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
class Analyzer(_Declared):
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
        options: its settings, a frozen dataclass (or None): recorded in every artifact,
            and a change makes the artifacts stale (see the module docstring).
    """

    name: str
    version: int
    description: str
    arrays: tuple[ArraySpec, ...]
    attrs: tuple[AttrSpec, ...]
    compute: Callable[[CheckpointInputs], Output]
    hooks: tuple[str, ...] = ()
    needs_model: bool = False
    options: Any = None

    def run(self, inputs: CheckpointInputs) -> Output:
        return self._checked(self.compute(inputs))


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
class CrossEpochAnalyzer(_Declared):
    """An analyzer over all checkpoints' artifacts (trajectories, transition detection, ...).

    Attributes:
        inputs: names of the per-checkpoint analyzers whose artifacts it reads (may be
            empty when it reads only the metrics).
        options: its settings, as for :class:`Analyzer`.
    """

    name: str
    version: int
    description: str
    arrays: tuple[ArraySpec, ...]
    attrs: tuple[AttrSpec, ...]
    compute: Callable[[CrossEpochInputs], Output]
    inputs: tuple[str, ...] = ()
    options: Any = None

    def run(self, inputs: CrossEpochInputs) -> Output:
        return self._checked(self.compute(inputs))
