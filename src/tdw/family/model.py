"""Building TransformerLens models for a variant and moving weights in and out of them.

Models are TransformerLens 4.x bridges: ``TransformerBridge.boot_native(cfg)`` builds a
toy model from its config with no network access. Weights travel as a flat
``{name: tensor}`` dict in the bridge's TransformerLens naming (``blocks.0.attn.q.weight``),
which is exactly what a checkpoint file holds.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from tdw.errors import IntegrityError, ParameterError

if TYPE_CHECKING:
    import torch

__all__ = ["check_device", "pick_device", "boot_model", "boot_variant", "weights_of",
           "load_weights", "live_tensors", "loss_and_accuracy", "IGNORE_LABEL"]

IGNORE_LABEL = -100
"""A per-position label that is not scored (``torch.nn.functional.cross_entropy``'s
default ``ignore_index``), e.g. the last position of a next-token sequence."""


def check_device(choice: str) -> None:
    """Refuse a device this machine lacks, as :func:`pick_device` would. ``auto`` and
    ``cpu`` are always there, so checking them needs no torch (the dashboards validate
    forms as the user types, in kernels that never load torch)."""
    if choice not in ("auto", "cpu"):
        pick_device(choice)


def pick_device(choice: str = "auto") -> torch.device:
    """``"auto"`` is CUDA when available, else CPU; ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or
    ``"mps"`` name one. A device this machine lacks is refused (before a job starts)."""
    import torch
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    fix = "use --device auto (CUDA when available, else CPU) or cpu"
    try:
        device = torch.device(choice)
    except (RuntimeError, TypeError):
        raise ParameterError(f"device {choice!r} is not a torch device; {fix}") from None
    available = {"cpu": True, "cuda": torch.cuda.is_available(),
                 "mps": torch.backends.mps.is_available()}
    if not available.get(device.type, False):
        raise ParameterError(f"device {choice!r} is not available on this machine; {fix}")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ParameterError(f"device {choice!r}: this machine has "
                             f"{torch.cuda.device_count()} CUDA devices; {fix}")
    return device


def boot_model(config, device: torch.device | str = "cpu"):
    """A randomly initialised bridge for ``config`` (a ``TransformerBridgeConfig``).

    Initialisation is seeded by ``config.seed`` and does not disturb the global RNG.
    """
    import torch
    from transformer_lens.model_bridge import TransformerBridge

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the bridge warns about optional extras we don't use
        return TransformerBridge.boot_native(config, device=torch.device(device))


def boot_variant(family, values: Mapping, folder: Path, device: torch.device | str = "cpu"):
    """The model of one variant of ``family``, ready to receive a checkpoint's weights.

    ``family.boot(values, folder, device)`` when the family declares it (an imported
    series boots its stored Hugging Face architecture), else ``boot_native`` of
    ``family.model_config(values)``. ``folder`` is the variant's absolute folder.
    """
    import torch
    if family.boot is not None:
        return family.boot(values, Path(folder), torch.device(device))
    return boot_model(family.model_config(values), device)


def weights_of(model) -> dict[str, torch.Tensor]:
    """A copy of the model's weights as contiguous CPU tensors, ready for safetensors."""
    state = model.state_dict()
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in state.items()}


def load_weights(model, weights: Mapping[str, torch.Tensor], *, source: str = "weights") -> None:
    """Load ``weights`` into ``model``; a missing, extra or mis-shaped tensor is an error."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    wrong = sorted(k for k in set(expected) & set(weights)
                   if tuple(expected[k].shape) != tuple(weights[k].shape))
    if missing or extra or wrong:
        details = "; ".join(
            f"{label}: {', '.join(names[:5])}{' ...' if len(names) > 5 else ''}"
            for label, names in (("missing", missing), ("unexpected", extra),
                                 ("wrong shape", wrong)) if names
        )
        raise IntegrityError(
            f"{source} does not fit this model's architecture ({details}); "
            "was it saved by another family or another model configuration?"
        )
    model.load_state_dict(dict(weights), strict=True)


_LIVE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def live_tensors(model) -> dict[str, torch.Tensor]:
    """The model's own parameters and buffers under their TransformerLens names.

    ``state_dict()`` gives detached copies' names; a family's fast forward needs the live
    tensors so that gradients reach the optimizer. They are matched by storage, once per
    model (``load_state_dict`` copies in place, so the match survives loading weights).
    """
    if model not in _LIVE:
        by_storage = {t.data_ptr(): name for name, t in model.state_dict().items()}
        live = {by_storage[t.data_ptr()]: t for t in (*model.parameters(), *model.buffers())
                if t.data_ptr() in by_storage}
        missing = set(by_storage.values()) - set(live)
        if missing:
            raise RuntimeError(f"cannot find live tensors for {sorted(missing)}")
        _LIVE[model] = live
    return _LIVE[model]


def loss_and_accuracy(logits: torch.Tensor, labels: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy in float64 (tiny post-grokking losses underflow in float32, as Nanda
    et al. note) and accuracy.

    Either ``(batch, vocab)`` logits with ``(batch,)`` labels (one answer per sequence), or
    ``(batch, pos, vocab)`` logits with ``(batch, pos)`` labels (next-token prediction at
    many positions): both are flattened, and positions labelled :data:`IGNORE_LABEL` are
    left out of the loss and the accuracy, so both are means over the scored positions.
    """
    import torch
    import torch.nn.functional as F
    if logits.ndim == 3:
        if labels.shape != logits.shape[:2]:
            raise ValueError(f"labels {tuple(labels.shape)} do not match sequence logits "
                             f"{tuple(logits.shape)}: expected (batch, pos) labels")
        scored = labels.reshape(-1) != IGNORE_LABEL  # (batch * pos,)
        logits = logits.reshape(-1, logits.shape[-1])[scored]  # (scored, vocab)
        labels = labels.reshape(-1)[scored]  # (scored,)
    loss = F.cross_entropy(logits.to(torch.float64), labels)
    accuracy = (logits.argmax(-1) == labels).to(torch.float64).mean()
    return loss, accuracy
