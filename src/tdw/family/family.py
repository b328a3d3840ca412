"""What a family declares: parameters, architecture, data, probe, training and schedule.

A family is one frozen :class:`Family` value named ``FAMILY`` in ``families/<name>/__init__.py``
(or a plugin package), registered through its ``tdw.families`` entry point (see
:mod:`tdw.family.registry`). Everything the workbench does for a family (the CLI, the
template, the dashboard form) is generated from this declaration.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from tdw.errors import ParameterError, UnknownNameError
from tdw.family.commands import Command
from tdw.family.pages import Page
from tdw.family.params import Param, resolve

if TYPE_CHECKING:
    import torch

__all__ = ["Family", "Dataset", "TrainConfig", "Values", "variant_id", "analyzers_of"]

Values = Mapping[str, Any]
"""Resolved parameter values of one variant: every declared parameter, typed."""


@dataclass(frozen=True)
class Dataset:
    """Training and held-out data of a variant, as token tensors and integer labels.

    Attributes:
        train_tokens: ``(n_train, n_ctx)`` int64 model inputs.
        train_labels: ``(n_train,)`` int64 targets of the answer position, or
            ``(n_train, n_ctx)`` int64 targets per position (next-token prediction), where
            :data:`tdw.family.model.IGNORE_LABEL` (-100) marks positions that are not scored.
        test_tokens: ``(n_test, n_ctx)`` int64.
        test_labels: ``(n_test,)`` or ``(n_test, n_ctx)`` int64, like ``train_labels``.
    """

    train_tokens: torch.Tensor
    train_labels: torch.Tensor
    test_tokens: torch.Tensor
    test_labels: torch.Tensor

    def to(self, device: torch.device | str) -> Dataset:
        return Dataset(*(t.to(device) for t in (
            self.train_tokens, self.train_labels, self.test_tokens, self.test_labels)))


@dataclass(frozen=True)
class TrainConfig:
    """How a variant is optimised (AdamW; full batch unless ``batch_size`` is set).

    Attributes:
        n_epochs: number of passes over the training set; checkpoints lie in 0..n_epochs.
        lr: AdamW learning rate.
        weight_decay: AdamW decoupled weight decay.
        betas: AdamW moment coefficients.
        batch_size: minibatch size, or None for full-batch gradient descent.
        shuffle_seed: seed of the minibatch order (unused for full batch).
    """

    n_epochs: int
    lr: float
    weight_decay: float
    betas: tuple[float, float] = (0.9, 0.98)
    batch_size: int | None = None
    shuffle_seed: int = 0


@dataclass(frozen=True)
class Family:
    """A registered group of models sharing architecture, data, probe, analyzers and views.

    Attributes:
        name: registry key, used on the CLI (``modulo_addition_1l``).
        title: human name (``Modulo Addition 1-Layer``).
        description: a paragraph: what is trained and what the family is for.
        params: typed domain and training parameters; see :class:`tdw.family.params.Param`.
        model_config: values -> ``TransformerBridgeConfig`` for ``boot_native``.
        dataset: values -> :class:`Dataset`, deterministic in the data seed.
        probe: values -> named tensors, the fixed analysis inputs (hashed and stored once).
        train_config: values -> :class:`TrainConfig`.
        default_schedule: values -> schedule text (see :mod:`tdw.family.schedule`).
        presets: named parameter sets, e.g. ``quick`` for a CPU-sized run. Every trained
            family declares ``tiny``: a run of a few seconds on a CPU that leaves a handful
            of checkpoints under the default schedule; the every-family test trains and
            analyses it, and ``tdw train NAME --preset tiny`` is a newcomer's smoke test.
            Presets are resolved (and checked) when the family is built.
        check: values -> None, raising :class:`~tdw.errors.ParameterError` when parameters
            that are valid one by one do not fit together (``segment_length`` longer than
            half of ``n_ctx``); the message names the problem and the fix. Called on every
            :meth:`resolve`, so the CLI, the Train form, sweeps and runs refuse the values
            before any work. None: no constraint between parameters.
        readout: (model, tokens) -> ``(batch, d_vocab_out)`` logits at the answer
            position, or ``(batch, pos, d_vocab_out)`` logits for a per-position loss;
            the training loss and accuracy are computed on these (see
            :func:`tdw.family.model.loss_and_accuracy`).
        probe_forward: ``(model, probe, hooks) -> {hook: tensor}``, a faster forward pass
            on the probe for the analysis engine's shared forward, or None when it cannot
            compute every hook asked for (the engine then runs the bridge's
            ``run_with_cache``). It must equal the bridge's hooks in exact arithmetic
            (a test should hold it to them), but may keep only the positions the family's
            analyzers read (Modulo Addition's keeps the answer position, as a position
            axis of length one). ``LOGITS`` names the logits. None: always the bridge.
            A family made from another with ``dataclasses.replace`` inherits it: pass
            ``probe_forward=None`` when its analyzers read positions the original's skip.
        analyzers: the family's per-checkpoint analyzers (:class:`~tdw.family.analyzer.Analyzer`).
        cross_epoch: analyzers over all checkpoints
            (:class:`~tdw.family.analyzer.CrossEpochAnalyzer`).
        views: the family's views.
        transition: name of the cross-epoch analyzer whose artifact marks the family's
            transition (e.g. grokking's fall of the test loss, or the induction-head phase
            change) in its attributes ``transition_epoch`` (int, or None when none was
            found) and ``confidence`` (0..1). Every view draws that epoch, and Compare can
            align variants by it. None: the family marks none. A name not among
            ``cross_epoch`` is refused.
        story: name of the cross-epoch analyzer that tells a variant's story
            (:func:`tdw.library.story.make_story`: phase windows, a failure-mode label and
            its reasons), shown above Explore and as columns of the Variants table. None:
            the family tells none. A name not among ``cross_epoch`` is refused.
        boot: ``(values, folder, device) -> model`` for a family whose models are not
            built by ``boot_native(model_config(values))``, e.g. an imported checkpoint
            series booted with ``TransformerBridge.boot_transformers`` from the Hugging
            Face config stored in the variant's ``folder`` (absolute), or Modulo
            Addition's ``miscope`` recipe, whose initial weights are HookedTransformer's.
            Training starts from its weights; the engine loads each checkpoint's weights
            into it. None: ``boot_native``.
        imported_by: for a family whose variants are imported rather than trained, the
            command that imports one (``tdw import ...``); ``tdw train`` refuses the family
            and names this command instead. Empty for trained families.
        tiny_variant: ``store -> variant id``, for a family that cannot be trained from a
            ``tiny`` preset (an imported one): puts a tiny variant into the given
            :class:`~tdw.store.store.Store`, offline and in seconds, and returns its id; the
            every-family test analyses it as it does a trained ``tiny`` variant.
        commands: the family's own ``tdw`` subcommands
            (:class:`~tdw.family.commands.Command`), e.g. ``tdw import`` of the
            checkpoint_series family; the CLI adds them beside the core commands.
        pages: the family's own workbench pages (:class:`~tdw.family.pages.Page`), e.g.
            Modulo Addition's initialisation sweep; the workbench adds one tab per page of
            every registered family after its own tabs.
        summaries: ``(label, analyzer, attr)`` triples: an attribute of the analyzer's
            artifact at the last checkpoint (or its cross-epoch artifact) that the variant
            table shows as a column, e.g. ``("key frequencies", "dominant_frequencies",
            "key_frequencies")``.
        version: bumped when the data or probe generator changes meaning.
    """

    name: str
    title: str
    description: str
    params: tuple[Param, ...]
    model_config: Callable[[Values], Any]
    dataset: Callable[[Values], Dataset]
    probe: Callable[[Values], dict[str, torch.Tensor]]
    train_config: Callable[[Values], TrainConfig]
    default_schedule: Callable[[Values], str]
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    readout: Callable[[Any, torch.Tensor], torch.Tensor] = field(
        default=lambda model, tokens: model(tokens)[:, -1, :]
    )
    probe_forward: Callable[[Any, Mapping[str, torch.Tensor], frozenset[str]],
                            Mapping[str, torch.Tensor] | None] | None = None
    analyzers: tuple[Any, ...] = ()
    cross_epoch: tuple[Any, ...] = ()
    views: tuple[Any, ...] = ()
    transition: str | None = None
    story: str | None = None
    boot: Callable[[Values, Path, torch.device], Any] | None = None
    imported_by: str = ""
    check: Callable[[Values], None] | None = None
    tiny_variant: Callable[[Any], str] | None = None
    commands: tuple[Command, ...] = ()
    pages: tuple[Page, ...] = ()
    summaries: tuple[tuple[str, str, str], ...] = ()
    version: int = 1

    def __post_init__(self) -> None:
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ValueError(f"family {self.name}: duplicate parameter names in {names}")
        cross_epoch = [a.name for a in self.cross_epoch]
        if self.transition is not None and self.transition not in cross_epoch:
            raise ValueError(
                f"family {self.name}: transition {self.transition!r} is not one of its "
                f"cross_epoch analyzers {cross_epoch}; name one of them, or pass "
                "transition=None for a family that marks no transition")
        if self.story is not None and self.story not in cross_epoch:
            raise ValueError(
                f"family {self.name}: story {self.story!r} is not one of its cross_epoch "
                f"analyzers {cross_epoch}; name one of them, or pass story=None")
        object.__setattr__(self, "presets", MappingProxyType(dict(self.presets)))
        # Defaults and presets that break the family's own constraints are bugs of the
        # family: refuse them when it is built, not when a user first picks them.
        self._checked(resolve(self.params, {}, owner=f"family {self.name}"), "defaults")
        for preset, values in self.presets.items():
            owner = f"family {self.name} preset {preset}"
            self._checked(resolve(self.params, values, owner=owner), f"preset {preset}")

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise UnknownNameError(f"parameter of {self.name}", name, [p.name for p in self.params])

    def complete(self, stored: Mapping[str, Any]) -> dict[str, Any]:
        """A stored variant's values with every declared parameter: a record written before
        a parameter existed lacks it, and means its default (its id never carried it)."""
        return {**{p.name: p.default for p in self.params}, **stored}

    def resolve(self, given: Mapping[str, Any] | None = None, *, preset: str | None = None
                ) -> dict[str, Any]:
        """Typed values for every parameter: preset first, then ``given`` on top, each
        validated by its :class:`~tdw.family.params.Param` and all together by ``check``.

        Raises:
            UnknownNameError: an unknown preset or parameter name.
            ParameterError: a value that does not convert or validate, or values that do
                not fit together (the family's ``check``).
        """
        merged: dict[str, Any] = {}
        if preset is not None:
            if preset not in self.presets:
                raise UnknownNameError(f"preset of {self.name}", preset, list(self.presets))
            merged.update(self.presets[preset])
        merged.update(given or {})
        values = resolve(self.params, merged, owner=f"family {self.name}")
        if self.check is not None:
            self.check(values)
        return values

    def _checked(self, values: dict[str, Any], what: str) -> None:
        """Run ``check`` on the family's own ``what`` (defaults or a preset), naming it."""
        if self.check is None:
            return
        try:
            self.check(values)
        except ParameterError as exc:
            raise ParameterError(f"family {self.name} {what}: {exc}") from None


_SLUG_VALUE_MAX = 48  # characters of one value in a variant id
_SLUG_MAX = 160  # characters of a whole variant folder name (file systems allow 255 bytes)


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:8]


