"""The analysis engine's shared forward pass: every hook a checkpoint's analyzers read, once.

A family may declare a ``probe_forward`` (:class:`tdw.family.family.Family`): a faster
pass on its probe that computes the same hooks, e.g. Modulo Addition's, from token tables
at the answer position. It is used when it computes every hook asked for; otherwise the
bridge's ``run_with_cache`` runs with only those hooks kept (``names_filter``), so nothing
else is cached.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from tdw.family.analyzer import LOGITS
from tdw.family.family import Family

if TYPE_CHECKING:
    import torch

__all__ = ["shared_forward"]


def shared_forward(family: Family, model: Any, probe: Mapping[str, torch.Tensor],
                   hooks: Iterable[str]) -> Mapping[str, torch.Tensor]:
    """``{hook: activation}`` of ``model`` on the probe for ``hooks`` (``LOGITS`` names the
    logits), on the model's device; call it under ``torch.inference_mode()``."""
    wanted = frozenset(hooks)
    if family.probe_forward is not None:
        fast = family.probe_forward(model, probe, wanted)
        if fast is not None:
            return fast
    named = wanted - {LOGITS}
    device = next(model.parameters()).device
    logits, cache = model.run_with_cache(probe["tokens"].to(device),
                                         names_filter=named.__contains__)
    activations = {h: cache[h] for h in named}
    if LOGITS in wanted:
        activations[LOGITS] = logits
    return activations