def _slug_value(value: Any) -> str:
    """``value`` spelled with ASCII letters, digits, ``.`` and ``_`` only, so that it is safe
    in a folder name. A value the slug cannot spell exactly (another character, a long
    text, a float that ``g`` formatting rounds) is cut and suffixed with a hash of the exact
    value, so two values never share a slug."""
    text = format(value, "g") if isinstance(value, float) else str(value)
    slug = "".join(c if (c.isascii() and c.isalnum()) or c in "._" else "_" for c in text)
    exact = slug == text and len(slug) <= _SLUG_VALUE_MAX
    if isinstance(value, float):
        exact = exact and float(text) == value
    return slug if exact else f"{slug[:_SLUG_VALUE_MAX]}_{_digest(value)}"


def variant_id(family: Family, values: Values) -> str:
    """A stable, readable, path-safe id: ``family/p113-ms999-ds598[-<hash>]``.

    Identity parameters (modulus, seeds) are spelled out; any other parameter that
    differs from its default adds a short hash of all such values, so two variants
    differ in id exactly when they differ in some parameter.

    >>> from tdw.family.registry import get_family
    >>> fam = get_family("modulo_addition_1l")
    >>> variant_id(fam, fam.resolve())
    'modulo_addition_1l/p113-ms999-ds598'
    """
    parts = [f"{p.short or p.name}{_slug_value(values[p.name])}" for p in family.params
             if p.identity]
    tuned = {p.name: values[p.name] for p in family.params
             if not p.identity and values[p.name] != p.default}
    if tuned:
        parts.append(_digest(tuned))
    slug = "-".join(parts) or "default"
    if len(slug) > _SLUG_MAX:  # many long identity values: keep a readable head
        slug = f"{slug[:_SLUG_MAX - 9]}-{_digest(parts)}"
    return f"{family.name}/{slug}"


def analyzers_of(family: Family) -> dict[str, Any]:
    """Every analyzer of ``family``, per-checkpoint and cross-epoch, by name."""
    return {a.name: a for a in (*family.analyzers, *family.cross_epoch)}
